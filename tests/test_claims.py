"""The book's claims as data, on constructed runs: each claim supported, not supported and
inconclusive; not evaluated (visibly) when a model is absent; the verdict precedence; validation
parts read the matrix's rows, training-set parts the claims rows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from dlwpt.report.claims import (
    CLAIMS,
    INCONCLUSIVE,
    NOT_SUPPORTED,
    REFERENCE,
    SUPPORTED,
    Claim,
    claim_verdict,
    evaluate_claims,
    training_figures,
)
from dlwpt.report.stats import per_model_stats
from dlwpt.report.verdicts import LABELS
from dlwpt.results.comparisons import NO_SPREAD, SeedFigures, compare_runs, family_rows, pair_row
from dlwpt.results.reading import load_runs
from tests.helpers.report_inputs import N_VAL, write_run

ARCH = {"fc_512": "FullyConnected", "net": "Net", "width": "NetWidth", "wide": "NetWidth",
        "l2": "Net", "dropout": "NetDropout", "batch_norm": "NetBatchNorm", "depth": "NetDepth",
        "res": "NetRes", "res_deep": "NetResDeep"}
KEYS = ["fc", "width", "l2", "dropout", "batch_norm", "res", "res_deep"]
ONE_SEED = "not tested: one seed (only the spread over seeds can test a training-set figure)"
BANNED = re.compile(r"\b(tie|tied|ties|equal|equally)\b|=", re.IGNORECASE)


@dataclass
class Evaluated:
    claims: dict[str, Claim]
    table: pd.DataFrame
    figures: list[SeedFigures]


def evaluate(folder: Path, spec: dict[str, list], *, diverged: dict | None = None,
             curves: dict | None = None, correct: dict | None = None,
             models: list[str] | None = None, configured: list[str] | None = None,
             extra: dict | None = None) -> Evaluated:
    """spec: model -> [(train_acc, val_acc) per seed] (None, None: diverged in epoch 1);
    curves: model -> per-epoch train acc (every seed, or a dict seed -> curve); correct:
    (model, seed) -> per-image correctness (default nested: the first k images right, so a
    validation difference of a few points is significant); extra: model -> write_run keywords.
    Runs the report's sequence: load_runs, per_model_stats, training_figures, compare_runs,
    evaluate_claims."""
    runs = []
    for model, seeds in spec.items():
        for seed, (train, val) in enumerate(seeds):
            curve = (curves or {}).get(model)
            if isinstance(curve, dict):  # one curve per seed
                curve = curve[seed]
            runs.append(write_run(folder, model, seed, arch=ARCH[model], train_acc=train,
                                  val_acc=val, n_params=1, seconds_per_epoch=1.0,
                                  epochs=len(curve) if curve else 2, curve=curve,
                                  diverged_epoch=(diverged or {}).get((model, seed)),
                                  correct=(correct or {}).get((model, seed)),
                                  **(extra or {}).get(model, {})))
    models = models or list(spec)
    run_table, curve_frame, hits = load_runs(runs, models, {})
    per_model = per_model_stats(run_table)
    figures = training_figures(per_model, run_table, curve_frame)
    table = compare_runs(run_table, hits, models, training=figures)
    found = evaluate_claims(table, per_model, run_table, configured)
    assert [c.key for c in found] == KEYS  # every claim, evaluated or not, in order
    return Evaluated({c.key: c for c in found}, table, figures)


def claims_row(table: pd.DataFrame, quantity: str, a: str, b: str) -> pd.Series:
    rows = family_rows(table, "claims")
    (row,) = [r for _, r in rows.iterrows()
              if (r.quantity, r.model_a, r.model_b) == (quantity, a, b)]
    return row


def texts(claims: list[Claim]) -> list[str]:
    return [t for c in claims for t in (c.statement, c.test, c.reason, c.verdict,
                                        *(x for p in c.parts for x in (p.what, p.reason,
                                                                       p.outcome)))]


def test_the_specifications():
    assert [c.key for c in CLAIMS] == KEYS
    for spec in CLAIMS:
        assert spec.parts
        for part in spec.parts:
            assert part.rule in ("compare", "threshold") and part.direction in (1, -1)
            assert part.quantity in ("val_acc", "train_acc", "gap", "epochs_to_target")
            assert part.b is not None or part.rule == "threshold"
    (res,) = [c for c in CLAIMS if c.key == "res"]
    assert [p.reference for p in res.parts] == [False, True]


def test_claims_whose_models_are_absent_are_not_evaluated_visibly(tmp_path):
    found = evaluate(tmp_path, {"net": [(0.9, 0.85)], "width": [(0.95, 0.86)],
                                "res": [(0.97, 0.88)]}).claims
    assert found["width"].verdict == INCONCLUSIVE and found["width"].models == ["net", "width"]
    assert {k: (c.verdict, c.reason) for k, c in found.items() if k != "width"} == {
        "fc": ("not evaluated", "not evaluated: no fully connected model in this run"),
        "l2": ("not evaluated", "not evaluated: model l2 is not configured"),
        "dropout": ("not evaluated", "not evaluated: model dropout is not configured"),
        "batch_norm": ("not evaluated", "not evaluated: model batch_norm is not configured"),
        "res": ("not evaluated", "not evaluated: model depth is not configured"),
        "res_deep": ("not evaluated", "not evaluated: model res_deep is not configured"),
    }
    assert found["l2"].models == ["net", "l2"] and found["l2"].parts == []
    assert found["fc"].models == ["net", "width", "res"]  # the conv nets that ran


def test_renaming_a_model_drops_its_claims_visibly(tmp_path):
    spec = {"net": [(0.9, 0.85)], "wide": [(0.95, 0.86)], "dropout": [(0.93, 0.86)]}
    found = evaluate(tmp_path, spec).claims
    assert found["width"].verdict == "not evaluated"
    assert found["width"].reason == "not evaluated: model width is not configured"
    assert found["dropout"].reason == "not evaluated: model width is not configured"
    # configured but not run (yet): said so
    found = evaluate(tmp_path / "configured", spec,
                     configured=["net", "width", "wide", "dropout"]).claims
    assert found["width"].reason == "not evaluated: model width has not run"
    assert found["l2"].reason == "not evaluated: model l2 is not configured"
    assert found["fc"].reason == "not evaluated: no fully connected model in this run"


@pytest.mark.parametrize("net, width, verdict, outcomes", [
    # width: higher train acc and larger gap in every seed, with spread
    ([(0.90, 0.85), (0.91, 0.86), (0.92, 0.865)],
     [(0.96, 0.87), (0.98, 0.875), (0.985, 0.88)], SUPPORTED, [SUPPORTED, SUPPORTED]),
    # width trains worse, significantly; the gap: not distinguishable
    ([(0.90, 0.85), (0.91, 0.86), (0.92, 0.865)],
     [(0.85, 0.80), (0.855, 0.80), (0.87, 0.82)], NOT_SUPPORTED, [NOT_SUPPORTED, INCONCLUSIVE]),
    # training accuracy higher, significantly; the gap varies too much over seeds
    ([(0.90, 0.85), (0.91, 0.86), (0.92, 0.865)],
     [(0.96, 0.90), (0.98, 0.90), (0.985, 0.88)], INCONCLUSIVE, [SUPPORTED, INCONCLUSIVE]),
])
def test_width_claim(tmp_path, net, width, verdict, outcomes):
    run = evaluate(tmp_path, {"net": net, "width": width})
    claim = run.claims["width"]
    assert [p.outcome for p in claim.parts] == outcomes
    assert claim.verdict == verdict
    assert [p.what for p in claim.parts] == ["width − net, training accuracy",
                                             "width − net, train−val gap"]
    train = [w[0] - n[0] for n, w in zip(net, width, strict=True)]
    gap = [(w[0] - w[1]) - (n[0] - n[1]) for n, w in zip(net, width, strict=True)]
    for part, d, quantity in zip(claim.parts, (train, gap), ("train_acc", "gap"), strict=True):
        # training accuracy: the paired t over seeds, as scipy computes it; the gap: the
        # test over seeds and validation images (worked out in test_comparisons)
        row = claims_row(run.table, quantity, "width", "net")
        if quantity == "gap":
            assert row["test"] == "two_source_t" and row["n_images"] == N_VAL
        else:
            paired = stats.ttest_rel([w[0] for w in width], [n[0] for n in net])
            assert part.p == pytest.approx(paired.pvalue, rel=1e-6)
        assert part.value == pytest.approx(np.mean(d), abs=1e-12)
        assert part.low < part.value < part.high and part.unit == "points"
        assert not part.adjusted
        assert (part.value, part.low, part.high, part.p, part.verdict_code) == (
            row["diff"], row["diff_ci_low"], row["diff_ci_high"], row["p_value"],
            row["verdict"])
    if outcomes[1] == INCONCLUSIVE:
        assert claim.parts[1].reason.startswith("not distinguishable (difference ")


def test_one_seed_leaves_training_set_figures_untested(tmp_path):
    claim = evaluate(tmp_path, {"net": [(0.90, 0.85)], "width": [(0.96, 0.87)]}).claims["width"]
    assert claim.verdict == INCONCLUSIVE
    assert [(p.outcome, p.reason) for p in claim.parts] == [(INCONCLUSIVE, ONE_SEED)] * 2
    assert claim.parts[0].value == pytest.approx(0.06, abs=1e-12)
    assert (claim.parts[0].low, claim.parts[0].p) == (None, None)


@pytest.mark.parametrize("key, base, variant", [("l2", "net", "l2"),
                                                 ("dropout", "width", "dropout")])
@pytest.mark.parametrize("gaps, verdict", [
    ([0.02, 0.025, 0.03], SUPPORTED),          # the regularized net's gap is smaller
    ([0.10, 0.11, 0.105], NOT_SUPPORTED),      # larger, significantly
    ([0.02, 0.12, 0.05], INCONCLUSIVE),        # spread too wide for 3 seeds
])
def test_regularizer_claims_on_the_gap(tmp_path, key, base, variant, gaps, verdict):
    plain = [(0.95, 0.88), (0.96, 0.89), (0.955, 0.88)]  # gaps 0.07, 0.07, 0.075
    regularized = [(0.88 + g, 0.88) for g in gaps]
    claim = evaluate(tmp_path, {base: plain, variant: regularized}).claims[key]
    assert claim.verdict == verdict
    (part,) = claim.parts
    expected = sum(g - (t - v) for g, (t, v) in zip(gaps, plain, strict=True)) / 3
    assert part.value == pytest.approx(expected, abs=1e-12) and part.unit == "points"
    assert part.what == f"{variant} − {base}, train−val gap"


@pytest.mark.parametrize("bn_curves, verdict, bn_epochs, p", [
    # width reaches its final 0.80 at epoch 4; batch_norm at epochs 1, 2, 1: 3, 2, 3 fewer
    ({0: [0.80, 0.85, 0.9, 0.9], 1: [0.70, 0.80, 0.85, 0.9], 2: [0.80, 0.85, 0.9, 0.9]},
     SUPPORTED, {0: 1, 1: 2, 2: 1}, 1 - 8 / 66 ** 0.5),  # t = -8 on 2 df
    # never (counts as epoch 5) in two seeds, epoch 4 in one: 1, 0, 1 more
    ({0: [0.5, 0.6, 0.7, 0.75], 1: [0.5, 0.6, 0.7, 0.8], 2: [0.5, 0.6, 0.7, 0.75]},
     INCONCLUSIVE, {0: 5, 1: 4, 2: 5}, 1 - 2 / 6 ** 0.5),  # t = 2 on 2 df
])
def test_batch_norm_claim_counts_epochs_to_widths_final_training_accuracy(
        tmp_path, bn_curves, verdict, bn_epochs, p):
    width_curve = [0.50, 0.60, 0.70, 0.80]
    spec = {"width": [(0.8, 0.7)] * 3, "batch_norm": [(0.85, 0.7)] * 3}
    run = evaluate(tmp_path, spec, curves={"width": width_curve, "batch_norm": bn_curves})
    (figures,) = [f for f in run.figures if f.quantity == "epochs_to_target"]
    assert (figures.model_a, figures.model_b) == ("batch_norm", "width")
    assert figures.a == bn_epochs and figures.b == {0: 4, 1: 4, 2: 4}
    claim = run.claims["batch_norm"]
    assert claim.verdict == verdict
    (part,) = claim.parts
    epochs = np.mean(list(bn_epochs.values())) - 4
    assert part.value == pytest.approx(epochs, abs=1e-12) and part.unit == "epochs"
    assert part.p == pytest.approx(p, abs=1e-4)
    assert part.p == pytest.approx(stats.ttest_rel(list(bn_epochs.values()), [4] * 3).pvalue)
    assert part.what == "batch_norm − width, epochs to width's final training accuracy"
    if verdict == INCONCLUSIVE:
        assert re.fullmatch(r"not distinguishable \(difference \+0\.7 epochs, 95% interval "
                            r"-0\.8 to \+2\.1\)", part.reason), part.reason
    one_seed = evaluate(tmp_path / "one", {"width": [(0.8, 0.7)], "batch_norm": [(0.85, 0.7)]},
                        curves={"width": width_curve, "batch_norm": bn_curves[0]})
    (part,) = one_seed.claims["batch_norm"].parts
    assert (part.outcome, part.reason, part.value) == (INCONCLUSIVE, ONE_SEED,
                                                       bn_epochs[0] - 4)


@pytest.mark.parametrize("bn_curve, epochs", [([0.70, 0.80, 0.85], -1.0),
                                              ([0.60, 0.70, 0.75], 1.0)])
def test_the_same_difference_in_every_seed_is_not_tested(tmp_path, bn_curve, epochs):
    """No spread over seeds: no t statistic, so no test and no verdict either way."""
    spec = {"width": [(0.8, 0.7)] * 3, "batch_norm": [(0.85, 0.7)] * 3}
    claim = evaluate(tmp_path, spec, curves={"width": [0.60, 0.70, 0.80],
                                             "batch_norm": bn_curve}).claims["batch_norm"]
    (part,) = claim.parts
    assert (part.value, part.p, part.outcome) == (epochs, None, INCONCLUSIVE)
    assert part.reason == LABELS[NO_SPREAD]
    assert part.verdict_code == "not_tested_no_spread"
    assert claim.verdict == INCONCLUSIVE


@pytest.mark.parametrize("res_val, verdict, code", [
    (0.90, SUPPORTED, "a_better"), (0.80, NOT_SUPPORTED, "b_better"),
    (0.861, INCONCLUSIVE, "not_distinguishable")])
def test_res_deep_claim_is_the_validation_comparison(tmp_path, res_val, verdict, code):
    run = evaluate(tmp_path, {"res": [(0.95, res_val)], "res_deep": [(0.9, 0.86)]},
                   extra={"res_deep": {"n_blocks": 4, "resdeep_blocks": "shared"}})
    claim = run.claims["res_deep"]
    assert claim.verdict == verdict
    (part,) = claim.parts
    assert part.value == pytest.approx(res_val - 0.86, abs=1e-12)
    assert (part.verdict_code, part.adjusted, part.unit) == (code, True, "points")
    assert claim.statement.startswith("Depth alone does not pay: NetRes (res) beats NetResDeep "
                                      "as configured (4 ResBlocks, shared blocks) on validation")
    if verdict == INCONCLUSIVE:  # 2 images apart: McNemar p = 0.5
        assert part.reason == ("not distinguishable (difference +0.1 points, 95% interval "
                               "0.0 to +0.2)"), part.reason
    else:
        assert part.reason.startswith("significant, as claimed (" if verdict == SUPPORTED
                                      else "significant, the other way (")


@pytest.mark.parametrize("order", [["res", "res_deep"], ["res_deep", "res"]])
def test_a_validation_part_reads_the_matrix_row(tmp_path, order):
    """The same difference, interval, Holm-adjusted p and verdict as the all_pairs row (with
    the row's models the other way round: negated and swapped), with several seeds."""
    rng = np.random.default_rng(15)
    correct = {(m, s): rng.random(N_VAL) < 0.86 for m in order for s in range(3)}
    spec = {m: [(0.95, float(correct[(m, s)].mean())) for s in range(3)] for m in order}
    run = evaluate(tmp_path, spec, correct=correct, models=order)
    row, flipped = pair_row(family_rows(run.table, "all_pairs"), "res", "res_deep")
    assert flipped == (order[0] == "res_deep") and row["test"] == "two_source_t"
    (part,) = run.claims["res_deep"].parts
    sign = -1 if flipped else 1
    assert part.value == sign * row["diff"]
    assert (part.low, part.high) == ((-row["diff_ci_high"], -row["diff_ci_low"]) if flipped
                                     else (row["diff_ci_low"], row["diff_ci_high"]))
    assert part.p == row["p_adjusted"] and part.adjusted
    assert row["verdict"] == part.verdict_code == "not_distinguishable"
    assert part.outcome == INCONCLUSIVE
    assert re.fullmatch(r"not distinguishable \(difference [+-]\d+\.\d points, 95% interval "
                        r"[+-]\d+\.\d to [+-]\d+\.\d\)", part.reason), part.reason


@pytest.mark.parametrize("res_train, verdict", [
    ([0.95, 0.97, 0.965], SUPPORTED),
    ([0.85, 0.86, 0.87], NOT_SUPPORTED),
    ([0.95, 0.86, 0.93], INCONCLUSIVE),
])
def test_res_claim_decides_on_training_accuracy_only(tmp_path, res_train, verdict):
    depth = [(0.90, 0.88), (0.91, 0.88), (0.905, 0.88)]
    # worse on validation (with some spread over seeds): shown, not deciding
    res = [(t, v) for t, v in zip(res_train, (0.80, 0.81, 0.805), strict=True)]
    claim = evaluate(tmp_path, {"depth": depth, "res": res}).claims["res"]
    assert [p.outcome for p in claim.parts][1] == REFERENCE
    assert claim.parts[1].what == "res − depth, validation accuracy (for reference)"
    assert claim.parts[1].reason.startswith("not part of the verdict: significant, the other "
                                            "way (difference -7.5 points")
    assert claim.parts[1].verdict_code == "b_better"
    assert claim.verdict == verdict


@pytest.mark.parametrize("fc_train, fc_val, verdict", [
    (0.999, 0.80, SUPPORTED),
    (0.95, 0.80, NOT_SUPPORTED),    # does not memorize
    (0.999, 0.849, INCONCLUSIVE),   # conv net not significantly better
])
def test_fc_claim(tmp_path, fc_train, fc_val, verdict):
    claim = evaluate(tmp_path, {"fc_512": [(fc_train, fc_val)], "net": [(0.9, 0.85)],
                                "width": [(0.95, 0.87)]}).claims["fc"]
    assert claim.models == ["fc_512", "net", "width"]
    assert [p.what for p in claim.parts] == [
        "fc_512, training accuracy (lowest seed)", "net − fc_512, validation accuracy",
        "width − fc_512, validation accuracy"]
    assert claim.verdict == verdict
    # the threshold is decided on the one seed; the test text says so
    threshold = claim.parts[0]
    assert threshold.outcome == (NOT_SUPPORTED if fc_train < 0.99 else SUPPORTED)
    assert (threshold.value, threshold.unit, threshold.p, threshold.verdict_code) == (
        fc_train, "accuracy", None, None)
    assert threshold.reason == ("below 0.990 on seed 0 (0.950)" if fc_train < 0.99
                                else "at least 0.990 on every seed (1 seed)")
    assert "a threshold, not a test: decided on however many seeds ran, one included" in (
        claim.test)


FC_CONV = {"net": [(0.90, 0.85), (0.91, 0.86)], "width": [(0.95, 0.87), (0.96, 0.88)]}


def test_a_missed_threshold_outweighs_a_diverged_run(tmp_path):
    """fc_512: seed 0 diverged, seed 1 (did not diverge) misses 0.99: not supported, although
    its validation comparisons are untested (diverged): precedence, not the first part."""
    found = evaluate(tmp_path, {"fc_512": [(None, None), (0.95, 0.80)], **FC_CONV},
                     diverged={("fc_512", 0): 1}).claims
    claim = found["fc"]
    assert [(p.outcome, p.reason) for p in claim.parts] == [
        (NOT_SUPPORTED, "below 0.990 on seed 1 (0.950)"),
        (INCONCLUSIVE, "not tested: a diverged run"),
        (INCONCLUSIVE, "not tested: a diverged run")]
    assert claim.parts[1].verdict_code == "not_tested_diverged"
    assert claim.parts[0].value == 0.95
    assert claim.verdict == NOT_SUPPORTED


def test_a_diverged_run_with_the_threshold_met_elsewhere_is_inconclusive(tmp_path):
    found = evaluate(tmp_path, {"fc_512": [(None, None), (0.999, 0.80)], **FC_CONV},
                     diverged={("fc_512", 0): 1}).claims
    claim = found["fc"]
    assert (claim.parts[0].outcome, claim.parts[0].reason) == (
        INCONCLUSIVE, "not decided: a diverged run (seed 0)")
    assert claim.verdict == INCONCLUSIVE


def test_a_diverged_model_leaves_its_training_parts_untested(tmp_path):
    spec = {"net": [(0.90, 0.85)] * 2, "l2": [(0.88, 0.86)] * 2}
    claim = evaluate(tmp_path, spec, diverged={("l2", 1): 2}).claims["l2"]
    (part,) = claim.parts
    assert (part.outcome, part.reason, part.verdict_code) == (
        INCONCLUSIVE, "not tested: a diverged run", "not_tested_diverged")
    assert claim.verdict == INCONCLUSIVE


@pytest.mark.parametrize("outcomes, verdict", [
    ([SUPPORTED, SUPPORTED], SUPPORTED),
    ([SUPPORTED, INCONCLUSIVE], INCONCLUSIVE),
    ([INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED], NOT_SUPPORTED),
    ([NOT_SUPPORTED, INCONCLUSIVE], NOT_SUPPORTED),
    ([SUPPORTED, REFERENCE], SUPPORTED),  # a reference part does not decide
    ([SUPPORTED], SUPPORTED),
    ([REFERENCE], INCONCLUSIVE),  # nothing decides
])
def test_verdict_precedence(outcomes, verdict):
    assert claim_verdict(outcomes) == verdict


def test_training_figures_of_the_whole_zoo(tmp_path):
    """One SeedFigures per training-set part, each model pair once; every claim evaluated;
    no text says tie, tied, equal or '=' (a result not shown to differ is "not
    distinguishable")."""
    models = ["fc_512", "net", "width", "l2", "dropout", "batch_norm", "depth", "res",
              "res_deep"]
    spec = {m: [(0.9 + 0.01 * i, 0.8 + 0.01 * i),
                (0.905 + 0.01 * i + 0.003 * (i % 3), 0.81 + 0.01 * i)]
            for i, m in enumerate(models)}
    run = evaluate(tmp_path, spec)
    assert [(f.quantity, f.model_a, f.model_b) for f in run.figures] == [
        ("train_acc", "width", "net"), ("gap", "width", "net"), ("gap", "l2", "net"),
        ("gap", "dropout", "width"), ("epochs_to_target", "batch_norm", "width"),
        ("train_acc", "res", "depth")]
    assert run.figures[0].a == pytest.approx({0: 0.92, 1: 0.931})
    assert run.figures[1].b == pytest.approx({0: 0.1, 1: 0.098})
    claims = list(run.claims.values())
    assert all(c.verdict in (SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE) for c in claims)
    assert len(run.claims["fc"].parts) == 1 + 8  # a threshold, then 8 conv nets x 1 fc net
    reasons = {p.reason for c in claims for p in c.parts}
    assert any(r.startswith("not distinguishable (") for r in reasons)
    assert LABELS[NO_SPREAD] in reasons
    for text in texts(claims):
        assert not BANNED.search(text), text
    absent = evaluate(tmp_path / "absent", {"net": [(0.9, 0.85)], "width": [(0.95, 0.86)]})
    for text in texts(list(absent.claims.values())):
        assert not BANNED.search(text), text
