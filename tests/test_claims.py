"""The book's claims on constructed runs: each claim supported, not supported and inconclusive,
and left out when its models are not configured."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlwpt.report.claims import book_claims
from dlwpt.report.comparisons import compare_runs, deciding_rows
from dlwpt.report.inputs import load_runs
from dlwpt.report.stats import per_model_stats
from tests.helpers.report_inputs import write_run

ARCH = {"fc_512": "FullyConnected", "net": "Net", "width": "NetWidth", "l2": "Net",
        "dropout": "NetDropout", "batch_norm": "NetBatchNorm", "depth": "NetDepth",
        "res": "NetRes", "res_deep": "NetResDeep"}


def claims(folder: Path, spec: dict[str, list], diverged: dict | None = None,
           curves: dict | None = None) -> dict:
    """spec: model -> [(train_acc, val_acc) per seed]; curves: model -> per-epoch train acc
    (every seed, or a dict seed -> curve). Validation predictions are nested (the first k
    images right), so a validation difference of a few points is significant on McNemar's
    test."""
    runs = []
    for model, seeds in spec.items():
        for seed, (train, val) in enumerate(seeds):
            curve = (curves or {}).get(model)
            if isinstance(curve, dict):  # one curve per seed
                curve = curve[seed]
            runs.append(write_run(folder, model, seed, arch=ARCH[model], train_acc=train,
                                  val_acc=val, n_params=1, seconds_per_epoch=1.0,
                                  epochs=len(curve) if curve else 2, curve=curve,
                                  diverged_epoch=(diverged or {}).get((model, seed))))
    models = list(spec)
    table, curve_frame, hits = load_runs(runs, models, {})
    comparisons = compare_runs(table, hits, models)
    found = book_claims(per_model_stats(table), table, curve_frame, deciding_rows(comparisons),
                        "the test")
    return {c.key: c for c in found}


def test_claims_whose_models_are_absent_are_left_out(tmp_path):
    found = claims(tmp_path, {"net": [(0.9, 0.85)], "width": [(0.95, 0.86)],
                              "res": [(0.97, 0.88)]})
    assert list(found) == ["width"]
    assert found["width"].models == ["net", "width"]


@pytest.mark.parametrize("net, width, verdict, outcomes", [
    # width: higher train acc and larger gap in every seed, with spread
    ([(0.90, 0.85), (0.91, 0.86), (0.92, 0.865)],
     [(0.96, 0.87), (0.98, 0.875), (0.985, 0.88)], "supported", ["supported", "supported"]),
    # width trains worse, significantly
    ([(0.90, 0.85), (0.91, 0.86), (0.92, 0.865)],
     [(0.85, 0.80), (0.855, 0.80), (0.87, 0.82)], "not supported",
     ["not supported", "inconclusive"]),
    # one seed: the spread over seeds is unknown
    ([(0.90, 0.85)], [(0.96, 0.87)], "inconclusive", ["inconclusive", "inconclusive"]),
])
def test_width_claim(tmp_path, net, width, verdict, outcomes):
    claim = claims(tmp_path, {"net": net, "width": width})["width"]
    assert [p.outcome for p in claim.parts] == outcomes
    assert claim.verdict == verdict
    if len(net) == 1:
        assert claim.parts[0].reason == "one seed: the spread over seeds is unknown"
        assert claim.parts[0].value == pytest.approx(0.06, abs=1e-12)
    else:
        d = [w[0] - n[0] for n, w in zip(net, width, strict=True)]
        assert claim.parts[0].value == pytest.approx(sum(d) / 3, abs=1e-12)
        assert claim.parts[0].low < claim.parts[0].value < claim.parts[0].high


@pytest.mark.parametrize("key, base, variant", [("l2", "net", "l2"),
                                                 ("dropout", "width", "dropout")])
@pytest.mark.parametrize("gaps, verdict", [
    ([0.02, 0.025, 0.03], "supported"),          # the regularized net's gap is smaller
    ([0.10, 0.11, 0.105], "not supported"),      # larger, significantly
    ([0.02, 0.12, 0.05], "inconclusive"),        # spread too wide for 3 seeds
])
def test_regularizer_claims_on_the_gap(tmp_path, key, base, variant, gaps, verdict):
    plain = [(0.95, 0.88), (0.96, 0.89), (0.955, 0.88)]  # gaps 0.07, 0.07, 0.075
    regularized = [(0.88 + g, 0.88) for g in gaps]
    claim = claims(tmp_path, {base: plain, variant: regularized})[key]
    assert claim.verdict == verdict
    (part,) = claim.parts
    expected = sum(g - (t - v) for g, (t, v) in zip(gaps, plain, strict=True)) / 3
    assert part.value == pytest.approx(expected, abs=1e-12) and part.unit == "points"


@pytest.mark.parametrize("bn_curves, verdict, epochs, p", [
    # width reaches its final 0.80 at epoch 4; batch_norm at epochs 1, 2, 1: 3, 2, 3 fewer
    ({0: [0.80, 0.85, 0.9, 0.9], 1: [0.70, 0.80, 0.85, 0.9], 2: [0.80, 0.85, 0.9, 0.9]},
     "supported", -8 / 3, 1 - 8 / 66 ** 0.5),  # t = -8 on 2 df
    # never (counts as epoch 5) in two seeds, epoch 4 in one: 1, 0, 1 more
    ({0: [0.5, 0.6, 0.7, 0.75], 1: [0.5, 0.6, 0.7, 0.8], 2: [0.5, 0.6, 0.7, 0.75]},
     "inconclusive", 2 / 3, 1 - 2 / 6 ** 0.5),  # t = 2 on 2 df
])
def test_batch_norm_claim_counts_epochs_to_widths_final_training_accuracy(
        tmp_path, bn_curves, verdict, epochs, p):
    width_curve = [0.50, 0.60, 0.70, 0.80]
    spec = {"width": [(0.8, 0.7)] * 3, "batch_norm": [(0.85, 0.7)] * 3}
    claim = claims(tmp_path, spec, curves={"width": width_curve,
                                           "batch_norm": bn_curves})["batch_norm"]
    assert claim.verdict == verdict
    (part,) = claim.parts
    assert part.value == pytest.approx(epochs, abs=1e-12) and part.unit == "epochs"
    assert part.p == pytest.approx(p, abs=1e-4)
    one_seed = claims(tmp_path / "one", {"width": [(0.8, 0.7)], "batch_norm": [(0.85, 0.7)]},
                      curves={"width": width_curve, "batch_norm": bn_curves[0]})["batch_norm"]
    assert one_seed.verdict == "inconclusive"


@pytest.mark.parametrize("bn_curve, epochs", [([0.70, 0.80, 0.85], -1.0),
                                              ([0.60, 0.70, 0.75], 1.0)])
def test_the_same_difference_in_every_seed_is_not_tested(tmp_path, bn_curve, epochs):
    """No spread over seeds: no t statistic, so no test and no verdict either way (it once
    gave p = 0, "significant", while a little spread gave p = 0.057)."""
    spec = {"width": [(0.8, 0.7)] * 3, "batch_norm": [(0.85, 0.7)] * 3}
    claim = claims(tmp_path, spec, curves={"width": [0.60, 0.70, 0.80],
                                           "batch_norm": bn_curve})["batch_norm"]
    (part,) = claim.parts
    assert (part.value, part.p, part.outcome) == (epochs, None, "inconclusive")
    assert part.reason.startswith("not tested: no spread over 3 seeds")
    assert claim.verdict == "inconclusive"


@pytest.mark.parametrize("res_val, verdict", [(0.90, "supported"), (0.80, "not supported"),
                                              (0.861, "inconclusive")])
def test_res_deep_claim_is_the_validation_comparison(tmp_path, res_val, verdict):
    claim = claims(tmp_path, {"res": [(0.95, res_val)], "res_deep": [(0.9, 0.86)]})["res_deep"]
    assert claim.verdict == verdict
    assert claim.parts[0].value == pytest.approx(res_val - 0.86, abs=1e-12)
    assert claim.statement.startswith("Depth alone does not pay: NetRes (res) beats NetResDeep "
                                      "as configured")


@pytest.mark.parametrize("res_train, verdict", [
    ([0.95, 0.97, 0.965], "supported"),
    ([0.85, 0.86, 0.87], "not supported"),
    ([0.95, 0.86, 0.93], "inconclusive"),
])
def test_res_claim_decides_on_training_accuracy_only(tmp_path, res_train, verdict):
    depth = [(0.90, 0.88), (0.91, 0.88), (0.905, 0.88)]
    # worse on validation (with some spread over seeds): shown, not deciding
    res = [(t, v) for t, v in zip(res_train, (0.80, 0.81, 0.805), strict=True)]
    claim = claims(tmp_path, {"depth": depth, "res": res})["res"]
    assert [p.outcome for p in claim.parts][1] == "reference"
    assert claim.parts[1].reason.startswith("not part of the verdict: depth significantly")
    assert claim.verdict == verdict


@pytest.mark.parametrize("fc_train, fc_val, verdict", [
    (0.999, 0.80, "supported"),
    (0.95, 0.80, "not supported"),    # does not memorize
    (0.999, 0.849, "inconclusive"),   # conv net not significantly better
])
def test_fc_claim(tmp_path, fc_train, fc_val, verdict):
    claim = claims(tmp_path, {"fc_512": [(fc_train, fc_val)], "net": [(0.9, 0.85)],
                              "width": [(0.95, 0.87)]})["fc"]
    assert claim.models == ["fc_512", "net", "width"]
    assert [p.what for p in claim.parts] == [
        "fc_512, training accuracy (lowest seed)", "net − fc_512, validation accuracy",
        "width − fc_512, validation accuracy"]
    assert claim.verdict == verdict
    # the threshold is decided on the one seed; the test text says so
    assert claim.parts[0].outcome == ("not supported" if fc_train < 0.99 else "supported")
    assert "a threshold, not a test: decided on however many seeds ran, one included" in (
        claim.test)


def test_a_diverged_model_makes_its_claims_inconclusive(tmp_path):
    spec = {"net": [(0.90, 0.85)] * 2, "l2": [(0.88, 0.86)] * 2}
    claim = claims(tmp_path, spec, diverged={("l2", 1): 2})["l2"]
    assert claim.verdict == "inconclusive" and claim.parts[0].reason == "l2 diverged"
