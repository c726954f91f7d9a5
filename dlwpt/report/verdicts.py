"""Words for comparisons.csv's verdict codes: the one place a code becomes text. A test that is
not significant is "not distinguishable", never "tie" or "equal": it did not show a difference,
it did not show there is none (docs/statistics.md)."""

from collections import Counter
from collections.abc import Sequence
from typing import Any

import pandas as pd

from dlwpt.report import trends as t
from dlwpt.report.formats import config_text, difference_interval, in_unit, missing, p_value, points
from dlwpt.results import changes
from dlwpt.results import comparisons as c
from dlwpt.runs import value_text

LABELS = {
    c.NOT_DISTINGUISHABLE: "not distinguishable",
    c.NO_SPREAD: "not tested: no spread (every observation gives the same difference)",
    c.DIVERGED: "not tested: a diverged run",
    c.NO_SHARED_SEEDS: "not tested: no seed in common",
    c.ONE_SEED: "not tested: one seed (only the spread over seeds can test a training-set "
                 "figure)",
    c.MISSING_SEEDS: "not tested: lacks some of the seeds the best model was picked on",
    c.DATA_CHANGED: "not tested: the data changed (not the same images to pair)",
}


def verdict_label(code: str, model_a: str, model_b: str) -> str:
    better = {c.A_BETTER: model_a, c.B_BETTER: model_b}
    return f"{better[code]} better" if code in better else LABELS[code]


def unit(quantity: str) -> str:
    """The unit of a difference in `quantity` (formats.in_unit)."""
    return "epochs" if quantity == "epochs_to_target" else "points"


def difference_words(row: Any, flip: bool = False, adjusted: bool = True) -> str:
    """`difference +0.4 points, 95% interval -0.6 to +1.4`, then with `adjusted` a significant
    row's Holm p (one that is not shows none: it cannot be read as "equal"); `flip`: b − a."""
    sign, u = -1 if flip else 1, unit(row["quantity"])
    text = f"difference {in_unit(sign * row['diff'], u)} {u}"
    if not missing(row["diff_ci_low"]):
        low, high = sorted((sign * row["diff_ci_low"], sign * row["diff_ci_high"]))
        text += f", 95% interval {difference_interval(low, high, u)}"
    if adjusted and row["verdict"] in (c.A_BETTER, c.B_BETTER) and row["family"] != c.CLAIMS:
        k = row["family_size"]
        text += f", p {p_text(row['p_adjusted'])}" + (
            f", adjusted for {k} comparisons" if pd.notna(k) and k > 1 else "")
    return text


def seeds_needed(value: float) -> str | None:
    """How many seeds would resolve a gap; "no number of seeds": the images limit it."""
    return (None if missing(value) else "no number of seeds" if value == float("inf")
            else f"about {int(value)} seeds")


def p_text(p: float) -> str:
    text = p_value(p)
    return text if text.startswith("<") else f"= {text}"


CURVE_WORDS = {t.TRAIN_ACC: "training accuracy", t.VAL_ACC: "validation accuracy",
               t.GAP: "the train−validation gap"}


PER_STEP = {"log2": "per doubling of", "log10": "per tenfold of"}  # what a log slope is per


def per_words(scale: t.TrendScale, setting: str, boolean: bool) -> str:
    """What a slope is per: a doubling, a tenfold or a step of the setting (the trend's words
    and the sweep's x axis)."""
    if scale.kind in PER_STEP:
        return f"{PER_STEP[scale.kind]} {setting}"
    return f"from {setting} = False to True" if boolean else f"per {scale.step:g} of {setting}"


def trend_words(trend: t.Trend) -> str:
    """`training accuracy rises with n_chans1: +4.1 points per doubling of n_chans1 (95%
    interval +3.0 to +5.2)`; a slope that is not significant "shows no trend distinguishable
    from flat", never "equal"."""
    what = CURVE_WORDS[trend.curve]
    series = ("" if trend.series is None
              else f" ({trend.series[0]} = {value_text(trend.series[1])})")
    slope = trend.slope
    if trend.code == t.NOT_TESTED:
        return f"{what} against {trend.setting}{series}: not tested ({slope.reason})"
    per = per_words(trend.scale, trend.setting, trend.boolean)
    numbers = (f"{points(slope.slope)} points {per} (95% interval {points(slope.low)} to "
               f"{points(slope.high)})")
    if trend.code == t.NO_TREND:
        return (f"{what} shows no trend with {trend.setting}{series} distinguishable from flat: "
                f"{numbers}")
    return f"{what} {trend.code} with {trend.setting}{series}: {numbers}"


def trend_test_words(trend: t.Trend) -> str:
    """The fit behind a trend: its p and residual df, the runs and settings fitted."""
    slope = trend.slope
    fitted = f"{slope.n} runs at {slope.n_x} values of {trend.setting}"
    return (f"slope's p {p_text(slope.p)}, {slope.df:.0f} degrees of freedom; {fitted}"
            if slope.tested else fitted)


# --- the history's changes: the page's "What changed" and `python -m dlwpt diff` -------------

CODE_FILES_SHOWN = 3  # changed code files named one by one; more are grouped by folder


def date_text(time: str | None) -> str:
    """An entry's time as people read it: `2026-12-01 01:13` (UTC)."""
    return "—" if not time else time[:16].replace("T", " ")


def commit_text(commit: str | None, dirty: bool | None) -> str:
    """A short commit, `-dirty` when the checkout had uncommitted changes."""
    return "unknown" if not commit else commit[:10] + ("-dirty" if dirty else "")


def run_words(run: changes.RunInfo) -> str:
    """`<id> (<date>, commit <sha>[, experiment <label>])`."""
    text = f"{run.id} ({date_text(run.time)}, commit {commit_text(run.git_commit, run.dirty)}"
    return text + (f", experiment {run.experiment})" if run.experiment else ")")


def code_summary(code: Sequence[changes.CodeChange], shown: int = CODE_FILES_SHOWN) -> list[str]:
    """The changed files, or with more than `shown` their folders: "dlwpt/engine/ (3 files)"."""
    paths = [change.path for change in code]
    if len(paths) <= shown:
        return paths
    folders = Counter(path.rpartition("/")[0] for path in paths)
    return [f"{folder or '.'}/ ({n} files)" if n > 1
            else next(p for p in paths if p.rpartition("/")[0] == folder)
            for folder, n in folders.items()]


def change_words(change: changes.ModelChange, seeds: bool = False) -> str:
    """What changed of a model, `lr 0.01 -> 0.005; training code; data`, or its status;
    `seeds`: also a change of its seeds (`seeds 0 1 -> 0 1 2`)."""
    what = [f"{s.key} {'unset' if s.old is changes.UNSET else config_text(s.old)} -> "
            f"{'unset' if s.new is changes.UNSET else config_text(s.new)}" for s in change.settings]
    what += ["training code"] * change.code + ["data"] * change.data
    if (seeds and change.status not in (changes.ADDED, changes.REMOVED)
            and change.old_seeds != change.new_seeds):
        what.append(f"seeds {' '.join(map(str, change.old_seeds))} -> "
                    f"{' '.join(map(str, change.new_seeds))}")
    if change.problem:
        return f"{change.status}: {change.problem}"
    return "; ".join(what) or ("retrained, same settings" if change.status == changes.RETRAINED
                               else change.status)


def change_verdict_words(change: changes.ModelChange) -> str:
    """New against old: `new better (difference +1.2 points, ...)`; "—" without a comparison."""
    row = change.comparison
    if row is None or not isinstance(row["verdict"], str):
        return "—"
    words = verdict_label(row["verdict"], changes.NEW, changes.OLD)
    return words if missing(row["p_value"]) else f"{words} ({difference_words(row)})"
