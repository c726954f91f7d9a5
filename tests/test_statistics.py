"""dlwpt.statistics against statsmodels and scipy on many seeded random inputs, and against
values worked out by hand (textbook formulas, closed forms)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.formula.api import ols
from statsmodels.stats.anova import anova_lm
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import ttest_power
from statsmodels.stats.proportion import proportion_confint

from dlwpt.statistics import (
    Difference,
    detectable_difference,
    holm,
    mcnemar_exact,
    mean_interval,
    paired_seed_difference,
    prediction_interval,
    seeds_to_resolve,
    t_power,
    two_source_difference,
    wilson_interval,
)

Z95 = 1.959963984540054  # the standard normal's 0.975 quantile
CONFIDENCES = (0.8, 0.9, 0.95, 0.99)


def textbook_wilson(correct: int, n: int, z: float) -> tuple[float, float]:
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def correctness(rng: np.random.Generator, n_seeds: int, n_images: int,
                gap: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Two models' per-image correctness (seeds x images) with per-image difficulty that
    persists over seeds, a per-seed shift of each model, and a true accuracy gap."""
    difficulty = rng.uniform(0.5, 0.98, n_images)
    shift = rng.normal(0, rng.uniform(0.0, 0.03), (2, n_seeds, 1))
    p_a = np.clip(difficulty + gap / 2 + shift[0], 0, 1)
    p_b = np.clip(difficulty - gap / 2 + shift[1], 0, 1)
    return (rng.random((n_seeds, n_images)) < p_a), (rng.random((n_seeds, n_images)) < p_b)


def random_differences(rng: np.random.Generator, n_seeds: int, n_images: int,
                       gap: float = 0.0) -> np.ndarray:
    a, b = correctness(rng, n_seeds, n_images, gap)
    return a.astype(int) - b.astype(int)


# ---------------------------------------------------------------- Wilson


def test_wilson_interval_is_statsmodels_wilson_on_random_counts():
    rng = np.random.default_rng(1)
    cases = [(int(c), int(n)) for n in rng.integers(1, 5000, 300)
             for c in [rng.integers(0, n + 1)]]
    cases += [(0, 1), (1, 1), (0, 2000), (2000, 2000), (1761, 2000)]
    for correct, n in cases:
        for confidence in CONFIDENCES:
            low, high = wilson_interval(correct, n, confidence)
            ref_low, ref_high = proportion_confint(correct, n, alpha=1 - confidence,
                                                   method="wilson")
            assert (low, high) == pytest.approx((ref_low, ref_high), abs=1e-12), (correct, n)
            assert 0 <= low <= correct / n <= high <= 1


def test_wilson_interval_is_the_textbook_formula():
    low, high = wilson_interval(1761, 2000)
    assert (low, high) == pytest.approx(textbook_wilson(1761, 2000, Z95), abs=1e-12)
    assert 0 <= low < 0.8805 < high <= 1
    low90, high90 = wilson_interval(1761, 2000, confidence=0.90)
    assert low < low90 < high90 < high
    # inside [0, 1] at the extremes, where Wald's interval is empty (0 +- 0)
    assert wilson_interval(0, 20)[0] == pytest.approx(0, abs=1e-15)
    assert wilson_interval(0, 20)[1] == pytest.approx(textbook_wilson(0, 20, Z95)[1], abs=1e-12)
    assert wilson_interval(20, 20)[1] == pytest.approx(1, abs=1e-15)
    with pytest.raises(ValueError, match="correct <= n"):
        wilson_interval(21, 20)
    with pytest.raises(ValueError, match="n >= 1"):
        wilson_interval(0, 0)


# ---------------------------------------------------------------- means over seeds


def test_mean_interval_is_scipy_t_interval_on_random_values():
    rng = np.random.default_rng(2)
    for _ in range(300):
        x = rng.normal(rng.uniform(0.5, 0.95), rng.uniform(1e-4, 0.05), rng.integers(2, 30))
        confidence = CONFIDENCES[rng.integers(len(CONFIDENCES))]
        mean, sd, low, high = mean_interval(x.tolist(), confidence)
        ref = stats.t.interval(confidence, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
        assert mean == pytest.approx(x.mean(), abs=1e-14)
        assert sd == pytest.approx(x.std(ddof=1), rel=1e-12)
        assert (low, high) == pytest.approx(ref, abs=1e-12)


def test_mean_interval_on_known_values():
    values = [0.88, 0.87, 0.90]
    mean, sd, low, high = mean_interval(values)
    hand_mean = sum(values) / 3
    hand_sd = math.sqrt(sum((v - hand_mean) ** 2 for v in values) / 2)
    # Student t with 2 df has CDF 1/2 + t / (2 sqrt(2 + t^2)): its 0.975 quantile solves
    # t / sqrt(2 + t^2) = 0.95, i.e. t^2 = 2 * 0.9025 / 0.0975 (the printed table's 4.303).
    t = math.sqrt(2 * 0.9025 / 0.0975)
    assert round(t, 3) == 4.303
    half = t * hand_sd / math.sqrt(3)
    assert mean == pytest.approx(hand_mean, abs=1e-15)
    assert sd == pytest.approx(hand_sd, abs=1e-15)
    assert (low, high) == pytest.approx((hand_mean - half, hand_mean + half), abs=1e-12)


def test_mean_interval_of_one_seed_has_no_spread_and_refuses_missing_values():
    mean, sd, low, high = mean_interval([0.87])
    assert mean == 0.87 and math.isnan(sd) and math.isnan(low) and math.isnan(high)
    assert mean_interval([0.5, 0.5])[1:] == (0.0, 0.5, 0.5)
    with pytest.raises(ValueError, match="non-finite"):
        mean_interval([0.87, float("nan")])
    with pytest.raises(ValueError, match="non-empty"):
        mean_interval([])


def test_prediction_interval_is_the_t_formula_on_random_values():
    rng = np.random.default_rng(3)
    for _ in range(200):
        x = rng.normal(0.85, rng.uniform(1e-4, 0.05), rng.integers(2, 30))
        confidence = CONFIDENCES[rng.integers(len(CONFIDENCES))]
        n = len(x)
        half = stats.t.ppf((1 + confidence) / 2, n - 1) * x.std(ddof=1) * math.sqrt(1 + 1 / n)
        assert prediction_interval(x.tolist(), confidence) == pytest.approx(
            (x.mean() - half, x.mean() + half), abs=1e-12)


def test_prediction_interval_on_known_values():
    """1, 2, 3: t(0.975, 2) = 4.302653, half-width 4.302653 x 1 x sqrt(4/3) = 4.968275, wider
    than the mean's 2.484138."""
    assert prediction_interval([1.0, 2.0, 3.0]) == pytest.approx((2 - 4.968275, 2 + 4.968275),
                                                                 abs=1e-6)
    assert mean_interval([1.0, 2.0, 3.0])[2] == pytest.approx(2 - 2.484138, abs=1e-6)
    # more seeds shrink the interval of the mean towards a point, not this one
    many = [0.85, 0.86] * 50
    low, high = prediction_interval(many)
    assert high - low > 2 * 1.96 * np.std(many, ddof=1)
    with pytest.raises(ValueError):
        prediction_interval([0.85])
    with pytest.raises(ValueError):
        prediction_interval([0.85, math.nan])


# ---------------------------------------------------------------- McNemar and Holm


def test_mcnemar_exact_is_statsmodels_exact_mcnemar_on_random_predictions():
    rng = np.random.default_rng(4)
    for _ in range(200):
        n = int(rng.integers(1, 3000))
        a = rng.random(n) < rng.uniform(0.3, 1.0)
        # b agrees with a except on a few images
        b = np.where(rng.random(n) < rng.uniform(0, 0.1), ~a, a)
        result = mcnemar_exact(a, b)
        table = [[int((a & b).sum()), int((a & ~b).sum())],
                 [int((~a & b).sum()), int((~a & ~b).sum())]]
        assert (result["only_a"], result["only_b"]) == (table[0][1], table[1][0])
        assert result["p_value"] == pytest.approx(mcnemar(table, exact=True).pvalue,
                                                  rel=1e-9, abs=1e-300)


def test_mcnemar_exact_on_a_known_table():
    # 100 images: both right on 80, only A on 10, only B on 2, both wrong on 8.
    a = np.array([1] * 80 + [1] * 10 + [0] * 2 + [0] * 8, dtype=bool)
    b = np.array([1] * 80 + [0] * 10 + [1] * 2 + [0] * 8, dtype=bool)
    # p = 2 P(X <= 2 | n=12, 1/2) = 2 (1 + 12 + 66) / 4096
    expected = 2 * (math.comb(12, 0) + math.comb(12, 1) + math.comb(12, 2)) / 2 ** 12
    assert expected == 0.03857421875
    result = mcnemar_exact(a, b)
    assert result["only_a"] == 10 and result["only_b"] == 2
    assert result["p_value"] == pytest.approx(expected, rel=1e-12)
    assert mcnemar_exact(b, a) == {"only_a": 2, "only_b": 10, "p_value": result["p_value"]}
    # balanced discordance: p = 1 (capped); no discordance at all: p = 1 by definition
    assert mcnemar_exact([1, 0, 1, 0], [0, 1, 0, 1])["p_value"] == pytest.approx(1.0)
    assert mcnemar_exact([1, 1, 0], [1, 1, 0]) == {"only_a": 0, "only_b": 0, "p_value": 1.0}
    with pytest.raises(ValueError, match="differ in length"):
        mcnemar_exact([1, 0], [1, 0, 1])
    with pytest.raises(ValueError, match="booleans"):
        mcnemar_exact([1, 2], [1, 0])


def test_holm_is_multipletests_on_random_p_values():
    # few cases: statsmodels' Holm runs gc.collect() on every call
    rng = np.random.default_rng(5)
    for _ in range(12):
        p = rng.uniform(0, 1, rng.integers(1, 50)) ** rng.uniform(1, 6)
        if rng.random() < 0.3:  # ties
            p[: len(p) // 2] = p[0]
        assert holm(p.tolist()) == pytest.approx(
            multipletests(p, method="holm")[1].tolist(), abs=1e-15)


def test_holm_on_a_known_list():
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1, running maximum: 0.02, 0.03, 0.06, 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02], abs=1e-15)
    # capped at 1; ties keep their order; one p-value is unchanged; none gives none
    assert holm([0.5, 0.4, 0.01]) == pytest.approx([0.8, 0.8, 0.03], abs=1e-15)
    assert holm([0.3, 0.6]) == pytest.approx([0.6, 0.6], abs=1e-15)
    assert holm([0.7, 0.9]) == pytest.approx([1.0, 1.0], abs=1e-15)
    assert holm([0.02]) == [0.02] and holm([]) == []
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm([0.1, float("nan")])


# ---------------------------------------------------------------- two sources of noise


def test_two_source_difference_with_one_seed_is_the_paired_t_over_images():
    rng = np.random.default_rng(6)
    for _ in range(100):
        d = random_differences(rng, 1, int(rng.integers(20, 3000)), rng.uniform(-0.05, 0.05))
        result = two_source_difference(d)
        ref = stats.ttest_1samp(d[0], 0.0)
        low, high = ref.confidence_interval(0.95)
        assert result.mean == pytest.approx(d.mean(), abs=1e-15)
        assert result.mean / result.se == pytest.approx(ref.statistic, rel=1e-9)
        assert result.df == ref.df == d.shape[1] - 1
        assert result.p == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-300)
        assert (result.low, result.high) == pytest.approx((low, high), rel=1e-9)
        assert (result.n_seeds, result.n_images) == (1, d.shape[1])
        # no seed-to-seed variance with one seed: it cannot be estimated
        assert math.isnan(result.seed_var) and math.isnan(result.flip_var)
        assert result.image_var == pytest.approx(d[0].var(ddof=1), rel=1e-9)


def welch_satterthwaite(seed_part: float, n: int, image_part: float, big_n: int) -> float:
    return (seed_part + image_part) ** 2 / (seed_part ** 2 / (n - 1)
                                            + image_part ** 2 / (big_n - 1))


def test_two_source_difference_adds_the_seed_and_image_variances():
    rng = np.random.default_rng(7)
    for _ in range(150):
        n, big_n = int(rng.integers(2, 11)), int(rng.integers(50, 2500))
        d = random_differences(rng, n, big_n, rng.uniform(-0.03, 0.03))
        result = two_source_difference(d)
        seed_part = d.mean(axis=1).var(ddof=1) / n
        image_part = d.mean(axis=0).var(ddof=1) / big_n
        assert result.mean == pytest.approx(d.mean(), abs=1e-15)
        # (the module rounds variances to 12 decimals so that float noise is no spread)
        assert result.se ** 2 == pytest.approx(seed_part + image_part, rel=1e-6)
        assert result.df == pytest.approx(welch_satterthwaite(seed_part, n, image_part, big_n),
                                          rel=1e-6)
        assert min(n - 1, big_n - 1) <= result.df <= n - 1 + big_n - 1
        assert result.seed_var == pytest.approx(seed_part * n, rel=1e-6, abs=1e-12)
        assert (result.n_seeds, result.n_images) == (n, big_n)
        # the statistic, p and interval are Student's t at these se and df
        t = result.mean / result.se
        assert result.p == pytest.approx(2 * stats.t.sf(abs(t), result.df), rel=1e-12,
                                          abs=1e-300)
        assert (result.low, result.high) == pytest.approx(
            stats.t.interval(0.95, result.df, loc=result.mean, scale=result.se), rel=1e-9)


def test_two_source_flip_variance_is_the_anova_residual_mean_square():
    """The run's own per-image flips: the residual of the additive seeds x images model, as
    statsmodels' two-way ANOVA without interaction computes it."""
    rng = np.random.default_rng(8)
    for n, big_n in ((2, 30), (3, 40), (5, 25)):
        d = random_differences(rng, n, big_n, 0.02)
        result = two_source_difference(d)
        frame = pd.DataFrame({"d": d.ravel().astype(float),
                              "seed": np.repeat(np.arange(n), big_n),
                              "image": np.tile(np.arange(big_n), n)})
        table = anova_lm(ols("d ~ C(seed) + C(image)", data=frame).fit())
        residual_ms = table.loc["Residual", "mean_sq"]
        assert table.loc["Residual", "df"] == (n - 1) * (big_n - 1)
        assert result.flip_var == pytest.approx(residual_ms, rel=1e-9)
        # image_var: the image mean square's excess over the flips (expected mean squares),
        # floored at 0
        image_ms = table.loc["C(image)", "mean_sq"]
        assert image_ms == pytest.approx(n * d.mean(axis=0).var(ddof=1), rel=1e-9)
        assert result.image_var == pytest.approx(max((image_ms - residual_ms) / n, 0),
                                                 rel=1e-9, abs=1e-12)


def test_two_source_difference_on_a_hand_worked_table():
    """d = [[1,0,0],[1,1,0],[1,1,1]]: seed means 1/3, 2/3, 1 and image means 1, 2/3, 1/3, both
    of variance 1/9, so se^2 = 1/27 + 1/27 and df = (2/27)^2 / (2 (1/27)^2 / 2) = 4; the
    residuals are +-1/3 on six cells, 0 on three: flip_var = (6/9) / 4 = 1/6. t = sqrt(6), and
    with 4 df (CDF 1/2 + 3/4 x (1 - x^2/3), x = t / sqrt(4 + t^2)) p = 1 - 1.2 sqrt(0.6)."""
    result = two_source_difference([[1, 0, 0], [1, 1, 0], [1, 1, 1]])
    assert result.mean == pytest.approx(2 / 3, abs=1e-15)
    assert result.se == pytest.approx(math.sqrt(2 / 27), rel=1e-10)
    assert result.df == pytest.approx(4, rel=1e-10)
    assert result.p == pytest.approx(1 - 1.2 * math.sqrt(0.6), rel=1e-9)
    assert (result.seed_var, result.flip_var, result.image_var) == pytest.approx(
        (1 / 9, 1 / 6, 1 / 9 - 1 / 18), rel=1e-9)
    half = stats.t.ppf(0.975, 4) * math.sqrt(2 / 27)
    assert (result.low, result.high) == pytest.approx((2 / 3 - half, 2 / 3 + half), rel=1e-9)
    # the flips once: image part (1/9 - 1/18) / 3 = 1/54, se^2 = 1/27 + 1/54 = 1/18, t = 2 sqrt 2,
    # df = (1/18)^2 / ((1/27)^2 / 2 + (1/54)^2 / 2) = 18/5
    once = two_source_difference([[1, 0, 0], [1, 1, 0], [1, 1, 1]], flips_once=True)
    assert (once.se, once.df) == pytest.approx((math.sqrt(1 / 18), 3.6), rel=1e-10)
    assert once.p == pytest.approx(2 * stats.t.sf(2 * math.sqrt(2), 3.6), rel=1e-9)


def test_two_source_difference_with_one_part_zero():
    # every seed the same mean difference (rows are permutations): only the images vary
    rng = np.random.default_rng(9)
    row = random_differences(rng, 1, 500, 0.02)[0]
    d = np.stack([rng.permutation(row) for _ in range(4)])
    result = two_source_difference(d)
    assert result.seed_var == 0
    assert result.df == pytest.approx(499, rel=1e-12)
    assert result.se ** 2 == pytest.approx(d.mean(axis=0).var(ddof=1) / 500, rel=1e-9)
    # every image the same within a seed: only the seeds vary, the one-sample t over seeds
    per_seed = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    d = np.repeat(per_seed[:, None], 10, axis=1)
    result = two_source_difference(d)
    ref = stats.ttest_1samp(per_seed, 0.0)
    assert result.df == pytest.approx(4, rel=1e-12)
    assert result.p == pytest.approx(ref.pvalue, rel=1e-9)
    assert (result.low, result.high) == pytest.approx(tuple(ref.confidence_interval()),
                                                      rel=1e-9)


def test_two_source_p_and_interval_agree():
    rng = np.random.default_rng(10)
    significant = 0
    for i in range(300):
        n = int(rng.integers(1, 8))
        result = two_source_difference(random_differences(rng, n, 400, rng.uniform(-0.08, 0.08)))
        assert result.low < result.mean < result.high
        assert (result.p < 0.05) == (result.low > 0 or result.high < 0), i
        # at 90% the interval is narrower, and excludes 0 exactly when p < 0.10
        narrower = two_source_difference(random_differences(np.random.default_rng(i), n, 400),
                                         confidence=0.9)
        wide = two_source_difference(random_differences(np.random.default_rng(i), n, 400))
        assert wide.low < narrower.low < narrower.high < wide.high
        assert (narrower.p < 0.10) == (narrower.low > 0 or narrower.high < 0)
        significant += result.p < 0.05
    assert 30 < significant < 270  # both outcomes were exercised


def test_two_source_difference_without_spread_is_not_tested():
    rng = np.random.default_rng(11)
    same = rng.random((3, 200)) < 0.8
    for d in (same.astype(int) - same, np.zeros((1, 200)), np.ones((4, 50)),
              (same.astype(int) - same)[:1]):
        result = two_source_difference(d)
        assert result.se == 0 and result.mean == d.mean()
        assert math.isnan(result.p) and math.isnan(result.low) and math.isnan(result.high)
    with pytest.raises(ValueError, match="seeds x images"):
        two_source_difference([1, 0, 1])
    with pytest.raises(ValueError, match="seeds x images"):
        two_source_difference([[1], [0]])


# ---------------------------------------------------------------- training-set figures


def test_paired_seed_difference_is_scipy_ttest_rel():
    rng = np.random.default_rng(12)
    for _ in range(200):
        n = int(rng.integers(2, 20))
        a = rng.normal(0.9, 0.02, n)
        b = a - rng.normal(rng.uniform(-0.02, 0.02), rng.uniform(1e-3, 0.02), n)
        result = paired_seed_difference(a.tolist(), b.tolist())
        ref = stats.ttest_rel(a, b)
        assert result.mean == pytest.approx((a - b).mean(), abs=1e-12)
        # (differences are rounded to 12 decimals so that float noise is no spread)
        assert result.mean / result.se == pytest.approx(ref.statistic, rel=1e-6)
        assert result.df == n - 1
        assert result.p == pytest.approx(ref.pvalue, rel=1e-6)
        assert (result.low, result.high) == pytest.approx(tuple(ref.confidence_interval()),
                                                          rel=1e-6)
        assert (result.n_seeds, result.n_images) == (n, 0)
        assert result.seed_var == pytest.approx((a - b).var(ddof=1), rel=1e-6)


def test_paired_seed_difference_without_spread_or_seeds():
    # the same gap on every seed (exactly, or up to float noise): no test
    for a, b in (([0.1] * 3, [0.0] * 3), ([0.91, 0.92, 0.93], [0.81, 0.82, 0.83]),
                 ([0.9, 0.9], [0.9, 0.9])):
        result = paired_seed_difference(a, b)
        assert result.mean == pytest.approx(a[0] - b[0], abs=1e-12)
        assert result.se == 0, (a, b, result)
        assert math.isnan(result.p) and math.isnan(result.low)
    with pytest.raises(ValueError, match="two or more"):
        paired_seed_difference([0.9], [0.8])
    with pytest.raises(ValueError, match="two or more"):
        paired_seed_difference([0.9, math.nan], [0.8, 0.8])


# ---------------------------------------------------------------- power


def reference_power(effect: float, df: float, alpha: float) -> float:
    """Two-sided t-test power from the noncentral t's two tails (what statsmodels' ttest_power
    computes), with the far tail, below 1e-15 wherever scipy's nct.cdf returns NaN for it,
    counted as 0."""
    critical = stats.t.isf(alpha / 2, df)
    far = stats.nct.cdf(-critical, df, effect)
    return float(stats.nct.sf(critical, df, effect) + (0.0 if math.isnan(far) else far))


def test_power_is_statsmodels_ttest_power_and_defined_for_large_effects():
    for effect in (0.0, 0.5, 1.0, 2.0, 2.8, 3.5, 5.0, 8.0, 12.0, 30.0):
        for df in (1.5, 2.0, 3.0, 10.0, 233.0, 1999.0):
            for alpha in (0.05, 0.05 / 3, 0.05 / 45):
                statsmodels = ttest_power(effect, nobs=1, alpha=alpha, df=df)
                power = t_power(effect, df, alpha)
                assert power == pytest.approx(reference_power(effect, df, alpha), rel=1e-12)
                if effect <= 5:
                    assert power == pytest.approx(statsmodels, rel=1e-9)
                elif math.isnan(statsmodels):  # scipy's far tail underflows to NaN
                    assert 0 < power <= 1 + 1e-12
                else:
                    assert power == pytest.approx(statsmodels, rel=1e-9)
    assert t_power(0.0, 10.0, 0.05) == pytest.approx(0.05, rel=1e-9)  # the size under H0


# (se, df, alpha) met in reports: 3 seeds with the seed part dominant at 0.05; a 10-model
# matrix (Holm's 45); one seed's McNemar rows of a 3-model matrix (df 1999, 0.05 / 3)
REALISTIC = ((0.01, 3.0, 0.05), (0.0138, 233.0, 0.05 / 37), (0.0022, 1999.0, 0.05 / 3),
             (0.005, 2.0, 0.05 / 45), (0.004, 5.0, 0.05 / 45))


@pytest.mark.parametrize(("se", "df", "alpha"), REALISTIC)
def test_detectable_difference_in_reports(se, df, alpha):
    found = detectable_difference(se, df, alpha)
    assert reference_power(found / se, df, alpha) == pytest.approx(0.8, abs=1e-5)


def test_detectable_difference_has_80_percent_power():
    rng = np.random.default_rng(13)
    for _ in range(60):
        se, df = rng.uniform(1e-3, 0.05), float(rng.uniform(1.5, 3000))
        alpha = 0.05 / int(rng.integers(1, 46))
        found = detectable_difference(se, df, alpha)
        assert ttest_power(found / se, nobs=1, alpha=alpha, df=df) == pytest.approx(0.8,
                                                                                   abs=1e-5)
        # larger with a stricter alpha or a higher power
        assert detectable_difference(se, df, alpha / 2) > found
        assert detectable_difference(se, df, alpha, power=0.9) > found
    # with many df it is the normal's (z_{1-alpha/2} + z_{power}) se; fewer df, larger
    assert detectable_difference(0.01, 1e7, 0.05) == pytest.approx(
        (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * 0.01, rel=1e-4)
    assert detectable_difference(0.01, 2, 0.05) > detectable_difference(0.01, 20, 0.05)
    for se, df in ((0.0, 10), (math.nan, 10), (0.01, 0), (math.inf, 10)):
        assert math.isnan(detectable_difference(se, df, 0.05))


def projected_power(diff: Difference, seeds: int, gap: float, alpha: float) -> float:
    """The power of the two-source t at `seeds` seeds, projected from diff's parts."""
    seed_part = diff.seed_var / seeds
    image_part = (diff.image_var + diff.flip_var / seeds) / diff.n_images
    if seed_part + image_part == 0:
        return 1.0
    df = welch_satterthwaite(seed_part, seeds, image_part, diff.n_images)
    return reference_power(abs(gap) / math.sqrt(seed_part + image_part), df, alpha)


def parts(seed_var: float, image_var: float, flip_var: float, n_images: int = 2000):
    return Difference(0.01, 0.01, 10.0, 0.0, 0.02, 0.05, 3, n_images, seed_var, image_var,
                      flip_var)


def fewest_seeds(diff: Difference, gap: float, alpha: float, most: int = 1000) -> float:
    return next((float(k) for k in range(2, most + 1)
                 if projected_power(diff, k, gap, alpha) >= 0.8), math.inf)


def test_seeds_to_resolve_is_the_fewest_seeds_with_80_percent_power():
    rng = np.random.default_rng(14)
    for _ in range(30):
        diff = two_source_difference(random_differences(rng, 3, 2000, 0.01))
        gap, alpha = float(rng.uniform(0.005, 0.05)), 0.05 / int(rng.integers(1, 10))
        seeds = seeds_to_resolve(diff, gap, alpha)
        assert seeds == seeds_to_resolve(diff, -gap, alpha)  # the sign does not matter
        assert seeds == fewest_seeds(diff, gap, alpha)
    # a 0.5-point per-run spread, a 1-point gap: at 10 seeds the seed part is 2.5e-6 and the
    # images' (0.01 + 0.1 / 10) / 2000 = 1e-5, se 0.0035, 2.83 se: 80% power with 210 df
    diff = parts(seed_var=0.005 ** 2, image_var=0.01, flip_var=0.1)
    assert seeds_to_resolve(diff, 0.01, 0.05) == fewest_seeds(diff, 0.01, 0.05) == 10
    assert projected_power(diff, 10, 0.01, 0.05) == pytest.approx(0.80, abs=0.01)


@pytest.mark.parametrize("seed_sd", [0.001, 0.005, 0.03])
def test_seeds_to_resolve_is_monotone_in_the_gap(seed_sd):
    diff = parts(seed_var=seed_sd ** 2, image_var=0.02, flip_var=0.1)
    gaps = [0.002, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3]
    needed = [seeds_to_resolve(diff, g, 0.025) for g in gaps]
    assert all(a >= b for a, b in zip(needed, needed[1:], strict=False)), needed
    assert math.isinf(needed[0]) and needed[-1] <= 3 and needed[0] > needed[4] > needed[-1]
    # and in the seed-to-seed variance
    wider = parts(seed_var=(2 * seed_sd) ** 2, image_var=0.02, flip_var=0.1)
    assert all(seeds_to_resolve(wider, g, 0.025) >= n for g, n in zip(gaps, needed,
                                                                       strict=True))


def test_seeds_to_resolve_is_infinite_when_the_images_limit_it():
    """With infinitely many seeds the error is the images' part alone, sqrt(image_var / N):
    a gap below what that part can find with 80% power is never resolved by seeds."""
    image_var, n_images, alpha = 0.05, 2000, 0.05
    floor = detectable_difference(math.sqrt(image_var / n_images), n_images - 1, alpha)
    diff = parts(seed_var=1e-6, image_var=image_var, flip_var=0.1, n_images=n_images)
    assert math.isinf(seeds_to_resolve(diff, 0.95 * floor, alpha))
    assert math.isfinite(seeds_to_resolve(diff, 1.1 * floor, alpha))
    # no image part, no seed part: two seeds resolve any gap
    assert seeds_to_resolve(parts(0.0, 0.0, 0.0), 0.001, alpha) == 2


def test_seeds_to_resolve_needs_several_seeds_and_a_gap():
    rng = np.random.default_rng(15)
    one_seed = two_source_difference(random_differences(rng, 1, 500, 0.05))
    assert math.isnan(one_seed.seed_var)
    assert math.isnan(seeds_to_resolve(one_seed, 0.05, 0.05))
    three = two_source_difference(random_differences(rng, 3, 500, 0.05))
    assert math.isnan(seeds_to_resolve(three, 0.0, 0.05))
    assert math.isnan(seeds_to_resolve(three, math.nan, 0.05))
