"""Sweeps, the report side: the trend statistics against OLS worked out by hand, the sweep
families of comparisons.csv, metrics.csv's sweep rows, the page's sweeps section (figure, trend
verdicts, best point, points table), the claims' citations, the zoo's tables left as they were,
and the page size with the default zoo and the four shipped sweeps.

Synthetic runs (tests/helpers/report_inputs.write_run) with chosen accuracies: every number the
page shows is computed here from those accuracies, by hand (numpy, scipy), never by calling
dlwpt.statistics or dlwpt.report.
"""

from __future__ import annotations

import html
import itertools
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from dlwpt.statistics import trend_scale, trend_slope
from tests.helpers.report_inputs import N_VAL, report_inputs, write_run, zoo_runs
from tests.test_report import (
    MAX_PAGE_BYTES,
    REPO,
    TIE_WORDS,
    Page,
    build,
    by_hand,
    correct_of,
    differences,
    holm_by_hand,
    p_words,
    pipeline_config,
    pipeline_inputs,
    read_comparisons,
    row_words,
    seed_words,
    signed_points,
    visible_words_of_no_difference,
)

SEEDS = (0, 1, 2)
# Per sweep: settings in config order with their values, the base entry, its arch, the base's
# own values (the book's point) and per point (in grid order, first setting outer) the
# (train_acc, val_acc) of seeds 0, 1, 2. Validation accuracies are multiples of 1/2,000.
SWEEPS: dict[str, dict[str, Any]] = {
    "width": {
        "base": "width", "arch": "NetWidth", "values": {"n_chans1": [8, 16, 32, 64, 128]},
        "book": {"n_chans1": 32},
        "runs": [[(0.880, 0.840), (0.884, 0.843), (0.877, 0.838)],
                 [(0.910, 0.852), (0.906, 0.850), (0.913, 0.855)],
                 [(0.935, 0.861), (0.940, 0.864), (0.932, 0.859)],
                 [(0.955, 0.866), (0.952, 0.863), (0.958, 0.868)],
                 [(0.975, 0.869), (0.978, 0.871), (0.972, 0.866)]]},
    "l2": {
        "base": "l2", "arch": "Net", "values": {"l2": [0.0, 1e-4, 1e-3, 1e-2, 1e-1]},
        "book": {"l2": 1e-3},
        "runs": [[(0.960, 0.850), (0.962, 0.852), (0.957, 0.848)],
                 [(0.955, 0.853), (0.950, 0.849), (0.958, 0.851)],
                 [(0.930, 0.851), (0.934, 0.854), (0.928, 0.850)],
                 [(0.900, 0.849), (0.897, 0.851), (0.903, 0.853)],
                 [(0.860, 0.852), (0.864, 0.848), (0.858, 0.850)]]},
    "depth": {
        "base": "res_deep", "arch": "NetResDeep",
        "values": {"n_blocks": [1, 5, 20, 100], "shared_blocks": [True, False]},
        "book": {"n_blocks": 100, "shared_blocks": True},
        "runs": [[(0.900, 0.860), (0.904, 0.862), (0.897, 0.857)],   # 1, shared
                 [(0.902, 0.861), (0.898, 0.858), (0.905, 0.863)],   # 1, independent
                 [(0.855, 0.825), (0.860, 0.829), (0.852, 0.821)],   # 5, shared
                 [(0.930, 0.865), (0.926, 0.862), (0.934, 0.867)],   # 5, independent
                 [(0.815, 0.795), (0.821, 0.801), (0.811, 0.790)],   # 20, shared
                 [(0.950, 0.868), (0.955, 0.870), (0.947, 0.866)],   # 20, independent
                 [(0.770, 0.760), (0.782, 0.766), (0.550, 0.520)],   # 100, shared (seed 2 diverges)
                 [(0.970, 0.870), (0.966, 0.869), (0.974, 0.872)]]},  # 100, independent
}
DIVERGED = {("depth", 6, 2): 2}  # (sweep, point index, seed): the epoch it diverged at
CURVE_WORDS = {"train_acc": "training accuracy", "val_acc": "validation accuracy",
               "gap": "the train−validation gap"}


def spec(name: str, values: dict[str, list], base: str = "b", arch: str = "Net",
         book: dict | None = None) -> dict[str, Any]:
    """A sweep as the workflow hands it to build_report: points named as Paramspace names them,
    the grid in row-major order (first setting outer)."""
    settings = list(values)
    points = [{"run": f"sweeps/{name}/" + "/".join(f"{s}~{v}" for s, v in
                                                   zip(settings, combo, strict=True)),
               "values": dict(zip(settings, combo, strict=True))}
              for combo in itertools.product(*(values[s] for s in settings))]
    return {"base": base, "arch": arch, "settings": settings, "values": values,
            "book": book or {}, "points": points}


def sweep_specs(names=tuple(SWEEPS)) -> dict[str, dict[str, Any]]:
    return {n: spec(n, SWEEPS[n]["values"], SWEEPS[n]["base"], SWEEPS[n]["arch"],
                    SWEEPS[n]["book"]) for n in names}


def write_sweep_runs(folder: Path, specs: dict[str, dict[str, Any]],
                     seeds: tuple[int, ...] = SEEDS,
                     table: dict[str, dict[str, Any]] = SWEEPS) -> list[dict[str, Any]]:
    runs = []
    for name, s in specs.items():
        for i, point in enumerate(s["points"]):
            for seed in seeds:
                train, val = table[name]["runs"][i][seed]
                runs.append(write_run(folder / "sweeps", point["run"], seed, arch=s["arch"],
                                      train_acc=train, val_acc=val, n_params=1000 + i,
                                      seconds_per_epoch=1.0,
                                      diverged_epoch=DIVERGED.get((name, i, seed))))
    return runs


# --- expected numbers, by hand ------------------------------------------------------------------

def ols_by_hand(x: np.ndarray, y: np.ndarray, seeds: np.ndarray) -> dict[str, float]:
    """The slope of the points' values on x: each point's value is its coefficient in a
    least-squares fit of the runs on one dummy per point plus one per seed (the point means,
    when every point has the same seeds); then the simple regression by hand: Sxy / Sxx,
    residual df = points - 2, the HC3 se = sqrt(sum xd^2 e^2 / (1 - h)^2) / Sxx (residual e,
    leverage h = 1 / points + xd^2 / Sxx), the t interval and p."""
    x, y, seeds = (np.asarray(v, dtype=float) for v in (x, y, seeds))
    points = np.unique(x)
    dummies = np.column_stack([*(x == v for v in points),
                               *(seeds == s for s in np.unique(seeds)[1:])]).astype(float)
    means = np.linalg.lstsq(dummies, y, rcond=None)[0][:len(points)]
    xd, yd = points - points.mean(), means - means.mean()
    sxx = float((xd ** 2).sum())
    slope = float((xd * yd).sum() / sxx)
    df = len(points) - 2
    leverage = 1 / len(points) + xd ** 2 / sxx
    se = math.sqrt(float((xd ** 2 * (yd - slope * xd) ** 2 / (1 - leverage) ** 2).sum())) / sxx
    half = stats.t.ppf(0.975, df) * se
    return {"slope": slope, "se": se, "df": df, "low": slope - half, "high": slope + half,
            "p": float(2 * stats.t.sf(abs(slope / se), df)), "n": len(x),
            "n_x": len(points)}


def expected_trends(name: str, s: dict[str, Any], seeds: tuple[int, ...] = SEEDS,
                    table: dict[str, dict[str, Any]] = SWEEPS
                    ) -> list[tuple[str, str, str]]:
    """(code, words, test words) of every trend line, curve by curve, series by series."""
    x_name = s["settings"][0]
    series_name = s["settings"][1] if len(s["settings"]) > 1 else None
    xs = s["values"][x_name]
    positive = [v for v in xs if v > 0]
    span = max(positive) / min(positive)
    log = all(v >= 0 for v in xs) and xs.count(0) <= 1 and span >= 10
    out = []
    for curve in ("train_acc", "val_acc", "gap"):
        for value in (s["values"][series_name] if series_name else [None]):
            x, y, sd = [], [], []
            for i, point in enumerate(s["points"]):
                if series_name and point["values"][series_name] != value:
                    continue
                v = point["values"][x_name]
                for seed in seeds:
                    if (name, i, seed) in DIVERGED or (log and v == 0):
                        continue
                    train, val = table[name]["runs"][i][seed]
                    x.append(math.log2(v) if log and span < 1000 else math.log10(v) if log
                             else v / 10 ** math.floor(math.log10(max(xs) - min(xs))))
                    y.append({"train_acc": train, "val_acc": val, "gap": train - val}[curve])
                    sd.append(seed)
            fit = ols_by_hand(np.array(x), np.array(y), np.array(sd))
            per = ("per doubling" if span < 1000 else "per tenfold") if log else (
                f"per {10 ** math.floor(math.log10(max(xs) - min(xs))):g}")
            series = f" ({series_name} = {text(value)})" if series_name else ""
            numbers = (f"{signed_points(fit['slope'])} points {per} of {x_name} (95% interval "
                       f"{signed_points(fit['low'])} to {signed_points(fit['high'])})")
            code = ("rises" if fit["slope"] > 0 else "falls") if fit["p"] < 0.05 else "no_trend"
            words = (f"{CURVE_WORDS[curve]} shows no trend with {x_name}{series} "
                     f"distinguishable from flat: {numbers}" if code == "no_trend" else
                     f"{CURVE_WORDS[curve]} {code} with {x_name}{series}: {numbers}")
            test = (f"slope's p {p_words(fit['p'])}, {fit['df']} degrees of freedom; "
                    f"{fit['n']} runs at {fit['n_x']} values of {x_name}")
            out.append((code, words, test))
    return out


def trend_lines(page: str, name: str) -> list[tuple[str, str, str]]:
    """(data-verdict, words, test words) of each trend line of a sweep's block."""
    block = sweep_block(page, name)
    ul = block[block.index(f'id="sweep-{name}-trends"'):block.index("</ul>")]
    return [(code, html.unescape(words), html.unescape(test)) for code, words, test in
            re.findall(r'<li data-verdict="([a-z_]+)" data-curve="[a-z_]+">(.*?) '
                       r'<span class="note">\((.*?)\)</span></li>', ul)]


def sweep_block(page: str, name: str) -> str:
    start = page.index(f'<div class="sweep" id="sweep-{name}">')
    end = page.find('<div class="sweep"', start + 1)
    return page[start:end if end > 0 else page.index("</section>", start)]


def expected_family(name: str, s: dict[str, Any], seeds: tuple[int, ...] = SEEDS,
                    table: dict[str, dict[str, Any]] = SWEEPS) -> tuple[str, list[dict]]:
    """The best point (highest mean validation accuracy over the seeds, first in grid order on
    a tie; never a diverged one) and its rows against every other point, Holm by hand."""
    runs = [p["run"] for p in s["points"]]
    diverged = {s["points"][i]["run"] for (n, i, _) in DIVERGED if n == name}
    correct = {(p["run"], seed): correct_of(round(table[name]["runs"][i][seed][1] * N_VAL))
               for i, p in enumerate(s["points"]) for seed in seeds}
    mean = {r: np.mean([correct[(r, seed)].mean() for seed in seeds]) for r in runs}
    best = max((r for r in runs if r not in diverged), key=lambda r: (mean[r], -runs.index(r)))
    rows = []
    for other in runs:
        if other == best:
            continue
        if other in diverged:
            rows.append({"model_b": other, "verdict": "not_tested_diverged"})
            continue
        d = by_hand(differences(correct, best, other, list(seeds)))
        rows.append({"model_b": other, **d})
    tested = [r for r in rows if "p" in r]
    for r, p in zip(tested, holm_by_hand([r["p"] for r in tested]), strict=True):
        r["p_adjusted"] = p
        r["verdict"] = ("a_better" if r["diff"] > 0 else "b_better") if p < 0.05 \
            else "not_distinguishable"
    return best, rows


def text(value: Any) -> str:
    """A setting's value as the page writes it: floats in %g (0.0001, 0), others as str."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def label(s: dict[str, Any], run: str) -> str:
    (point,) = [p for p in s["points"] if p["run"] == run]
    return ", ".join(f"{k} = {text(v)}" for k, v in point["values"].items())


# --- the statistics --------------------------------------------------------------------------

@pytest.mark.parametrize(("values", "kind", "step", "zero"), [
    ([8, 16, 32, 64, 128], "log2", 1.0, False),           # 16x: per doubling
    ([1, 2, 5, 10, 20, 50, 100], "log2", 1.0, False),     # 100x
    ([0, 1e-4, 1e-3, 1e-2, 1e-1], "log10", 1.0, True),    # 1000x: per tenfold, 0 left out
    ([1, 10, 100, 999], "log2", 1.0, False),              # just under 1000x
    ([0.0, 0.1, 0.2, 0.4, 0.6], "linear", 0.1, False),    # 0 and 6x: linear, per 0.1
    ([1, 2, 3, 4, 5], "linear", 1.0, False),              # 5x
    ([1, 5, 9], "linear", 1.0, False),                    # 9x
    ([0, 0, 1, 100], "linear", 100.0, False),             # two zeros: linear, per 100
    ([-1, 1, 100], "linear", 100.0, False),               # a negative value: linear
    ([True, False], "linear", 1.0, False),
])
def test_trend_scale_follows_the_rule(values, kind, step, zero):
    scale = trend_scale(values)
    assert (scale.kind, scale.step, scale.zero_left_out) == (kind, step, zero)


def test_trend_scale_transforms_to_doublings_tenfolds_and_steps():
    assert trend_scale([8, 128]).transform([8, 16, 128]).tolist() == [3.0, 4.0, 7.0]
    log10 = trend_scale([0, 1e-4, 1e-1]).transform([0, 1e-4, 1e-1])
    assert math.isnan(log10[0]) and log10[1:] == pytest.approx([-4.0, -1.0])
    assert trend_scale([0, 0.6]).transform([0, 0.2, 0.6]) == pytest.approx([0, 2, 6])


def test_trend_slope_with_one_seed_is_worked_out_by_hand():
    """x = log2(8 .. 128) = 3 .. 7, y = 0.80, 0.84, 0.85, 0.89, 0.90: Sxx = 10, Sxy = 0.25,
    slope 0.025 (2.5 points per doubling); fitted 0.806 + 0.025 (x - 3), residuals -0.006,
    +0.009, -0.006, +0.009, -0.006; leverages 0.6, 0.3, 0.2, 0.3, 0.6 (1/5 + (x - 5)^2 / 10);
    HC3 se^2 = (2 x 2^2 x 0.006^2 / 0.4^2 + 2 x 1^2 x 0.009^2 / 0.7^2) / 10^2 = 2.1306e-5
    (the homoscedastic se would be 0.003); the interval 0.025 +- 3.1824 se, 3 df."""
    fit = trend_slope([3, 4, 5, 6, 7], [0.80, 0.84, 0.85, 0.89, 0.90], [0] * 5)
    se = math.sqrt((2 * 4 * 0.006 ** 2 / 0.4 ** 2 + 2 * 0.009 ** 2 / 0.7 ** 2) / 100)
    assert fit.tested and (fit.n, fit.n_x, fit.df) == (5, 5, 3)
    assert fit.slope == pytest.approx(0.025, abs=1e-12)
    assert fit.se == pytest.approx(se, abs=1e-12) and se == pytest.approx(0.0046159, abs=1e-7)
    assert (fit.low, fit.high) == pytest.approx((0.025 - 3.182446305 * se,
                                                 0.025 + 3.182446305 * se), abs=1e-9)
    assert fit.p == pytest.approx(2 * stats.t.sf(0.025 / se, 3), rel=1e-9)


def test_trend_slope_fits_the_point_means():
    """Three seeds x four settings, each seed shifted: the points are the observations (their
    runs share the validation images), so the slope is that of the four point means, its df
    points - 2; the seeds' shifts move nothing."""
    x = np.tile([0.0, 1.0, 2.0, 3.0], 3)
    seeds = np.repeat([0, 1, 2], 4)
    noise = np.array([0.002, -0.001, 0.0, -0.001, -0.002, 0.003, -0.001, 0.0,
                      0.001, -0.002, 0.001, 0.0])
    y = 0.8 + 0.01 * x + np.array([0.0, 0.05, -0.03])[seeds] + noise
    fit = trend_slope(x, y, seeds)
    means = y.reshape(3, 4).mean(axis=0)
    plain = trend_slope([0, 1, 2, 3], means, [0] * 4)
    assert (fit.df, fit.n, fit.n_x) == (2, 12, 4)
    for key in ("slope", "se", "df", "low", "high", "p"):
        assert getattr(fit, key) == pytest.approx(getattr(plain, key), rel=1e-9), key
    assert fit.slope == pytest.approx(np.polyfit([0, 1, 2, 3], means, 1)[0], rel=1e-9)


def test_trend_slope_on_random_unbalanced_runs_equals_the_fit_by_hand():
    rng = np.random.default_rng(0)
    for _ in range(20):
        n_seeds = int(rng.integers(1, 5))
        x = rng.choice([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], size=int(rng.integers(8, 20)))
        seeds = rng.integers(0, n_seeds, size=len(x))
        y = 0.8 + rng.normal(0.01, 0.01) * x + rng.normal(0, 0.01, len(x)) + seeds * 0.02
        if any(len(np.unique(x[seeds == s])) < 2 for s in np.unique(seeds)):
            continue  # a seed at one setting only: well defined, but not what this checks
        fit, expected = trend_slope(x, y, seeds), ols_by_hand(x, y, seeds)
        for key in ("slope", "se", "df", "low", "high", "p"):
            assert getattr(fit, key) == pytest.approx(expected[key], rel=1e-7), key


@pytest.mark.parametrize(("x", "y", "seeds", "reason"), [
    ([3, 4], [0.8, 0.9], [0, 0], "fewer than 3 points"),
    ([3, 3, 3], [0.8, 0.9, 0.85], [0, 1, 2], "fewer than two settings to fit"),
    ([0, 1, 0, 1], [0.8, 0.9, 0.85, 0.8], [0, 0, 1, 1], "fewer than 3 points"),
    ([0, 1, 2], [0.8, 0.9, 0.85], [0, 1, 2], "the setting does not vary within any seed"),
    ([0, 1, 2, 0, 1, 2], [0.8, 0.81, 0.82, 0.9, 0.91, 0.92], [0, 0, 0, 1, 1, 1],
     "no spread: every point lies on the fitted line"),
    ([0, 1, math.nan], [0.8, 0.9, 0.85], [0, 0, 0], "fewer than 3 points"),
])
def test_trend_slope_says_why_it_is_not_tested(x, y, seeds, reason):
    fit = trend_slope(x, y, seeds)
    assert not fit.tested and fit.reason == reason and math.isnan(fit.slope)


# --- the page ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> dict[str, Any]:
    """report_inputs' zoo (net, width, res_deep over seeds 0-2), no datasets."""
    return report_inputs(tmp_path_factory.mktemp("zoo"), datasets=[], seeds=SEEDS)


@pytest.fixture(scope="module")
def swept(zoo, tmp_path_factory) -> dict[str, Any]:
    """The zoo with the width, l2 and depth sweeps, and the same zoo without them."""
    folder = tmp_path_factory.mktemp("swept")
    specs = sweep_specs()
    runs = write_sweep_runs(folder, specs)
    page, metrics = build(folder, zoo, sweeps=specs, sweep_runs=runs)
    plain = tmp_path_factory.mktemp("plain")
    plain_page, plain_metrics = build(plain, zoo)
    return {"page": page, "metrics": metrics, "comparisons": read_comparisons(folder),
            "specs": specs, "folder": folder, "plain": plain_page,
            "plain_metrics": plain_metrics, "plain_comparisons": read_comparisons(plain),
            "plain_folder": plain}


def test_metrics_csv_lists_the_sweep_runs_after_the_zoos(swept):
    metrics, plain = swept["metrics"], swept["plain_metrics"]
    pd.testing.assert_frame_equal(metrics.iloc[:len(plain)], plain)
    rows = metrics.iloc[len(plain):]
    expected = [(p["run"], seed, s["arch"]) + SWEEPS[name]["runs"][i][seed]
                for name, s in swept["specs"].items() for i, p in enumerate(s["points"])
                for seed in SEEDS]
    assert list(zip(rows["model"], rows["seed"], rows["arch"], rows["train_acc"],
                    rows["val_acc"], strict=True)) == expected
    assert rows["diverged_epoch"].dropna().tolist() == [2]
    assert rows["book_val_acc"].isna().all()


def test_comparisons_csv_has_one_family_per_sweep_best_against_every_other_point(swept):
    comparisons = swept["comparisons"]
    plain = swept["plain_comparisons"]
    zoo = comparisons[~comparisons["family"].str.startswith("sweep:")].reset_index(drop=True)
    # (n_images is float here: the sweep's untested rows have none)
    pd.testing.assert_frame_equal(zoo, plain, check_dtype=False)
    assert comparisons["family"].unique().tolist()[-3:] == ["sweep:width", "sweep:l2",
                                                            "sweep:depth"]
    for name, s in swept["specs"].items():
        rows = comparisons[comparisons["family"] == f"sweep:{name}"].reset_index(drop=True)
        best, expected = expected_family(name, s)
        assert set(rows["model_a"]) == {best}
        assert rows["model_b"].tolist() == [r["model_b"] for r in expected]
        tested = [r for r in expected if "p" in r]
        assert (rows["family_size"].dropna() == len(tested)).all()
        assert set(rows["seeds"]) == {"0 1 2"}
        for row, want in zip(rows.itertuples(), expected, strict=True):
            assert row.verdict == want["verdict"], (name, row.model_b)
            if "p" in want:
                assert row.test == "two_source_t"
                assert (row.diff, row.diff_ci_low, row.diff_ci_high, row.p_value,
                        row.p_adjusted) == pytest.approx(
                    (want["diff"], want["low"], want["high"], want["p"], want["p_adjusted"]),
                    rel=1e-6)
    # the depth sweep's diverged point is never tested nor best
    depth = comparisons[comparisons["family"] == "sweep:depth"]
    diverged = "sweeps/depth/n_blocks~100/shared_blocks~True"
    assert depth.loc[depth["model_b"] == diverged, "verdict"].tolist() == [
        "not_tested_diverged"]


def test_each_sweep_block_has_its_figure_trend_verdicts_and_scale(swept):
    page = swept["page"]
    parsed = Page(page)
    assert [k for k in parsed.ids if k.startswith("sweep-") and k.count("-") == 1] == [
        "sweep-width", "sweep-l2", "sweep-depth"]
    for name, s in swept["specs"].items():
        block = sweep_block(page, name)
        assert len(re.findall(r'<img src="data:image/png;base64,', block)) == 1
        assert trend_lines(page, name) == expected_trends(name, s)
        # only the trend lines carry data-verdict in a sweep's block
        assert len(re.findall(r"data-verdict=", block)) == 3 * len(
            s["values"][s["settings"][1]] if len(s["settings"]) > 1 else [None])
    assert (swept["folder"] / "figures" / "sweep_width.png").is_file()
    texts = parsed.texts
    assert ("x axis: log scale (the values span under 1000×): slopes per doubling of "
            "n_chans1." in texts["sweep-width"])
    assert ("x axis: log scale (the values span 1000× or more): slopes per tenfold of l2. The "
            "point at l2 = 0 is drawn (the axis is linear below 0.0001) but left out of the log "
            "slope." in texts["sweep-l2"])
    assert ("Left out of the fits: n_blocks = 100, shared_blocks = True, seed 2 (diverged)."
            in texts["sweep-depth"])
    h3 = re.search(r"<h3>(.*?)</h3>", sweep_block(page, "depth")).group(1)
    assert Page(h3).text == ("depth: n_blocks in 1, 5, 20, 100 × shared_blocks in True, False "
                             "on NetResDeep (model entry res_deep), 8 points")
    visible_words_of_no_difference(parsed, page)
    assert not TIE_WORDS.findall(" ".join(texts[f"sweep-{n}"] for n in swept["specs"]))


def test_the_trends_read_the_book_s_lessons_from_the_chosen_accuracies(swept):
    """The chosen accuracies make the lessons' shapes: width's training accuracy and gap rise
    (its validation accuracy levels off: the bend at the ends leaves p 0.053), l2's gap falls
    while its validation accuracy shows no trend, depth's shared blocks fall."""
    codes = {name: [code for code, _, _ in trend_lines(swept["page"], name)]
             for name in swept["specs"]}
    assert codes["width"] == ["rises", "no_trend", "rises"]
    assert codes["l2"] == ["falls", "no_trend", "falls"]
    # (train, val, gap) x (shared, independent)
    assert codes["depth"] == ["falls", "rises", "falls", "rises", "falls", "rises"]


def test_the_best_point_and_those_not_distinguishable_from_it(swept):
    page, comparisons = swept["page"], swept["comparisons"]
    parsed = Page(page)
    for name, s in swept["specs"].items():
        rows = comparisons[comparisons["family"] == f"sweep:{name}"]
        best = rows["model_a"].iloc[0]
        info = parsed.ids[f"sweep-{name}-best"]
        assert info["data-best"] == best
        text = parsed.texts[f"sweep-{name}-best"]
        tested = rows[rows["verdict"].isin(["a_better", "not_distinguishable"])]
        value = f"{tested['value_a'].iloc[0]:.3f}"
        others = rows[rows["verdict"] != "not_tested_diverged"]
        if (others["verdict"] == "a_better").all():
            assert info["data-winner"] == best
            runner = tested.sort_values("value_b", ascending=False).iloc[0]
            assert text == (
                f"{label(s, best)} is the best point: validation accuracy {value} (mean over "
                f"{seed_words('0 1 2')}), better than every other point compared with it. "
                f"Closest, {label(s, runner.model_b)} "
                f"({runner.value_b:.3f}): {row_words(runner)}.")
        else:
            assert info["data-winner"] == ""
            close = rows[rows["verdict"] == "not_distinguishable"]
            expected = (f"No point is shown to be better than all the others. {label(s, best)} "
                        f"has the highest validation accuracy, {value} (mean over seeds 0–2); "
                        "differences are the best point minus the other, each verdict adjusted "
                        f"for the {len(tested)} comparisons. Not distinguishable from it: "
                        + "; ".join(
                            f"{label(s, r.model_b)} ({row_words(r)})"
                            for _, r in close.iterrows()) + ".")
            diverged = rows[rows["verdict"] == "not_tested_diverged"]
            if len(diverged):
                expected += " Diverged, not ranked: " + "; ".join(
                    label(s, m) for m in diverged["model_b"]) + "."
            assert text == expected
    # the chosen accuracies: width's 128 channels are not shown better than 64 (nor l2's
    # 0.0001 than the rest); depth's best is the 100 independent blocks
    assert parsed.ids["sweep-width-best"]["data-best"] == "sweeps/width/n_chans1~128"
    assert parsed.ids["sweep-depth-best"]["data-best"] == (
        "sweeps/depth/n_blocks~100/shared_blocks~False")


def test_the_points_table_marks_the_book_s_point_and_the_verdict_against_the_best(swept):
    parsed = Page(swept["page"])
    comparisons = swept["comparisons"]
    rows = parsed.rows("sweep-width-points")
    assert [r["n_chans1"] for r in rows] == ["8", "16", "32 book's point", "64", "128"]
    width = SWEEPS["width"]["runs"]
    for row, runs in zip(rows, width, strict=True):
        train, val = np.mean([r[0] for r in runs]), np.mean([r[1] for r in runs])
        assert (row["seeds"], row["train acc"], row["val acc"]) == (
            "3 (seeds 0–2)", f"{train:.3f}", f"{val:.3f}")
        assert row["train − val (points)"] == signed_points(
            np.mean([r[0] - r[1] for r in runs]))
    family = comparisons[comparisons["family"] == "sweep:width"]
    for row, point in zip(rows, swept["specs"]["width"]["points"], strict=True):
        match = family[family["model_b"] == point["run"]]
        if match.empty:
            assert row["against the best point"] == (
                "the best point (highest validation accuracy)")
            continue
        r = match.iloc[0]
        word = {"a_better": "the best point better",
                "not_distinguishable": "not distinguishable"}[r.verdict]
        assert row["against the best point"] == f"{word} ({row_words(r)})"
    assert 'class="book"><td>32 <span class="badge">book\'s point</span>' in sweep_block(
        swept["page"], "width")
    depth = parsed.rows("sweep-depth-points")
    assert [(r["n_blocks"], r["shared_blocks"], r["seeds"]) for r in depth][6] == (
        "100", "True book's point", "3 (seeds 0–2; seed 2 diverged)")
    assert depth[6]["against the best point"] == "not tested: a diverged run"
    l2 = parsed.rows("sweep-l2-points")
    assert [r["l2"] for r in l2] == ["0", "0.0001", "0.001 book's point", "0.01", "0.1"]


def test_the_claims_cite_the_sweeps_beside_their_two_model_test(swept):
    page, plain = swept["page"], swept["plain"]
    parsed, before = Page(page), Page(plain)
    lines = {}
    for key in ("width", "l2", "dropout", "res_deep", "fc"):
        start = page.index(f'id="claim-{key}"')
        end = page.find('<details class="claim"', start)
        block = page[start:end if end > 0 else page.index("</section>", start)]
        lines[key] = [(sweep, code, html.unescape(Page(words).text)) for code, sweep, words in
                      re.findall(r'<li data-verdict="([a-z_]+)" data-sweep="([a-z0-9_]+)">'
                                 r'(.*?)</li>', block)]
        # the claim's verdict is still the two-model test's
        assert parsed.ids[f"claim-{key}"]["data-verdict"] == before.ids[f"claim-{key}"][
            "data-verdict"]
    trends = {name: expected_trends(name, s) for name, s in swept["specs"].items()}
    assert lines["width"] == [("width", code, f"Sweep width: {words}")
                              for code, words, _ in (trends["width"][0], trends["width"][2])]
    assert lines["l2"] == [("l2", trends["l2"][2][0], f"Sweep l2: {trends['l2'][2][1]}")]
    assert lines["res_deep"] == [("depth", code, f"Sweep depth: {words}")
                                 for code, words, _ in trends["depth"][2:4]]
    assert lines["dropout"] == lines["fc"] == []  # no dropout sweep here; fc has none
    assert 'href="#sweep-width"' in page and 'id="claim-width-sweeps"' in page


def test_sweep_points_stay_out_of_the_zoo_s_tables_and_figures(swept):
    page, plain = swept["page"], swept["plain"]
    parsed, before = Page(page), Page(plain)
    for table in ("accuracy-table", "runs-table", "verdict-matrix", "cost-table"):
        assert parsed.tables[table] == before.tables[table], table
    assert parsed.texts["winner"] == before.texts["winner"]
    assert parsed.texts["claims-summary"] == before.texts["claims-summary"]
    for figure in ("accuracy", "curves", "cost"):
        assert (swept["folder"] / "figures" / f"{figure}.png").read_bytes() == (
            swept["plain_folder"] / "figures" / f"{figure}.png").read_bytes(), figure
    nav = re.search(r"<nav>(.*?)</nav>", page, re.S).group(1)
    assert re.findall(r'href="#([a-z]+)"', nav) == [
        "results", "claims", "sweeps", "curves", "cost", "thermometer", "provenance", "glossary"]
    assert "sweep point" not in page
    text = parsed.texts["sweeps"]
    assert ("A point with a zoo model's settings (width's own 32 channels, say) is its own run, "
            "trained for the sweep" in text)


@pytest.mark.parametrize("sweeps", [None, {}])
def test_no_sweeps_no_section(zoo, tmp_path, sweeps):
    page, _ = build(tmp_path, zoo, sweeps=sweeps)
    assert 'id="sweeps"' not in page and "#sweeps" not in page and "Sweep " not in page
    assert not read_comparisons(tmp_path)["family"].str.startswith("sweep:").any()
    assert 'id="claim-width-sweeps"' not in page


def test_a_point_that_did_not_run_is_named(zoo, tmp_path):
    specs = sweep_specs(("width",))
    runs = [r for r in write_sweep_runs(tmp_path, specs) if "n_chans1~128" not in r["model"]]
    page, metrics = build(tmp_path, zoo, sweeps=specs, sweep_runs=runs)
    parsed = Page(page)
    assert "sweep point sweeps/width/n_chans1~128" in parsed.text
    assert "Not run: n_chans1 = 128." in parsed.texts["sweep-width"]
    assert parsed.rows("sweep-width-points")[-1]["seeds"] == "not run"
    assert "sweeps/width/n_chans1~128" not in set(metrics["model"])


ONE_SEED = {"width": {"runs": [[(0.880, 0.840)], [(0.910, 0.8535)], [(0.935, 0.861)],
                               [(0.955, 0.8665)], [(0.975, 0.868)]]},
            "two": {"runs": [[(0.90, 0.85)], [(0.95, 0.86)]]}}


def test_one_seed_fits_a_plain_line_and_compares_points_by_mcnemar(tmp_path):
    zoo = report_inputs(tmp_path / "zoo", datasets=[], seeds=(0,))
    specs = {"width": spec("width", {"n_chans1": [8, 16, 32, 64, 128]}, "width", "NetWidth",
                           {"n_chans1": 32}),
             "two": spec("two", {"n_chans1": [16, 32]}, "width", "NetWidth", {"n_chans1": 32})}
    runs = write_sweep_runs(tmp_path, specs, seeds=(0,), table=ONE_SEED)
    page, _ = build(tmp_path, zoo, sweeps=specs, sweep_runs=runs)
    lines = trend_lines(page, "width")
    assert lines == expected_trends("width", specs["width"], (0,), ONE_SEED)
    assert [test for _, _, test in lines][0].endswith("3 degrees of freedom; 5 runs at 5 values of "
                                                      "n_chans1")
    assert trend_lines(page, "two") == [
        ("not_tested", f"{CURVE_WORDS[c]} against n_chans1: not tested (fewer than 3 points)",
         "2 runs at 2 values of n_chans1")
        for c in ("train_acc", "val_acc", "gap")]
    comparisons = read_comparisons(tmp_path)
    rows = comparisons[comparisons["family"] == "sweep:width"]
    assert set(rows["test"]) == {"mcnemar_exact"} and set(rows["seeds"]) == {"0"}
    assert rows["model_a"].iloc[0] == "sweeps/width/n_chans1~128"
    assert [r["seeds"] for r in Page(page).rows("sweep-width-points")] == ["1 (seed 0)"] * 5
    assert "mean over" not in Page(page).texts["sweep-width-best"]


# lr x momentum, 6 points x 3 seeds: rising lines, broken by a few tenths of a point so no
# series' point means lie exactly on a line; validation accuracies stay on multiples of 1/2,000
GRID = {"grid": {"runs": [[(0.80 + 0.01 * i + 0.003 * s + 0.002 * ((i * i + s) % 5),
                            round(0.75 + 0.005 * i + 0.0015 * s
                                  + 0.0005 * ((i * i + 2 * s) % 5), 4))
                           for s in SEEDS] for i in range(6)]}}


def test_a_two_setting_grid_draws_one_series_per_value_of_the_second(zoo, tmp_path):
    specs = {"grid": spec("grid", {"lr": [0.001, 0.01, 0.1], "momentum": [0.0, 0.9]}, "net",
                          "Net", {"lr": 0.01, "momentum": 0.0})}
    runs = write_sweep_runs(tmp_path, specs, table=GRID)
    page, _ = build(tmp_path, zoo, sweeps=specs, sweep_runs=runs)
    lines = trend_lines(page, "grid")
    assert lines == expected_trends("grid", specs["grid"], table=GRID)
    assert [w.split(":")[0] for _, w, _ in lines] == [
        f"{CURVE_WORDS[c]} {code} with lr (momentum = {text(m)})" if code != "no_trend" else
        f"{CURVE_WORDS[c]} shows no trend with lr (momentum = {text(m)}) distinguishable from "
        "flat"
        for (c, m), (code, _, _) in zip(itertools.product(("train_acc", "val_acc", "gap"),
                                                          (0.0, 0.9)), lines, strict=True)]
    # a 100x span under 1000x: per doubling
    assert all("per doubling of lr" in w for _, w, _ in lines)
    assert [r["lr"] + "/" + r["momentum"] for r in Page(page).rows("sweep-grid-points")] == [
        "0.001/0", "0.001/0.9", "0.01/0 book's point", "0.01/0.9", "0.1/0", "0.1/0.9"]


def test_markup_in_a_sweep_is_escaped(zoo, tmp_path):
    specs = {"width": spec("width", {"n_chans1": [8, 16, 32]}, "<b>w</b>", "<i>Net</i>")}
    table = {"width": {"runs": SWEEPS["width"]["runs"][:3]}}
    runs = write_sweep_runs(tmp_path, specs, table=table)
    page, _ = build(tmp_path, zoo, sweeps=specs, sweep_runs=runs)
    assert "<b>w</b>" not in page and "<i>Net</i>" not in page
    assert "&lt;b&gt;w&lt;/b&gt;" in page


# --- size ----------------------------------------------------------------------------------------

def shipped_sweeps(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """config/sweeps.yaml's four sweeps as the workflow hands them to the report."""
    from dlwpt import runs

    merged = {**config, "sweeps": yaml.safe_load((REPO / "config/sweeps.yaml").read_text())[
        "sweeps"]}
    return runs.report_spec(runs.configured_sweeps(merged))


def shipped_sweep_runs(folder: Path, specs: dict[str, dict[str, Any]],
                       epochs: int = 100) -> list[dict[str, Any]]:
    """Every point of the shipped sweeps over seeds 0-2, near the book's accuracies, a few
    tenths of a point apart by point and seed, with `epochs`-long metrics."""
    runs = []
    for k, s in enumerate(specs.values()):
        for i, point in enumerate(s["points"]):
            for seed in SEEDS:
                jitter = ((seed * 7 + i * 3 + k) % 5 - 2) / 400
                val = round((0.84 + 0.002 * i + jitter) * N_VAL) / N_VAL
                runs.append(write_run(folder, point["run"], seed, arch=s["arch"],
                                      train_acc=min(1.0, 0.9 + 0.004 * i + jitter),
                                      val_acc=val, n_params=1000 + i, seconds_per_epoch=1.0,
                                      epochs=epochs))
    return runs


def default_size(folder: Path, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """`inputs` with a default-size run: config's 10 models x 3 seeds x 100 epochs and the four
    shipped sweeps, 3 seeds a point."""
    specs = shipped_sweeps(config)
    assert [len(s["points"]) for s in specs.values()] == [5, 5, 5, 14]
    return inputs | {"runs": zoo_runs(folder / "zoo", config), "configured_models":
                     list(config["models"]), "book_accuracy": config["book_accuracy"],
                     "sweeps": specs, "sweep_runs": shipped_sweep_runs(folder / "sweeps", specs)}


def size_check(folder: Path, inputs: dict[str, Any], config: dict[str, Any]) -> int:
    page, metrics = build(folder, default_size(folder, inputs, config))
    size = (folder / "report.html").stat().st_size
    assert len(metrics) == 30 + 87
    section = page[page.index('<section id="sweeps">'):]
    section = section[:section.index("</section>")]
    print(f"\nreport.html, default zoo x 3 seeds + the 4 shipped sweeps (87 runs): {size:,} "
          f"bytes, of which the sweeps section {len(section.encode()):,}")
    assert size < MAX_PAGE_BYTES, size
    assert len(re.findall(r"<img ", section)) == 4
    # the claims cite the shipped sweeps by their swept setting, each linked to its block
    cited = re.findall(r'data-sweep="([a-z0-9_]+)">Sweep <a href="#sweep-\1">', page)
    assert sorted(set(cited)) == ["blocks", "channels", "dropout_p", "l2_penalty"]
    assert all(f'id="sweep-{name}"' in section for name in cited)
    families = read_comparisons(folder)["family"].value_counts().to_dict()
    assert {f: n for f, n in families.items() if f.startswith("sweep:")} == {
        "sweep:channels": 4, "sweep:l2_penalty": 4, "sweep:dropout_p": 4, "sweep:blocks": 13}
    assert families["all_pairs"] == 45  # the zoo's matrix is the zoo's alone
    return size


def test_the_default_zoo_with_three_seeds_and_the_shipped_sweeps_stays_under_5_mb(tmp_path):
    """Synthetic data sections (small): what the sweeps add to the page."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    size_check(tmp_path, report_inputs(tmp_path / "inputs", seeds=SEEDS), config)


@pytest.mark.pipeline
def test_the_shipped_sweeps_on_the_quick_runs_data_stay_under_5_mb(quick_pipeline, tmp_path):
    """The quick run's data, fits and benchmarks (the real data sections) with the default
    zoo's 10 models x 3 seeds of 100 epochs and the shipped sweeps' 29 points x 3 seeds."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    size_check(tmp_path, pipeline_inputs(quick_pipeline, pipeline_config()), config)
