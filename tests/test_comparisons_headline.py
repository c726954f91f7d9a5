"""The headline and the matrix agree on every pair both show, on zoos simulated by the
calibration bench (bench/calibrate_comparisons.py): six models, one 2.5 points ahead, 3 seeds.
The headline's best-against-each test (vs_best, Holm over 5) can name a winner that the matrix's
Holm over all 15 pairs does not show better than every model; the matrix then shows the
headline's verdicts in their place, marked."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from dlwpt.report.build import verdict_matrix
from dlwpt.results.comparisons import compare_runs, family_rows, pair_row, top_models
from tests.helpers.data import REPO
from tests.test_comparisons import run_table

MODELS = [f"m{i}" for i in range(6)]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("calibrate_comparisons",
                                                  REPO / "bench" / "calibrate_comparisons.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def zoos(bench):
    """8 zoos: per model and seed, each of the 2,000 images right or not; m0 2.5 points ahead."""
    scenario = bench.Scenario("zoo", "one model ahead", (0.3,) * 6, gaps=(2.5,) + (0.0,) * 5)
    beta, seed_sd = bench.parameters(scenario, bench.DIFFICULTY)
    draws = bench.draw(np.random.default_rng(0), bench.DIFFICULTY, beta, seed_sd, 0.0, 8, 3)
    out = []
    for zoo in draws:
        correct = {(m, s): zoo[i, s] for i, m in enumerate(MODELS) for s in range(3)}
        out.append(compare_runs(run_table(correct), correct, MODELS))
    return out


def cell(matrix, row: str, col: str) -> dict:
    return matrix["rows"][MODELS.index(row)]["cells"][MODELS.index(col)]


def test_the_matrix_shows_what_the_headline_says(zoos):
    winners = disagreeing = 0
    for table in zoos:
        top = top_models(table, MODELS)
        pairs = family_rows(table, "all_pairs")
        matrix = verdict_matrix(MODELS, pairs, top["stated"])
        best, rows = top["best"], top["rows"]
        for other in rows["model_b"]:
            verdict = rows.loc[rows["model_b"] == other, "verdict"].iloc[0]
            shown, own = cell(matrix, best, other), pair_row(pairs, best, other)[0]["verdict"]
            if top["winner"]:  # better than every model, in the matrix too
                assert shown["mark"] == "▲" and cell(matrix, other, best)["mark"] == "▼"
                assert shown["headline"] == (own != "a_better")  # marked where Holm differs
            elif verdict == "not_distinguishable":  # named not distinguishable: so shown
                assert shown["mark"] == "○"
                assert shown["headline"] == (own != "not_distinguishable")
            else:  # a better-than the headline does not state: the matrix's own
                assert not shown["headline"]
        for a in MODELS:  # pairs without the best: all_pairs, unmarked
            for b in MODELS:
                if best not in (a, b) and a != b:
                    assert not cell(matrix, a, b)["headline"]
        if top["winner"]:
            winners += 1
            all_pairs_winner = all(pair_row(pairs, best, o)[0]["verdict"] in ("a_better",
                                                                               "b_better")
                                   for o in MODELS if o != best)
            disagreeing += not all_pairs_winner
    # the case the marks exist for: a winner that Holm over all pairs would not show
    assert winners >= 1 and disagreeing >= 1


def test_a_pair_significant_for_the_headline_only_is_marked(zoos):
    """Zoo 3: m0 against m4, p 0.0130; Holm over the 5 comparisons with the best keeps it below
    0.05 (0.0389), Holm over the 15 pairs does not (0.1687). The headline names m0 the winner;
    the matrix cell is the headline's, marked, and says over which family it was adjusted."""
    table = zoos[3]
    top = top_models(table, MODELS)
    vs_best, _ = pair_row(top["rows"], "m0", "m4")
    all_pairs, _ = pair_row(family_rows(table, "all_pairs"), "m0", "m4")
    assert top["winner"] == "m0"
    assert vs_best["p_value"] == all_pairs["p_value"] == pytest.approx(0.0130, abs=5e-5)
    assert (vs_best["p_adjusted"], all_pairs["p_adjusted"]) == pytest.approx((0.0389, 0.1687),
                                                                             abs=5e-5)
    assert (vs_best["verdict"], all_pairs["verdict"]) == ("a_better", "not_distinguishable")
    matrix = verdict_matrix(MODELS, family_rows(table, "all_pairs"), top["stated"])
    shown = cell(matrix, "m0", "m4")
    assert (shown["mark"], shown["headline"]) == ("▲", True) and matrix["headline"]
    assert shown["title"].endswith("the headline's test, m0 against each other model (Holm "
                                   "over 5)")
