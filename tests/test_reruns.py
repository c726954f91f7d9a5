"""Precise reruns: after one change, a dry run in the quick pipeline's work dir plans exactly the
jobs that change affects (by rule and wildcards), and nothing else."""

from __future__ import annotations

import ast
import json
import os
import re
from pathlib import Path

import pytest

from tests.helpers.data import REPO
from tests.helpers.workflow import QUICK, edited, job_counts, planned_jobs, snakemake

pytestmark = pytest.mark.pipeline
REPORT = {("make_report", ""), ("publish_report", ""), ("all", "")}
ZOO = {("train_model", f"model={m}, seed=0") for m in (
    "fc_512", "fc_deep", "net", "width", "l2", "dropout", "batch_norm", "depth", "res", "res_deep",
    # the quick config's two-point sweep: runs of their own, on the same cifar2.pt
    "sweeps/channels/n_chans1~8", "sweeps/channels/n_chans1~16")}


def plan(workdir: Path, *configfiles: str) -> tuple[set[tuple[str, str]], list[dict]]:
    result = snakemake(workdir, "-n", "--configfile", QUICK, *configfiles, "--cores", "2")
    jobs = planned_jobs(result.stdout)
    if not jobs:
        assert "Nothing to be done" in result.stdout, result.stdout[-4000:]
        return set(), []
    # each job once: the set below loses nothing
    assert sum(job_counts(result.stdout).values()) == len(jobs)
    return {(j["rule"], j["wildcards"]) for j in jobs}, jobs


def changed_code(reason: str) -> set[str]:
    """The files whose entry differs between the code param before and now, as a plan's
    `reason:` prints them."""
    found = re.search(r"before: (\{.*?\}) now: (\{.*?\})", reason)
    assert found, reason
    before, now = (ast.literal_eval(found.group(i)) for i in (1, 2))
    return {path for path in before.keys() | now.keys() if before.get(path) != now.get(path)}


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


# Edits a job does not run: dlwpt.code_inputs.source_digest ignores them. Each names the text it
# edits, so a rewrite of dlwpt/io.py that removes it fails here (edited: "changed nothing").
def _docstrings(text: str) -> str:
    """The module's docstring and every function's and class's, reworded."""
    assert text.startswith('"""')
    text = '"""Edited by a test. ' + text[3:]
    return re.sub(r'(:\n +""")(?=\S)', r"\1Edited by a test. ", text)


def _comments(text: str) -> str:
    """A comment on a line of its own, one after code, one at the end."""
    added = "\n# a comment added by a test\nimport os  # and one after code\n"
    return text.replace("\nimport os\n", added, 1) + "\n# edited by a test\n"


def _layout(text: str) -> str:
    """A line break inside parentheses with a trailing comma, and extra blank lines."""
    return text.replace("hashlib.new(algorithm)", "hashlib.new(\n        algorithm,\n    )", 1
                        ).replace("\n\n\ndef ", "\n\n\n\ndef ")


@pytest.mark.parametrize("change", [_docstrings, _comments, _layout])
def test_editing_a_modules_comments_docstrings_or_layout_plans_nothing(quick_pipeline, change):
    """dlwpt/io.py is run by every job: an edit that changes what it says but not what it does
    reruns none of them."""
    with edited(REPO / "dlwpt/io.py", change):
        planned, _ = plan(quick_pipeline)
    assert planned == set()


def test_a_code_change_in_the_engine_retrains_exactly_the_zoo(quick_pipeline):
    """One line of code in dlwpt/engine/resident.py: every training job (the zoo and the sweep
    points) and the report, and each training job's reason names the file."""
    with edited(REPO / "dlwpt/engine/resident.py"):
        planned, jobs = plan(quick_pipeline)
    assert planned == ZOO | REPORT
    for job in jobs:
        if job["rule"] == "train_model":
            assert "Params have changed" in job["reason"], job
            assert changed_code(job["reason"]) == {"dlwpt/engine/resident.py"}, job


def _replace(old: str, new: str):
    return lambda text: text.replace(old, new, 1)


# What decides no result: the progress line's format (one character more), how an orphaned
# job notices, the estimate, the TensorBoard writer, the GPU claim.
@pytest.mark.parametrize(("module", "change"), [
    ("dlwpt/progress.py", _replace('s ETA "', 's ETA: "')),
    ("dlwpt/orphan.py", None),
    ("dlwpt/estimate.py", None),
    ("dlwpt/live.py", _replace("self.writer.flush()", "self.writer.flush()\n        pass")),
    ("dlwpt/devices.py", None),
])
def test_editing_a_training_jobs_plumbing_plans_nothing(quick_pipeline, module, change):
    with edited(REPO / module, change):
        planned, _ = plan(quick_pipeline)
    assert planned == set()


# What decides results: the loss, the optimizer step, a model, the data loading.
@pytest.mark.parametrize(("module", "change"), [
    ("dlwpt/engine/trainer.py", _replace("loss = criterion(outputs, labels)",
                                         "loss = criterion(outputs, labels) * 1.0")),
    ("dlwpt/engine/resident.py", _replace("self.optimizer.step()",
                                          "self.optimizer.step()\n        pass")),
    ("dlwpt/models.py", None),
    ("dlwpt/train.py", _replace(".sort().values\n", ".sort().values[:]\n")),
])
def test_a_change_to_what_computes_retrains_the_zoo(quick_pipeline, module, change):
    with edited(REPO / module, change):
        planned, jobs = plan(quick_pipeline)
    assert planned == ZOO | REPORT
    assert {next(iter(changed_code(j["reason"]))) for j in jobs
            if j["rule"] == "train_model"} == {module}


@pytest.fixture
def touched():
    """Set a file's mtime to now (as a checkout does), then put the old one back."""
    restore = []
    def touch(path: Path) -> None:
        restore.append((path, path.stat()))
        os.utime(path)
    yield touch
    for path, stat in restore:
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_touching_or_reformatting_the_scripts_plans_nothing(quick_pipeline, touched):
    """The scripts are digested like the modules: Snakemake's mtime trigger for `script:` is
    off (profiles), so a checkout or a re-indent reruns nothing."""
    for script in sorted((REPO / "scripts").glob("*.py")):
        touched(script)
    assert plan(quick_pipeline)[0] == set()
    reindented = _replace("    train_model(files, run,", "    train_model(\n        files, run,")
    with edited(REPO / "scripts/train_model.py", reindented):
        assert plan(quick_pipeline)[0] == set()


@pytest.mark.parametrize(("script", "rule", "count"), [
    ("train_model.py", "train_model", 12), ("fit_thermometer.py", "fit_thermometer", 9)])
def test_a_code_change_in_a_script_reruns_the_jobs_that_run_it(quick_pipeline, script, rule,
                                                                count):
    with edited(REPO / "scripts" / script):
        planned, jobs = plan(quick_pipeline)
    assert {r for r, _ in planned} == {rule} | {r for r, _ in REPORT}
    assert len(planned) == count + len(REPORT)
    assert all(changed_code(j["reason"]) == {f"scripts/{script}"} for j in jobs
               if j["rule"] == rule)
