"""results/comparisons.csv from synthetic per-image correctness: the families, the tests and
their numbers, Holm within each family, the verdict codes, and the headline read from it
(uneven seeds, diverged runs, one seed, missing seeds)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from dlwpt.results.comparisons import (
    COMPARISON_COLUMNS,
    VERDICTS,
    SeedFigures,
    compare_runs,
    top_models,
)
from dlwpt.statistics import (
    detectable_difference,
    seeds_to_resolve,
    two_source_difference,
)

N = 2000  # validation images
SEED_FAMILY = "seed:"


def first(k: int, start: int = 0) -> np.ndarray:
    """Images start .. start + k - 1 right, the rest wrong."""
    hits = np.zeros(N, dtype=bool)
    hits[start:start + k] = True
    return hits


def ranges(*spans: tuple[int, int]) -> np.ndarray:
    hits = np.zeros(N, dtype=bool)
    for start, stop in spans:
        hits[start:stop] = True
    return hits


def run_table(correct: dict[tuple[str, int], np.ndarray],
              diverged: set[tuple[str, int]] = frozenset()) -> pd.DataFrame:
    """The run table's columns the comparisons read; a diverged run has no accuracy."""
    rows = [{"model": m, "seed": s,
             "val_acc": math.nan if (m, s) in diverged else float(hits.mean()),
             "diverged_epoch": 3 if (m, s) in diverged else None}
            for (m, s), hits in correct.items()]
    table = pd.DataFrame(rows, columns=["model", "seed", "val_acc", "diverged_epoch"])
    table["diverged_epoch"] = table["diverged_epoch"].astype("Int64")
    return table


def compare(correct, models, diverged=frozenset(), training=()):
    table = compare_runs(run_table(correct, diverged), correct, models, training)
    check_table(table, correct, training)
    return table


def family(table: pd.DataFrame, name: str) -> pd.DataFrame:
    return table[table["family"] == name].reset_index(drop=True)


def row(table: pd.DataFrame, name: str, a: str, b: str) -> pd.Series:
    rows = table[(table["family"] == name) & (table["model_a"] == a) & (table["model_b"] == b)]
    assert len(rows) == 1, (name, a, b)
    return rows.iloc[0]


def seeds_of(r: pd.Series) -> list[int]:
    return [int(s) for s in str(r["seeds"]).split()]


def exact_binomial(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p: 2 P(X <= min | only_a + only_b, 1/2), at most 1."""
    n = only_a + only_b
    tail = sum(math.comb(n, k) for k in range(min(only_a, only_b) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def differences(correct, a: str, b: str, seeds: list[int]) -> np.ndarray:
    return np.stack([correct[(a, s)].astype(int) - correct[(b, s)].astype(int) for s in seeds])


def check_table(table: pd.DataFrame, correct, training=()) -> None:
    """What holds for every comparisons table: the columns, the codes, each family's Holm,
    each verdict from its adjusted p, and each row's numbers from its own predictions."""
    assert table.columns.tolist() == list(COMPARISON_COLUMNS)
    assert set(table["verdict"]) <= set(VERDICTS)
    assert table["verdict"].notna().all()
    for name, rows in table.groupby("family", sort=False):
        tested = rows[rows["verdict"].isin(("a_better", "b_better", "not_distinguishable"))]
        untested = rows.drop(tested.index)
        assert untested["p_value"].isna().all() and untested["p_adjusted"].isna().all()
        assert tested["p_value"].notna().all()
        if name == "claims":
            assert (tested["p_adjusted"] == tested["p_value"]).all()
            assert (tested["family_size"] == 1).all()
        elif len(tested):
            assert tested["p_adjusted"].tolist() == pytest.approx(
                multipletests(tested["p_value"].to_numpy(), method="holm")[1].tolist(),
                rel=1e-12, abs=1e-300)
            assert (tested["family_size"] == len(tested)).all()
        better = tested["p_adjusted"] < 0.05
        assert (tested.loc[better & (tested["diff"] > 0), "verdict"] == "a_better").all()
        assert (tested.loc[better & (tested["diff"] < 0), "verdict"] == "b_better").all()
        assert (tested.loc[~better, "verdict"] == "not_distinguishable").all()
        assert (tested["diff_ci_low"] < tested["diff"]).all()
        assert (tested["diff"] < tested["diff_ci_high"]).all()
        # the interval excludes 0 exactly when the unadjusted test (of the interval's
        # own kind) is significant; the exact McNemar p may differ from the t near 0.05
        for _, r in tested[tested["test"] != "mcnemar_exact"].iterrows():
            assert (r["p_value"] < 0.05) == (r["diff_ci_low"] > 0 or r["diff_ci_high"] < 0)
        alpha = 0.05 / max(len(tested), 1) if name != "claims" else 0.05
        for _, r in rows.iterrows():
            if r["test"] in ("two_source_t", "mcnemar_exact") and r["quantity"] == "val_acc":
                check_validation_row(r, correct, alpha, name)
            if name != "vs_best" or r["verdict"] not in ("a_better", "b_better",
                                                         "not_distinguishable"):
                assert pd.isna(r["seeds_needed"]), r.to_dict()
            if pd.notna(r["diff"]) and pd.notna(r["value_a"]):
                assert r["diff"] == pytest.approx(r["value_a"] - r["value_b"], abs=1e-12)
            assert int(r["n_seeds"]) == len(seeds_of(r))


def check_validation_row(r: pd.Series, correct, alpha: float, name: str) -> None:
    seeds = seeds_of(r)
    a, b = r["model_a"], r["model_b"]
    d = differences(correct, a, b, seeds)
    diff = two_source_difference(d)
    assert r["quantity"] == "val_acc" and r["n_images"] == N
    assert r["value_a"] == pytest.approx(np.mean([correct[(a, s)].mean() for s in seeds]),
                                         abs=1e-12)
    assert r["value_b"] == pytest.approx(np.mean([correct[(b, s)].mean() for s in seeds]),
                                         abs=1e-12)
    assert r["diff"] == pytest.approx(d.mean(), abs=1e-12)
    assert (r["se"], r["df"]) == pytest.approx((diff.se, diff.df), rel=1e-12)
    if len(seeds) == 1:
        assert r["test"] == "mcnemar_exact"
        only_a = int((correct[(a, seeds[0])] & ~correct[(b, seeds[0])]).sum())
        only_b = int((~correct[(a, seeds[0])] & correct[(b, seeds[0])]).sum())
        assert (r["only_a_correct"], r["only_b_correct"]) == (only_a, only_b)
        if r["verdict"] != "not_tested_no_spread":
            assert r["p_value"] == pytest.approx(exact_binomial(only_a, only_b), rel=1e-9,
                                                 abs=1e-300)
    else:
        assert r["test"] == "two_source_t"
        assert pd.isna(r["only_a_correct"]) and pd.isna(r["only_b_correct"])
        if r["verdict"] != "not_tested_no_spread":
            assert r["p_value"] == pytest.approx(diff.p, rel=1e-12, abs=1e-300)
    if r["verdict"] == "not_tested_no_spread":
        assert pd.isna(r["detectable_80"]) and pd.isna(r["diff_ci_low"])
        return
    assert (r["diff_ci_low"], r["diff_ci_high"]) == pytest.approx((diff.low, diff.high),
                                                                  rel=1e-12)
    assert r["detectable_80"] == pytest.approx(detectable_difference(diff.se, diff.df, alpha),
                                               rel=1e-9)
    if name == "vs_best":
        expected = seeds_to_resolve(diff, diff.mean, alpha)
        assert r["seeds_needed"] == expected or (math.isnan(expected)
                                                 and math.isnan(r["seeds_needed"]))


def families(table: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(table["family"]))


# ---------------------------------------------------------------- the verdict codes


def random_zoo(rng: np.random.Generator):
    """Models with per-image difficulty shared by all runs, model effects, per-seed noise,
    uneven seed sets, now and then a diverged run or an identical twin."""
    k, n_seeds = int(rng.integers(2, 6)), int(rng.integers(1, 5))
    models = [f"m{i}" for i in range(k)]
    difficulty = rng.uniform(0.55, 0.99, N)
    correct, diverged = {}, set()
    for i, model in enumerate(models):
        seeds = [s for s in range(n_seeds) if rng.random() > 0.15] or [0]
        if rng.random() < 0.2:
            seeds.append(n_seeds)  # an extra seed
        effect = rng.normal(0, 0.02)
        for seed in seeds:
            if i and rng.random() < 0.15 and (models[i - 1], seed) in correct:
                correct[(model, seed)] = correct[(models[i - 1], seed)].copy()
                continue
            p = np.clip(difficulty + effect + rng.normal(0, 0.01), 0, 1)
            correct[(model, seed)] = rng.random(N) < p
        if rng.random() < 0.1:
            diverged.add((model, seeds[-1]))
    return correct, models, diverged


def test_verdicts_are_codes_and_holm_is_per_family_on_varied_zoos():
    rng = np.random.default_rng(15)
    seen: set[str] = set()
    for _ in range(8):
        correct, models, diverged = random_zoo(rng)
        table = compare(correct, models, diverged)
        seen |= set(table["verdict"])
        scored = {s for (m, s) in correct if (m, s) not in diverged}
        names = families(table)
        assert names[:2] == ["all_pairs", "vs_best"] or names[:1] == ["all_pairs"]
        seed_names = [n for n in names if n.startswith(SEED_FAMILY)]
        if len(scored) == 1:
            assert seed_names == []
        else:
            assert set(seed_names) <= {f"seed:{s}" for s in scored}
        assert "claims" not in names
    assert {"a_better", "not_distinguishable"} <= seen


# ---------------------------------------------------------------- the audit's headline case

# model a at 1700/1702/1698/1990 correct of 2000 on seeds 0-3, b at 1720/1721/1719 on 0-2,
# c on 0-2 with lower accuracy: picked by its mean over all of its seeds a (0.886) would lead,
# compared over the shared seeds b leads.
HEADLINE = {("a", 0): first(1700), ("a", 1): first(1702), ("a", 2): first(1698),
            ("a", 3): first(1990),
            ("b", 0): first(1720), ("b", 1): first(1721), ("b", 2): first(1719),
            ("c", 0): first(1500), ("c", 1): first(1510), ("c", 2): first(1490)}


def test_the_audit_headline_case_names_b_or_no_winner_never_a_tie():
    table = compare(HEADLINE, ["a", "b", "c"])
    assert families(table) == ["all_pairs", "vs_best", "seed:0", "seed:1", "seed:2"]
    # a's extra seed 3 has no partner: no seed:3 family, and the pairs use the shared seeds
    assert family(table, "all_pairs")["seeds"].tolist() == ["0 1 2"] * 3
    best = family(table, "vs_best")
    assert best[["model_a", "model_b", "seeds", "n_seeds"]].values.tolist() == [
        ["b", "a", "0 1 2", 3], ["b", "c", "0 1 2", 3]]
    assert best["value_a"].tolist() == pytest.approx([0.86, 0.86], abs=1e-12)
    assert best["value_b"].tolist() == pytest.approx([0.85, 0.75], abs=1e-12)
    # b - a: 20, 19 and 21 images of 2,000 on seeds 0-2 (the first 1,698 are right in both)
    d = differences(HEADLINE, "b", "a", [0, 1, 2])
    seed_part = np.var([20 / N, 19 / N, 21 / N], ddof=1) / 3
    image_part = d.mean(axis=0).var(ddof=1) / N
    ba = best.iloc[0]
    assert ba["test"] == "two_source_t"
    assert ba["se"] == pytest.approx(math.sqrt(seed_part + image_part), rel=1e-6)
    t = 0.01 / ba["se"]
    assert ba["p_value"] == pytest.approx(2 * stats.t.sf(t, ba["df"]), rel=1e-9)
    assert ba["p_value"] < 1e-4 and ba["verdict"] == "a_better"
    assert best["verdict"].tolist() == ["a_better", "a_better"]
    assert best["family_size"].tolist() == [2, 2]
    # every family with the pair says b beats a (vs_best lists it as b against a)
    for name in families(table)[2:] + ["all_pairs"]:
        rows = family(table, name)
        ab = rows[(rows["model_a"] == "a") & (rows["model_b"] == "b")]
        assert ab["verdict"].tolist() == ["b_better"], name
    top = top_models(table, ["a", "b", "c"])
    assert set(top) == {"best", "winner", "runner_up", "seeds", "rows", "stated"}
    assert top["best"] == "b" and top["winner"] in ("b", None)
    assert top["winner"] == "b"
    assert top["runner_up"] == "a" and top["seeds"] == [0, 1, 2]
    assert top["rows"]["family"].eq("vs_best").all() and len(top["rows"]) == 2
    assert top["stated"].equals(top["rows"])  # a winner: the headline states every row


def test_an_extra_seed_shared_by_two_models_makes_a_one_pair_seed_family():
    correct = HEADLINE | {("c", 3): first(1980)}
    table = compare(correct, ["a", "b", "c"])
    assert families(table) == ["all_pairs", "vs_best", "seed:0", "seed:1", "seed:2", "seed:3"]
    seed3 = family(table, "seed:3")
    assert seed3[["model_a", "model_b", "test", "only_a_correct", "only_b_correct"]
                 ].values.tolist() == [["a", "c", "mcnemar_exact", 10, 0]]
    assert seed3["p_value"].tolist() == pytest.approx([2 * 0.5 ** 10], rel=1e-12)
    assert seed3["p_adjusted"].tolist() == seed3["p_value"].tolist()
    assert seed3["family_size"].tolist() == [1]
    # a and c over seeds 0-3, b over 0-2: the seed set covering most runs is still 0-2
    # (9 runs against 8), so b is the best and every model is compared on 0-2
    pair = row(table, "all_pairs", "a", "c")
    assert seeds_of(pair) == [0, 1, 2, 3] and pair["n_seeds"] == 4
    assert top_models(table, ["a", "b", "c"])["seeds"] == [0, 1, 2]


# ---------------------------------------------------------------- diverged, missing, no spread


def three_seeds(accuracies: dict[str, list[int]]) -> dict[tuple[str, int], np.ndarray]:
    return {(m, s): first(k) for m, ks in accuracies.items() for s, k in enumerate(ks)}


def test_a_diverged_model_is_never_tested_nor_best():
    # c diverged on seed 1; its other seeds are the most accurate runs of all
    correct = three_seeds({"a": [1700, 1710, 1690], "b": [1600, 1590, 1610],
                           "c": [1990, 0, 1995]})
    training = [SeedFigures("train_acc", "a", "c", {0: 0.9, 1: 0.91, 2: 0.92},
                            {0: 0.99, 1: 0.5, 2: 0.98}),
                SeedFigures("train_acc", "a", "b", {0: 0.9, 1: 0.91, 2: 0.92},
                            {0: 0.8, 1: 0.83, 2: 0.81})]
    table = compare(correct, ["a", "b", "c"], {("c", 1)}, training)
    assert families(table) == ["all_pairs", "vs_best", "seed:0", "seed:1", "seed:2", "claims"]
    with_c = table[(table["model_a"] == "c") | (table["model_b"] == "c")]
    assert with_c["family"].value_counts().to_dict() == {
        "all_pairs": 2, "vs_best": 1, "seed:0": 2, "seed:1": 2, "seed:2": 2, "claims": 1}
    assert (with_c["verdict"] == "not_tested_diverged").all()
    assert with_c["p_value"].isna().all() and with_c["test"].isna().all()
    without_c = table.drop(with_c.index)
    assert (without_c["verdict"] == "a_better").all()
    # the diverged model takes no slot in Holm's m
    assert (without_c.loc[without_c["family"] != "claims", "family_size"] == 1).all()
    best = family(table, "vs_best")
    assert best[["model_a", "model_b", "seeds"]].values.tolist() == [
        ["a", "b", "0 1 2"], ["a", "c", "0 1 2"]]
    top = top_models(table, ["a", "b"])
    assert (top["best"], top["winner"], top["runner_up"], top["seeds"]) == ("a", "a", "b",
                                                                            [0, 1, 2])


def test_a_diverged_model_beside_one_other_leaves_the_best_without_a_winner():
    correct = three_seeds({"a": [1700, 1710, 1690], "c": [1990, 0, 1995]})
    table = compare(correct, ["a", "c"], {("c", 1)})
    assert family(table, "vs_best")["verdict"].tolist() == ["not_tested_diverged"]
    top = top_models(table, ["a"])
    assert (top["best"], top["winner"], top["runner_up"]) == ("a", None, None)


def test_a_model_missing_a_seed_the_best_was_picked_on():
    # a and b on seeds 0-2, c on 0-1 only: seeds 0-2 cover 6 runs, 0-1 also 6: more seeds win
    correct = three_seeds({"a": [1800, 1805, 1795], "b": [1600, 1590, 1610],
                           "c": [1500, 1505]})
    table = compare(correct, ["a", "b", "c"])
    best = family(table, "vs_best")
    assert best[["model_a", "model_b", "seeds", "verdict"]].values.tolist() == [
        ["a", "b", "0 1 2", "a_better"], ["a", "c", "0 1 2", "not_tested_missing_seeds"]]
    assert best["family_size"].iloc[0] == 1 and pd.isna(best["family_size"].iloc[1])
    # c is compared with each model on the seeds they share in the matrix
    assert seeds_of(row(table, "all_pairs", "a", "c")) == [0, 1]
    assert row(table, "all_pairs", "a", "c")["verdict"] == "a_better"
    top = top_models(table, ["a", "b", "c"])
    assert (top["best"], top["winner"], top["runner_up"]) == ("a", None, "b")


def test_two_identical_models_have_no_spread():
    same = three_seeds({"a": [1700, 1710, 1690]})
    correct = same | {("b", s): hits.copy() for (_, s), hits in same.items()}
    table = compare(correct, ["a", "b"])
    assert families(table) == ["all_pairs", "vs_best", "seed:0", "seed:1", "seed:2"]
    assert (table["verdict"] == "not_tested_no_spread").all()
    assert table["diff"].tolist() == [0.0] * 5 and (table["se"] == 0).all()
    assert table[["p_value", "p_adjusted", "diff_ci_low", "diff_ci_high", "detectable_80",
                  "family_size"]].isna().all().all()
    assert table["test"].tolist() == ["two_source_t"] * 2 + ["mcnemar_exact"] * 3
    assert family(table, "seed:0")[["only_a_correct", "only_b_correct"]].values.tolist() == [
        [0, 0]]
    top = top_models(table, ["a", "b"])
    assert (top["best"], top["winner"], top["runner_up"]) == ("a", None, None)


# ---------------------------------------------------------------- one seed


# Seed 0: a vs b 10 vs 2 discordant, a vs c 2 vs 2, b vs c 2 vs 10.
ONE_SEED = {("a", 0): ranges((0, 1600)), ("b", 0): ranges((0, 1590), (1600, 1602)),
            ("c", 0): ranges((0, 1598), (1602, 1604))}
P_10_2 = 2 * (1 + 12 + 66) / 2 ** 12  # 2 P(X <= 2 | 12, 1/2)


def test_one_seed_uses_exact_mcnemar_and_has_no_seed_family():
    table = compare(ONE_SEED, ["a", "b", "c"])
    assert families(table) == ["all_pairs", "vs_best"]
    pairs = family(table, "all_pairs")
    assert pairs[["model_a", "model_b", "seeds", "n_seeds", "n_images", "test"]
                 ].values.tolist() == [["a", "b", "0", 1, N, "mcnemar_exact"],
                                       ["a", "c", "0", 1, N, "mcnemar_exact"],
                                       ["b", "c", "0", 1, N, "mcnemar_exact"]]
    assert pairs["only_a_correct"].tolist() == [10, 2, 2]
    assert pairs["only_b_correct"].tolist() == [2, 2, 10]
    assert pairs["value_a"].tolist() == pytest.approx([0.8, 0.8, 0.796], abs=1e-15)
    assert pairs["diff"].tolist() == pytest.approx([0.004, 0.0, -0.004], abs=1e-15)
    assert P_10_2 == exact_binomial(10, 2) == 0.03857421875
    assert pairs["p_value"].tolist() == pytest.approx([P_10_2, 1.0, P_10_2], rel=1e-12)
    # Holm over three: 3 x 0.0386 for both, then 1: significant alone, not after Holm
    assert pairs["p_adjusted"].tolist() == pytest.approx([3 * P_10_2, 1.0, 3 * P_10_2],
                                                         rel=1e-12)
    assert pairs["verdict"].tolist() == ["not_distinguishable"] * 3
    # the interval is the paired t over the images: one seed says nothing of training noise
    ab = pairs.iloc[0]
    d = (ONE_SEED[("a", 0)].astype(int) - ONE_SEED[("b", 0)])
    ref = stats.ttest_1samp(d, 0.0)
    assert ab["df"] == N - 1 and ab["se"] == pytest.approx(stats.sem(d), rel=1e-9)
    assert (ab["diff_ci_low"], ab["diff_ci_high"]) == pytest.approx(
        tuple(ref.confidence_interval()), rel=1e-9)
    assert ab["detectable_80"] == pytest.approx(
        detectable_difference(stats.sem(d), N - 1, 0.05 / 3), rel=1e-9)
    # a and c are level at 0.8: the first in config order is the best; Holm over its two
    best = family(table, "vs_best")
    assert best[["model_a", "model_b", "test"]].values.tolist() == [
        ["a", "b", "mcnemar_exact"], ["a", "c", "mcnemar_exact"]]
    assert best["p_adjusted"].tolist() == pytest.approx([2 * P_10_2, 1.0], rel=1e-12)
    assert best["family_size"].tolist() == [2, 2]
    assert best["seeds_needed"].isna().all()  # one seed: no seed-to-seed variance to project
    top = top_models(table, ["a", "b", "c"])
    assert (top["best"], top["winner"], top["seeds"]) == ("a", None, [0])


def test_one_seed_decisive_differences():
    # a 1610 right, b the first 1600 of them: only a right on 10, p = 2 / 2^10
    correct = {("a", 0): first(1610), ("b", 0): first(1600)}
    table = compare(correct, ["a", "b"])
    assert table["p_value"].tolist() == pytest.approx([2 * 0.5 ** 10] * 2, rel=1e-12)
    assert table["verdict"].tolist() == ["a_better"] * 2
    assert top_models(table, ["a", "b"])["winner"] == "a"


# ---------------------------------------------------------------- power columns


def test_detectable_difference_and_seeds_needed_where_documented():
    correct = HEADLINE | {("c", s): first(k) for s, k in enumerate([1712, 1722, 1705])}
    table = compare(correct, ["a", "b", "c"])
    best = family(table, "vs_best")
    assert best["model_a"].tolist() == ["b", "b"]
    # b - a (1 point, little seed spread) is resolved at 2 seeds; b - c (0.35 points, per-seed
    # differences 8, -1, 14 images) needs many more
    needed = best["seeds_needed"].tolist()
    assert needed[0] == 2 and 10 < needed[1] < math.inf
    assert best["verdict"].tolist() == ["a_better", "not_distinguishable"]
    top = top_models(table, ["a", "b", "c"])
    assert (top["best"], top["winner"], top["runner_up"]) == ("b", None, "c")
    diffs = {r["model_b"]: two_source_difference(differences(correct, "b", r["model_b"],
                                                              [0, 1, 2]))
             for _, r in best.iterrows()}
    size = int(best["family_size"].iloc[0])
    for (_, r), n in zip(best.iterrows(), needed, strict=True):
        assert n == seeds_to_resolve(diffs[r["model_b"]], r["diff"], 0.05 / size)
        assert r["detectable_80"] == pytest.approx(
            detectable_difference(r["se"], r["df"], 0.05 / size), rel=1e-9)
    # the matrix and the seed families have no seeds_needed; their detectable difference
    # is at their own family's strictest Holm level
    for name in ("all_pairs", "seed:0"):
        rows = family(table, name)
        assert rows["seeds_needed"].isna().all()
        assert rows["detectable_80"].notna().all()
        assert rows["detectable_80"].tolist() == pytest.approx(
            [detectable_difference(r["se"], r["df"], 0.05 / len(rows))
             for _, r in rows.iterrows()], rel=1e-9)


# ---------------------------------------------------------------- claims


def test_claims_are_paired_t_over_seeds_unadjusted():
    a = {0: 0.95, 1: 0.96, 2: 0.955, 3: 0.97}
    b = {0: 0.90, 1: 0.92, 2: 0.90, 3: math.nan}  # seed 3 is missing: paired over 0-2
    correct = three_seeds({"a": [1700, 1710, 1690], "b": [1600, 1590, 1610]})
    training = [SeedFigures("train_acc", "a", "b", a, b),
                SeedFigures("gap", "b", "a", {0: 0.1}, {0: 0.05, 1: 0.04}),
                SeedFigures("epochs_to_target", "a", "b", {5: 3.0}, {6: 4.0})]
    table = compare(correct, ["a", "b"], training=training)
    claims = family(table, "claims")
    assert claims[["quantity", "model_a", "model_b", "seeds", "n_seeds", "verdict"]
                  ].values.tolist() == [
        ["train_acc", "a", "b", "0 1 2", 3, "a_better"],
        ["gap", "b", "a", "0", 1, "not_tested_one_seed"],
        ["epochs_to_target", "a", "b", "", 0, "not_tested_no_shared_seeds"]]
    assert claims["test"].iloc[0] == "paired_t_seeds" and claims["test"].iloc[1:].isna().all()
    assert claims["n_images"].iloc[:2].tolist() == [0, 0] and pd.isna(claims["n_images"].iloc[2])
    t = claims.iloc[0]
    ref = stats.ttest_rel([0.95, 0.96, 0.955], [0.90, 0.92, 0.90])
    assert t["p_value"] == pytest.approx(ref.pvalue, rel=1e-9) and t["p_value"] < 0.05
    assert t["p_adjusted"] == t["p_value"] and t["family_size"] == 1 and t["df"] == 2
    assert (t["diff_ci_low"], t["diff_ci_high"]) == pytest.approx(
        tuple(ref.confidence_interval()), rel=1e-9)
    assert (t["value_a"], t["value_b"], t["diff"]) == pytest.approx(
        (0.955, 2.72 / 3, 0.955 - 2.72 / 3), abs=1e-12)
    assert t["detectable_80"] == pytest.approx(detectable_difference(t["se"], 2, 0.05),
                                               rel=1e-9)
    one = claims.iloc[1]
    assert (one["value_a"], one["value_b"], one["diff"]) == pytest.approx((0.1, 0.05, 0.05))
    assert pd.isna(one["p_value"]) and pd.isna(one["se"])


def test_a_gap_claim_counts_the_seeds_and_the_sampling_of_the_images():
    """gap_a - gap_b per seed and image is the training accuracies' difference less the
    image's a_correct - b_correct: its seed part is the gaps' variance over seeds, its image
    part the variance over images of the seed-averaged validation differences less the flips
    the seed part holds (the two-way residual mean square / seeds), both with seeds - 1 df."""
    correct = three_seeds({"a": [1700, 1710, 1690], "b": [1600, 1590, 1610]})
    gap_a, gap_b = {0: 0.10, 1: 0.13, 2: 0.11}, {0: 0.05, 1: 0.04, 2: 0.07}
    table = compare(correct, ["a", "b"], training=[SeedFigures("gap", "a", "b", gap_a, gap_b)])
    r = row(table, "claims", "a", "b")
    gaps = np.array([gap_a[s] - gap_b[s] for s in range(3)])
    d = differences(correct, "a", "b", [0, 1, 2])
    flips = ((d - d.mean(axis=1, keepdims=True) - d.mean(axis=0) + d.mean()) ** 2).sum() / (
        2 * (N - 1))
    seed_part, image_part = gaps.var(ddof=1) / 3, (d.mean(axis=0).var(ddof=1) - flips / 3) / N
    assert image_part > 0
    df = (seed_part + image_part) ** 2 / ((seed_part ** 2 + image_part ** 2) / 2)
    se = math.sqrt(seed_part + image_part)
    assert (r["test"], r["n_images"], r["n_seeds"]) == ("two_source_t", N, 3)
    assert (r["diff"], r["se"], r["df"]) == pytest.approx((gaps.mean(), se, df), rel=1e-9)
    assert r["p_value"] == pytest.approx(2 * stats.t.sf(gaps.mean() / se, df), rel=1e-9)
    # a larger error than the seed-only paired t's, which leaves the images out
    assert r["se"] > gaps.std(ddof=1) / math.sqrt(3) and r["verdict"] == "a_better"


def test_a_claim_with_the_same_gap_on_every_seed_is_not_tested():
    correct = three_seeds({"a": [1700, 1710, 1690], "b": [1600, 1590, 1610]})
    training = [SeedFigures("train_acc", "a", "b", {0: 0.1, 1: 0.1, 2: 0.1},
                            {0: 0.0, 1: 0.0, 2: 0.0}),
                SeedFigures("train_acc", "a", "b", {0: 0.91, 1: 0.92, 2: 0.93},
                            {0: 0.81, 1: 0.82, 2: 0.83})]
    claims = family(compare(correct, ["a", "b"], training=training), "claims")
    assert claims["verdict"].tolist() == ["not_tested_no_spread"] * 2
    assert claims["diff"].tolist() == pytest.approx([0.1, 0.1], abs=1e-12)
    assert claims["p_value"].isna().all()


# ---------------------------------------------------------------- the headline's edge cases


def test_top_models_with_a_lone_model():
    correct = three_seeds({"a": [1700, 1710, 1690]})
    table = compare(correct, ["a"])
    assert table.empty and table.columns.tolist() == list(COMPARISON_COLUMNS)
    top = top_models(table, ["a"])
    assert (top["best"], top["winner"], top["runner_up"], top["seeds"]) == ("a", None, None, [])
    assert top_models(table, [])["best"] is None
