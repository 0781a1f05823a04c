"""Title proof boxes with the paper's own numbering.

Chapters write ``{prf:theorem} Theorem 16 — title`` with ``:nonumber:`` so that the number is the
paper's (arXiv v2), not the book's. sphinx-proof renders that as "Theorem (Theorem 16 — title)";
this extension rewrites it to "Theorem 16 — title" in the HTML once the build has finished.
"""

from __future__ import annotations

import re
from pathlib import Path

_TITLE = re.compile(
    r'<span class="caption-number">(?P<kind>[A-Z][a-z]+) </span> \((?P<title>(?P=kind) .*?)\)</p>'
)


def _rewrite(app, exc) -> None:
    if exc is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        new = _TITLE.sub(r'<span class="caption-number">\g<title></span></p>', text)
        if new != text:
            page.write_text(new, encoding="utf-8")


def setup(app):
    app.connect("build-finished", _rewrite)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
