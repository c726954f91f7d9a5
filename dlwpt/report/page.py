"""Render the page from the Jinja2 templates in templates/, the value formats as filters.
Autoescaping is on, so no file name, model name or config value can inject markup."""

from pathlib import Path
from typing import Any

import jinja2

from dlwpt.report import formats, verdicts

TEMPLATES = Path(__file__).with_name("templates")
FILTERS = ("acc", "integer", "seconds", "millions", "number", "p_value", "points", "interval",
           "load_average", "difference_interval", "mean_over", "in_unit", "seed_count")
VERDICT_FILTERS = ("change_words", "change_verdict_words", "code_summary", "date_text",
                   "commit_text", "verdict_label", "difference_words", "seeds_needed", "unit",
                   "trend_words", "trend_test_words")


def render_page(**context: Any) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             # a misspelt field fails the build, not the page
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update({name: getattr(module, name) for module, names in
                        ((formats, FILTERS), (verdicts, VERDICT_FILTERS)) for name in names})
    # a table's cell in the format its column names (macros.html: table's `formats`)
    env.filters["formatted"] = lambda value, name: getattr(formats, name)(value)
    env.tests["missing"] = formats.missing
    return env.get_template("report.html").render(**context)
