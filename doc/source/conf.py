"""Sphinx configuration of the ha-actions documentation (tox -e docs)."""

project = "ha-actions"
copyright = "ha-actions developers, Apache-2.0"
extensions = [
    "sphinxcontrib.mermaid",
    "reno.sphinxext",
]
# The diagrams are mermaid text in the .rst files: Sphinx copies them into the HTML and the
# browser draws them; nothing is fetched while building.
mermaid_version = "11.4.1"
html_theme = "alabaster"
html_title = "ha-actions"
master_doc = "index"
