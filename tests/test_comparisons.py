"""comparisons.csv from known prediction files: counts, exact p-values, Holm, verdicts, the
seed-level rows, diverged runs, and who the page names as winner or tied at the top."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from dlwpt.report.comparisons import (
    block_mse,
    block_t,
    compare_runs,
    deciding_rows,
    outcome,
    paired_t,
    top_models,
)
from dlwpt.report.inputs import load_runs
from dlwpt.report.stats import fastest, per_model_stats
from tests.helpers.report_inputs import N_VAL, write_run

MODELS = ["a", "b", "c"]
# correct images per (model, seed), as index ranges over the 2,000 validation images.
# Seed 0: a vs b 10 vs 2 discordant, b vs c 2 vs 10, a vs c 2 vs 2.
CORRECT = {
    ("a", 0): [(0, 1600)],
    ("b", 0): [(0, 1590), (1600, 1602)],
    ("c", 0): [(0, 1598), (1602, 1604)],
    ("a", 1): [(0, 1610)], ("b", 1): [(0, 1600)], ("c", 1): [(0, 1000)],
    ("a", 2): [(0, 1609)], ("b", 2): [(0, 1600)], ("c", 2): [(0, 1010)],
}
P_10_2 = 2 * (1 + 12 + 66) / 2 ** 12  # exact McNemar, 10 vs 2: 2 P(X <= 2 | 12, 1/2)


def mask(ranges: list[tuple[int, int]]) -> np.ndarray:
    hits = np.zeros(N_VAL, dtype=bool)
    for start, stop in ranges:
        hits[start:stop] = True
    return hits


def runs_of(folder: Path, correct: dict, diverged: dict | None = None) -> list[dict]:
    runs = []
    for (model, seed), ranges in correct.items():
        hits = mask(ranges)
        epoch = (diverged or {}).get((model, seed))
        runs.append(write_run(folder, model, seed, arch="Net", train_acc=0.9,
                              val_acc=hits.mean(), n_params=1, seconds_per_epoch=1.0,
                              correct=hits, diverged_epoch=epoch))
    return runs


def compare(folder: Path, correct: dict = CORRECT, diverged: dict | None = None):
    table, _, hits = load_runs(runs_of(folder, correct, diverged), MODELS, {})
    return table, compare_runs(table, hits, MODELS)


def t_test_df2(d: list[float]) -> float:
    """Two-sided p of a t statistic with 2 degrees of freedom: 1 - |t| / sqrt(2 + t^2)."""
    mean, sd = np.mean(d), np.std(d, ddof=1)
    t = mean / (sd / math.sqrt(3))
    return 1 - abs(t) / math.sqrt(2 + t * t)


def holm3(p: list[float]) -> list[float]:
    order = sorted(range(3), key=lambda i: p[i])
    adjusted, running = [0.0] * 3, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (3 - rank) * p[i]))
        adjusted[i] = running
    return adjusted


def test_one_seed_mcnemar_counts_p_values_holm_and_verdicts(tmp_path):
    seed0 = {k: v for k, v in CORRECT.items() if k[1] == 0}
    _, table = compare(tmp_path, seed0)
    assert table[["model_a", "model_b", "seed", "test", "n"]].values.tolist() == [
        ["a", "b", "0", "exact McNemar", 2000], ["a", "c", "0", "exact McNemar", 2000],
        ["b", "c", "0", "exact McNemar", 2000]]
    assert table[["acc_a", "acc_b"]].values.tolist() == [[0.8, 0.796], [0.8, 0.8], [0.796, 0.8]]
    assert table["diff"].tolist() == pytest.approx([0.004, 0.0, -0.004], abs=1e-15)
    assert table["only_a_correct"].tolist() == [10, 2, 2]
    assert table["only_b_correct"].tolist() == [2, 2, 10]
    assert table["p_value"].tolist() == pytest.approx([P_10_2, 1.0, P_10_2], rel=1e-12)
    # Holm over the seed's three pairs: 0.0386 x 3, then max(0.0386 x 2, that), then 1.
    assert table["p_adjusted"].tolist() == pytest.approx([3 * P_10_2, 1.0, 3 * P_10_2],
                                                         rel=1e-12)
    # Significant alone (0.039), not after Holm (0.116).
    assert table["verdict"].tolist() == ["no significant difference"] * 3
    assert not (table["seed"] == "all").any()


def test_three_seeds_add_one_paired_t_row_per_pair(tmp_path):
    runs, table = compare(tmp_path)
    assert table["seed"].tolist() == ["0"] * 3 + ["1"] * 3 + ["2"] * 3 + ["all"] * 3
    seed1 = table[table["seed"] == "1"]
    # a 1610, b 1600, c 1000 correct, nested: only_a = the difference, only_b = 0
    assert seed1["only_a_correct"].tolist() == [10, 610, 600]
    assert seed1["only_b_correct"].tolist() == [0, 0, 0]
    assert seed1["p_value"].tolist() == pytest.approx([2 * 0.5 ** 10, 2 * 0.5 ** 610,
                                                       2 * 0.5 ** 600], rel=1e-9)
    assert seed1["p_adjusted"].tolist() == pytest.approx(
        [2 * 0.5 ** 10, 3 * 2 * 0.5 ** 610, 2 * 2 * 0.5 ** 600], rel=1e-9)
    assert seed1["verdict"].tolist() == ["a better"] * 3
    level = table[table["seed"] == "all"]
    assert level["test"].unique().tolist() == ["randomized-block t over seeds"]
    assert level["n"].tolist() == [3, 3, 3]
    assert level["only_a_correct"].isna().all() and level["only_b_correct"].isna().all()
    counts = {m: [mask(CORRECT[(m, s)]).sum() for s in range(3)] for m in MODELS}
    x = np.array([counts[m] for m in MODELS]) / N_VAL
    assert x.ravel().tolist() == pytest.approx([0.8, 0.805, 0.8045, 0.796, 0.8, 0.8,
                                                0.8, 0.5, 0.505], abs=1e-15)
    assert level["acc_a"].tolist() == pytest.approx(x.mean(axis=1)[[0, 0, 1]], abs=1e-15)
    means = x.mean(axis=1)
    assert level["diff"].tolist() == pytest.approx(
        [means[0] - means[1], means[0] - means[2], means[1] - means[2]], abs=1e-15)
    # residual mean square from the ANOVA decomposition (total - models - seeds), 4 df
    ss_total = ((x - x.mean()) ** 2).sum()
    ss_models = 3 * ((x.mean(axis=1) - x.mean()) ** 2).sum()
    ss_seeds = 3 * ((x.mean(axis=0) - x.mean()) ** 2).sum()
    mse = (ss_total - ss_models - ss_seeds) / 4
    assert mse == pytest.approx(0.01012775, rel=1e-9)
    t = np.array([means[0] - means[1], means[0] - means[2], means[1] - means[2]]) / np.sqrt(
        2 * mse / 3)
    expected = [2 * stats.t.sf(abs(v), 4) for v in t]
    assert expected == pytest.approx([0.95895, 0.07028, 0.07456], abs=1e-5)
    assert level["p_value"].tolist() == pytest.approx(expected, rel=1e-9)
    assert level["p_adjusted"].tolist() == pytest.approx(holm3(expected), rel=1e-9)
    # c's seed 0 (level with a) against seeds 1-2 (600 images worse) inflates the common
    # seed-to-seed variance: nothing is shown, a and b and c tie at the top
    assert level["verdict"].tolist() == ["no significant difference"] * 3
    decisive = deciding_rows(table)
    assert decisive["seed"].tolist() == ["all"] * 3
    assert (outcome(decisive, "a", "b"), outcome(decisive, "c", "a")) == ("tie", "tie")
    top = top_models(per_model_stats(runs), decisive)
    assert top == {"best": "a", "tied": ["a", "b", "c"], "untested": [], "winner": None,
                   "runner_up": "b"}


def test_block_t_with_two_models_is_the_paired_t_test(tmp_path):
    two = {k: v for k, v in CORRECT.items() if k[0] in ("a", "b")}
    _, table = compare(tmp_path, two)
    (row,) = table[table["seed"] == "all"].itertuples()
    acc = {m: [mask(two[(m, s)]).mean() for s in range(3)] for m in ("a", "b")}
    assert row.test == "randomized-block t over seeds"
    assert row.p_value == pytest.approx(stats.ttest_rel(acc["a"], acc["b"]).pvalue, rel=1e-9)
    assert row.p_value == pytest.approx(t_test_df2([0.004, 0.005, 0.0045]), rel=1e-9)


def test_a_model_missing_a_seed_falls_back_to_the_paired_t_test(tmp_path):
    partial = {k: v for k, v in CORRECT.items() if k != ("c", 2)}
    _, table = compare(tmp_path, partial)
    level = table[table["seed"] == "all"].set_index(["model_a", "model_b"])
    assert level["test"].tolist() == ["randomized-block t over seeds", "paired t over seeds",
                                      "paired t over seeds"]
    assert level["n"].tolist() == [3, 2, 2]
    # a and b alone form the complete block: their paired t-test over seeds 0-2
    assert level.loc[("a", "b"), "p_value"] == pytest.approx(
        t_test_df2([0.004, 0.005, 0.0045]), rel=1e-9)
    # a - c over seeds 0 and 1: 0.0 and 0.305, a one-degree-of-freedom t-test
    assert level.loc[("a", "c"), "p_value"] == pytest.approx(
        stats.ttest_rel([0.8, 0.805], [0.8, 0.5]).pvalue, rel=1e-9)
    assert level["p_adjusted"].tolist() == pytest.approx(holm3(level["p_value"].tolist()),
                                                         rel=1e-9)


def test_identical_gaps_over_seeds_are_not_tested(tmp_path):
    """Every seed gives the same difference: no spread, no test (not "p = 0"); the page lists
    the pair as not tested instead of naming a winner or a tie."""
    same = {("a", s): [(0, 1600 + 10 * s)] for s in range(3)} | {
        ("b", s): [(0, 1580 + 10 * s)] for s in range(3)}
    _, table = compare(tmp_path, same)
    (row,) = table[table["seed"] == "all"].itertuples()
    assert row.verdict == "not tested: no spread over seeds"
    assert pd.isna(row.p_value) and pd.isna(row.p_adjusted)
    runs, _ = compare(tmp_path / "again", same)
    top = top_models(per_model_stats(runs), deciding_rows(table))
    assert top == {"best": "a", "tied": ["a"], "untested": ["b"], "winner": None,
                   "runner_up": "b"}


def test_comparisons_csv_written_by_the_report(tmp_path):
    from dlwpt.report import build_report

    runs = runs_of(tmp_path, CORRECT)
    build_report(data={}, runs=runs, thermometer=[], benchmarks=[],
                 out_html=tmp_path / "r.html", out_csv=tmp_path / "m.csv",
                 out_comparisons=tmp_path / "c.csv", figures_dir=None, provenance={},
                 configured_models=MODELS, datasets=[], experiments=[], book_accuracy={},
                 ingest_options={})
    csv = pd.read_csv(tmp_path / "c.csv", dtype={"seed": str})
    assert csv.columns.tolist() == ["model_a", "model_b", "seed", "test", "n", "acc_a", "acc_b",
                                    "diff", "only_a_correct", "only_b_correct", "p_value",
                                    "p_adjusted", "verdict"]
    assert len(csv) == 12 and csv["seed"].tolist()[-3:] == ["all"] * 3
    assert csv.loc[0, ["only_a_correct", "only_b_correct"]].tolist() == [10, 2]


def test_a_diverged_run_is_never_tested_or_ranked(tmp_path):
    table, comparisons = compare(tmp_path, diverged={("c", 1): 2})
    seed1 = comparisons[comparisons["seed"] == "1"].set_index(["model_a", "model_b"])
    assert seed1.loc[("a", "c"), "verdict"] == "not ranked: c diverged"
    assert seed1.loc[("b", "c"), "verdict"] == "not ranked: c diverged"
    assert seed1.loc[[("a", "c"), ("b", "c")], ["p_value", "p_adjusted", "only_a_correct"]
                     ].isna().all(axis=None)
    # the family of seed 1 is the one pair left: Holm leaves its p alone
    assert seed1.loc[("a", "b"), "p_adjusted"] == seed1.loc[("a", "b"), "p_value"]
    level = comparisons[comparisons["seed"] == "all"].set_index(["model_a", "model_b"])
    assert level["verdict"].tolist() == [level.loc[("a", "b"), "verdict"],
                                         "not ranked: c diverged", "not ranked: c diverged"]
    assert level.loc[("a", "b"), "p_adjusted"] == level.loc[("a", "b"), "p_value"]
    top = top_models(per_model_stats(table), deciding_rows(comparisons))
    assert "c" not in top["tied"] and top["best"] == "a"


def test_winner_only_when_it_beats_every_other_model(tmp_path):
    nested = {(m, 0): [(0, k)] for m, k in (("a", 1800), ("b", 1700), ("c", 1600))}
    table, comparisons = compare(tmp_path, nested)
    top = top_models(per_model_stats(table), deciding_rows(comparisons))
    assert top == {"best": "a", "tied": ["a"], "untested": [], "winner": "a",
                   "runner_up": "b"}
    close = {("a", 0): [(0, 1800)], ("b", 0): [(0, 1795)], ("c", 0): [(0, 1600)]}
    table, comparisons = compare(tmp_path / "close", close)
    top = top_models(per_model_stats(table), deciding_rows(comparisons))
    assert top == {"best": "a", "tied": ["a", "b"], "untested": [], "winner": None,
                   "runner_up": "b"}


def test_paired_t_without_spread_is_no_test():
    """Identical differences give NaN (not tested), whatever their size; a little spread gives
    the t-test's p: -1, -1, -1 must never look more significant than -1, -2, -1."""
    assert math.isnan(paired_t([-1, -1, -1]))
    assert math.isnan(paired_t([0.91 - 0.81, 0.92 - 0.82]))  # float noise is not spread
    assert math.isnan(paired_t([0.0, 0.0]))
    assert paired_t([-1, -2, -1]) == pytest.approx(t_test_df2([-1, -2, -1]), rel=1e-12)
    assert paired_t([-1, -2, -1]) == pytest.approx(0.0572, abs=1e-4)
    assert paired_t([1, 2, 3]) == pytest.approx(t_test_df2([1, 2, 3]), rel=1e-12)


def test_block_mse_of_an_additive_table_is_zero_and_of_a_known_one_exact():
    additive = pd.DataFrame([[0.8, 0.81, 0.82], [0.7, 0.71, 0.72]])
    assert block_mse(additive) == (0.0, 2)
    # residuals of [[1, 2], [3, 7]]: +-0.75 in every cell; (4 x 0.5625) / 1
    assert block_mse(pd.DataFrame([[1.0, 2.0], [3.0, 7.0]])) == (2.25, 1)
    assert math.isnan(block_t(0.01, 0.0, 2, 3))
    assert block_t(0.1, 0.0075, 4, 3) == pytest.approx(2 * stats.t.sf(0.1 / 0.0707107, 4),
                                                       rel=1e-6)


def test_the_page_names_the_seed_level_test_with_the_seeds_it_used(tmp_path):
    """All rows in the complete block: the block test and its error df; a model missing a
    seed: the range of seeds the pairs shared, not the number of distinct seeds."""
    from dlwpt.report.build import deciding_test

    runs, table = compare(tmp_path)
    assert deciding_test(deciding_rows(table), runs) == (
        "randomized-block t-test over 3 seeds with 4 error df")
    partial = {k: v for k, v in CORRECT.items() if k != ("c", 2)}
    runs, table = compare(tmp_path / "partial", partial)
    assert deciding_test(deciding_rows(table), runs) == (
        "t-tests over 2–3 seeds (randomized-block within the complete block of models × "
        "seeds, else paired over the seeds a pair shares)")
    # b and c over seeds 0-1: a block of two models (the paired t-test), 1 error df
    two = {k: v for k, v in partial.items() if k[0] != "a"}
    runs, table = compare(tmp_path / "two", two)
    assert deciding_test(deciding_rows(table), runs) == (
        "randomized-block t-test over 2 seeds with 1 error df")


def test_fastest_and_time_ratio_follow_the_headlines_best_model():
    per_model = pd.DataFrame({"val_mean": [0.8, 0.8, 0.7, 0.9],
                              "seconds_per_epoch": [2.0, 3.0, 0.5, 0.1],
                              "diverged_epochs": [[], [], [], [4]]}, index=["a", "b", "c", "d"])
    # d is fastest but diverged: it takes no part
    assert fastest(per_model, "b") == ("c", 6.0)
    assert fastest(per_model, "a") == ("c", 4.0)
    assert fastest(per_model, "c") == ("c", None)
    assert fastest(per_model.loc[["a"]], "a") == ("a", None)
    assert fastest(per_model, None) == (None, None)


def test_one_models_extra_seed_keeps_the_others_in_the_block(tmp_path):
    """a also ran seed 3: the block stays a, b, c over seeds 0-2 (4 error df) rather than
    shrinking to a alone; a's seed 3 enters no seed-level test."""
    extra = CORRECT | {("a", 3): [(0, 1500)]}
    _, table = compare(tmp_path, extra)
    _, reference = compare(tmp_path / "reference")
    level = table[table["seed"] == "all"].reset_index(drop=True)
    expected = reference[reference["seed"] == "all"].reset_index(drop=True)
    assert level["test"].tolist() == ["randomized-block t over seeds"] * 3
    assert level["n"].tolist() == [3, 3, 3]
    assert level["p_value"].tolist() == pytest.approx(expected["p_value"].tolist(), rel=1e-12)
    assert level["acc_a"].tolist() == pytest.approx(expected["acc_a"].tolist(), abs=1e-15)
