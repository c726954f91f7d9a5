"""Calibration of the seed-level comparison: false positives and power, by simulation.

A test's nominal 5% holds only when its assumptions match how the numbers arise. Here per-image
correctness is drawn for k models x n seeds x 2,000 validation images from a logit model,

    logit p[m, s, i] = alpha_i + beta_m + u[m, s] + v[m, i],   correct ~ Bernoulli(p),

alpha_i ~ N(2, sd 2) the image's difficulty (shared by the models), beta_m the model's gap,
u[m, s] ~ N(0, sd_m) the seed's effect, v[m, i] ~ N(0, sd_v) a model-by-image effect that
persists across seeds; image difficulty is drawn afresh per family, so the 2,000 images are a
sample. Scenarios: (a) no difference, (b) one model with a 1.5-point seed effect, the others
0.3, (c) persistent per-image effects (sd_v 1 logit), (d) known gaps of 0.5, 1.0 and 1.5 points
(four models 0.5 points apart; d' adds c's per-image effects). A seed effect in points is the sd
of the model's expected accuracy over seeds; each run also flips single images (Bernoulli), so
the measured spread of a run's accuracy is larger (printed). Each pair of models is compared by

    (1) dlwpt.statistics.two_source_difference (the pipeline's test; Holm over the family too),
    (2) the paired t over per-seed accuracies (scipy ttest_rel; seeds only),
    (3) the randomized-block t with one residual variance pooled over all k models (the
        pipeline's former test),
    (4) the unbiased crossed random-effects ANOVA variance (the rejected alternative),
    (5) exact McNemar on the counts pooled over seeds (all n x 2,000 predictions independent).

`--part null` (in the default `all`) adds the tests that are not pairwise comparisons of
validation accuracy, with no real effect: the sweep trend (dlwpt.statistics.trend_slope, the
point-means fit, against the former fit over every run with seed intercepts) and the gap claim
(dlwpt.results.comparisons.gap_difference against the seed-only paired t), under per-point (or
per-model) image effects and an unstable point (or model).

A simulation, not a test: docs/statistics.md quotes its output. It prints markdown tables and
exits 1 when (1) exceeds 6% false positives under a-c. About 6 minutes on 2 loaded cores:

    .venv/bin/python bench/calibrate_comparisons.py [--families 2000] [--seed 0] [--out FILE]
    .venv/bin/python bench/calibrate_comparisons.py --part null  # the trend and gap tests only
    .venv/bin/python bench/calibrate_comparisons.py --difficulty 3.5 2  # easier images
    .venv/bin/python bench/calibrate_comparisons.py --unstable 3  # b: one model at 3 points
    .venv/bin/python bench/calibrate_comparisons.py --models 10 --families 500  # ten models
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import warnings
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy import optimize, special, stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dlwpt.provenance import cpu_model  # noqa: E402
from dlwpt.results.comparisons import Runs, gap_difference  # noqa: E402
from dlwpt.statistics import holm, mcnemar_exact, trend_slope, two_source_difference  # noqa: E402

N_IMAGES = 2000
DIFFICULTY = (2.0, 2.0)  # mean and sd of alpha_i, logits
LEVEL = 0.05
CRITERION = 0.06
SEED_COUNTS = (3, 5, 10)
CHUNK = 100  # families drawn at once (k x n x 2,000 x CHUNK float32 values, <= 32 MB)
PROCEDURES = ("two-source", "seed-only t", "pooled block t", "crossed ANOVA", "pooled McNemar")


@dataclass(frozen=True)
class Scenario:
    key: str
    text: str
    seed_points: tuple[float, ...]  # per model: sd of its expected accuracy over seeds, points
    image_sd: float = 0.0  # sd of the persistent model-by-image effect v, logits
    gaps: tuple[float, ...] = ()  # per model: expected accuracy above the last model, points

    @property
    def null(self) -> bool:
        return not any(self.gaps)


def scenarios(unstable: float = 1.5, models: int = 3) -> tuple[Scenario, ...]:
    """a-d and d'; `unstable`: the seed effect of (b)'s unstable model, points; `models`: the
    models of a family in a-c (d has four)."""
    stable = (0.3,) * models
    return (
        Scenario("a", "no difference", stable),
        Scenario("b", "unequal seed spreads", (unstable,) + stable[1:]),
        Scenario("c", "persistent per-image effects", stable, image_sd=1.0),
        Scenario("d", "known gaps", (0.3,) * 4, gaps=(1.5, 1.0, 0.5, 0.0)),
        Scenario("d'", "known gaps, c's per-image effects", (0.3,) * 4, image_sd=1.0,
                 gaps=(1.5, 1.0, 0.5, 0.0)),
    )

NODES, WEIGHTS = hermegauss(80)
WEIGHTS = WEIGHTS / WEIGHTS.sum()


def expected(logit_mean: float, logit_sd: float) -> tuple[float, float]:
    """(E p, E p(1-p)) for logit ~ N(mean, sd): a model's population accuracy and the slope
    of that accuracy in a shift of the logit (Gauss-Hermite quadrature)."""
    p = special.expit(logit_mean + logit_sd * NODES)
    return float(WEIGHTS @ p), float(WEIGHTS @ (p * (1 - p)))


def parameters(sc: Scenario, difficulty: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """(beta, sd of u) per model: beta puts the expected accuracy `gaps` points above the last
    model's (beta 0); sd of u gives the seed effect `seed_points` at the model's accuracy."""
    k = len(sc.seed_points)
    gaps = sc.gaps or (0.0,) * k
    centre, spread = difficulty[0], math.hypot(difficulty[1], sc.image_sd)
    base = expected(centre, spread)[0]
    beta = np.array([optimize.brentq(
        lambda b, g=g: expected(centre + b, spread)[0] - base - g / 100, -3, 3)
        if g else 0.0 for g in gaps])
    seed_sd = np.array([points / 100 / expected(centre + b, spread)[1]
                        for points, b in zip(sc.seed_points, beta, strict=True)])
    return beta, seed_sd


def draw(rng: np.random.Generator, difficulty: tuple[float, float], beta: np.ndarray,
         seed_sd: np.ndarray, image_sd: float, families: int, n: int) -> np.ndarray:
    """families x models x seeds x images booleans: correct or not."""
    k = len(beta)
    logit = (rng.normal(*difficulty, (families, 1, 1, N_IMAGES))
             + beta[:, None, None]
             + rng.normal(0.0, 1.0, (families, k, n, 1)) * seed_sd[:, None, None])
    if image_sd:
        logit = logit + rng.normal(0.0, image_sd, (families, k, 1, N_IMAGES))
    p = special.expit(logit.astype(np.float32))
    return rng.random(p.shape, dtype=np.float32) < p


def t_p(mean: np.ndarray, se: np.ndarray, df: np.ndarray) -> np.ndarray:
    """Two-sided t p-values; NaN (no test) where se is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(se > 0, 2 * stats.t.sf(np.abs(mean) / se, df), np.nan)


def pair_p_values(correct: np.ndarray, a: int, b: int, block_mse: np.ndarray,
                  block_df: int) -> np.ndarray:
    """families x procedures p-values of the pair (a, b); see the module docstring."""
    families, _, n, big_n = correct.shape
    ca, cb = correct[:, a], correct[:, b]
    only_a = (ca & ~cb).sum(axis=(1, 2))
    only_b = (~ca & cb).sum(axis=(1, 2))
    seed_means = (ca.sum(axis=2, dtype=np.int32) - cb.sum(axis=2, dtype=np.int32)) / big_n
    image_means = (ca.sum(axis=1, dtype=np.int32) - cb.sum(axis=1, dtype=np.int32)) / n
    mean = seed_means.mean(axis=1)
    out = np.full((families, len(PROCEDURES)), np.nan)
    # (1) the pipeline's own function, family by family: what is calibrated is the code
    diffs = ca.astype(np.int8) - cb.astype(np.int8)
    out[:, 0] = [two_source_difference(diffs[f]).p for f in range(families)]
    # (2) seed-only paired t
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # identical differences: no spread
        out[:, 1] = stats.ttest_rel(ca.mean(axis=2), cb.mean(axis=2), axis=1).pvalue
    # (3) old randomized-block t: the residual mean square pooled over all k models
    out[:, 2] = t_p(mean, np.sqrt(2 * block_mse / n), np.full(families, block_df))
    # (4) crossed ANOVA: (MS_seed + MS_image - MS_resid) / (nN), floored at the larger of
    # MS_seed and MS_image, Satterthwaite df (all three terms)
    ms_seed = big_n * seed_means.var(axis=1, ddof=1)
    ms_image = n * image_means.var(axis=1, ddof=1)
    ss_total = (only_a + only_b) - n * big_n * mean ** 2  # sum of d^2 is the discordant count
    ms_resid = (ss_total - (n - 1) * ms_seed - (big_n - 1) * ms_image) / ((n - 1) * (big_n - 1))
    combined = ms_seed + ms_image - ms_resid
    with np.errstate(divide="ignore", invalid="ignore"):
        satterthwaite = combined ** 2 / (ms_seed ** 2 / (n - 1) + ms_image ** 2 / (big_n - 1)
                                         + ms_resid ** 2 / ((n - 1) * (big_n - 1)))
    unbiased = combined >= np.maximum(ms_seed, ms_image)
    variance = np.where(unbiased, combined, np.maximum(ms_seed, ms_image))
    df = np.where(unbiased, satterthwaite, np.where(ms_seed >= ms_image, n - 1, big_n - 1))
    out[:, 3] = t_p(mean, np.sqrt(np.maximum(variance, 0) / (n * big_n)), df)
    # (5) exact McNemar pooled over seeds; p = 1/2 is symmetric: 2 P(X <= min), at most 1
    total = only_a + only_b
    out[:, 4] = np.where(total > 0, np.minimum(
        1.0, 2 * stats.binom.cdf(np.minimum(only_a, only_b), total, 0.5)), 1.0)
    return out


def holm_rejects(p: np.ndarray) -> np.ndarray:
    """families x pairs: rejected by Holm at LEVEL (adjusted p < LEVEL). Vectorized by hand:
    statsmodels' multipletests (dlwpt.statistics.holm) runs gc.collect() on every call, 17 ms
    each here, and this needs it for every family; checked against it in `self_check`."""
    p = np.nan_to_num(p, nan=1.0)
    m = p.shape[1]
    order = np.argsort(p, axis=1)
    below = np.take_along_axis(p, order, axis=1) < LEVEL / (m - np.arange(m))
    rejects = np.empty_like(below)
    np.put_along_axis(rejects, order, np.cumprod(below, axis=1).astype(bool), axis=1)
    return rejects


def self_check(correct: np.ndarray, p: np.ndarray, pairs: list[tuple[int, int]]) -> None:
    """The vectorized McNemar and Holm agree with dlwpt.statistics on the first families."""
    for f in range(min(5, len(correct))):
        for j, (a, b) in enumerate(pairs):
            pooled = mcnemar_exact(correct[f, a].ravel(), correct[f, b].ravel())["p_value"]
            assert math.isclose(p[f, j, 4], pooled, rel_tol=1e-9, abs_tol=1e-12), (p[f, j, 4],
                                                                                    pooled)
        adjusted = np.array(holm(np.nan_to_num(p[f, :, 0], nan=1.0).tolist()))
        assert ((adjusted < LEVEL) == holm_rejects(p[f:f + 1, :, 0])[0]).all()


@dataclass
class Tally:
    pairs: list[tuple[int, int]]
    gaps: np.ndarray  # per pair, stated points
    rejections: np.ndarray  # pairs x procedures
    holm: np.ndarray  # pairs: rejected by Holm over the family, procedure (1)
    family_wise: int  # families with any Holm rejection, procedure (1)
    observed_gap: np.ndarray  # per pair: sum over families of the observed difference, points
    seed_var: np.ndarray  # per model: sum over families of the variance of accuracy over seeds
    accuracy: float  # sum over families of the mean accuracy
    families: int = 0


def simulate(sc: Scenario, stream: int, n: int, families: int, seed: int,
             difficulty: tuple[float, float] = DIFFICULTY) -> Tally:
    """`families` families of scenario `sc` with `n` seeds; random stream (seed, stream, n)."""
    beta, seed_sd = parameters(sc, difficulty)
    k = len(beta)
    pairs = [(a, b) for a in range(k) for b in range(a + 1, k)]
    gaps = sc.gaps or (0.0,) * k
    tally = Tally(pairs, np.array([gaps[a] - gaps[b] for a, b in pairs]),
                  np.zeros((len(pairs), len(PROCEDURES)), int), np.zeros(len(pairs), int), 0,
                  np.zeros(len(pairs)), np.zeros(k), 0.0)
    rng = np.random.default_rng([seed, stream, n])
    while tally.families < families:
        size = min(CHUNK, families - tally.families)
        correct = draw(rng, difficulty, beta, seed_sd, sc.image_sd, size, n)
        accuracy = correct.sum(axis=3, dtype=np.int32) / N_IMAGES  # families x models x seeds
        residual = (accuracy - accuracy.mean(axis=2, keepdims=True)
                    - accuracy.mean(axis=1, keepdims=True)
                    + accuracy.mean(axis=(1, 2), keepdims=True))
        block_df = (k - 1) * (n - 1)
        block_mse = (np.round(residual, 12) ** 2).sum(axis=(1, 2)) / block_df
        p = np.stack([pair_p_values(correct, a, b, block_mse, block_df) for a, b in pairs],
                     axis=1)  # families x pairs x procedures
        if tally.families == 0:
            self_check(correct, p, pairs)
        tally.rejections += (p < LEVEL).sum(axis=0)
        rejects = holm_rejects(p[:, :, 0])
        tally.holm += rejects.sum(axis=0)
        tally.family_wise += int(rejects.any(axis=1).sum())
        means = accuracy.mean(axis=2)
        tally.observed_gap += 100 * np.array([(means[:, a] - means[:, b]).sum()
                                              for a, b in pairs])
        tally.seed_var += accuracy.var(axis=2, ddof=1).sum(axis=0)
        tally.accuracy += float(means.mean(axis=1).sum())
        tally.families += size
    return tally


def percent(count: float, total: int) -> str:
    return f"{100 * count / total:.1f}%"


def tables(results: dict[tuple[str, int], Tally], families: int,
           cases: tuple[Scenario, ...]) -> tuple[str, list[str]]:
    """The markdown report and the list of failures of the <= 6% criterion."""
    procedures = " | ".join(f"({i}) {name}" for i, name in enumerate(PROCEDURES, 1))
    lines = ["Scenarios (measured over all seed counts; points are accuracy x 100):", "",
             "| scenario | models | seed effect sd | measured sd of a run over seeds "
             "| per-image effect sd | mean accuracy |",
             "|---|---|---|---|---|---|"]
    for sc in cases:
        tallies = [results[(sc.key, n)] for n in SEED_COUNTS]
        seeds = sum(t.families for t in tallies)
        sd = np.sqrt(sum(t.seed_var for t in tallies) / seeds) * 100
        lines.append(f"| {sc.key}: {sc.text} | {len(sc.seed_points)} | "
                     + " / ".join(f"{x:.1f}" for x in sc.seed_points) + " | "
                     + " / ".join(f"{x:.2f}" for x in sd)
                     + f" | {sc.image_sd:g} logit | "
                     f"{sum(t.accuracy for t in tallies) / seeds:.3f} |")
    lines += ["", f"False positives at {LEVEL} (no real difference; per comparison, and for (1)",
              "the family-wise error of Holm over the family's pairs):", "",
              f"| scenario | seeds | families | comparisons | {procedures} "
              "| (1) Holm, family-wise |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    failures = []
    for sc in (s for s in cases if s.null):
        for n in SEED_COUNTS:
            t = results[(sc.key, n)]
            subsets = [("", list(range(len(t.pairs))))]
            if len(set(sc.seed_points)) > 1:
                unstable = int(np.argmax(sc.seed_points))
                subsets.append((" (the unstable model's pairs)",
                                [j for j, pair in enumerate(t.pairs) if unstable in pair]))
            for label, rows in subsets:
                total = t.families * len(rows)
                rates = t.rejections[rows].sum(axis=0)
                fwe = percent(t.family_wise, t.families) if not label else "-"
                lines.append(f"| {sc.key}{label} | {n} | {t.families} | {total} | "
                             + " | ".join(percent(r, total) for r in rates) + f" | {fwe} |")
                if rates[0] / total > CRITERION:
                    failures.append(f"{sc.key}{label}, {n} seeds: {percent(rates[0], total)}")
    lines += ["", f"Power at {LEVEL} (per comparison; for (1) also after Holm over the family's",
              "6 pairs); the realized gap is the mean observed difference:", "",
              f"| scenario | seeds | families | gap | realized gap | comparisons | {procedures} "
              "| (1) after Holm |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for sc in (s for s in cases if not s.null):
        for n in SEED_COUNTS:
            t = results[(sc.key, n)]
            for gap in sorted(set(t.gaps)):
                rows = [j for j, g in enumerate(t.gaps) if g == gap]
                total = t.families * len(rows)
                lines.append(f"| {sc.key} | {n} | {t.families} | {gap:.1f} | "
                             f"{t.observed_gap[rows].sum() / total:.2f} | {total} | "
                             + " | ".join(percent(r, total)
                                          for r in t.rejections[rows].sum(axis=0))
                             + f" | {percent(t.holm[rows].sum(), total)} |")
    lines.append("")
    if failures:
        lines.append(f"Criterion (1) <= {CRITERION:.0%} under a-c at 3, 5 and 10 seeds: FAILS: "
                     + "; ".join(failures) + ".")
    else:
        lines.append(f"Criterion (1) <= {CRITERION:.0%} under a-c at 3, 5 and 10 seeds: holds.")
    d3 = results[("d", 3)]
    rows = [j for j, g in enumerate(d3.gaps) if g == 1.5]
    lines.append("Power of (1) for a 1.5-point gap with 3 seeds (d): "
                 f"{percent(d3.rejections[rows, 0].sum(), d3.families * len(rows))} per "
                 f"comparison,\n{percent(d3.holm[rows].sum(), d3.families * len(rows))} after "
                 f"Holm over 6 pairs ({families} families).")
    return "\n".join(lines), failures


# --- the sweep trend and the gap claims, under no real effect -----------------------------
# A sweep: POINTS settings x n seeds, each run scored on the same images, with no trend;
# logit p[q, s, i] = alpha_i + u[q, s] + v[q, i] (v: a point-by-image effect that persists
# over seeds). A gap claim: two models with the same expected train - val gap, the train
# accuracy a figure with seed noise of TRAIN_SD points. Each model or point's seed effect and
# per-image sd as in a-c; "unstable": the last point, or model a, at the `unstable` points.
POINTS = 5
TRAIN_SD = 0.5  # sd of a run's training accuracy over seeds, points
NULL_CASES = (("no per-image effect", 0.0, False), ("one unstable", 0.0, True),
              ("persistent per-image effects", 1.0, False),
              ("both", 1.0, True))


def accuracies(rng, difficulty, seed_sd, image_sd, families, n):
    """families x units x seeds accuracies, and the per-image correctness."""
    beta = np.zeros(len(seed_sd))
    correct = draw(rng, difficulty, beta, seed_sd, image_sd, families, n)
    return correct.sum(axis=3, dtype=np.int32) / N_IMAGES, correct


def run_level_slope_p(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The former trend test: OLS over every run with one intercept per seed (families x
    points x seeds), closed form; df = runs - 1 - seeds."""
    _, points, n = y.shape
    xc = (x - x.mean())[None, :, None]
    yc = y - y.mean(axis=1, keepdims=True)
    sxx = n * float((xc ** 2).sum())
    slope = (xc * yc).sum(axis=(1, 2)) / sxx
    df = points * n - 1 - n
    rss = ((yc - slope[:, None, None] * xc) ** 2).sum(axis=(1, 2))
    return t_p(slope, np.sqrt(rss / df / sxx), np.full(len(slope), df))


def null_rates(unstable: float, families: int, seed: int, difficulty) -> list[str]:
    """Markdown rows: false positives of the trend tests (sweeps) and the gap tests (claims)."""
    x = np.arange(POINTS, dtype=float)
    rows = []
    for stream, (text, image_sd, shaky) in enumerate(NULL_CASES):
        for n in SEED_COUNTS:
            rng = np.random.default_rng([seed, 100 + stream, n])
            spread = math.hypot(difficulty[1], image_sd)
            slope = expected(difficulty[0], spread)[1]
            sd = np.full(POINTS, 0.3 / 100 / slope)
            if shaky:
                sd[-1] = unstable / 100 / slope
            counts = np.zeros(6)
            for start in range(0, families, CHUNK):
                size = min(CHUNK, families - start)
                val, _ = accuracies(rng, difficulty, sd, image_sd, size, n)
                train = 0.95 + rng.normal(0, TRAIN_SD / 100, val.shape)
                seeds = np.tile(np.arange(n), POINTS)
                for k, y in enumerate((val, train - val)):
                    counts[k] += (run_level_slope_p(y, x) < LEVEL).sum()
                    counts[2 + k] += sum(trend_slope(np.repeat(x, n), f.ravel(), seeds).p < LEVEL
                                         for f in y)
                val, correct = accuracies(rng, difficulty, sd[[-1, 0]], image_sd, size, n)
                gaps = 0.95 + rng.normal(0, TRAIN_SD / 100, val.shape) - val
                for f in range(size):
                    runs = Runs(["a", "b"], {}, {}, set(), {(m, s): correct[f, j, s]
                                                           for j, m in enumerate("ab")
                                                           for s in range(n)})
                    diff = gap_difference(runs, "a", "b", range(n), gaps[f, 0] - gaps[f, 1])
                    counts[4] += diff.p < LEVEL
                    counts[5] += stats.ttest_rel(gaps[f, 0], gaps[f, 1]).pvalue < LEVEL
            rows.append(f"| {text} | {n} | {families} | "
                        + " | ".join(percent(c, families) for c in counts[[2, 0, 3, 1, 4, 5]])
                        + " |")
            print(f"null {text}, {n} seeds", file=sys.stderr)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", type=int, default=2000,
                        help="simulated families per scenario and seed count (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--difficulty", type=float, nargs=2, default=DIFFICULTY,
                        metavar=("MEAN", "SD"),
                        help="normal distribution of the image difficulty alpha_i, logits "
                        "(default 2 2)")
    parser.add_argument("--unstable", type=float, default=1.5, metavar="POINTS",
                        help="seed effect of scenario b's unstable model (default 1.5)")
    parser.add_argument("--models", type=int, default=3, metavar="K",
                        help="models per family in scenarios a-c (default 3)")
    parser.add_argument("--part", choices=("all", "pairs", "null"), default="all",
                        help="the pairwise tests (pairs), the trend and gap tests (null), or both")
    parser.add_argument("--out", type=Path, help="also write the markdown report here")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    difficulty = tuple(args.difficulty)
    report, failures = "", []
    if args.part != "null":
        results = {}
        cases = scenarios(args.unstable, args.models)
        for stream, sc in enumerate(cases):
            for n in SEED_COUNTS:
                results[(sc.key, n)] = simulate(sc, stream, n, args.families, args.seed,
                                                difficulty)
                print(f"{sc.key} {n} seeds: {time.perf_counter() - start:.0f} s",
                      file=sys.stderr)
        report, failures = tables(results, args.families, cases)
    if args.part != "pairs":
        rows = null_rates(args.unstable, args.families, args.seed, difficulty)
        report += (
            f"\n\nNo real effect: false positives at {LEVEL} of the sweep trend ({POINTS} points, "
            f"the last one the unstable one) and of a gap claim (model a the unstable one); the "
            "tests: the point-means fit and the two-source gap test; the former ones: the fit over "
            "every run with seed intercepts and the seed-only paired t:\n\n"
            "| case | seeds | simulations | trend val | former | trend gap | former "
            "| gap claim | former |\n"
            "|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows))
    words = " ".join(f"{x:g}" for x in args.difficulty)
    report += (f"\n\n`.venv/bin/python bench/calibrate_comparisons.py --families "
               f"{args.families} --seed {args.seed} --difficulty {words} --unstable "
               f"{args.unstable:g} --models {args.models} --part {args.part}`:\n"
               f"{date.today()}, {cpu_model()} ({os.cpu_count()} cores), "
               f"{time.perf_counter() - start:.0f} s.\n")
    print(report)
    if args.out:
        args.out.write_text(report)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
