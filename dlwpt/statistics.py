"""Uncertainty and comparisons for the zoo's accuracies (scipy only).

- `wilson_interval`: a confidence interval for one run's accuracy on the 2,000 validation images
  (Wilson score: stays inside [0, 1] and keeps its coverage near 0 and 1, where the normal
  approximation does not).
- `mean_interval`: mean, sd and Student-t interval of a figure over seeds.
- `prediction_interval`: where one more seed's figure would fall (to judge a single run).
- `mcnemar_exact`: two models' paired predictions on the same images (val_predictions.csv):
  the exact binomial test on the discordant pairs.
- `holm`: Holm's step-down adjustment when several such comparisons are read together.

Holm is written out here (a few lines) rather than taken from statsmodels: scipy has no Holm
correction, and statsmodels would be a whole extra dependency for one sort and a running max.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats


def wilson_interval(correct: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval (no continuity correction) for `correct` successes out of `n`."""
    if n < 1 or not 0 <= correct <= n:
        raise ValueError(f"need 0 <= correct <= n and n >= 1, got correct={correct}, n={n}")
    ci = stats.binomtest(int(correct), int(n)).proportion_ci(confidence_level=confidence,
                                                             method="wilson")
    return float(ci.low), float(ci.high)


def mean_interval(values: Sequence[float],
                  confidence: float = 0.95) -> tuple[float, float, float, float]:
    """(mean, sample sd, low, high): the Student-t interval of the mean over seeds.

    One value has no spread to estimate: sd and the interval are NaN. Non-finite values (a
    diverged seed's null accuracy) are refused rather than silently dropped.
    """
    x = np.asarray(values, dtype=float)
    if x.ndim != 1 or len(x) == 0:
        raise ValueError("need a non-empty list of numbers")
    if not np.isfinite(x).all():
        raise ValueError(f"non-finite value among {x.tolist()}")
    mean = float(x.mean())
    if len(x) == 1:
        return mean, math.nan, math.nan, math.nan
    sd = float(x.std(ddof=1))
    half = float(stats.t.ppf((1 + confidence) / 2, df=len(x) - 1)) * sd / math.sqrt(len(x))
    return mean, sd, mean - half, mean + half


def prediction_interval(values: Sequence[float],
                        confidence: float = 0.95) -> tuple[float, float]:
    """Student-t prediction interval for one new value: mean +- t(n-1) sd sqrt(1 + 1/n).

    Unlike the interval of the mean it does not shrink to a point as seeds are added: a new
    run varies by the seed-to-seed spread. Needs two values or more (one has no spread).
    """
    x = np.asarray(values, dtype=float)
    if x.ndim != 1 or len(x) < 2 or not np.isfinite(x).all():
        raise ValueError(f"need two or more finite numbers, got {x.tolist()}")
    # The mean's half-width is t sd / sqrt(n); one new value's is that times sqrt(n + 1).
    mean, _, _, high = mean_interval(x, confidence)
    half = (high - mean) * math.sqrt(len(x) + 1)
    return mean - half, mean + half


def _correctness(values, name: str) -> np.ndarray:
    x = np.asarray(values)
    if x.ndim != 1 or not np.isin(x, (0, 1)).all():
        raise ValueError(f"{name} must be a 1-d sequence of booleans (or 0/1)")
    return x.astype(bool)


def mcnemar_exact(a_correct, b_correct) -> dict[str, float | int]:
    """Exact McNemar test of two models' per-image correctness on the same images.

    Only the discordant images carry information: under "equally accurate" each is as likely
    to favour A as B, so only_a ~ Binomial(only_a + only_b, 1/2); two-sided p-value. With no
    discordant image there is no evidence either way: p = 1.
    """
    a, b = _correctness(a_correct, "a_correct"), _correctness(b_correct, "b_correct")
    if a.shape != b.shape:
        raise ValueError(f"paired predictions differ in length: {len(a)} vs {len(b)}")
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    n = only_a + only_b
    p_value = 1.0 if n == 0 else float(stats.binomtest(only_a, n, 0.5).pvalue)
    return {"only_a": only_a, "only_b": only_b, "p_value": p_value}


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the input order.

    Sorted ascending, the i-th smallest (0-based) is multiplied by (m - i); a running maximum
    keeps the adjusted values in the same order as the raw ones; capped at 1.
    """
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1 or not ((p >= 0) & (p <= 1)).all():  # NaN fails this too
        raise ValueError(f"p-values must lie in [0, 1], got {p.tolist()}")
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted_sorted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    adjusted = np.empty(m)
    adjusted[order] = adjusted_sorted
    return adjusted.tolist()
