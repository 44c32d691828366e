"""``.. diagram:: NAME``: the committed picture diagrams/NAME.svg, drawn from diagrams/NAME.dot.

The page shows the SVG as an image: no script, nothing fetched, so it shows with the network
off. The SVG carries the sha256 of the .dot it was drawn from (tools/docs_diagrams.py writes
it); when the .dot changed and the SVG was not redrawn, the build fails naming both.
Graphviz is needed only to redraw, never to build.

Options: ``:alt:`` (required: what the picture says, for a reader who cannot see it) and a
caption as the directive's content.
"""

import hashlib
import pathlib
import re

from docutils import nodes
from docutils.parsers.rst import Directive, directives

STAMP_RE = re.compile(r"<!-- ha-diagram source-sha256: ([0-9a-f]{64}) -->")


class DiagramDirective(Directive):
    required_arguments = 1
    has_content = True
    option_spec = {"alt": directives.unchanged_required}

    def run(self):
        env = self.state.document.settings.env
        name = self.arguments[0]
        folder = pathlib.Path(env.srcdir) / "diagrams"
        dot, svg = folder / (name + ".dot"), folder / (name + ".svg")
        for path in (dot, svg):
            if not path.is_file():
                raise self.error("diagram %r: %s is missing" % (name, path))
            env.note_dependency(str(path))
        match = STAMP_RE.search(svg.read_text())
        if not match or match.group(1) != hashlib.sha256(dot.read_bytes()).hexdigest():
            raise self.error(
                "diagram %r: %s was not drawn from %s as it is now; run "
                "tools/docs_diagrams.py (needs Graphviz) and commit both"
                % (name, svg.name, dot.name))
        if "alt" not in self.options:
            raise self.error("diagram %r needs :alt: (what it shows, in words)" % name)
        image = nodes.image(uri="/diagrams/%s.svg" % name, alt=self.options["alt"],
                            classes=["ha-diagram"])
        figure = nodes.figure("", image, classes=["ha-diagram"])
        if self.content:
            caption = nodes.caption()
            inline, messages = self.state.inline_text(" ".join(self.content), self.lineno)
            caption.extend(inline)
            figure += caption
            return [figure] + messages
        return [figure]


def setup(app):
    app.add_directive("diagram", DiagramDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
