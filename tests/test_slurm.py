"""The workflow on a real Slurm cluster through profiles/slurm (issue 10).

A private single-node Slurm (tests/helpers/slurm.py: 16 CPUs, 2 GPUs that Slurm schedules but
the machine does not have) runs the jobs; the tests read what Slurm recorded (scontrol keeps
finished jobs for MinJobAge). Skipped where Slurm is not installed; CI installs it.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import torch
import yaml

from tests.helpers.data import CIFAR10, DATA
from tests.helpers.slurm import cancel_everything, job_records, slurm_cluster, unavailable
from tests.helpers.workflow import (
    SNAKEMAKE,
    private_checkout,
    snakemake,
    uninterrupted_metrics,
)

pytestmark = pytest.mark.pipeline
# The workflow runs from a private copy of the checkout (`CHECKOUT`, made once per session):
# `make test` runs this module beside the rerun tests, which edit the checkout's modules for a
# moment. PROFILE and QUICK are paths inside it.
CHECKOUT = Path(tempfile.gettempdir()) / f"dlwpt-slurm-checkout-{os.getpid()}"
PROFILE = CHECKOUT / "profiles/slurm"
QUICK = str(CHECKOUT / "config/quick.yaml")


@pytest.fixture(scope="session", autouse=True)
def checkout():
    shutil.rmtree(CHECKOUT, ignore_errors=True)
    private_checkout(CHECKOUT)
    yield CHECKOUT
    shutil.rmtree(CHECKOUT, ignore_errors=True)
# The plugin's first status check comes 40 s after a submission by default.
FAST = ("--slurm-init-seconds-before-status-checks", "1")
DATASETS = ["wine", "cifar2"]


@pytest.fixture(scope="session")
def cluster():
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    with slurm_cluster() as env:
        yield env


def config_file(path: Path, **train) -> str:
    """Two datasets (the training data and a small one) and the given train settings."""
    path.write_text(json.dumps({"datasets": DATASETS, "train": train}))
    return str(path)


@pytest.fixture(scope="session")
def local_ingest(tmp_path_factory, data_dir, checkout) -> Path:
    """A work dir where the two datasets were ingested without Slurm: the reference tensors,
    and (copied) the starting point of the tests that only train."""
    root = tmp_path_factory.mktemp("local")
    work = root / "work"
    snakemake(work, "--configfile", QUICK, config_file(root / "c.yaml"), "--cores", "2",
              *[f"results/data/{d}.pt" for d in DATASETS], checkout=CHECKOUT)
    return work


def copy_of(work: Path, tmp_path: Path) -> Path:
    """The work dir with its .snakemake metadata, at the same depth (its code inputs are
    paths relative to the work dir), so that Snakemake sees the ingests as done."""
    copy = tmp_path / "work"
    shutil.copytree(work, copy, symlinks=True)
    return copy


def run_id(output: str) -> str:
    return re.search(r"SLURM run ID: (\S+)", output).group(1)


def records_of(cluster: dict, run: str) -> list[dict]:
    return [r for r in job_records(cluster) if r["JobName"] == run]


def start(work: Path, *args: str, cluster: dict, log: Path) -> subprocess.Popen:
    env = {**os.environ, "DLWPT_DATA": str(DATA), "DLWPT_CIFAR10": str(CIFAR10), **cluster}
    command = [*SNAKEMAKE, "-s", str(CHECKOUT / "Snakefile"), "-d", str(work),
               "--profile", str(PROFILE), *FAST, *args]
    with open(log, "w") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def watch_training_jobs(run: subprocess.Popen, cluster: dict, log: Path
                        ) -> tuple[int, bool, list[set[str]]]:
    """Poll Slurm until the Snakemake run ends: the most training jobs running at once,
    whether one waited for Resources while two ran, and the GPUs the running pairs held."""
    most_running, waited_for_a_gpu, devices_at_once = 0, False, []
    deadline = time.monotonic() + 600
    while run.poll() is None:
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        jobs = [j for j in job_records(cluster)
                if j.get("Comment", "").startswith("rule_train_model_")
                and j["JobState"] in ("RUNNING", "PENDING")]
        running = [j for j in jobs if j["JobState"] == "RUNNING"]
        most_running = max(most_running, len(running))
        if len(running) == 2:
            devices_at_once.append({j["GRES"] for j in running})
            waited_for_a_gpu |= any(j["Reason"] == "Resources" for j in jobs
                                    if j["JobState"] == "PENDING")
        time.sleep(0.3)
    return most_running, waited_for_a_gpu, devices_at_once


def test_the_quick_run_goes_through_slurm(cluster, local_ingest, tmp_path):
    """Ingest, fits and training as Slurm jobs (the small ones grouped), the report locally;
    the same tensors as a run without Slurm."""
    work = tmp_path / "work"
    config = config_file(tmp_path / "c.yaml", models=["net", "res_deep"])
    result = snakemake(work, "--profile", str(PROFILE), *FAST, "--configfile", QUICK, config,
                       env=cluster, checkout=CHECKOUT)
    output = result.stdout + result.stderr

    page = (work / "results/report.html").read_text()
    assert 'id="claims-verdicts"' in page and ">net<" in page and ">res_deep<" in page
    with open(work / "results/metrics.csv") as f:
        assert sorted(row["model"] for row in csv.DictReader(f)) == [
            "net", "res_deep", "sweeps/channels/n_chans1~16", "sweeps/channels/n_chans1~8"]
    for model in ("net", "res_deep"):
        for name in ("summary.json", "metrics.csv", "model.pt"):
            assert (work / f"results/train/{model}/seed0/{name}").is_file()
        summary = json.loads((work / f"results/train/{model}/seed0/summary.json").read_text())
        assert summary["device"].startswith("cpu")
    config_yaml = yaml.safe_load((CHECKOUT / "config.yaml").read_text())
    for experiment in config_yaml["thermometer"]["experiments"]:
        assert (work / f"results/thermometer/{experiment}.json").is_file()
    for dataset in DATASETS:
        ours = torch.load(work / f"results/data/{dataset}.pt", weights_only=True)
        local = torch.load(local_ingest / f"results/data/{dataset}.pt", weights_only=True)
        assert ours.keys() == local.keys()
        for key, value in local.items():
            if isinstance(value, torch.Tensor):
                assert torch.equal(ours[key], value), (dataset, key)
            else:
                assert ours[key] == value, (dataset, key)

    jobs = records_of(cluster, run_id(output))
    assert all(j["JobState"] == "COMPLETED" for j in jobs), jobs
    # Slurm jobs by the plugin's comment: one per training job; the 9 thermometer fits in 3
    # submissions and both ingests in one; the report (make_report, publish_report) ran here.
    submissions: dict[str, int] = {}
    for job in jobs:
        submissions[job["Comment"]] = submissions.get(job["Comment"], 0) + 1
    # The quick config's two sweep points are training jobs like the zoo's: one Slurm job each.
    sweep_points = [c for c in submissions if "n_chans1" in c]
    assert len(sweep_points) == 2 and all(submissions[c] == 1 for c in sweep_points), submissions
    assert {c: n for c, n in submissions.items() if c not in sweep_points} == {
        "rule_train_model_wildcards_net_0": 1,
        "rule_train_model_wildcards_res_deep_0": 1,
        "rule_thermometer_fit_thermometer": 3,
        "rule_ingest_ingest_dataset": 1}
    assert "localrule make_report:" in output and "localrule publish_report:" in output
    # Training jobs: train.threads CPUs, the per-model time limit, no GPU (quick: CPU training).
    for job in jobs:
        if job["Comment"].startswith("rule_train_model_"):
            assert job["NumCPUs"] == "2"
            assert job["TimeLimit"] == (
                "12:00:00" if job["Comment"].endswith("res_deep_0") else "02:00:00")
            assert "gpu" not in job.get("TresPerJob", "")


def test_training_jobs_ask_slurm_for_one_gpu_each_and_wait_for_a_free_one(
        cluster, local_ingest, tmp_path):
    """profiles/slurm/cluster.yaml (train.request_gpu: true): each training job asks Slurm for
    one GPU. The node has 2 GPUs and 16 CPUs: of 3 one-CPU jobs, 2 run at once, each on its own
    GPU, while the third waits for Resources. (train.device: auto, decided in the job: the
    node has no CUDA, so they train on the CPU.)"""
    work = copy_of(local_ingest, tmp_path)
    models = ["net", "fc_512", "width"]
    config = config_file(tmp_path / "c.yaml", models=models, device="auto", threads=1,
                         subsample=200, defaults={"epochs": 1})
    log = tmp_path / "snakemake.log"
    run = start(work, *[f"results/train/{m}/seed0/summary.json" for m in models],
                "--configfile", str(PROFILE / "cluster.yaml"), QUICK, config,
                cluster=cluster, log=log)
    most_running, waited_for_a_gpu, devices_at_once = watch_training_jobs(run, cluster, log)
    assert run.returncode == 0, log.read_text()[-3000:]

    jobs = records_of(cluster, run_id(log.read_text()))
    assert sorted(j["Comment"] for j in jobs) == sorted(
        f"rule_train_model_wildcards_{m}_0" for m in models)
    assert all(j["TresPerJob"] == "gres:gpu:1" and j["JobState"] == "COMPLETED" for j in jobs)
    assert most_running == 2 and waited_for_a_gpu
    assert devices_at_once and all(
        d == {"gpu:1(IDX:0)", "gpu:1(IDX:1)"} for d in devices_at_once), devices_at_once
    for model in models:
        summary = json.loads((work / f"results/train/{model}/seed0/summary.json").read_text())
        assert summary["device"].startswith("cpu")
        # Given a GPU without CUDA, the job says so rather than training on the CPU silently.
        train_log = (work / f"logs/train_model/{model}/seed0.log").read_text()
        assert "the scheduler gave this job a GPU (SLURM_" in train_log


def test_a_training_job_cancelled_with_scancel_resumes_when_the_workflow_runs_again(
        cluster, local_ingest, tmp_path):
    """scancel of the Slurm job once its first checkpoint exists: Snakemake reports the job
    failed; the same command again resumes from the checkpoint (in a new Slurm job) and ends
    with the metrics of an uninterrupted run."""
    work = copy_of(local_ingest, tmp_path)
    # 7 epochs after the first checkpoint: seconds for the test to cancel the job mid-run.
    config = config_file(tmp_path / "c.yaml", models=["net"], device="cpu", subsample=3000,
                         defaults={"epochs": 8})
    target = "results/train/net/seed0/summary.json"
    args = (target, "--configfile", QUICK, config)
    log = tmp_path / "first.log"
    first = start(work, *args, cluster=cluster, log=log)
    checkpoint = work / "results/.resume/net/seed0/checkpoint.pt"
    deadline = time.monotonic() + 600
    while not checkpoint.exists():
        assert first.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.2)
    running = [j for j in job_records(cluster) if j["JobState"] == "RUNNING"]
    assert [j["Comment"] for j in running] == ["rule_train_model_wildcards_net_0"]
    subprocess.run(["scancel", running[0]["JobId"]], env={**os.environ, **cluster}, check=True,
                   timeout=30)
    assert first.wait(timeout=300) != 0
    assert not (work / target).exists()

    again = snakemake(work, "--profile", str(PROFILE), *FAST, *args, env=cluster,
                      checkout=CHECKOUT)
    train_log = (work / "logs/train_model/net/seed0.log").read_text()
    assert "resuming net seed 0 after epoch" in train_log
    states = [j["JobState"] for run in (log.read_text(), again.stdout + again.stderr)
              for j in records_of(cluster, run_id(run))]
    assert states == ["CANCELLED", "COMPLETED"]

    resumed, uninterrupted = uninterrupted_metrics(work, "net", tmp_path / "reference", 3000)
    assert resumed == uninterrupted and len(resumed) == 8


def test_with_train_device_cuda_each_training_job_asks_slurm_for_one_gpu(
        cluster, local_ingest, tmp_path):
    """train.device: cuda (without cluster.yaml): every training job is submitted with one GPU
    and no more than the node's 2 run at once, the third waiting for Resources. The node has no
    CUDA, so the test cancels them once it has seen that (Snakemake first, which scancels its
    jobs, then anything left)."""
    work = copy_of(local_ingest, tmp_path)
    models = ["net", "fc_512", "width"]
    config = config_file(tmp_path / "c.yaml", models=models, device="cuda", threads=1)
    log = tmp_path / "snakemake.log"
    run = start(work, *[f"results/train/{m}/seed0/summary.json" for m in models],
                "--configfile", QUICK, config, cluster=cluster, log=log)
    seen: list[dict] = []
    deadline = time.monotonic() + 300
    try:
        while True:
            assert run.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            jobs = [j for j in job_records(cluster)
                    if j.get("Comment", "").startswith("rule_train_model_")
                    and j["JobState"] in ("RUNNING", "PENDING")]
            states = sorted((j["JobState"], j["Reason"]) for j in jobs)
            if states == [("PENDING", "Resources"), ("RUNNING", "None"), ("RUNNING", "None")]:
                seen = jobs
                break
            assert sum(state == "RUNNING" for state, _ in states) <= 2, jobs
            time.sleep(0.2)
    finally:
        run.send_signal(signal.SIGINT)  # Ctrl-C: Snakemake cancels its Slurm jobs
        run.wait(timeout=120)
        cancel_everything({**os.environ, **cluster})
    assert sorted(j["Comment"] for j in seen) == sorted(
        f"rule_train_model_wildcards_{m}_0" for m in models)
    assert all(j["TresPerJob"] == "gres:gpu:1" for j in seen), seen
    assert {j["GRES"] for j in seen if j["JobState"] == "RUNNING"} == {
        "gpu:1(IDX:0)", "gpu:1(IDX:1)"}
    assert all(j["JobState"] in ("CANCELLED", "FAILED") for j in records_of(
        cluster, run_id(log.read_text()))), "a training job outlived the test"
