"""The one typed table of model comparisons, results/comparisons.csv: every comparison the page
shows is a row here, computed once. docs/statistics.md has the method, columns and verdicts."""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Self

import numpy as np
import pandas as pd

from dlwpt import statistics as st

ALPHA = 0.05
ALL_PAIRS, VS_BEST, CLAIMS = "all_pairs", "vs_best", "claims"
# The quantities compared (the `quantity` column), also the curves of a sweep (report.trends).
TRAIN_ACC, VAL_ACC, GAP, EPOCHS_TO_TARGET = "train_acc", "val_acc", "gap", "epochs_to_target"
TWO_SOURCE, MCNEMAR, PAIRED_SEEDS = "two_source_t", "mcnemar_exact", "paired_t_seeds"
A_BETTER, B_BETTER, NOT_DISTINGUISHABLE = "a_better", "b_better", "not_distinguishable"
NO_SPREAD, DIVERGED = "not_tested_no_spread", "not_tested_diverged"
NO_SHARED_SEEDS, ONE_SEED = "not_tested_no_shared_seeds", "not_tested_one_seed"
MISSING_SEEDS = "not_tested_missing_seeds"
DATA_CHANGED = "not_tested_data_changed"  # dlwpt.history only: an old and a new run, other images
VERDICTS = (A_BETTER, B_BETTER, NOT_DISTINGUISHABLE, NO_SPREAD, DIVERGED, NO_SHARED_SEEDS,
            ONE_SEED, MISSING_SEEDS)
TESTED = (A_BETTER, B_BETTER, NOT_DISTINGUISHABLE)
COMPARISON_COLUMNS = (
    "family", "quantity", "model_a", "model_b", "seeds", "n_seeds", "n_images", "test",
    "value_a", "value_b", "diff", "diff_ci_low", "diff_ci_high", "se", "df",
    "only_a_correct", "only_b_correct", "p_value", "p_adjusted", "family_size",
    "detectable_80", "seeds_needed", "verdict")
INTEGER_COLUMNS = ("n_seeds", "n_images", "only_a_correct", "only_b_correct", "family_size")


def sweep_family(sweep: str) -> str:
    """A sweep's family: its best point against each other point (Holm within the sweep)."""
    return f"sweep:{sweep}"


@dataclass(frozen=True)
class SeedFigures:
    """A training-set figure of two models per seed, for a claim's paired t over seeds."""

    quantity: str
    model_a: str
    model_b: str
    a: dict[int, float]
    b: dict[int, float]


@dataclass(frozen=True)
class Runs:
    """What the comparisons need of the run table (a diverged model is never tested or ranked)."""

    models: list[str]
    ran: dict[str, set[int]]
    scored: dict[str, list[int]]
    diverged: set[str]
    correct: dict[tuple[str, int], np.ndarray]

    @classmethod
    def of(cls, run_table: pd.DataFrame, correct: dict[tuple[str, int], np.ndarray],
           models: list[str]) -> Self:
        present = [m for m in models if m in set(run_table["model"])]
        ran = {m: set(run_table.loc[run_table["model"] == m, "seed"].astype(int))
               for m in present}
        scored = {m: sorted(int(s) for s in run_table.loc[
            (run_table["model"] == m) & run_table["val_acc"].notna(), "seed"]) for m in present}
        diverged = set(run_table.loc[run_table["diverged_epoch"].notna(), "model"])
        return cls(present, ran, scored, diverged, correct)

    def differences(self, a: str, b: str, seeds: Sequence[int]) -> np.ndarray:
        """seeds x images of a_correct - b_correct."""
        return np.stack([self.correct[(a, s)].astype(np.int8) - self.correct[(b, s)]
                         for s in seeds])

    def accuracy(self, model: str, seeds: Sequence[int]) -> float:
        return float(np.mean([self.correct[(model, s)].mean() for s in seeds]))


def compare_runs(run_table: pd.DataFrame, correct: dict[tuple[str, int], np.ndarray],
                 models: list[str], training: Sequence[SeedFigures] = (),
                 sweeps: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """The all_pairs, vs_best, per-seed (several seeds) and claims families, then one family per
    sweep of its points' runs. A claim is a family of one: it needs all its parts
    (intersection-union)."""
    runs = Runs.of(run_table, correct, models)
    families = [validation_family(runs, ALL_PAIRS), best_family(runs)]
    seeds = sorted({s for seeds_ in runs.scored.values() for s in seeds_})
    if len(seeds) > 1:
        families += [validation_family(runs, f"seed:{s}", s) for s in seeds]
    families += [adjust([claim_row(figures, runs)]) for figures in training]
    families += [best_family(Runs.of(run_table, correct, list(points)), sweep_family(name))
                 for name, points in (sweeps or {}).items()]
    rows = [row for family in families for row in family]
    table = pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS))
    return table.astype(dict.fromkeys(INTEGER_COLUMNS, "Int64"))


def untested(family: str, quantity: str, a: str, b: str, verdict: str,
             seeds: Sequence[int] = ()) -> dict[str, Any]:
    return {"family": family, "quantity": quantity, "model_a": a, "model_b": b,
            "seeds": " ".join(map(str, seeds)), "n_seeds": len(seeds), "verdict": verdict}


# Many parameters: one per column of comparisons.csv that a test fills in.
def difference_row(family: str, quantity: str, a: str, b: str, seeds: Sequence[int],
                   test: str, value_a: float, value_b: float,
                   diff: st.Difference) -> dict[str, Any]:
    row = untested(family, quantity, a, b, NO_SPREAD, seeds)
    row.update(n_images=diff.n_images, test=test, value_a=value_a, value_b=value_b,
               diff=diff.mean, se=diff.se, df=diff.df, _difference=diff)
    if not math.isnan(diff.p):
        row.update(diff_ci_low=diff.low, diff_ci_high=diff.high, p_value=diff.p, verdict=None)
    return row


def validation_row(runs: Runs, family: str, a: str, b: str,
                   seeds: Sequence[int]) -> dict[str, Any]:
    """a against b on validation accuracy over `seeds` (one seed: McNemar's exact p)."""
    if a in runs.diverged or b in runs.diverged:
        return untested(family, VAL_ACC, a, b, DIVERGED, seeds)
    if not seeds:
        return untested(family, VAL_ACC, a, b, NO_SHARED_SEEDS)
    diff = st.two_source_difference(runs.differences(a, b, seeds))
    one = len(seeds) == 1
    row = difference_row(family, VAL_ACC, a, b, seeds, MCNEMAR if one else TWO_SOURCE,
                         runs.accuracy(a, seeds), runs.accuracy(b, seeds), diff)
    if one:
        exact = st.mcnemar_exact(runs.correct[(a, seeds[0])], runs.correct[(b, seeds[0])])
        row.update(only_a_correct=exact["only_a"], only_b_correct=exact["only_b"])
        if "p_value" in row:  # tested: McNemar's exact p, not the t's
            row["p_value"] = exact["p_value"]
    return row


def validation_family(runs: Runs, family: str, seed: int | None = None) -> list[dict[str, Any]]:
    """Each pair over the seeds both have (or the one `seed`, if both ran it), Holm over the
    tested."""
    return adjust([validation_row(runs, family, a, b, [seed] if seed is not None
                                  else sorted(set(runs.scored[a]) & set(runs.scored[b])))
                   for a, b in combinations(runs.models, 2)
                   if seed is None or seed in runs.ran[a] and seed in runs.ran[b]])


def best_family(runs: Runs, family: str = VS_BEST) -> list[dict[str, Any]]:
    """The best model against every other (Holm over these k - 1, with the seeds each would
    need), picked and compared on the models' own seed set covering the most model x seed
    results (ties: more seeds, then the first sorted), among the models having all of them."""
    eligible = {m: set(s) for m, s in runs.scored.items() if m not in runs.diverged and s}
    candidates = sorted({frozenset(s) for s in eligible.values()}, key=sorted)
    having = {c: [m for m in runs.models if m in eligible and eligible[m] >= c]
              for c in candidates}
    chosen = max(candidates, key=lambda c: (len(having[c]) * len(c), len(c)), default=None)
    if chosen is None:
        return []
    seeds, members = sorted(chosen), having[chosen]
    best = max(members, key=lambda m: (runs.accuracy(m, seeds), -members.index(m)))
    # a diverged model: validation_row's untested row
    rows = [validation_row(runs, family, best, other, seeds)
            if other in members or other in runs.diverged
            else untested(family, VAL_ACC, best, other, MISSING_SEEDS, seeds)
            for other in runs.models if other != best]
    return adjust(rows, seeds_needed=True)


def claim_row(figures: SeedFigures, runs: Runs) -> dict[str, Any]:
    """A training-set figure: paired t over seeds; the gap (train - val) with the two-source
    test on the per-image validation outcomes, since its val part is a sample of images."""
    a, b, quantity = figures.model_a, figures.model_b, figures.quantity
    seeds = sorted(s for s in set(figures.a) & set(figures.b)
                   if np.isfinite(figures.a[s]) and np.isfinite(figures.b[s]))
    values_a, values_b = [figures.a[s] for s in seeds], [figures.b[s] for s in seeds]
    if a in runs.diverged or b in runs.diverged:
        return untested(CLAIMS, quantity, a, b, DIVERGED, seeds)
    if not seeds:
        return untested(CLAIMS, quantity, a, b, NO_SHARED_SEEDS)
    if len(seeds) == 1:
        return untested(CLAIMS, quantity, a, b, ONE_SEED, seeds) | {
            "value_a": values_a[0], "value_b": values_b[0], "diff": values_a[0] - values_b[0],
            "n_images": 0}
    if quantity == GAP:
        test, diff = TWO_SOURCE, gap_difference(runs, a, b, seeds, np.subtract(values_a, values_b))
    else:
        test, diff = PAIRED_SEEDS, st.paired_seed_difference(values_a, values_b)
    return difference_row(CLAIMS, quantity, a, b, seeds, test, float(np.mean(values_a)),
                          float(np.mean(values_b)), diff)


def gap_difference(runs: Runs, a: str, b: str, seeds: Sequence[int],
                   gap_diffs: np.ndarray) -> st.Difference:
    """The two-source test of gap_a - gap_b: per seed and image, the training accuracies'
    difference less the image's a_correct - b_correct, so its error counts the flips once."""
    val = runs.differences(a, b, seeds)
    train = gap_diffs + val.mean(axis=1)
    return st.two_source_difference(train[:, None] - val, flips_once=True)


def adjust(rows: list[dict[str, Any]], seeds_needed: bool = False) -> list[dict[str, Any]]:
    """Holm over the family's tested rows, each given its verdict and the difference it could
    detect with 80% power at the family's strictest level (and its seeds needed)."""
    tested = [row for row in rows if row["verdict"] is None]
    for row, p in zip(tested, st.holm([row["p_value"] for row in tested]), strict=True):
        code = (A_BETTER if row["diff"] > 0 else B_BETTER) if p < ALPHA else NOT_DISTINGUISHABLE
        row.update(p_adjusted=p, family_size=len(tested), verdict=code)
    alpha = ALPHA / max(len(tested), 1)
    for row in rows:
        diff = row.pop("_difference", None)
        if diff is not None:
            row["detectable_80"] = st.detectable_difference(diff.se, diff.df, alpha)
            if seeds_needed and row["verdict"] in TESTED:
                row["seeds_needed"] = st.seeds_to_resolve(diff, diff.mean, alpha)
    return rows


def family_rows(table: pd.DataFrame, family: str) -> pd.DataFrame:
    return table[table["family"] == family]


def pair_row(rows: pd.DataFrame, first: str, second: str) -> tuple[pd.Series | None, bool]:
    """The pair's row (either order) and whether it lists `second` as model_a; None if absent."""
    for a, b, flip in ((first, second, False), (second, first, True)):
        match = rows[(rows["model_a"] == a) & (rows["model_b"] == b)]
        if not match.empty:
            return match.iloc[0], flip
    return None, False


def outcome(rows: pd.DataFrame, first: str, second: str) -> str | None:
    """How `first` fares against `second` in these rows: "better", "worse",
    NOT_DISTINGUISHABLE or a not_tested_* code; None when the pair has no row."""
    row, flip = pair_row(rows, first, second)
    if row is None:
        return None
    if row["verdict"] in (A_BETTER, B_BETTER):
        return "better" if (row["verdict"] == A_BETTER) != flip else "worse"
    return row["verdict"]


def top_models(table: pd.DataFrame, scored: list[str], family: str = VS_BEST) -> dict[str, Any]:
    """The headline (or a sweep's best point): best (no rows: `scored`'s lone model), winner
    (better than every model that did not diverge), runner-up (the highest tested: an identical
    twin has no test), rows, and those it states: with a winner every `a_better`, else the not
    distinguishable ones (the best was picked on the data)."""
    rows = family_rows(table, family)
    if rows.empty:
        return {"best": scored[0] if len(scored) == 1 else None, "winner": None,
                "runner_up": None, "seeds": [], "rows": rows, "stated": rows}
    best = rows["model_a"].iloc[0]
    ranked = rows[rows["verdict"].isin(TESTED)].sort_values("value_b", ascending=False,
                                                            kind="stable")
    others = rows[rows["verdict"] != DIVERGED]
    winner = best if len(others) and (others["verdict"] == A_BETTER).all() else None
    return {"best": best, "winner": winner,
            "runner_up": ranked["model_b"].iloc[0] if len(ranked) else None,
            "seeds": [int(s) for s in rows["seeds"].iloc[0].split()], "rows": rows,
            "stated": rows[rows["verdict"] == (A_BETTER if winner else NOT_DISTINGUISHABLE)]}
