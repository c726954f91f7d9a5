"""Precise reruns: after one change, a dry run in the quick pipeline's work dir plans exactly the
jobs that change affects (by rule and wildcards), and nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.data import REPO
from tests.helpers.workflow import QUICK, edited, job_counts, planned_jobs, snakemake

pytestmark = pytest.mark.pipeline
REPORT = {("make_report", ""), ("publish_report", ""), ("all", "")}
ZOO = {("train_model", f"model={m}, seed=0") for m in (
    "fc_512", "fc_deep", "net", "width", "l2", "dropout", "batch_norm", "depth", "res", "res_deep")}


def plan(workdir: Path, *configfiles: str) -> tuple[set[tuple[str, str]], list[dict]]:
    result = snakemake(workdir, "-n", "--configfile", QUICK, *configfiles, "--cores", "2")
    jobs = planned_jobs(result.stdout)
    # each job once: the set below loses nothing
    assert sum(job_counts(result.stdout).values()) == len(jobs)
    return {(j["rule"], j["wildcards"]) for j in jobs}, jobs


def with_config(tmp_path: Path, change: dict) -> str:
    path = tmp_path / "change.yaml"
    path.write_text(json.dumps(change))
    return str(path)


@pytest.mark.parametrize(("change", "dataset", "reason"), [
    ({"text": {"line_index": 201}}, "text", "Params have changed"),
    ({"wine": {"bad_max": 4}}, "wine", "Params have changed"),
    ({"bikes": {"missing_hours": "error"}}, "bikes", "Params have changed"),
    # a local copy's raw files are params (their content), not inputs: any copy plans the same
    ({"bikes": {"file": "hour.csv"}}, "bikes", "Params have changed"),
])
def test_changing_a_datasets_options_reingests_that_dataset_only(quick_pipeline, tmp_path,
                                                                 change, dataset, reason):
    planned, jobs = plan(quick_pipeline, with_config(tmp_path, {"ingest": change}))
    assert planned == {("ingest_dataset", f"dataset={dataset}")} | REPORT
    assert reason in next(j["reason"] for j in jobs if j["rule"] == "ingest_dataset")


def test_changing_cifar2_options_reingests_it_and_retrains_the_zoo(quick_pipeline, tmp_path):
    """Training reads cifar2.pt: new tensors retrain every model, nothing else reruns."""
    change = with_config(tmp_path, {"ingest": {"cifar2": {"samples_per_class": 4}}})
    planned, _ = plan(quick_pipeline, change)
    assert planned == {("ingest_dataset", "dataset=cifar2")} | ZOO | REPORT


@pytest.mark.parametrize(("module", "datasets"), [
    ("dlwpt/ingest/text.py", ["text"]),
    ("dlwpt/ingest/ct.py", ["ct"]),
    ("dlwpt/ingest/images.py", ["image_dog", "image_cats"]),
])
def test_editing_a_datasets_ingest_module_reingests_that_dataset_only(quick_pipeline, module,
                                                                      datasets):
    with edited(REPO / module):
        planned, _ = plan(quick_pipeline)
    assert planned == {("ingest_dataset", f"dataset={d}") for d in datasets} | REPORT


def test_editing_shared_ingest_code_reingests_every_dataset(quick_pipeline):
    with edited(REPO / "dlwpt/ingest/common.py"):
        planned, _ = plan(quick_pipeline)
    ingests = {("ingest_dataset", f"dataset={d}") for d in
               ("image_dog", "image_cats", "ct", "wine", "bikes", "text", "cifar2")}
    assert planned == ingests | ZOO | REPORT


@pytest.mark.parametrize("change", [{"dropout": {"p": 0.3}}, {"dropout": {"batch_size": 32}}])
def test_changing_a_model_setting_retrains_that_model_only(quick_pipeline, tmp_path, change):
    planned, _ = plan(quick_pipeline, with_config(tmp_path, {"models": change}))
    assert planned == {("train_model", "model=dropout, seed=0")} | REPORT


@pytest.mark.parametrize(("module", "rules"), [
    ("dlwpt/thermometer.py", {"fit_thermometer"}),
    ("dlwpt/report/build.py", set()),
    ("dlwpt/statistics.py", set()),
])
def test_editing_stage_code_reruns_that_stage_only(quick_pipeline, module, rules):
    with edited(REPO / module):
        planned, _ = plan(quick_pipeline)
    assert {rule for rule, _ in planned} == rules | {"make_report", "publish_report", "all"}
    if rules:
        assert len(planned) == 9 + 3  # the nine experiments of the quick config + the report
