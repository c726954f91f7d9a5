"""Pairwise comparisons of the zoo's models on validation accuracy: results/comparisons.csv.

Per seed and pair of models, the exact McNemar test on the same validation images
(`dlwpt.statistics.mcnemar_exact`): it asks whether these two trained nets differ in accuracy on
images like these, i.e. it covers the sampling of the validation images only.

With several seeds, also one seed-level row per pair (seed "all"): a paired t-test over seeds
of the accuracy differences (scipy's one-sample t on acc_a - acc_b per seed, which is
`ttest_rel`). Why that test: the seed is the unit that repeats the whole training (initial
weights, batch order), so the per-seed differences are the independent observations of "is A
better than B as a recipe"; pairing by seed removes what both runs of a seed share (the same
seed, the same validation images); the t-test is the standard test of a mean difference from
a few observations, and its interval is the one the report draws. Pooling McNemar's counts
over seeds instead would treat 3 x 2,000 predictions as independent and ignore how much the
accuracy moves from seed to seed. With three seeds the test has two degrees of freedom and
little power: "no significant difference" is the expected outcome for gaps of a point or two.
Differences are taken from the accuracies rounded to 12 decimals, so seeds with exactly the
same difference have zero spread (not float noise); then p is the t-test's limit: 1 for a zero
difference, 0 otherwise.

Holm's correction, two families: each seed's McNemar rows (every pair compared on that seed,
read together as "which models differ on this training run"), and the seed-level rows (every
pair, read together as "which models differ as recipes"). Adding a seed adds a family instead
of making every other seed's tests stricter.

Verdict, at p_adjusted < ALPHA: "a better", "b better", else "no significant difference". A
pair with a diverged run is never tested or ranked: "not ranked: <model> diverged".
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from dlwpt.statistics import holm, mcnemar_exact

ALPHA = 0.05
ALL_SEEDS = "all"
COMPARISON_COLUMNS = ("model_a", "model_b", "seed", "test", "n", "acc_a", "acc_b", "diff",
           "only_a_correct", "only_b_correct", "p_value", "p_adjusted", "verdict")
MCNEMAR, PAIRED_T = "exact McNemar", "paired t over seeds"
A_BETTER, B_BETTER, NO_DIFFERENCE = "a better", "b better", "no significant difference"


def verdict(diff: float, p_adjusted: float) -> str:
    if p_adjusted < ALPHA:
        return A_BETTER if diff > 0 else B_BETTER
    return NO_DIFFERENCE


def diverged_verdict(names: list[str]) -> str:
    return f"not ranked: {' and '.join(names)} diverged"


def paired_t(differences: Any) -> float:
    """Two-sided p-value of a paired t-test on per-seed differences (two or more)."""
    d = np.round(np.asarray(differences, dtype=float), 12)
    if np.all(d == d[0]):  # no spread: the t statistic is 0/0 or +-inf
        return 1.0 if d[0] == 0 else 0.0
    return float(stats.ttest_1samp(d, 0.0).pvalue)


def compare_runs(run_table: pd.DataFrame, correct: dict[tuple[str, int], np.ndarray],
                 models: list[str]) -> pd.DataFrame:
    """COMPARISON_COLUMNS, one row per pair (config order: model_a before model_b) and seed,
    then the seed-level rows; `correct` maps (model, seed) to its per-image correctness."""
    runs = run_table.set_index(["model", "seed"])
    present = [m for m in models if m in set(run_table["model"])]
    seeds = sorted(set(run_table["seed"]))
    diverged = {key for key, epoch in runs["diverged_epoch"].items() if not pd.isna(epoch)}
    rows: list[dict[str, Any]] = []
    for seed in seeds:
        family = []
        for a, b in combinations(present, 2):
            if (a, seed) not in runs.index or (b, seed) not in runs.index:
                continue
            row = {"model_a": a, "model_b": b, "seed": str(seed), "test": MCNEMAR}
            bad = [m for m in (a, b) if (m, seed) in diverged]
            if bad:
                row.update(acc_a=runs.loc[(a, seed), "val_acc"],
                           acc_b=runs.loc[(b, seed), "val_acc"], verdict=diverged_verdict(bad))
            else:
                hits_a, hits_b = correct[(a, seed)], correct[(b, seed)]
                test = mcnemar_exact(hits_a, hits_b)
                row.update(n=len(hits_a), acc_a=hits_a.mean(), acc_b=hits_b.mean(),
                           only_a_correct=test["only_a"], only_b_correct=test["only_b"],
                           p_value=test["p_value"])
                family.append(row)
            row["diff"] = row["acc_a"] - row["acc_b"]
            rows.append(row)
        adjust(family)
    if len(seeds) > 1:
        family = []
        for a, b in combinations(present, 2):
            common = [s for s in seeds if (a, s) in runs.index and (b, s) in runs.index]
            if not common:
                continue
            acc_a = runs.loc[[(a, s) for s in common], "val_acc"].to_numpy(dtype=float)
            acc_b = runs.loc[[(b, s) for s in common], "val_acc"].to_numpy(dtype=float)
            row = {"model_a": a, "model_b": b, "seed": ALL_SEEDS, "test": PAIRED_T,
                   "n": len(common), "acc_a": np.mean(acc_a), "acc_b": np.mean(acc_b),
                   "diff": np.mean(acc_a - acc_b)}
            bad = [m for m in (a, b) if any((m, s) in diverged for s in common)]
            if bad:
                row["verdict"] = diverged_verdict(bad)
            elif len(common) < 2:
                row["verdict"] = "not tested: one seed in common"
            else:
                row["p_value"] = paired_t(acc_a - acc_b)
                family.append(row)
            rows.append(row)
        adjust(family)
    table = pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS))
    for column in ("n", "only_a_correct", "only_b_correct"):
        table[column] = table[column].astype("Int64")
    return table


def adjust(family: list[dict[str, Any]]) -> None:
    """Holm-adjust one family of rows in place and give each its verdict."""
    for row, p in zip(family, holm([row["p_value"] for row in family]), strict=True):
        row["p_adjusted"] = p
        row["verdict"] = verdict(row["diff"], p)


def deciding_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows the page reads as "the" comparison of each pair: the seed-level ones with
    several seeds, else those of the one seed."""
    if table.empty:
        return table
    level = table[table["seed"] == ALL_SEEDS]
    return level if not level.empty else table[table["seed"] == table["seed"].iloc[0]]


def outcome(decisive: pd.DataFrame, first: str, second: str) -> str | None:
    """How `first` fares against `second`: "better", "worse", "tie" (no significant
    difference), "diverged", or None when the pair was not compared."""
    for a, b, flip in ((first, second, False), (second, first, True)):
        match = decisive[(decisive["model_a"] == a) & (decisive["model_b"] == b)]
        if not match.empty:
            text = match["verdict"].iloc[0]
            if text == NO_DIFFERENCE:
                return "tie"
            if text in (A_BETTER, B_BETTER):
                return "better" if (text == A_BETTER) != flip else "worse"
            return "diverged" if text.startswith("not ranked") else None
    return None


def top_models(per_model: pd.DataFrame, decisive: pd.DataFrame) -> dict[str, Any]:
    """The best model (highest mean validation accuracy among those that never diverged),
    the models tied with it (not significantly worse), and the winner: the best model when it
    beats every other one significantly, the runner-up included; None otherwise (also when it
    is the only model: there is nothing to beat). Diverged models take no part."""
    ranked = per_model[per_model["diverged_epochs"].map(len) == 0].sort_values(
        "val_mean", ascending=False, kind="stable")
    ranked = ranked[ranked["val_mean"].notna()]
    if ranked.empty:
        return {"best": None, "tied": [], "winner": None, "runner_up": None}
    best = ranked.index[0]
    tied = [best] + [m for m in ranked.index[1:] if outcome(decisive, best, m) != "better"]
    runner_up = ranked.index[1] if len(ranked) > 1 else None
    winner = best if runner_up is not None and len(tied) == 1 else None
    return {"best": best, "tied": tied, "winner": winner, "runner_up": runner_up}

