"""The run history with real Snakemake runs, in a copy of the quick pipeline: one
model's lr changed in a --configfile retrains that model only; the new page says what changed
and what it did, `dlwpt runs` and `dlwpt diff` agree with it; nothing changed, a refused
config or deleting every output adds nothing and removes nothing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from tests.helpers.data import REPO
from tests.helpers.workflow import QUICK, planned_jobs, snakemake
from tests.test_report import Page

pytestmark = pytest.mark.pipeline


def cli(work, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dlwpt", *args, "--history",
                           str(work / "results/history")], capture_output=True, text=True,
                          cwd=REPO, timeout=120)


def entries(work) -> list[str]:
    return sorted(p.name for p in (work / "results/history/runs").glob("*.json"))


def test_a_changed_lr_is_recorded_compared_and_shown(quick_pipeline, tmp_path_factory):
    # A sibling of the original (the same depth keeps the report's relative train_code paths).
    work = tmp_path_factory.mktemp("history")
    shutil.copytree(quick_pipeline, work, symlinks=True, dirs_exist_ok=True)
    before = len(entries(work))  # 1: the quick run published once (more if a test reran it)
    assert before >= 1
    if before == 1:
        first = Page((work / "results/report.html").read_text())
        assert first.texts["changes-summary"].startswith("The first run in the history")

    change = work / "lower-lr.yaml"
    change.write_text(json.dumps({"experiment": "net at lr 0.005",
                                  "models": {"net": {"lr": 0.005}}}))
    plan = snakemake(work, "-n", "--configfile", QUICK, str(change), "--cores", "2")
    assert {(j["rule"], j["wildcards"]) for j in planned_jobs(plan.stdout)} == {
        ("train_model", "model=net, seed=0"), ("make_report", ""), ("publish_report", ""),
        ("all", "")}
    snakemake(work, "--configfile", QUICK, str(change), "--cores", "2")
    assert len(entries(work)) == before + 1

    page = Page((work / "results/report.html").read_text())
    (row,) = page.rows("changes-table")
    assert row["model"] == "net" and row["what changed"] == "lr 0.01 -> 0.005"
    diff = json.loads(cli(work, "diff", "--json").stdout)
    net = next(m for m in diff["models"] if m["model"] == "net")
    assert net["settings"] == [{"key": "lr", "old": 0.01, "new": 0.005}]
    assert (row["old val acc"], row["new val acc"]) == (
        f"{net['old_acc']:.3f}", f"{net['new_acc']:.3f}")
    assert net["verdict"] in ("a_better", "b_better", "not_distinguishable")
    # the page's words are the CLI's: the verdict, then the paired difference and interval
    assert row["new − old"] == f"{net['verdict_words']} ({net['difference_words']})"
    assert f"{100 * (net['new_acc'] - net['old_acc']):+.1f} points" in row["new − old"]
    assert {m["status"] for m in diff["models"] if m["model"] != "net"} == {"unchanged"}
    assert "experiment “net at lr 0.005”" not in page.texts["changes-summary"]  # the old run's
    unchanged = page.texts["changes-unchanged"].removeprefix("Unchanged: ").rstrip(".")
    assert len(unchanged.split(", ")) == 9 and "net" not in unchanged.split(", ")
    text = cli(work, "diff")
    assert text.returncode == 0 and "lr 0.01 -> 0.005" in text.stdout
    assert net["difference_words"] in text.stdout

    runs = json.loads(cli(work, "runs", "--json").stdout)
    assert runs["settings"] == ["net.lr"]  # the only setting that differs
    assert [e["settings"]["net.lr"] for e in runs["entries"][-2:]] == [0.01, 0.005]
    assert [e["experiment"] for e in runs["entries"][-2:]] == [None, "net at lr 0.005"]
    assert runs["entries"][-1]["val_acc"]["net"] == pytest.approx(net["new_acc"])
    table = cli(work, "runs").stdout.splitlines()
    assert table[0].split()[:5] == ["id", "date", "commit", "experiment", "net.lr"]
    assert len(table) == 1 + before + 1

    # Nothing changed: nothing to do, no entry. A refused config: no job, no entry.
    again = snakemake(work, "--configfile", QUICK, str(change), "--cores", "2")
    assert "Nothing to be done" in again.stdout + again.stderr
    bad = work / "bad.yaml"
    bad.write_text(json.dumps({"models": {"net": {"lrr": 0.1}}}))
    refused = snakemake(work, "--configfile", QUICK, str(bad), "--cores", "2", check=False)
    assert refused.returncode != 0
    assert "config: unknown key 'lrr' in models.net" in refused.stdout + refused.stderr
    assert len(entries(work)) == before + 1

    # Deleting every output leaves the history, and it still reads.
    snakemake(work, "--delete-all-output", "--configfile", QUICK, str(change), "--cores", "1")
    assert not (work / "results/report.html").exists() and len(entries(work)) == before + 1
    assert cli(work, "runs").returncode == 0
