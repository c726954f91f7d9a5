"""Render the page from the Jinja2 templates in templates/ (markup and prose live there).

Autoescaping is on for every template, so no file name, model name or config value can inject
markup into the report; the stylesheet is included inline to keep the page self-contained.
The value formats (formats.py) are filters: the templates format what they read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from dlwpt.report import formats, verdicts

TEMPLATES = Path(__file__).with_name("templates")
FILTERS = ("acc", "integer", "seconds", "millions", "number", "p_value", "points", "interval",
           "load_average", "seed_list", "in_unit")
VERDICT_FILTERS = ("change_words", "change_verdict_words", "code_summary", "date_text",
                   "commit_text", "verdict_label", "difference_words", "seeds_needed")


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a misspelt field fails the build, not the page
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update({name: getattr(formats, name) for name in FILTERS})
    env.filters.update({name: getattr(verdicts, name) for name in VERDICT_FILTERS})
    # a table's cell in the format its column names (macros.html: table's `formats`)
    env.filters["formatted"] = lambda value, name: getattr(formats, name)(value)
    env.tests["missing"] = formats.missing
    return env


def render_page(**context: Any) -> str:
    return environment().get_template("report.html").render(**context)
