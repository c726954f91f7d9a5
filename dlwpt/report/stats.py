"""The report's statistics: aggregates over seeds, jobs and fits, with no formatting or prose."""

import math
from typing import Any

import numpy as np
import pandas as pd

from dlwpt.costs import forward_cost
from dlwpt.models import build_model
from dlwpt.report.formats import missing
from dlwpt.report.inputs import finite_series
from dlwpt.statistics import mean_interval, prediction_interval


def per_model_stats(run_table: pd.DataFrame) -> pd.DataFrame:
    """Mean and spread over seeds per model, in the run table's (config) order."""
    grouped = run_table.groupby("model", sort=False)
    stats = grouped.agg(
        arch=("arch", "first"), n_seeds=("seed", "nunique"),
        # seeds behind the accuracy figures (a run diverged in epoch 1 has none)
        n_scored=("val_acc", "count"),
        **{f"{split}_{f}": (f"{split}_acc", f) for split in ("train", "val")
           for f in ("mean", "min", "max", "std")},
        n_params=("n_params", "first"), epochs=("epochs", "max"),
        seconds_per_epoch=("seconds_per_epoch", "mean"), total_seconds=("total_seconds", "mean"),
        resdeep_blocks=("resdeep_blocks", "first"), n_blocks=("n_blocks", "first"),
        book_train=("book_train_acc", "first"), book_val=("book_val_acc", "first"))
    for column in ("device", "engine"):
        stats[column] = grouped[column].agg(lambda d: "; ".join(sorted(set(map(str, d)))))
    # A model any of whose seeds diverged: flagged everywhere, never ranked.
    stats["diverged_epochs"] = grouped["diverged_epoch"].agg(lambda d: [int(e) for e in d.dropna()])
    return stats.join(pd.DataFrame({model: accuracy_intervals(runs) for model, runs in grouped}).T)


def accuracy_intervals(runs: pd.DataFrame) -> dict[str, float]:
    """95% intervals of a model's accuracies and gap: t over seeds, or one seed's Wilson (val
    only). `book_*`: where one new run's val accuracy would fall, to judge the book's one run."""
    scored = runs.dropna(subset=["val_acc", "train_acc"])
    gaps = scored["train_acc"] - scored["val_acc"]
    out = {f"{k}_{end}": math.nan for k in ("val", "train", "gap") for end in ("low", "high")}
    out |= {"gap_mean": float(gaps.mean()), "book_low": math.nan, "book_high": math.nan}
    if len(scored) == 1:
        out["val_low"], out["val_high"] = scored[["val_acc_ci_low", "val_acc_ci_high"]].iloc[0]
        out["book_low"], out["book_high"] = out["val_low"], out["val_high"]
    elif len(scored) > 1:
        for key, values in (("val", scored["val_acc"]), ("train", scored["train_acc"]),
                            ("gap", gaps)):
            _, _, out[f"{key}_low"], out[f"{key}_high"] = mean_interval(values, clip=key != "gap")
        low, high = prediction_interval(scored["val_acc"].to_numpy())
        out["book_low"], out["book_high"] = max(0.0, low), min(1.0, high)
    return out


def reproduces_book(row: pd.Series) -> str | None:
    """Whether the book's val figure (one run) is inside `book_low`..`book_high`, not our mean's
    interval (that shrinks with the seeds; one run's spread does not); None: nothing to judge."""
    if missing(row.book_val) or missing(row.book_low) or row.diverged_epochs:
        return None
    return ("yes" if row.book_low <= row.book_val <= row.book_high
            else "no: book above" if row.book_val > row.book_high else "no: book below")


def macs_per_image(run_table: pd.DataFrame) -> dict[str, int | None]:
    """Per model, one image's multiply-accumulates from its first run's settings (or None)."""
    found: dict[str, int | None] = {}
    for run in run_table.drop_duplicates("model").itertuples():
        settings = run.hyperparameters if isinstance(run.hyperparameters, dict) else {}
        try:
            found[run.model] = forward_cost(build_model({
                **{k: v for k, v in settings.items() if k not in ("subsample", "n_train")},
                "arch": run.arch})).macs
        except (ValueError, TypeError):  # a summary without the model's settings
            found[run.model] = None
    return found


def rule_stats(rule_runs: pd.DataFrame) -> pd.DataFrame:
    """Per rule: number of jobs, total and longest seconds, peak RSS (MB) of any job."""
    return rule_runs.groupby("rule").agg(jobs=("job", "size"), total_seconds=("seconds", "sum"),
                                         longest=("seconds", "max"),
                                         max_rss_mb=("max_rss_mb", "max"))


def book_delta_points(row: pd.Series) -> float | None:
    """Our mean validation accuracy minus the book's, in points to 0.1 (never -0.0)."""
    if missing(row.book_val) or missing(row.val_mean):
        return None
    return round(100 * (row.val_mean - row.book_val), 1) + 0.0


def final_loss(experiment: dict[str, Any]) -> float | None:
    """The fit's final loss: as recorded, else the last finite loss of a run that converged."""
    final = experiment.get("final") or {}
    if not missing(final.get("loss")):
        return final["loss"]
    losses = finite_series(experiment["loss"])
    if experiment["diverged"] or not np.isfinite(losses).any():
        return None
    return float(losses[np.isfinite(losses)][-1])
