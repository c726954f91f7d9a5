"""How the report writes values: one function per kind of number, also the templates' filters
(page.FILTERS). A missing value (None, NaN or NA: a custom model has no book accuracy, a job no
RSS) shows as "—"."""

import functools
import json
import math
from collections.abc import Callable
from typing import Any

import pandas as pd


def missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def or_dash(form: Callable[[Any], str]) -> Callable[[Any], str]:
    """The format `form`, but a missing value shows as "—"."""
    return functools.wraps(form)(lambda value: "—" if missing(value) else form(value))


acc = or_dash(lambda value: f"{value:.3f}")
integer = or_dash(lambda value: f"{int(value):,}")
seconds = or_dash(lambda value: f"{value:.2f}" if value < 100 else f"{value:,.0f}")
number = or_dash(lambda value: f"{value:.4g}")  # any magnitude (HU, counts, ...): 4 digits


@or_dash
def millions(value: float) -> str:
    """A count in millions: `0.65 M`, `10.4 M`, `236 M` (multiply-accumulates per image)."""
    m = value / 1e6
    return f"{m:.2f} M" if m < 10 else f"{m:.1f} M" if m < 100 else f"{m:,.0f} M"


def load_average(records: Any, cpus: bool = True) -> str | None:
    """The load average around the runs that recorded one: `1.9–2.4 on 2 CPUs`, else None."""
    found = [r for r in records if isinstance(r, dict)]
    if not found:
        return None
    values = [v for r in found for v in (r["start"], r["end"])]
    low, high = f"{min(values):.1f}", f"{max(values):.1f}"
    text = low if low == high else f"{low}–{high}"
    counts = sorted({r["cpus"] for r in found if r.get("cpus")})
    return text + (f" on {', '.join(map(str, counts))} CPUs" if cpus and counts else "")


def plain(value: object) -> str:
    """A JSON value as one line of text: dicts as `key: value; ...`, lists comma-separated."""
    if isinstance(value, dict):
        return "; ".join(f"{k}: {plain(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(plain(v) for v in value)
    return str(value)


def shape(dims: Any) -> str:
    """A tensor shape as `3 × 720 × 1280`."""
    return " × ".join(map(str, dims))


@or_dash
def p_value(value: float) -> str:
    """A p-value to two significant digits below 0.01 (three decimals above), tiny ones as <."""
    return "< 0.0001" if value < 1e-4 else f"{value:.2g}" if value < 0.01 else f"{value:.3f}"


@or_dash
def points(value: float) -> str:
    """An accuracy difference in percentage points, signed: +2.5."""
    return f"{100 * value:+.1f}" if round(100 * value, 1) else "0.0"


def in_unit(value: float | None, unit: str = "points") -> str:
    """A number in its unit: signed points or epochs, else an accuracy."""
    if unit == "points" or missing(value):
        return points(value)
    return f"{value:+.1f}" if unit == "epochs" else acc(value)


def seed_list(seeds: list[int]) -> str:
    """`seed 0`, `seeds 0, 2`, `seeds 0–2` (a run of three or more)."""
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"seeds {seeds[0]}–{seeds[-1]}"
    return ("seed " if len(seeds) == 1 else "seeds ") + ", ".join(map(str, seeds))


def mean_over(seeds: Any) -> str:
    """The seeds behind a mean: `mean over seeds 0–2`, `seed 0` (one), "" (none)."""
    seeds = list(seeds)
    return ("mean over " if len(seeds) > 1 else "") + seed_list(seeds) if seeds else ""


def seed_count(seeds: list[int], diverged: list[int] | None = None) -> str:
    """`3 (seeds 0–2)`, `3 (seeds 0–2; seed 2 diverged)`: how many seeds, and which."""
    tail = f"; {seed_list(diverged)} diverged" if diverged else ""
    return f"{len(seeds)} ({seed_list(seeds)}{tail})"


def config_text(value: Any) -> str:
    """A setting's value as the config would write it: 0.005, [512, 128], true, null."""
    return value if isinstance(value, str) else json.dumps(value)


def interval(low: float, high: float) -> str | None:
    """An accuracy's interval, `low–high` (a difference's: difference_interval)."""
    return None if missing(low) or missing(high) else f"{acc(low)}–{acc(high)}"


def difference_interval(low: float, high: float, unit: str = "points") -> str | None:
    """A signed difference's interval in its unit, `-0.6 to +1.4`, which reads better."""
    return (None if missing(low) or missing(high)
            else f"{in_unit(low, unit)} to {in_unit(high, unit)}")


def unsigned_points(value: float | None) -> str | None:
    return None if missing(value) else f"{100 * value:.1f}"
