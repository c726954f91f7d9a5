"""Render the page from the Jinja2 templates in templates/ (markup and prose live there).

Autoescaping is on for every template, so no file name, model name or config value can inject
markup into the report; the stylesheet is included inline to keep the page self-contained.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

TEMPLATES = Path(__file__).with_name("templates")


def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a misspelt field fails the build, not the page
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_page(**context: Any) -> str:
    return environment().get_template("report.html").render(**context)
