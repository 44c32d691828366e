"""The docs' pictures and the checks of the built pages (tools/check_docs.py).

tox -e docs runs tools/check_docs.py on the real build; here its checks are proven to fail
on what they must catch (a CDN script, a mermaid block, a missing picture, a command or an
option missing from the CLI reference) without building, and the pictures are checked
against their sources: every diagrams/NAME.svg drawn from NAME.dot as it is now, shown by
a page, at the operator's level (at most 12 arrows).
"""

import os
import pathlib
import re
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))

import check_docs  # noqa: E402
import docs_diagrams  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOC_DIR = ROOT / "doc" / "source"
DOTS = sorted(docs_diagrams.DIAGRAMS.glob("*.dot"))
NAMES = [p.stem for p in DOTS]
MAX_ARROWS = 12


def test_there_is_a_picture_per_public_workflow_and_the_chain():
    assert {"chain", "replace_member", "failover_volume", "on_alarm", "reconcile",
            "attach_pair", "update_stack"} <= set(NAMES)


@pytest.mark.parametrize("dot", DOTS, ids=NAMES)
def test_each_svg_is_drawn_from_its_source_as_it_is_now(dot):
    assert docs_diagrams.stale(dot) is None


@pytest.mark.parametrize("dot", DOTS, ids=NAMES)
def test_each_svg_shows_offline(dot):
    svg = dot.with_suffix(".svg")
    assert check_docs.svg_problems(svg, svg.read_text()) == []


@pytest.mark.parametrize("dot", DOTS, ids=NAMES)
def test_each_picture_is_at_the_operators_level(dot):
    arrows = [line for line in dot.read_text().splitlines()
              if "->" in line and not line.strip().startswith("//")]
    assert len(arrows) <= MAX_ARROWS, "%s draws %d arrows" % (dot.name, len(arrows))


def test_each_picture_is_on_a_page_the_chain_on_the_front_page():
    shown = {}
    for page in DOC_DIR.rglob("*.rst"):
        for name in re.findall(r"^\.\. diagram:: (\S+)", page.read_text(), re.M):
            shown.setdefault(name, []).append(page.relative_to(DOC_DIR).as_posix())
    assert sorted(shown) == sorted(NAMES)
    assert "index.rst" in shown["chain"]


def test_a_stale_svg_is_found(tmp_path):
    dot = tmp_path / "x.dot"
    dot.write_text("digraph x { a -> b; }\n")
    assert "has no x.svg" in docs_diagrams.stale(dot)
    (tmp_path / "x.svg").write_text(
        docs_diagrams.STAMP % docs_diagrams.source_hash(dot) + "\n<svg/>")
    assert docs_diagrams.stale(dot) is None
    dot.write_text("digraph x { a -> c; }\n")
    assert "was not drawn from x.dot as it is now" in docs_diagrams.stale(dot)


# --- the checks of the built pages can fail ------------------------------------------

PAGE = """<html><head>
<link rel="stylesheet" href="_static/basic.css" />
<link rel="search" title="Search" href="search.html" />
%s
</head><body><a href="https://docs.openstack.org/">a link is no fetch</a>%s</body></html>"""


def _page(tmp_path, head="", body=""):
    (tmp_path / "_static").mkdir(exist_ok=True)
    (tmp_path / "_static" / "basic.css").write_text("body {}")
    page = tmp_path / "index.html"
    page.write_text(PAGE % (head, body))
    return check_docs.page_problems(page, page.read_text(), tmp_path)


def test_a_local_page_passes(tmp_path):
    assert _page(tmp_path) == []


@pytest.mark.parametrize("head", [
    '<script type="module">import m from "x";</script>'
    '<script src="https://cdn.jsdelivr.net/npm/mermaid@11.4.1/dist/mermaid.min.js"></script>',
    '<link rel="stylesheet" href="//fonts.googleapis.com/css?family=x" />',
    '<style>@import url("https://example.org/x.css");</style>',
])
def test_a_page_that_fetches_from_the_network_fails(tmp_path, head):
    problems = _page(tmp_path, head=head)
    assert problems and "network" in problems[0]


def test_a_page_that_loads_a_missing_local_file_fails(tmp_path):
    assert "not in the build" in _page(tmp_path, head='<script src="_static/x.js"></script>')[0]


def test_a_diagram_left_to_a_script_fails(tmp_path):
    problems = _page(tmp_path, body='<pre class="mermaid">sequenceDiagram\nA->>B: x</pre>')
    assert problems == ["index.html: a mermaid diagram is left for a script to draw"]


def test_an_svg_with_a_script_or_an_external_link_fails(tmp_path):
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
           '<script>alert(1)</script><image xlink:href="https://example.org/x.png"/></svg>')
    problems = check_docs.svg_problems(tmp_path / "x.svg", svg)
    assert any("<script>" in p for p in problems)
    assert any("https://example.org/x.png" in p for p in problems)


def test_a_picture_on_no_page_fails(tmp_path):
    (tmp_path / "_images").mkdir()
    svg = (docs_diagrams.DIAGRAMS / "chain.svg").read_text()
    (tmp_path / "_images" / "chain.svg").write_text(svg)
    images = {pathlib.Path("index.html"): ["_images/chain.svg"]}
    assert check_docs.diagram_problems(tmp_path, images, {"chain"}) == []
    problems = check_docs.diagram_problems(tmp_path, images, {"chain", "on_alarm"})
    assert problems == ["diagram on_alarm is shown on no page as an <img> of on_alarm.svg"]
    moved = {pathlib.Path("user/overview.html"): ["../_images/chain.svg"]}
    assert check_docs.diagram_problems(tmp_path, moved, {"chain"}) == [
        "the end-to-end chain is not on the front page (index.html)"]


# --- the CLI reference -----------------------------------------------------------------

COMMANDS = check_docs.cli_commands()


def test_every_openstack_ha_command_of_setup_cfg_is_checked():
    assert {"ha member replace", "ha volume failover", "ha pack install", "ha watch",
            "ha watch list", "ha unwatch", "ha pause", "ha resume", "ha execution show",
            "ha execution list", "ha pack show"} == set(COMMANDS)


def test_the_options_are_read_from_the_commands_parsers():
    options = check_docs.command_options(COMMANDS["ha member replace"], "ha member replace")
    for option in ("--strategy", "--member", "--count", "--max-unavailable", "--dry-run",
                   "--wait", "-f", "--format"):
        assert option in options
    assert "--variable" not in options          # its help is hidden: cliff shows it nowhere
    assert "--help" not in options


def _cli_page(sections):
    return "".join('<section id="%s"><h3>%s</h3>%s</section>' % (i, i, body)
                   for i, body in sections.items())


def test_the_cli_reference_check_fails_on_a_missing_command_or_option():
    wanted = {"ha pause": ["--reason", "stack"], "ha resume": ["stack"]}
    page = _cli_page({
        "ha-pause": '<dt><code class="descname"><span class="pre">--reason</span></code>'
                    '<code class="descclassname"> &lt;text&gt;</code></dt><dt>stack</dt>',
        "ha-resume": "<dt>stack</dt>"})
    assert check_docs.cli_problems(page, wanted) == []
    assert check_docs.cli_problems(page.replace("--reason", "--why"), wanted) == [
        "CLI reference: 'openstack ha pause' does not list --reason"]
    assert check_docs.cli_problems(page, dict(wanted, **{"ha watch": []})) == [
        "CLI reference: no section for 'openstack ha watch'"]
