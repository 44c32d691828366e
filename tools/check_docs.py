#!/usr/bin/env python3
"""Check the built docs (tox -e docs runs it after sphinx-build): python tools/check_docs.py DIR

Fails, naming each problem, when in DIR (doc/build/html):
- a page loads a script, stylesheet, image, frame or object from the network (http:,
  https:, //) or from a local file that is not in the build;
- a diagram is left as text for a script to draw (a mermaid block), a picture of
  doc/source/diagrams is shown on no page as an <img> of its SVG (the chain: on the front
  page), or an SVG holds a script or an external reference;
- the CLI reference (cli/index.html) misses an `openstack ha` command of setup.cfg's
  openstack.ha.v1 entry points, or one of its options as the command's parser has them.

The functions are unit-tested (tests/unit/test_docs_build.py) without a build.
"""

import argparse
import configparser
import html.parser
import importlib
import pathlib
import re
import sys
import xml.etree.ElementTree as ET

ROOT = pathlib.Path(__file__).resolve().parents[1]
DIAGRAMS = ROOT / "doc" / "source" / "diagrams"
REMOTE = re.compile(r"^\s*(https?:|//)", re.I)
# (tag, attribute) pairs whose URL a browser fetches while it shows the page.
FETCHED = {("script", "src"), ("link", "href"), ("img", "src"), ("iframe", "src"),
           ("embed", "src"), ("object", "data"), ("source", "src"), ("audio", "src"),
           ("video", "src"), ("input", "src"), ("image", "href"), ("use", "href")}
CSS_URL = re.compile(r"(?:@import\s+|url\()\s*['\"]?\s*(https?:|//)", re.I)


class _Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.fetched = []      # (tag, url)
        self.images = []       # img src
        self.mermaid = False
        self.styles = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for (t, a) in FETCHED:
            if tag == t and attrs.get(a):
                if tag == "link" and "stylesheet" not in (attrs.get("rel") or "") \
                        and "icon" not in (attrs.get("rel") or "") \
                        and "preload" not in (attrs.get("rel") or ""):
                    continue      # <link rel="index|search|next"> is a hyperlink, not a fetch
                self.fetched.append((tag, attrs[a]))
        if tag == "img" and attrs.get("src"):
            self.images.append(attrs["src"])
        if "mermaid" in (attrs.get("class") or "").split():
            self.mermaid = True
        if attrs.get("style"):
            self.styles.append(attrs["style"])
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)


def page_problems(page_path, text, build_dir):
    """What in one built page would fetch from the network, or is missing, or left to a script."""
    parser = _Page()
    parser.feed(text)
    name = page_path.relative_to(build_dir)
    problems = []
    for tag, url in parser.fetched:
        if REMOTE.match(url):
            problems.append("%s: <%s> loads %s from the network" % (name, tag, url))
            continue
        local = url.split("#")[0].split("?")[0]
        if local and not local.startswith("data:") \
                and not (page_path.parent / local).resolve().is_file():
            problems.append("%s: <%s> loads %s, which is not in the build" % (name, tag, url))
    for style in parser.styles:
        if CSS_URL.search(style):
            problems.append("%s: a style loads from the network: %s" % (name, style[:80]))
    if parser.mermaid:
        problems.append("%s: a mermaid diagram is left for a script to draw" % name)
    return problems


def css_problems(css_path, text, build_dir):
    if CSS_URL.search(text):
        return ["%s: loads from the network (%s)" % (
            css_path.relative_to(build_dir), CSS_URL.search(text).group(0))]
    return []


def svg_problems(svg_path, text):
    """An SVG a browser shows offline as an image: XML, <svg>, no script, no external link."""
    name = svg_path.name
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        return ["%s: not XML (%s)" % (name, e)]
    problems = []
    if root.tag != "{http://www.w3.org/2000/svg}svg":
        problems.append("%s: the root is %s, not an SVG" % (name, root.tag))
    for el in root.iter():
        tag = el.tag.rsplit("}", 1)[-1]
        if tag == "script":
            problems.append("%s: holds a <script>" % name)
        for attr, value in el.attrib.items():
            if attr.rsplit("}", 1)[-1] == "href" and REMOTE.match(value):
                problems.append("%s: <%s> refers to %s" % (name, tag, value))
    if CSS_URL.search(text):
        problems.append("%s: a style loads from the network" % name)
    return problems


def diagram_problems(build_dir, images_by_page, diagram_names):
    """Each diagram shown as an <img> of its SVG somewhere; the chain on the front page."""
    problems = []
    shown = {}
    for page, srcs in images_by_page.items():
        for src in srcs:
            path = ((build_dir / page).parent / src).resolve()
            stem = pathlib.Path(src).stem
            if src.endswith(".svg") and stem in diagram_names and path.is_file():
                shown.setdefault(stem, set()).add(str(page))
                problems += svg_problems(path, path.read_text())
    for name in sorted(diagram_names):
        if name not in shown:
            problems.append("diagram %s is shown on no page as an <img> of %s.svg" % (name, name))
    if "chain" in diagram_names and "index.html" not in shown.get("chain", ()):
        problems.append("the end-to-end chain is not on the front page (index.html)")
    return problems


def cli_commands(setup_cfg=ROOT / "setup.cfg"):
    """{'ha pack install': 'module:Class', ...} from setup.cfg's openstack.ha.v1 entry points."""
    cfg = configparser.ConfigParser()
    cfg.read(setup_cfg)
    commands = {}
    for line in cfg["entry_points"]["openstack.ha.v1"].strip().splitlines():
        name, target = (s.strip() for s in line.split("="))
        commands[name.replace("_", " ")] = target
    return commands


def command_options(target, command_name):
    """The option strings and positional names a command's own parser shows (no --help,
    nothing whose help is hidden)."""
    module, cls = target.split(":")
    command = getattr(importlib.import_module(module), cls)(None, None)
    parser = command.get_parser("openstack " + command_name)
    found = []
    for action in parser._actions:
        if action.help == argparse.SUPPRESS:
            continue
        if action.option_strings:
            found += [o for o in action.option_strings if o not in ("-h", "--help")]
        else:
            metavar = action.metavar if isinstance(action.metavar, str) else action.dest
            found.append(metavar.strip("<>[]() "))
    return found


def _text(html_text):
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", html_text)))


def cli_sections(cli_html):
    """{section id: its text} of the CLI reference page (cliff: one section per command)."""
    parts = re.split(r'<section id="', cli_html)
    sections = {}
    for part in parts[1:]:
        ident, _, rest = part.partition('"')
        sections[ident] = _text(rest)
    return sections


def cli_problems(cli_html, commands_with_options):
    """Every command has its section ('ha pack install' -> id ha-pack-install) with each option."""
    sections = cli_sections(cli_html)
    problems = []
    for command_name, options in sorted(commands_with_options.items()):
        ident = command_name.replace(" ", "-")
        if ident not in sections:
            problems.append("CLI reference: no section for 'openstack %s'" % command_name)
            continue
        text = sections[ident]
        for option in options:
            if not re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(option), text):
                problems.append("CLI reference: 'openstack %s' does not list %s"
                                % (command_name, option))
    return problems


def check(build_dir):
    build_dir = pathlib.Path(build_dir)
    problems = []
    pages = sorted(build_dir.rglob("*.html"))
    if not pages:
        return ["%s holds no HTML: build the docs first (tox -e docs)" % build_dir]
    images = {}
    for page in pages:
        text = page.read_text(errors="replace")
        problems += page_problems(page, text, build_dir)
        parser = _Page()
        parser.feed(text)
        images[page.relative_to(build_dir)] = parser.images
    for css in sorted(build_dir.rglob("*.css")):
        problems += css_problems(css, css.read_text(errors="replace"), build_dir)
    names = {p.stem for p in DIAGRAMS.glob("*.dot")}
    problems += diagram_problems(build_dir, images, names)
    cli_page = build_dir / "cli" / "index.html"
    if not cli_page.is_file():
        problems.append("no CLI reference page cli/index.html")
    else:
        try:
            wanted = {name: command_options(target, name)
                      for name, target in cli_commands().items()}
        except ImportError as e:
            return problems + ["cannot read the openstack ha commands (%s): run this where "
                               "the package and osc-lib are installed (tox -e docs)" % e]
        problems += cli_problems(cli_page.read_text(), wanted)
    return problems


def main(argv):
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    problems = check(argv[0])
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print("check_docs: %s: nothing fetched from the network, every diagram an SVG image, "
              "every openstack ha command and option in the CLI reference" % argv[0])
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
