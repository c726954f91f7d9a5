"""Sweeps with real Snakemake runs: the quick config's two-point `channels` sweep trains exactly
its points, a third value trains only itself (and the report), a removed one leaves the page, and
the page draws each sweep with its trend verdicts."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest

from dlwpt.models import ARCHITECTURES
from tests.helpers.workflow import QUICK, planned_jobs, snakemake
from tests.test_report import Page

pytestmark = pytest.mark.pipeline
REPORT = {("make_report", ""), ("publish_report", ""), ("all", "")}
POINTS = {8: "sweeps/channels/n_chans1~8", 16: "sweeps/channels/n_chans1~16"}
TREND_CODES = ("rises", "falls", "no_trend", "not_tested")


def plan(work: Path, change: dict | None = None) -> set[tuple[str, str]]:
    extra = []
    if change is not None:
        (work / "sweep-change.yaml").write_text(json.dumps(change))
        extra = [str(work / "sweep-change.yaml")]
    result = snakemake(work, "-n", "--configfile", QUICK, *extra, "--cores", "2")
    return {(j["rule"], j["wildcards"]) for j in planned_jobs(result.stdout)}


def channels_sweep(values: list[int]) -> dict:
    return {"sweeps": {"channels": {"base": "width", "settings": {"n_chans1": values}}}}


def sweep_block(page: str, name: str) -> str:
    """The HTML of one sweep's block on the page."""
    start = page.index(f'id="sweep-{name}"')
    end = page.find('<div class="sweep"', start + 1)
    return page[start:end if end > 0 else page.index("</section>", start)]


def trend_verdicts(block: str) -> list[str]:
    return re.findall(r'data-verdict="([a-z_]+)"', block)


def n_params(n_chans1: int) -> int:
    model = ARCHITECTURES["NetWidth"](n_chans1=n_chans1)
    return sum(p.numel() for p in model.parameters())


def test_the_quick_sweep_trains_exactly_its_points_and_the_page_draws_it(quick_pipeline):
    root = quick_pipeline / "results/train"
    summaries = sorted(p.relative_to(root).as_posix()
                       for p in (root / "sweeps").rglob("summary.json"))
    assert summaries == [f"{run}/seed0/summary.json" for run in sorted(POINTS.values())]
    for channels, run in POINTS.items():
        summary = json.loads((root / run / "seed0/summary.json").read_text())
        assert (summary["model"], summary["arch"]) == (run, "NetWidth")
        assert summary["hyperparameters"]["n_chans1"] == channels
        assert summary["n_params"] == n_params(channels)
    with open(quick_pipeline / "results/metrics.csv") as f:
        models = [row["model"] for row in csv.DictReader(f)]
    assert [m for m in models if m.startswith("sweeps/")] == list(POINTS.values())
    with open(quick_pipeline / "results/comparisons.csv") as f:
        rows = [row for row in csv.DictReader(f) if row["family"] == "sweep:channels"]
    assert len(rows) == 1 and {rows[0]["model_a"], rows[0]["model_b"]} == set(POINTS.values())
    # the points stay out of the zoo's matrix
    with open(quick_pipeline / "results/comparisons.csv") as f:
        zoo = [row for row in csv.DictReader(f) if row["family"] == "all_pairs"]
    assert not any(r["model_a"].startswith("sweeps/") or r["model_b"].startswith("sweeps/")
                   for r in zoo)

    page = (quick_pipeline / "results/report.html").read_text()
    block = sweep_block(page, "channels")
    assert re.search(r'<img[^>]+src="data:image/png;base64,', block)
    # one seed and two points: no residual to test a slope on, said for each curve
    assert trend_verdicts(block) and set(trend_verdicts(block)) == {"not_tested"}


def test_adding_a_value_plans_one_training_job_per_seed_and_removing_one_only_the_report(
        quick_pipeline):
    assert plan(quick_pipeline) == set()
    assert plan(quick_pipeline, channels_sweep([8, 16, 32])) == {
        ("train_model", "model=sweeps/channels/n_chans1~32, seed=0")} | REPORT
    assert plan(quick_pipeline, channels_sweep([8])) == REPORT
    # the base entry's settings are every point's: changing them retrains the base and its sweep
    assert plan(quick_pipeline, {"models": {"width": {"lr": 0.02}}}) == {
        ("train_model", f"model={m}, seed=0") for m in ("width", *POINTS.values())} | REPORT


def test_a_third_value_trains_only_itself_and_the_page_gets_a_tested_trend(
        quick_pipeline, tmp_path_factory):
    # A sibling of the original: the same depth keeps the report's relative train_code paths.
    work = tmp_path_factory.mktemp("sweep")
    shutil.copytree(quick_pipeline, work, symlinks=True, dirs_exist_ok=True)
    trained = {p: p.stat().st_mtime_ns for p in (work / "results/train").rglob("*")
               if p.is_file()}
    three = work / "three.yaml"
    # 8 to 128 channels: a span of 16x, drawn and fitted on a log scale (per doubling)
    three.write_text(json.dumps(channels_sweep([8, 16, 128])))
    snakemake(work, "--configfile", QUICK, str(three), "--cores", "2")
    assert {p: p.stat().st_mtime_ns for p in trained} == trained
    new = sorted(p.relative_to(work / "results/train").as_posix()
                 for p in (work / "results/train").rglob("summary.json")
                 if p not in trained)
    assert new == ["sweeps/channels/n_chans1~128/seed0/summary.json"]

    page = (work / "results/report.html").read_text()
    block = sweep_block(page, "channels")
    verdicts = trend_verdicts(block)
    # three curves (training, validation, gap), each tested on three points (one seed)
    assert len(verdicts) == 3 and set(verdicts) <= {"rises", "falls", "no_trend"}, verdicts
    assert "per doubling" in Page(block).text

    # a value removed: the report only, and the point leaves the page and the tables
    one_less = work / "one-less.yaml"
    one_less.write_text(json.dumps(channels_sweep([8, 128])))
    assert plan(work, channels_sweep([8, 128])) == REPORT
    snakemake(work, "--configfile", QUICK, str(one_less), "--cores", "2")
    with open(work / "results/metrics.csv") as f:
        models = [row["model"] for row in csv.DictReader(f)]
    assert [m for m in models if m.startswith("sweeps/")] == [
        "sweeps/channels/n_chans1~8", "sweeps/channels/n_chans1~128"]
    assert "n_chans1~16" not in (work / "results/report.html").read_text()
