"""The workflow as users run it: real Snakemake runs on the real data (config/quick.yaml)."""

from __future__ import annotations

import csv
import json
import os
import shlex
import shutil

import pytest
import torch

from tests.helpers.data import REPO
from tests.helpers.tensorboard import expected_scalars, scalars
from tests.helpers.workflow import QUICK, edited, hint_of, planned_jobs, run_hint, snakemake
from tests.helpers.workflow import job_counts as _job_counts

pytestmark = pytest.mark.pipeline
REPORT_JOBS = {"make_report": 1, "publish_report": 1, "all": 1}


def test_quick_run_builds_every_tensor_file_and_artifact(quick_pipeline):
    results = quick_pipeline / "results"
    for name in ("image_dog", "image_cats", "ct", "wine", "bikes", "text", "cifar2"):
        summary = json.loads((results / "data" / f"{name}.json").read_text())
        assert summary["dataset"] == name and summary["sources"], name
        torch.load(results / "data" / f"{name}.pt", weights_only=True)
    cifar2 = torch.load(results / "data/cifar2.pt", weights_only=True)
    assert cifar2["train_images"].shape == (10000, 3, 32, 32)
    assert cifar2["val_images"].shape == (2000, 3, 32, 32)
    summaries = sorted(results.glob("train/*/seed0/summary.json"))
    assert len(summaries) == 10
    for path in summaries:
        summary = json.loads(path.read_text())
        assert summary["epochs"] == 2
        assert summary["device"].lower().startswith("cpu")
        # the job's plumbing read the machine's load as training started and ended
        load = summary["load_average"]
        assert load["cpus"] == os.cpu_count() and min(load["start"], load["end"]) >= 0, load
        metrics = (path.parent / "metrics.csv").read_text().splitlines()
        assert metrics[0] == "epoch,train_loss,train_acc,val_acc,seconds" and len(metrics) == 3
        # the summary's accuracy is the last epoch's, and the predictions' share of correct ones
        with (path.parent / "val_predictions.csv").open() as f:
            hits = [row["label"] == row["predicted"] for row in csv.DictReader(f)]
        assert len(hits) == 2000
        assert summary["val_acc"] == float(metrics[2].split(",")[3]) == sum(hits) / 2000
    res_deep = json.loads((results / "train/res_deep/seed0/summary.json").read_text())
    assert res_deep["resdeep_blocks"] == "shared"
    assert len(list(results.glob("thermometer/*.json"))) == 9
    page = (results / "report.html").read_text()
    assert 'id="claims-verdicts"' in page and all(
        f">{json.loads(p.read_text())['model']}<" in page for p in summaries)
    # the header, the 10 models and the quick config's 2 sweep points
    assert len((results / "metrics.csv").read_text().splitlines()) == 13
    # one seed: every pair of the 10 models by McNemar, the best against the 9 others, the
    # 6 training-set comparisons of the claims, untested (only seeds could test them), and the
    # sweep's best point against its other one
    with (results / "comparisons.csv").open() as f:
        comparisons = list(csv.DictReader(f))
    families = [row["family"] for row in comparisons]
    assert {f: families.count(f) for f in set(families)} == {
        "all_pairs": 45, "vs_best": 9, "claims": 6, "sweep:channels": 1}
    assert {row["test"] for row in comparisons if row["family"] == "all_pairs"} == {
        "mcnemar_exact"}
    assert {row["verdict"] for row in comparisons if row["family"] == "claims"} == {
        "not_tested_one_seed"}
    # one progress line per epoch in each training job's log
    # each run's live view: its event files hold metrics.csv, epoch by epoch
    for path in summaries:
        assert scalars(results / "tensorboard" / path.parent.relative_to(results / "train")) \
            == expected_scalars(path.parent / "metrics.csv"), path
    log = (quick_pipeline / "logs/train_model/net/seed0.log").read_text()
    assert "epoch 1/2" in log and "epoch 2/2" in log and "ETA" in log
    for rule in ("ingest_dataset/ct", "train_model/net", "fit_thermometer/split_sgd",
                 "make_report", "publish_report"):
        assert list((quick_pipeline / "benchmarks").glob(f"{rule}*")), rule


def test_second_run_has_nothing_to_do(quick_pipeline):
    result = snakemake(quick_pipeline, "-n", "--configfile", QUICK, "--cores", "2")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_changed_hyperparameter_reruns_only_its_model(quick_pipeline, tmp_path):
    changed = tmp_path / "changed.yaml"
    # net: no sweep has it as its base (a base's change retrains its sweep's points too:
    # tests/test_sweeps_workflow.py)
    changed.write_text(json.dumps({"models": {"net": {"lr": 0.005}}}))
    result = snakemake(quick_pipeline, "-n", "--configfile", QUICK, str(changed), "--cores", "2")
    assert _job_counts(result.stdout) == {"train_model": 1, **REPORT_JOBS}
    assert "model=net" in result.stdout


def test_editing_model_code_retrains_models_only(quick_pipeline):
    with edited(REPO / "dlwpt/models.py"):
        result = snakemake(quick_pipeline, "-n", "--configfile", QUICK, "--cores", "2")
    # the zoo's 10 runs and the quick config's 2 sweep points
    assert _job_counts(result.stdout) == {"train_model": 12, **REPORT_JOBS}


def test_editing_wine_code_reingests_wine_only(quick_pipeline):
    with edited(REPO / "dlwpt/ingest/wine.py"):
        result = snakemake(quick_pipeline, "-n", "--configfile", QUICK, "--cores", "2")
    assert _job_counts(result.stdout) == {"ingest_dataset": 1, **REPORT_JOBS}


def test_adding_a_seed_trains_only_its_runs_and_rebuilds_the_report(quick_pipeline,
                                                                    tmp_path_factory):
    """In a copy of the one-seed quick run: adding seed 1 to the zoo plans its ten trainings
    and the report, nothing else. Then a two-seed run end to end, on two of the models (a quick
    training job takes 20-30 s on a 2-core CPU, most of it start-up): seed 0's files stay as
    they were, metrics.csv and the event files hold both seeds, and a third seed again plans
    only its own runs and the report."""
    # A sibling of the original: the same depth keeps the report's train_code paths (relative
    # to the work dir) the same; copy2 keeps the mtimes.
    work = tmp_path_factory.mktemp("two_seeds")
    shutil.copytree(quick_pipeline, work, symlinks=True, dirs_exist_ok=True)

    def plan(train: dict, **more) -> set[tuple[str, str]]:
        change = work / "seeds.yaml"
        change.write_text(json.dumps({"train": train, **more}))
        result = snakemake(work, "-n", "--configfile", QUICK, str(change), "--cores", "2")
        return {(j["rule"], j["wildcards"]) for j in planned_jobs(result.stdout)}

    def trainings(models, seed: int) -> set[tuple[str, str]]:
        return {("train_model", f"model={m}, seed={seed}") for m in models}

    report = {("make_report", ""), ("publish_report", ""), ("all", "")}
    zoo = sorted(p.parent.parent.name for p in work.glob("results/train/*/seed0/summary.json"))
    assert len(zoo) == 10
    # the quick config's sweep points are runs too: each gets its seed 1
    points = ["sweeps/channels/n_chans1~8", "sweeps/channels/n_chans1~16"]
    assert plan({"seeds": [0, 1]}) == trainings(zoo + points, 1) | report

    models = ["net", "res_deep"]
    two_seeds = work / "two-seeds.yaml"
    # without the sweep (train.models selects the zoo's entries only)
    two_seeds.write_text(json.dumps({"train": {"seeds": [0, 1], "models": models},
                                     "sweeps": None}))
    seed0 = {p: p.stat().st_mtime_ns for p in work.glob("results/*/*/seed0/**/*") if p.is_file()}
    snakemake(work, "--configfile", QUICK, str(two_seeds), "--cores", "2")
    assert {p: p.stat().st_mtime_ns for p in seed0} == seed0
    with open(work / "results/metrics.csv") as f:
        runs = [(row["model"], int(row["seed"])) for row in csv.DictReader(f)]
    assert sorted(runs) == [(m, s) for m in models for s in (0, 1)]
    for run in ("net/seed1", "res_deep/seed1"):
        assert scalars(work / "results/tensorboard" / run) == expected_scalars(
            work / "results/train" / run / "metrics.csv"), run
    net = [(work / f"results/train/net/seed{s}/metrics.csv").read_text() for s in (0, 1)]
    assert net[0] != net[1]  # another seed, another run
    # the four runs complete: a third seed plans its own two and the report, nothing else
    assert plan({"seeds": [0, 1, 2], "models": models}, sweeps=None) == (
        trainings(models, 2) | report)


def test_the_hint_of_a_damaged_run_plans_only_that_run(quick_pipeline, tmp_path_factory):
    """Issue 18: in a copy of the quick run, a truncated model.pt is refused by the report with
    the command that rebuilds the run. That command, run as printed (in a shell, from the
    directory the run started in, without the data-source variables in the environment), plans
    net/seed0's training and the report: not the default zoo, not another run."""
    work = tmp_path_factory.mktemp("damaged_run")  # a sibling: see the test above
    shutil.copytree(quick_pipeline, work, symlinks=True, dirs_exist_ok=True)
    model = work / "results/train/net/seed0/model.pt"
    model.write_bytes(model.read_bytes()[:1000])
    result = snakemake(work, "--configfile", QUICK, "--cores", "2", check=False)
    assert result.returncode != 0
    log = work / "logs/make_report.log"
    assert ("error: results/train/net/seed0/model.pt: changed since it was trained"
            in log.read_text().strip().splitlines()[-1])
    hint = hint_of(log)
    assert hint.endswith(f" --configfile {shlex.quote(QUICK)} --cores 2 --forcerun "
                         "results/train/net/seed0/summary.json"), hint
    planned = run_hint(hint, "-n")
    assert {(j["rule"], j["wildcards"]) for j in planned_jobs(planned.stdout)} == {
        ("train_model", "model=net, seed=0"), ("make_report", ""), ("publish_report", ""),
        ("all", "")}, planned.stdout[-3000:]


def test_bad_input_stops_with_one_line_naming_the_file(tmp_path, data_dir):
    """A truncated photo in a local copy: non-zero exit, one error line, no output left."""
    copy = tmp_path / "copy"
    (copy / "p1ch4/image-dog").mkdir(parents=True)
    bad = copy / "p1ch4/image-dog/bobby.jpg"
    bad.write_bytes((data_dir / "p1ch4/image-dog/bobby.jpg").read_bytes()[:5000])
    only_dog = tmp_path / "dog.yaml"
    # data.verify off: the photo's decoder must say what is wrong, not the digest check
    only_dog.write_text(json.dumps({"datasets": ["image_dog"], "data": {"verify": False}}))
    workdir = tmp_path / "work"
    result = snakemake(workdir, "--configfile", str(only_dog), "--cores", "1",
                       "results/data/image_dog.pt", env={"DLWPT_DATA": str(copy)}, check=False)
    assert result.returncode != 0
    log = (workdir / "logs/ingest_dataset/image_dog.log").read_text().strip().splitlines()
    assert log[-1].split(" ", 1)[1].startswith(f"error: {bad}: ")
    assert not list((workdir / "results").rglob("*.pt"))
    # results/.progress holds the run's time estimate (dlwpt.estimate), no output of a job
    assert not [p for p in (workdir / "results").rglob("*.json") if ".progress" not in p.parts]


def test_snakemake_own_report_holds_the_registered_figures(quick_pipeline):
    out = quick_pipeline / "results/snakemake-report.html"
    snakemake(quick_pipeline, "--configfile", QUICK, "--report", str(out))
    page = out.read_text(errors="replace")
    for name in ("report.html", "metrics.csv", "comparisons.csv", "accuracy.png", "curves.png",
                 "data_ct.png"):
        assert name in page, name


def test_incomplete_local_copy_is_named_before_any_job(tmp_path):
    copy = tmp_path / "copy"
    (copy / "p1ch4").mkdir(parents=True)
    result = snakemake(tmp_path / "work", "-n", "--cores", "1", env={"DLWPT_DATA": str(copy)},
                       check=False)
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert "local data copy incomplete" in out and "bobby.jpg" in out and "DLWPT_DATA" in out
