"""The Jinja templates of labmatrix: the rendered files (compose.yaml, deploy/z2jh.yaml)
and the HTML reports (the matrix's and scripts/check's)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2

TEMPLATES = Path(__file__).resolve().parent


@cache
def environment(html: bool) -> jinja2.Environment:
    """HTML reports autoescape; rendered files keep their last newline and fail on an
    undefined name (a template that outgrew its context is an error, not a blank)."""
    if html:
        return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), keep_trailing_newline=True,
                              undefined=jinja2.StrictUndefined)


def render(template: str, /, **context: object) -> str:
    """The template rendered with ``context`` (any names, ``name`` and ``template`` included)."""
    return environment(template.endswith(".html.j2")).get_template(template).render(**context)
