"""A sweep's points as data, and each figure's OLS trend per series against the swept setting,
diverged runs left out. Method: docs/statistics.md, "Sweeps: trends over a setting"."""

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dlwpt.results.comparisons import GAP, TRAIN_ACC, VAL_ACC
from dlwpt.runs import Sweep, same
from dlwpt.statistics import Slope, TrendScale, mean_interval, trend_slope

ALPHA = 0.05
RISES, FALLS, NO_TREND, NOT_TESTED = "rises", "falls", "no_trend", "not_tested"
TREND_VERDICTS = (RISES, FALLS, NO_TREND, NOT_TESTED)
CURVES = (TRAIN_ACC, VAL_ACC, GAP)


def position(sweep: Sweep, value: Any) -> float:
    """A value of the x setting on the axis: the number (True: 1), else its index in the values."""
    if sweep.scale() is None:
        return float(next(i for i, v in enumerate(sweep.values[sweep.x]) if same(v, value)))
    return float(value)


def linear_up_to(sweep: Sweep) -> Any:
    """The smallest positive value of the x setting: a symlog axis is linear below it."""
    return min(v for v in sweep.values[sweep.x] if v > 0)


def sweep_points(sweep: Sweep) -> pd.DataFrame:
    """One row per configured point (sweep order): run, label, values, x, series, book."""
    return pd.DataFrame(
        [{"run": p.run, "label": sweep.label(p.values), "values": p.values, "x": p.values[sweep.x],
          "series": p.values.get(sweep.series_setting) if sweep.series_setting else None,
          "book": sweep.is_book(p)} for p in sweep.points],
        columns=["run", "label", "values", "x", "series", "book"])


def in_series(frame: pd.DataFrame, value: Any) -> pd.DataFrame:
    """The rows of one series (all of them with one setting: value None)."""
    return frame if value is None else frame[[same(v, value) for v in frame["series"]]]


def sweep_frame(points: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """One row per run of the points (point order, then seed); `kept` False: diverged/no acc."""
    runs = table.rename(columns={"model": "run"})[["run", "seed", "train_acc", "val_acc",
                                                   "diverged_epoch"]]
    frame = (points.drop(columns="values").reset_index(names="order").merge(runs, on="run")
             .sort_values(["order", "seed"], ignore_index=True).drop(columns="order"))
    frame = frame.astype({"seed": int, "train_acc": float, "val_acc": float})
    frame["gap"] = frame["train_acc"] - frame["val_acc"]
    frame["diverged"] = frame.pop("diverged_epoch").notna()
    frame["kept"] = (~frame["diverged"] & np.isfinite(frame["train_acc"])
                     & np.isfinite(frame["val_acc"]))
    return frame


@dataclass(frozen=True)
class Trend:
    """One curve's trend against the sweep's first setting in one series ((name, value) of the
    second setting, or None); `slope` in accuracy per unit of the scale; `code` one of
    TREND_VERDICTS."""

    sweep: str
    setting: str
    curve: str
    series: tuple[str, Any] | None
    scale: TrendScale | None
    slope: Slope
    code: str
    boolean: bool = False


@dataclass
class SweepResult:
    """A sweep, its runs (sweep_frame), its points (point_stats) and its trends."""

    sweep: Sweep
    frame: pd.DataFrame
    points: pd.DataFrame
    trends: list[Trend]

    @property
    def left_out(self) -> pd.DataFrame:
        """The runs left out of every fit: diverged, or without an accuracy."""
        return self.frame[~self.frame["kept"]]


def sweep_trends(sweep: Sweep, frame: pd.DataFrame) -> list[Trend]:
    scale = sweep.scale()
    trends = []
    for curve in CURVES:
        for value in sweep.series():
            rows = in_series(frame[frame["kept"]], value)
            series = (sweep.series_setting, value) if sweep.series_setting else None
            if scale is None:
                slope = Slope(*[math.nan] * 6, len(rows), rows["x"].nunique(),
                              f"the values of {sweep.x} are not numbers")
            else:
                slope = trend_slope(scale.transform([float(x) for x in rows["x"]]),
                                    rows[curve].to_numpy(dtype=float), rows["seed"].to_numpy())
            code = (NOT_TESTED if not slope.tested
                    else (RISES if slope.slope > 0 else FALLS) if slope.p < ALPHA else NO_TREND)
            trends.append(Trend(sweep.name, sweep.x, curve, series, scale, slope, code,
                                sweep.boolean))
    return trends


def analyse(sweeps: dict[str, dict[str, Any]] | None, table: pd.DataFrame) -> list[SweepResult]:
    """Every configured sweep (config order) with its runs from `table`, its points, its trends."""
    results = []
    for name, spec in (sweeps or {}).items():
        sweep = Sweep.of(name, spec)
        points = sweep_points(sweep)
        frame = sweep_frame(points, table)
        results.append(SweepResult(sweep, frame, point_stats(points, frame),
                                   sweep_trends(sweep, frame)))
    return results


def point_stats(points: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """The points with the seeds that ran, were kept and diverged, and per curve the kept seeds'
    mean with its 95% t interval (`<curve>_mean`, `_low`, `_high`; none with one seed)."""
    rows = []
    for run in points["run"]:
        runs = frame[frame["run"] == run]
        kept = runs[runs["kept"]]
        row = {"seeds": runs["seed"].tolist(), "kept_seeds": kept["seed"].tolist(),
               "diverged_seeds": runs.loc[runs["diverged"], "seed"].tolist()}
        for curve in CURVES:
            mean, _, low, high = (mean_interval(kept[curve], clip=curve != GAP) if len(kept)
                                  else [math.nan] * 4)
            row |= {f"{curve}_mean": mean, f"{curve}_low": low, f"{curve}_high": high}
        rows.append(row)
    return points.join(pd.DataFrame(rows, index=points.index))
