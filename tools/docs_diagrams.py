#!/usr/bin/env python3
"""Draw the docs' diagrams: doc/source/diagrams/NAME.dot -> NAME.svg (Graphviz's dot).

    python3 tools/docs_diagrams.py           # redraw every diagram whose .svg is stale
    python3 tools/docs_diagrams.py --check   # exit 1 naming each .svg that is stale

The .svg files are committed beside their .dot source, so the docs build needs no
Graphviz and the pages need no script: a browser shows them with the network off. Each
.svg starts with a comment holding the sha256 of the .dot it was drawn from; the docs
build (doc/source/_ext/ha_diagrams.py) and tests/unit/test_docs_build.py fail when a .dot
was edited and its .svg not redrawn. Redrawing needs Graphviz (apt-get install graphviz).
"""

import hashlib
import pathlib
import re
import subprocess
import sys

DIAGRAMS = pathlib.Path(__file__).resolve().parents[1] / "doc" / "source" / "diagrams"
STAMP = "<!-- ha-diagram source-sha256: %s -->"
STAMP_RE = re.compile(r"<!-- ha-diagram source-sha256: ([0-9a-f]{64}) -->")


def source_hash(dot_path):
    return hashlib.sha256(pathlib.Path(dot_path).read_bytes()).hexdigest()


def stamped_hash(svg_text):
    """The sha256 an .svg says it was drawn from, or None."""
    match = STAMP_RE.search(svg_text)
    return match.group(1) if match else None


def stale(dot_path):
    """Why NAME.svg does not show NAME.dot as it is now, or None when it does."""
    dot_path = pathlib.Path(dot_path)
    svg_path = dot_path.with_suffix(".svg")
    if not svg_path.is_file():
        return "%s has no %s: run tools/docs_diagrams.py" % (dot_path.name, svg_path.name)
    if stamped_hash(svg_path.read_text()) != source_hash(dot_path):
        return ("%s was not drawn from %s as it is now: run tools/docs_diagrams.py "
                "(needs Graphviz) and commit both" % (svg_path.name, dot_path.name))
    return None


def draw(dot_path):
    """Render one .dot to its stamped .svg (no DOCTYPE: nothing for a browser to fetch)."""
    dot_path = pathlib.Path(dot_path)
    svg = subprocess.run(["dot", "-Tsvg", str(dot_path)], check=True,
                         capture_output=True, text=True).stdout
    svg = re.sub(r"<!DOCTYPE[^>]*>\s*", "", svg)
    svg = re.sub(r"<\?xml[^>]*\?>\s*", "", svg)
    svg = STAMP % source_hash(dot_path) + "\n" + svg
    dot_path.with_suffix(".svg").write_text(svg)


def main(argv):
    check = "--check" in argv
    problems = []
    for dot_path in sorted(DIAGRAMS.glob("*.dot")):
        why = stale(dot_path)
        if why is None:
            continue
        if check:
            problems.append(why)
        else:
            draw(dot_path)
            print("drew %s" % dot_path.with_suffix(".svg").relative_to(DIAGRAMS.parents[2]))
    for why in problems:
        print(why, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
