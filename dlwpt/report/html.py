"""Tiny HTML builders: every string goes through `esc` unless it is already `Markup`.

Building the page from these helpers (instead of string concatenation in each section) is what
guarantees that no file name, model name or config value can inject markup into the report.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable


class Markup(str):
    """A string of HTML that is already safe: `esc` leaves it untouched."""


def esc(value: object) -> Markup:
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=True))


def join(parts: Iterable[object], sep: str = "\n") -> Markup:
    return Markup(sep.join(esc(p) for p in parts))


def void(name: str, **attrs: object) -> Markup:
    """`<name attrs>`; attribute names use `_` for `-` and a trailing `_` for Python keywords
    (`class_`); None/False attributes are dropped."""
    rendered = "".join(
        f' {key.rstrip("_").replace("_", "-")}="{esc(val)}"'
        for key, val in attrs.items()
        if val is not None and val is not False
    )
    return Markup(f"<{name}{rendered}>")


def tag(name: str, *content: object, **attrs: object) -> Markup:
    """`<name attrs>content</name>`, attributes as in `void`."""
    return Markup(f"{void(name, **attrs)}{join(content, '')}</{name}>")


def table(header: list[str], rows: Iterable[list[object]], *, right: Iterable[int] = (),
          row_classes: Iterable[str | None] | None = None, **attrs: object) -> Markup:
    """A table in a horizontally scrollable wrapper; `right` lists the numeric columns."""
    right = set(right)
    rows = list(rows)
    classes = list(row_classes) if row_classes is not None else [None] * len(rows)

    def cells(values: list[object], cell: str) -> Markup:
        return join((tag(cell, v, class_="num" if i in right else None)
                     for i, v in enumerate(values)), "")

    body = join(tag("tr", cells(r, "td"), class_=c) for r, c in zip(rows, classes, strict=True))
    return tag("div", tag("table", tag("thead", tag("tr", cells(header, "th"))),
                          tag("tbody", body), **attrs), class_="table-wrap")


def details(summary: object, *content: object, open_: bool = False) -> Markup:
    return tag("details", tag("summary", summary), *content, open=open_ or None)


def section(section_id: str, title: str, *content: object) -> Markup:
    return tag("section", tag("h2", title), *content, id=section_id)


def missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def acc(value: float | None) -> str:
    return "—" if missing(value) else f"{value:.3f}"


def integer(value: float | None) -> str:
    return "—" if missing(value) else f"{int(value):,}"


def seconds(value: float | None) -> str:
    if missing(value):
        return "—"
    return f"{value:.2f}" if value < 100 else f"{value:,.0f}"


def number(value: float | None) -> str:
    """Statistics of arbitrary magnitude (HU, counts, normalized values) in 4 significant digits."""
    return "—" if missing(value) else f"{value:.4g}"


def plain(value: object) -> str:
    """A JSON value as one line of text: dicts as `key: value; ...`, lists comma-separated."""
    if isinstance(value, dict):
        return "; ".join(f"{k}: {plain(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(plain(v) for v in value)
    return str(value)
