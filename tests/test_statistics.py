"""dlwpt.statistics against values computed independently (textbook formulas, closed forms)."""

import math

import numpy as np
import pytest

from dlwpt.statistics import (
    holm,
    mcnemar_exact,
    mean_interval,
    prediction_interval,
    wilson_interval,
)

Z95 = 1.959963984540054  # the standard normal's 0.975 quantile


def textbook_wilson(correct: int, n: int, z: float) -> tuple[float, float]:
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_wilson_interval_is_the_textbook_formula():
    low, high = wilson_interval(1761, 2000)
    ref_low, ref_high = textbook_wilson(1761, 2000, Z95)
    assert low == pytest.approx(ref_low, abs=1e-12) and high == pytest.approx(ref_high, abs=1e-12)
    assert 0 <= low < 0.8805 < high <= 1
    # Narrower at a lower confidence; inside [0, 1] at the extremes, where Wald's interval is
    # empty (0 +- 0) or leaves it.
    low90, high90 = wilson_interval(1761, 2000, confidence=0.90)
    assert low < low90 < high90 < high
    assert wilson_interval(0, 20)[0] == pytest.approx(0, abs=1e-15)
    assert wilson_interval(0, 20)[1] == pytest.approx(textbook_wilson(0, 20, Z95)[1], abs=1e-12)
    assert wilson_interval(20, 20)[1] == pytest.approx(1, abs=1e-15)
    with pytest.raises(ValueError, match="correct <= n"):
        wilson_interval(21, 20)


def test_mean_interval_is_the_t_interval_over_seeds():
    values = [0.88, 0.87, 0.90]
    mean, sd, low, high = mean_interval(values)
    hand_mean = sum(values) / 3
    hand_sd = math.sqrt(sum((v - hand_mean) ** 2 for v in values) / 2)
    # Student t with 2 degrees of freedom has CDF 1/2 + t / (2 sqrt(2 + t^2)): its 0.975
    # quantile solves t / sqrt(2 + t^2) = 0.95, i.e. t^2 = 2 * 0.9025 / 0.0975.
    t = math.sqrt(2 * 0.9025 / 0.0975)
    assert round(t, 3) == 4.303  # the printed t table
    half = t * hand_sd / math.sqrt(3)
    assert mean == pytest.approx(hand_mean, abs=1e-15)
    assert sd == pytest.approx(hand_sd, abs=1e-15)
    assert (low, high) == (pytest.approx(hand_mean - half, abs=1e-12),
                           pytest.approx(hand_mean + half, abs=1e-12))


def test_mean_interval_of_one_seed_has_no_spread_and_refuses_missing_values():
    mean, sd, low, high = mean_interval([0.87])
    assert mean == 0.87 and math.isnan(sd) and math.isnan(low) and math.isnan(high)
    assert mean_interval([0.5, 0.5])[1:] == (0.0, 0.5, 0.5)
    with pytest.raises(ValueError, match="non-finite"):
        mean_interval([0.87, float("nan")])
    with pytest.raises(ValueError, match="non-empty"):
        mean_interval([])


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
    # Balanced discordance: p = 1 (capped); no discordance at all: p = 1 by definition.
    assert mcnemar_exact([1, 0, 1, 0], [0, 1, 0, 1])["p_value"] == pytest.approx(1.0)
    assert mcnemar_exact([1, 1, 0], [1, 1, 0]) == {"only_a": 0, "only_b": 0, "p_value": 1.0}
    with pytest.raises(ValueError, match="differ in length"):
        mcnemar_exact([1, 0], [1, 0, 1])
    with pytest.raises(ValueError, match="booleans"):
        mcnemar_exact([1, 2], [1, 0])


def test_holm_on_a_known_list():
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02], abs=1e-15)
    # Capped at 1; ties keep their order; one p-value is unchanged; none gives none.
    assert holm([0.5, 0.4, 0.01]) == pytest.approx([0.8, 0.8, 0.03], abs=1e-15)
    assert holm([0.3, 0.6]) == pytest.approx([0.6, 0.6], abs=1e-15)
    assert holm([0.7, 0.9]) == pytest.approx([1.0, 1.0], abs=1e-15)
    assert holm([0.02]) == [0.02] and holm([]) == []
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm([0.1, float("nan")])


def test_prediction_interval_for_one_new_run():
    """mean +- t(0.975, n-1) sd sqrt(1 + 1/n): for 1, 2, 3, t(0.975, 2) = 4.302653 and the
    half-width 4.302653 x 1 x sqrt(4/3) = 4.968275, wider than the mean's 2.484138."""
    low, high = prediction_interval([1.0, 2.0, 3.0])
    assert (low, high) == pytest.approx((2 - 4.968275, 2 + 4.968275), abs=1e-6)
    _, _, mean_low, _ = mean_interval([1.0, 2.0, 3.0])
    assert mean_low == pytest.approx(2 - 2.484138, abs=1e-6)
    # adding seeds shrinks the interval of the mean towards a point, not this one
    many = [0.85, 0.86] * 50
    low, high = prediction_interval(many)
    assert high - low > 2 * 1.96 * np.std(many, ddof=1)
    with pytest.raises(ValueError):
        prediction_interval([0.85])
    with pytest.raises(ValueError):
        prediction_interval([0.85, math.nan])
