"""GPU claims without a GPU: the locking logic alone, with real processes."""

from __future__ import annotations

import logging
import multiprocessing
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dlwpt.devices import Candidate, candidates, claim_gpu, scheduler_gpus, try_claim

REPO = Path(__file__).resolve().parents[1]


def test_without_cuda_visible_devices_every_device_is_a_candidate():
    assert candidates(3, env={}) == [Candidate("0", 0), Candidate("1", 1), Candidate("2", 2)]


def test_cuda_visible_devices_renumbers_and_names_the_locks():
    env = {"CUDA_VISIBLE_DEVICES": "2,5"}
    assert candidates(2, env=env) == [Candidate("2", 0), Candidate("5", 1)]
    uuids = {"CUDA_VISIBLE_DEVICES": "GPU-aa11,GPU-bb22"}
    assert [c.device_id for c in candidates(2, env=uuids)] == ["GPU-aa11", "GPU-bb22"]
    assert candidates(4, env={"CUDA_VISIBLE_DEVICES": "-1"}) == []
    assert candidates(4, env={"CUDA_VISIBLE_DEVICES": "1,-1,2"}) == [Candidate("1", 0)]


def test_under_slurm_the_locks_take_slurms_global_gpu_indices():
    """ConstrainDevices: two jobs on one node both see CUDA_VISIBLE_DEVICES=0 but hold
    different GPUs; the locks must not collide (and the record names the real GPU)."""
    job_a = {"CUDA_VISIBLE_DEVICES": "0", "SLURM_STEP_GPUS": "1"}
    job_b = {"CUDA_VISIBLE_DEVICES": "0", "SLURM_JOB_GPUS": "3"}
    assert candidates(1, env=job_a) == [Candidate("1", 0)]
    assert candidates(1, env=job_b) == [Candidate("3", 0)]
    two = {"CUDA_VISIBLE_DEVICES": "0,1", "SLURM_STEP_GPUS": "2,3", "SLURM_JOB_GPUS": "5,6"}
    assert candidates(2, env=two) == [Candidate("2", 0), Candidate("3", 1)]
    # A list that does not match the visible devices is not trusted.
    assert candidates(1, env={"CUDA_VISIBLE_DEVICES": "0", "SLURM_JOB_GPUS": "1,2"}) == [
        Candidate("0", 0)]


def test_the_gpus_slurm_gave_a_job():
    assert scheduler_gpus({}) is None
    assert scheduler_gpus({"SLURM_GPUS_ON_NODE": "0"}) is None
    assert scheduler_gpus({"SLURM_GPUS_ON_NODE": "1"}) == "SLURM_GPUS_ON_NODE=1"
    assert scheduler_gpus({"SLURM_JOB_GPUS": "3", "SLURM_STEP_GPUS": "1",
                           "SLURM_GPUS_ON_NODE": "1"}) == "SLURM_STEP_GPUS=1"


def test_train_gpus_keeps_only_the_listed_devices():
    assert candidates(4, allowed=[1, 3], env={}) == [Candidate("1", 1), Candidate("3", 3)]
    env = {"CUDA_VISIBLE_DEVICES": "2,5"}
    assert candidates(2, allowed=[5], env=env) == [Candidate("5", 1)]


def _claim_and_hold(lock_dir: str, slots: int, hold_s: float, results) -> None:
    with claim_gpu(slots, lock_dir=lock_dir, env={}, poll_s=0.01) as claim:
        start = time.monotonic()
        time.sleep(hold_s)
        results.put((claim.device_id, start, time.monotonic()))


def test_concurrent_claimers_never_share_a_device(tmp_path):
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    workers = [context.Process(target=_claim_and_hold, args=(str(tmp_path), 3, 0.2, results))
               for _ in range(9)]
    for w in workers:
        w.start()
    held = [results.get(timeout=60) for _ in workers]
    for w in workers:
        w.join(timeout=10)
        assert w.exitcode == 0
    by_device: dict[str, list[tuple[float, float]]] = {}
    for device, start, end in held:
        by_device.setdefault(device, []).append((start, end))
    assert set(by_device) <= {"0", "1", "2"}
    for intervals in by_device.values():
        intervals.sort()
        for (_, end), (next_start, _) in zip(intervals, intervals[1:], strict=False):
            assert next_start >= end, "two jobs held one GPU at once"
    assert len(set(by_device)) == 3  # nine jobs over three GPUs: every GPU got used


def test_a_killed_holder_frees_its_device(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from dlwpt.devices import claim_gpu\n"
         f"c = claim_gpu(1, lock_dir={str(tmp_path)!r}, env={{}})\n"
         "print(c.device_id, flush=True); time.sleep(600)"],
        cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "0"
        assert try_claim(Candidate("0", 0), tmp_path) is None
        with pytest.raises(RuntimeError, match=r"every GPU \(0\) stayed claimed"):
            claim_gpu(1, lock_dir=tmp_path, env={}, wait_s=0)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with claim_gpu(1, lock_dir=tmp_path, env={}, wait_s=0) as claim:
        assert (claim.device_id, claim.index) == ("0", 0)


def test_a_waiting_job_says_so_once_and_takes_the_first_freed_device(tmp_path, caplog):
    first = claim_gpu(2, lock_dir=tmp_path, env={})
    second = claim_gpu(2, lock_dir=tmp_path, env={})
    assert (first.index, second.index) == (0, 1)
    polls = []

    def free_the_second_after_two_polls(seconds: float) -> None:
        polls.append(seconds)
        if len(polls) == 2:
            second.release()

    log = logging.getLogger("test-gpus")
    with caplog.at_level(logging.INFO, logger="test-gpus"):
        third = claim_gpu(2, lock_dir=tmp_path, env={}, log=log, poll_s=0.5,
                          sleep=free_the_second_after_two_polls)
    assert third.index == 1 and polls == [0.5, 0.5]
    assert [r.getMessage() for r in caplog.records] == [
        "all GPUs (0, 1) are claimed by other jobs; waiting for one to free up"]
    first.release()
    third.release()


def test_no_usable_device_is_one_line():
    with pytest.raises(RuntimeError, match=r"^no usable GPU: 2 visible, CUDA_VISIBLE_DEVICES=0,1, "
                                           r"train.gpus=\[7\]$"):
        claim_gpu(2, allowed=[7], env={"CUDA_VISIBLE_DEVICES": "0,1"})


@pytest.mark.parametrize(("device", "request_gpu", "cuda_here", "expected"), [
    ("cpu", True, True, False),  # CPU training never asks for a GPU
    ("cuda", "auto", False, True),  # asked for explicitly, wherever the plan is made
    ("auto", "auto", True, True),  # a workstation with a GPU
    ("auto", "auto", False, False),  # a laptop
    ("auto", True, False, True),  # a cluster: the login node has no GPU, the nodes do
    ("cuda", False, True, False),
])
def test_whether_a_training_job_asks_for_a_gpu(device, request_gpu, cuda_here, expected):
    from dlwpt.devices import requests_gpu

    looked = []

    def probe() -> bool:
        looked.append(1)
        return cuda_here

    assert requests_gpu(device, request_gpu, probe) is expected
    # only auto/auto looks at the planning machine
    assert looked == ([1] if (device, request_gpu) == ("auto", "auto") else [])


@pytest.mark.pipeline
def test_training_jobs_ask_for_one_gpu_each_when_settings_say_so(tmp_path):
    """A login node without a GPU plans GPU jobs from settings, not from its own hardware."""
    import re

    from tests.helpers.workflow import QUICK, snakemake

    asks = tmp_path / "cluster.yaml"
    asks.write_text("train:\n  device: auto\n  request_gpu: true\n")
    result = snakemake(tmp_path / "work", "-n", "--configfile", QUICK, str(asks), "--cores", "2")
    blocks = re.split(r"\n(?=rule \w+:\n)", result.stdout)
    gpus = {}
    for block in blocks:
        rule = re.match(r"rule (\w+):", block)
        found = re.search(r"resources: .*\bgpu=(\d+)", block)
        if rule and found:
            gpus.setdefault(rule.group(1), set()).add(int(found.group(1)))
    assert gpus["train_model"] == {1}
    assert all(v == {0} for k, v in gpus.items() if k != "train_model"), gpus
