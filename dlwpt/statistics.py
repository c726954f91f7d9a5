"""The formulas of docs/statistics.md (method, assumptions, calibration), on scipy/statsmodels."""

import math
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats
from statsmodels.stats.multitest import multipletests

POWER = 0.8


def wilson_interval(correct: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval (no continuity correction) for `correct` successes out of `n`."""
    if n < 1 or not 0 <= correct <= n:
        raise ValueError(f"need 0 <= correct <= n and n >= 1, got correct={correct}, n={n}")
    ci = stats.binomtest(int(correct), int(n)).proportion_ci(confidence_level=confidence,
                                                             method="wilson")
    return float(ci.low), float(ci.high)


def mean_interval(values: Sequence[float], confidence: float = 0.95,
                  clip: bool = False) -> tuple[float, float, float, float]:
    """(mean, sd, low, high): the t interval of the mean (one value: NaN sd and interval), refusing
    non-finite values; `clip`: low and high kept in [0, 1] (an accuracy's t interval near 1 would
    pass 1)."""
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
    low, high = mean - half, mean + half
    if clip:
        low, high = float(np.clip(low, 0.0, 1.0)), float(np.clip(high, 0.0, 1.0))
    return mean, sd, low, high


def prediction_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Student-t prediction interval for one new value: mean +- t(n-1) sd sqrt(1 + 1/n)."""
    if len(values) < 2:
        raise ValueError(f"need two or more finite numbers, got {list(values)}")
    mean, _, _, high = mean_interval(values, confidence)
    half = (high - mean) * math.sqrt(len(values) + 1)
    return mean - half, mean + half


def mcnemar_exact(a_correct, b_correct) -> dict[str, float | int]:
    """Exact McNemar test on the same images (no discordant image, no evidence: p = 1)."""
    a, b = np.asarray(a_correct), np.asarray(b_correct)
    for name, x in (("a_correct", a), ("b_correct", b)):
        if x.ndim != 1 or not np.isin(x, (0, 1)).all():
            raise ValueError(f"{name} must be a 1-d sequence of booleans (or 0/1)")
    a, b = a.astype(bool), b.astype(bool)
    if a.shape != b.shape:
        raise ValueError(f"paired predictions differ in length: {len(a)} vs {len(b)}")
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    n = only_a + only_b
    p_value = 1.0 if n == 0 else float(stats.binomtest(only_a, n, 0.5).pvalue)
    return {"only_a": only_a, "only_b": only_b, "p_value": p_value}


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the input order (statsmodels' multipletests)."""
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1 or not ((p >= 0) & (p <= 1)).all():  # NaN fails this too
        raise ValueError(f"p-values must lie in [0, 1], got {p.tolist()}")
    return multipletests(p, method="holm")[1].tolist() if len(p) else []


@dataclass(frozen=True)
class Difference:
    """A difference of means with its error and interval (`p` NaN: no spread, no test); the
    variance parts let `seeds_to_resolve` project the error to other seed counts."""

    mean: float
    se: float
    df: float
    low: float
    high: float
    p: float
    n_seeds: int
    n_images: int
    seed_var: float = math.nan
    image_var: float = math.nan
    flip_var: float = math.nan


def t_difference(mean: float, se: float, df: float, confidence: float = 0.95,
                 **sizes_and_parts) -> Difference:
    """The t interval and two-sided p of `mean`; no spread (se 0): no interval, no test."""
    if not se > 0 or not math.isfinite(df):
        return Difference(mean, se, df, math.nan, math.nan, math.nan, **sizes_and_parts)
    half = float(stats.t.ppf((1 + confidence) / 2, df)) * se
    p = float(2 * stats.t.sf(abs(mean) / se, df))
    return Difference(mean, se, df, mean - half, mean + half, p, **sizes_and_parts)


def satterthwaite(terms: Sequence[tuple[float, float]]) -> float:
    """Welch-Satterthwaite degrees of freedom of a sum of (variance estimate, its df) terms."""
    total = sum(v for v, _ in terms)
    denominator = sum(v * v / df for v, df in terms if v > 0)
    return total * total / denominator if denominator > 0 else math.inf


def spread(values: np.ndarray) -> float:
    """Sample variance, exactly 0 when the values agree to 12 decimals: float noise in equal
    differences (0.91 - 0.81 against 0.92 - 0.82) is no spread, and must not become a test."""
    if np.all(np.round(values, 12) == np.round(values[0], 12)):
        return 0.0
    return float(np.var(values, ddof=1))


def two_source_difference(differences, confidence: float = 0.95,
                          flips_once: bool = False) -> Difference:
    """Mean of seeds x images of a_correct - b_correct, its error from seeds and images in closed
    form (MixedLM would iterate); `flips_once` (gap test): flips in the seed part, image df n-1."""
    d = np.asarray(differences, dtype=float)
    if d.ndim != 2 or d.shape[1] < 2 or d.shape[0] < 1:
        raise ValueError(f"need seeds x images (two images or more), got shape {d.shape}")
    n, big_n = d.shape
    mean, seed_means, image_means = float(d.mean()), d.mean(axis=1), d.mean(axis=0)
    image_part = spread(image_means) / big_n
    if n == 1:
        return t_difference(mean, math.sqrt(image_part), big_n - 1, confidence, n_seeds=1,
                            n_images=big_n, image_var=image_part * big_n)
    seed_var = spread(seed_means)
    residual = d - seed_means[:, None] - image_means[None, :] + mean
    flip_var = float((residual ** 2).sum()) / ((n - 1) * (big_n - 1))
    # image_part estimates image_var + flip_var / n (expected mean squares of the layout)
    image_var = max(image_part * big_n - flip_var / n, 0.0)
    seed_part = seed_var / n
    image_part, image_df = (image_var / big_n, n - 1) if flips_once else (image_part, big_n - 1)
    df = satterthwaite([(seed_part, n - 1), (image_part, image_df)])
    return t_difference(mean, math.sqrt(seed_part + image_part), df, confidence, n_seeds=n,
                        n_images=big_n, seed_var=seed_var, image_var=image_var, flip_var=flip_var)


def paired_seed_difference(a: Sequence[float], b: Sequence[float],
                           confidence: float = 0.95) -> Difference:
    """Paired t over seeds of a - b, for training-set figures (no sample of images)."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if d.ndim != 1 or len(d) < 2 or not np.isfinite(d).all():
        raise ValueError(f"need two or more finite paired differences, got {d.tolist()}")
    variance = spread(d)
    return t_difference(float(d.mean()), math.sqrt(variance / len(d)), len(d) - 1, confidence,
                        n_seeds=len(d), n_images=0, seed_var=variance)


def t_power(effect: float, df: float, alpha: float) -> float:
    """Power of a two-sided t-test at `alpha` for a true difference of `effect` standard errors.
    Not statsmodels' ttest_power: its noncentral t cdf is NaN in the far tail (mass 0)."""
    critical = float(stats.t.isf(alpha / 2, df))
    far = float(np.nan_to_num(stats.nct.cdf(-critical, df, effect)))
    return float(stats.nct.sf(critical, df, effect)) + far


def detectable_difference(se: float, df: float, alpha: float, power: float = POWER) -> float:
    """The smallest true difference a two-sided t-test at `alpha` finds with `power`."""
    if not (se > 0 and df > 0 and math.isfinite(se)):
        return math.nan
    upper = 1.0
    while t_power(upper, df, alpha) < power:
        upper *= 2
    effect = optimize.brentq(lambda e: t_power(e, df, alpha) - power, 0.0, upper, xtol=1e-6)
    return float(effect) * se


def seeds_to_resolve(diff: Difference, gap: float, alpha: float, power: float = POWER,
                     most: int = 1000) -> float:
    """Seeds (same images) finding `gap` with `power`; inf: none to `most`; NaN: 1 seed, no gap."""
    if math.isnan(diff.seed_var) or not gap or math.isnan(gap):
        return math.nan

    def enough(seeds: int) -> bool:
        seed_part = diff.seed_var / seeds
        image_part = (diff.image_var + diff.flip_var / seeds) / diff.n_images
        se = math.sqrt(seed_part + image_part)
        df = satterthwaite([(seed_part, seeds - 1), (image_part, diff.n_images - 1)])
        return se == 0 or t_power(abs(gap) / se, df, alpha) >= power

    if not enough(most):
        return math.inf
    # power grows with the seeds: bisect for the first count (of two or more) that is enough
    return float(2 + bisect_left(range(2, most + 1), True, key=enough))


@dataclass(frozen=True)
class TrendScale:
    """How a sweep's setting enters its slope: "log2" (per doubling), "log10" (per tenfold) or
    "linear" (per `step`); `zero_left_out`: a 0 on a log scale, drawn but not fitted."""

    kind: str
    step: float = 1.0
    zero_left_out: bool = False

    @property
    def log(self) -> bool:
        return self.kind != "linear"

    def transform(self, values) -> np.ndarray:
        """The setting's values on this scale (0 on a log scale: NaN, left out)."""
        x = np.asarray(values, dtype=float)
        if self.kind == "linear":
            return x / self.step
        log = np.log2 if self.kind == "log2" else np.log10
        return log(x, out=np.full_like(x, np.nan), where=x > 0)


def trend_scale(values: Sequence[float]) -> TrendScale:
    """Log when the values are > 0 (one 0 left out) and span 10x or more: per doubling under
    1000x, else per tenfold. Else linear, per 10**floor(log10(max - min))."""
    x = np.asarray(values, dtype=float)
    if x.ndim != 1 or len(x) == 0 or not np.isfinite(x).all():
        raise ValueError(f"need finite values, got {x.tolist()}")
    positive = x[x > 0]
    zeros = int((x == 0).sum())
    if (x >= 0).all() and zeros <= 1 and len(positive) > 1:
        span = positive.max() / positive.min()
        if span >= 10:
            return TrendScale("log2" if span < 1000 else "log10", zero_left_out=zeros == 1)
    width = float(x.max() - x.min())
    return TrendScale("linear", 10.0 ** math.floor(math.log10(width)) if width > 0 else 1.0)


@dataclass(frozen=True)
class Slope:
    """A slope per unit of the scale; `reason`: why no test (numbers NaN); `n_x`: settings."""

    slope: float
    se: float
    df: float
    low: float
    high: float
    p: float
    n: int
    n_x: int
    reason: str | None = None

    @property
    def tested(self) -> bool:
        return self.reason is None


def trend_slope(x, y, seeds, confidence: float = 0.95) -> Slope:
    """OLS on x of each point's mean over its runs, an additive seed effect fitted beside it; the
    runs share the images, so the points are the observations, with an HC3 error."""
    x, y, seeds = np.asarray(x, dtype=float), np.asarray(y, dtype=float), np.asarray(seeds)
    kept = np.isfinite(x) & np.isfinite(y)
    x, y, seeds = x[kept], y[kept], seeds[kept]
    points, point = np.unique(x, return_inverse=True)
    n, n_x = len(x), len(points)
    nan = math.nan

    def untested(reason: str, df: float = nan) -> Slope:
        return Slope(nan, nan, df, nan, nan, nan, n, n_x, reason)

    if n_x < 2:
        return untested("fewer than two settings to fit")
    if n_x < 3:
        return untested("fewer than 3 points", 0)
    levels = np.unique(seeds)
    design = np.column_stack([point[:, None] == np.arange(n_x),
                              seeds[:, None] == levels[None, 1:]]).astype(float)
    if np.linalg.matrix_rank(design) < design.shape[1]:
        return untested("the setting does not vary within any seed")
    means = np.linalg.lstsq(design, y, rcond=None)[0][:n_x]
    from statsmodels.regression.linear_model import OLS  # here: statsmodels.api costs ~1 s

    fit = OLS(means, np.column_stack([points, np.ones(n_x)])).fit(cov_type="HC3", use_t=True)
    if not float(fit.ssr) > 1e-24 * max(1.0, float((means ** 2).sum())):
        return untested("no spread: every point lies on the fitted line", fit.df_resid)
    low, high = fit.conf_int(alpha=1 - confidence)[0]
    return Slope(float(fit.params[0]), float(fit.bse[0]), float(fit.df_resid), float(low),
                 float(high), float(fit.pvalues[0]), n, n_x)
