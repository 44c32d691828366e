"""Sphinx configuration of the ha-actions documentation (tox -e docs)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "_ext"))

project = "ha-actions"
copyright = "ha-actions developers, Apache-2.0"
extensions = [
    # The CLI reference: `openstack ha` commands from the installed package's entry points.
    "cliff.sphinxext",
    "reno.sphinxext",
    # Diagrams: committed SVGs drawn by Graphviz from diagrams/*.dot (checked to agree).
    "ha_diagrams",
]
# Nothing a page loads comes from the network: the theme's files and the diagrams' SVGs
# are copied into the build (tools/check_docs.py checks the built HTML).
html_theme = "alabaster"
html_title = "ha-actions"
# No footer links to sphinx-doc.org and the theme's site: a grep for http in the built
# pages finds only links the text itself makes.
html_show_sphinx = False
html_theme_options = {"page_width": "1100px", "show_powered_by": False}
html_static_path = ["_static"]
html_css_files = ["ha.css"]
# Keep "--option" as typed in help texts and prose (no en dashes): it is a CLI reference.
smartquotes_action = "qe"
# Literal blocks are shell, ini and tables: shown as typed, not coloured as Python.
highlight_language = "none"
master_doc = "index"
exclude_patterns = ["diagrams/*.dot"]

# cliff.sphinxext: `.. autoprogram-cliff:: openstack.ha.v1` documents the commands as
# `openstack ha ...` (as python-mistralclient's docs do for openstack.workflow_engine.v2).
autoprogram_cliff_application = "openstack"
