"""Pairwise comparisons of the zoo's models on validation accuracy: results/comparisons.csv.

Per seed and pair of models, the exact McNemar test on the same validation images
(`dlwpt.statistics.mcnemar_exact`): it asks whether these two trained nets differ in accuracy on
images like these, i.e. it covers the sampling of the validation images only.

With several seeds, also one seed-level row per pair (seed "all"). The seed is the unit that
repeats the whole training (initial weights, batch order), so the per-seed accuracies are the
independent observations of "is A better than B as a recipe"; pooling McNemar's counts over
seeds would treat 3 x 2,000 predictions as independent and ignore how much the accuracy moves
from seed to seed. The test is the standard randomized-complete-block analysis: models x seeds
as a two-way additive layout (the seed is the block: it removes what all runs of a seed share),
over the models with a finite accuracy on every one of the same seeds (`block_mse`,
`seed_level_rows`). Its residual mean square
estimates the seed-to-seed variance once, with (k-1)(n-1) degrees of freedom (18 for 10 models
x 3 seeds), and each pair's t = (mean_a - mean_b) / sqrt(2 MSE / n) uses it: 45 separate paired
t-tests of 2 df each would need |t| > 30 after Holm's correction, so almost nothing could be
shown. The price is an assumption: a common seed-to-seed variance across models. With two
models it is the paired t-test. A pair outside the complete block (a model missing a seed)
falls back to the paired t-test over the seeds it shares (`paired_t`); the `test` column says
which. Differences and residuals are rounded to 12 decimals, so float noise is not spread:
without spread (every seed gives the same difference, or MSE = 0) the t statistic is 0/0 or
infinite and the pair is "not tested: no spread over seeds", never significant.

Holm's correction, two families: each seed's McNemar rows (every pair compared on that seed,
read together as "which models differ on this training run"), and the seed-level rows (every
pair, read together as "which models differ as recipes"). Adding a seed adds a family instead
of making every other seed's tests stricter.

Verdict, at p_adjusted < ALPHA: "a better", "b better", else "no significant difference". A
pair with a diverged run is never tested or ranked: "not ranked: <model> diverged"; a pair
without a test over seeds says why: "not tested: no spread over seeds" or "not tested: one
seed in common" (no p-value, outside Holm's family).
"""

from __future__ import annotations

import math
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
BLOCK_T = "randomized-block t over seeds"
NO_SPREAD = "not tested: no spread over seeds"
A_BETTER, B_BETTER, NO_DIFFERENCE = "a better", "b better", "no significant difference"


def verdict(diff: float, p_adjusted: float) -> str:
    if p_adjusted < ALPHA:
        return A_BETTER if diff > 0 else B_BETTER
    return NO_DIFFERENCE


def diverged_verdict(names: list[str]) -> str:
    return f"not ranked: {' and '.join(names)} diverged"


def paired_t(differences: Any) -> float:
    """Two-sided p-value of a paired t-test on per-seed differences (two or more); NaN when
    they have no spread (the t statistic is 0/0 or infinite: no test)."""
    d = np.round(np.asarray(differences, dtype=float), 12)
    if np.all(d == d[0]):
        return math.nan
    return float(stats.ttest_1samp(d, 0.0).pvalue)


def block_mse(acc: pd.DataFrame) -> tuple[float, int]:
    """(residual mean square, its degrees of freedom) of the additive two-way layout models
    (rows) x seeds (columns, the blocks): sum of (x_ij - row_i - col_j + grand)^2 / ((k-1)(n-1)).
    Residuals are rounded to 12 decimals so that an exactly additive table gives 0."""
    x = acc.to_numpy(dtype=float)
    k, n = x.shape
    residual = x - x.mean(axis=1, keepdims=True) - x.mean(axis=0, keepdims=True) + x.mean()
    df = (k - 1) * (n - 1)
    return float((np.round(residual, 12) ** 2).sum() / df), df


def block_t(diff: float, mse: float, df: int, n: int) -> float:
    """Two-sided p of one pair's difference of means in the block layout; NaN when MSE = 0."""
    if mse <= 0:
        return math.nan
    t = diff / math.sqrt(2 * mse / n)
    return float(2 * stats.t.sf(abs(t), df))


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
        rows += seed_level_rows(runs, present, seeds, diverged)
    table = pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS))
    for column in ("n", "only_a_correct", "only_b_correct"):
        table[column] = table[column].astype("Int64")
    return table


def seed_level_rows(runs: pd.DataFrame, present: list[str], seeds: list[int],
                    diverged: set) -> list[dict[str, Any]]:
    """One row per pair over seeds: the block t-test inside the complete block, else the
    paired t-test over the seeds the pair shares; Holm across all of them.

    The complete block: models that never diverged with a finite val_acc on every one of the
    same seeds (two or more), the seed set chosen for the most error degrees of freedom (ties:
    more seeds), so one model's extra seed does not break the block for the others."""
    def scored(m: str, s: int) -> bool:
        return (m, s) in runs.index and (m, s) not in diverged and np.isfinite(
            runs.loc[(m, s), "val_acc"])

    has = {m: frozenset(s for s in seeds if scored(m, s)) for m in present
           if not any((m, s) in diverged for s in seeds)}
    block, block_seeds, best = [], [], (0, 0)
    for candidate in sorted({c for c in has.values() if len(c) >= 2}, key=sorted):
        members = [m for m in present if m in has and has[m] >= candidate]
        rank = ((len(members) - 1) * (len(candidate) - 1), len(candidate))
        if len(members) >= 2 and rank > best:
            block, block_seeds, best = members, sorted(candidate), rank
    mse, df = math.nan, 0
    if block:
        mse, df = block_mse(pd.DataFrame([[runs.loc[(m, s), "val_acc"] for s in block_seeds]
                                          for m in block]))
    rows, family = [], []
    for a, b in combinations(present, 2):
        in_block = a in block and b in block
        common = block_seeds if in_block else [
            s for s in seeds if (a, s) in runs.index and (b, s) in runs.index]
        if not common:
            continue
        acc_a = runs.loc[[(a, s) for s in common], "val_acc"].to_numpy(dtype=float)
        acc_b = runs.loc[[(b, s) for s in common], "val_acc"].to_numpy(dtype=float)
        row = {"model_a": a, "model_b": b, "seed": ALL_SEEDS,
               "test": BLOCK_T if in_block else PAIRED_T,
               "n": len(common), "acc_a": np.mean(acc_a), "acc_b": np.mean(acc_b),
               "diff": np.mean(acc_a - acc_b)}
        bad = [m for m in (a, b) if any((m, s) in diverged for s in common)]
        if bad:
            row["verdict"] = diverged_verdict(bad)
        elif len(common) < 2:
            row["verdict"] = "not tested: one seed in common"
        else:
            p = (block_t(row["diff"], mse, df, len(common)) if in_block
                 else paired_t(acc_a - acc_b))
            if math.isnan(p):
                row["verdict"] = NO_SPREAD
            else:
                row["p_value"] = p
                family.append(row)
        rows.append(row)
    adjust(family)
    return rows


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


def pair_row(decisive: pd.DataFrame, first: str, second: str) -> tuple[pd.Series | None, bool]:
    """The pair's row (either order) and whether it lists `second` as model_a; None if absent."""
    for a, b, flip in ((first, second, False), (second, first, True)):
        match = decisive[(decisive["model_a"] == a) & (decisive["model_b"] == b)]
        if not match.empty:
            return match.iloc[0], flip
    return None, False


def outcome(decisive: pd.DataFrame, first: str, second: str) -> str | None:
    """How `first` fares against `second`: "better", "worse", "tie" (no significant
    difference), "diverged", or None when the pair was not compared."""
    row, flip = pair_row(decisive, first, second)
    if row is None:
        return None
    text = row["verdict"]
    if text == NO_DIFFERENCE:
        return "tie"
    if text in (A_BETTER, B_BETTER):
        return "better" if (text == A_BETTER) != flip else "worse"
    return "diverged" if text.startswith("not ranked") else None


def top_models(per_model: pd.DataFrame, decisive: pd.DataFrame) -> dict[str, Any]:
    """The best model (highest mean validation accuracy among those that never diverged),
    the models tied with it (compared and not significantly different), those never tested
    against it (no spread over seeds, one seed in common), and the winner: the best model
    when it beats every other one significantly, the runner-up included; None otherwise (also
    when it is the only model: there is nothing to beat). Diverged models take no part."""
    ranked = per_model[per_model["diverged_epochs"].map(len) == 0].sort_values(
        "val_mean", ascending=False, kind="stable")
    ranked = ranked[ranked["val_mean"].notna()]
    if ranked.empty:
        return {"best": None, "tied": [], "untested": [], "winner": None, "runner_up": None}
    best = ranked.index[0]
    others = {m: outcome(decisive, best, m) for m in ranked.index[1:]}
    tied = [best] + [m for m, found in others.items() if found in ("tie", "worse")]
    untested = [m for m, found in others.items() if found is None]
    runner_up = ranked.index[1] if len(ranked) > 1 else None
    winner = best if runner_up is not None and len(tied) == 1 and not untested else None
    return {"best": best, "tied": tied, "untested": untested, "winner": winner,
            "runner_up": runner_up}
