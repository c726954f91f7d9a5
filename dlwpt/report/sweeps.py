"""The page's sweeps section: per sweep its figure, trend verdicts, best point and points.

Numbers from dlwpt.report.trends and comparisons.csv's `sweep:<name>` rows (the best point
against every other, Holm within the sweep); words from dlwpt.report.verdicts."""

from collections.abc import Sequence
from typing import Any

import pandas as pd

from dlwpt.report import figures
from dlwpt.report.figures import FigureSink
from dlwpt.report.trends import SweepResult, linear_up_to
from dlwpt.report.verdicts import difference_words, per_words, verdict_label
from dlwpt.results import comparisons as c
from dlwpt.runs import Sweep, value_text


def sweeps_view(results: list[SweepResult], comparisons: pd.DataFrame,
                sink: FigureSink) -> dict[str, Any]:
    return {"sweeps": [sweep_view(r, comparisons, sink) for r in results]}


def sweep_view(result: SweepResult, comparisons: pd.DataFrame,
               sink: FigureSink) -> dict[str, Any]:
    sweep, stats = result.sweep, result.points
    labels = dict(zip(stats["run"], stats["label"], strict=True))
    scored = [r.run for r in stats.itertuples() if r.kept_seeds and not r.diverged_seeds]
    top = c.top_models(comparisons, scored, c.sweep_family(sweep.name))
    # each row names the point compared with the best by its label
    top["rows"] = top["rows"].assign(point=top["rows"]["model_b"].replace(labels))
    rows = top["rows"]  # as best_facts reads them
    ran = (stats["seeds"].map(len) > 0).any()
    figure = sink.figure(figures.sweep_chart(result), f"sweep_{sweep.name}",
                         f"sweep {sweep.name}: training accuracy, validation accuracy and the gap"
                         f" against {sweep.x}, each seed and 95% intervals") if ran else None
    return {
        "name": sweep.name, "base": sweep.base, "arch": sweep.arch,
        "varies": [{"setting": s, "list": ", ".join(value_text(v) for v in sweep.values[s])}
                   for s in sweep.settings],
        "n_points": len(sweep.points), "settings": list(sweep.settings),
        "scale": scale_words(sweep), "figure": figure, "trends": result.trends,
        "left_out": [f"{r.label}, seed {r.seed} ({'diverged' if r.diverged else 'no accuracy'})"
                     for r in result.left_out.itertuples()],
        "not_run": [r.label for r in stats.itertuples() if not r.seeds],
        "best": best_view(top, labels, stats),
        "points": [point_row(r, sweep.settings, rows, top["best"], labels)
                   for r in stats.itertuples()],
        "book": sweep.label(sweep.book)
        if all(sweep.book.get(s) is not None for s in sweep.settings) else None,
        "book_in_sweep": any(sweep.is_book(p) for p in sweep.points),
    }


LOG_SPANS = {"log2": "log scale (the values span under 1000×): ",
             "log10": "log scale (the values span 1000× or more): "}


def scale_words(sweep: Sweep) -> dict[str, Any]:
    """How the x axis and the slopes read: the scale, the unit of the slope, a left-out 0."""
    scale = sweep.scale()
    if scale is None:
        return {"text": f"the values of {sweep.x} are not numbers: no trend is tested",
                "zero": None}
    zero = f"{sweep.x} = 0" if scale.zero_left_out else None
    span = LOG_SPANS.get(scale.kind, "" if sweep.boolean else "linear scale: ")
    return {"text": f"{span}slopes {per_words(scale, sweep.x, sweep.boolean)}", "zero": zero,
            "linthresh": value_text(linear_up_to(sweep)) if zero else None}


def best_view(top: dict[str, Any], labels: dict[str, str], stats: pd.DataFrame) -> dict[str, Any]:
    """The best point and those not distinguishable from it, read as the headline reads vs_best:
    a winner only when better than every other point that did not diverge."""
    best, rows = top["best"], top["rows"]
    if best is None:
        return {"best": None}
    point = stats.set_index("run").loc[best]
    return {
        "best": labels.get(best, best), "run": best,
        "winner": top["winner"] is not None,
        **best_facts(top, rows[rows["verdict"].isin(c.TESTED)], point["val_acc_mean"],
                     point["kept_seeds"]),
        "diverged": rows.loc[rows["verdict"] == c.DIVERGED, "point"].tolist(),
    }


def best_facts(top: dict[str, Any], tested: pd.DataFrame, own_val: float,
               own_seeds: Any) -> dict[str, Any]:
    """What the headline and a sweep's best line say alike about the best (its own mean and
    seeds when none was tested) and the rows of the others, by verdict."""
    rows = top["rows"]

    def having(codes: Sequence[str], keep: bool = True) -> list[pd.Series]:
        return [r for _, r in rows[rows["verdict"].isin(codes) == keep].iterrows()]

    return {"val": tested["value_a"].iloc[0] if len(tested) else own_val,
            "seeds": top["seeds"] if len(tested) else own_seeds,
            "k": int(tested["family_size"].max()) if len(tested) else 0,
            "rivals": int((rows["verdict"] != c.DIVERGED).sum()),
            "runner_up": None if top["runner_up"] is None
            else rows[rows["model_b"] == top["runner_up"]].iloc[0],
            "better_than": having([c.A_BETTER]),
            "not_distinguishable": having([c.NOT_DISTINGUISHABLE]),
            "untested": having([*c.TESTED, c.DIVERGED], keep=False)}


def point_row(r: Any, settings: tuple[str, ...], rows: pd.DataFrame, best: str | None,
              labels: dict[str, str]) -> dict[str, Any]:
    """A point's table row: its record, its values as written and its verdict against the best."""
    verdict, code = "—", ""
    match = rows[rows["model_b"] == r.run]
    if r.run == best:
        verdict, code = "the best point (highest validation accuracy)", "best"
    elif len(match):
        row = match.iloc[0]
        code = row["verdict"]
        verdict = ("the best point better" if code == c.A_BETTER
                   else verdict_label(code, labels.get(row["model_a"], row["model_a"]), r.label))
        if code in c.TESTED:
            verdict += f" ({difference_words(row)})"
    return r._asdict() | {"values": [value_text(r.values[s]) for s in settings],
                          "verdict": verdict, "code": code}
