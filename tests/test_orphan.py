"""A job whose Snakemake died stops: the watch alone, with real processes and fake GPUs."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from dlwpt.devices import claim_gpu
from dlwpt.orphan import ParentWatch, Watched

REPO = Path(__file__).resolve().parents[1]

# A training job in miniature: claims a (fake) GPU, runs the watch, trains forever.
JOB = textwrap.dedent("""
    import logging, sys, time
    from dlwpt.devices import claim_gpu
    from dlwpt.orphan import ParentWatch
    log = logging.getLogger("job")
    log.addHandler(logging.StreamHandler(sys.stdout))
    claim = claim_gpu(1, lock_dir=sys.argv[1], env={})
    with ParentWatch(log, poll_s=0.2) as watch:
        print("ready", watch.watched.pid, watch.watched.is_snakemake, flush=True)
        time.sleep(600)
""")


def gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


def test_a_job_behind_a_shell_stops_when_its_snakemake_dies_and_frees_its_gpu(tmp_path):
    """A fake Snakemake (argv[0] `snakemake`) runs the job through a shell that does not exec
    it, so the job's parent outlives Snakemake: the watch still sees Snakemake die."""
    (tmp_path / "job.py").write_text(JOB)
    locks = tmp_path / "locks"
    shell = f"{sys.executable} {tmp_path / 'job.py'} {locks}; true"  # `; true`: no exec
    fake = subprocess.Popen(
        ["bash", "-c", 'exec -a snakemake "$0" -c "import subprocess, sys; '
         'subprocess.run([\'sh\', \'-c\', sys.argv[1]])" "$1"', sys.executable, shell],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE,
        text=True, start_new_session=True)
    try:
        ready = fake.stdout.readline().split()
        assert ready == ["ready", str(fake.pid), "True"]
        [job] = subprocess.run(["pgrep", "-s", str(fake.pid), "-f", f"^{sys.executable} .*job"],
                               capture_output=True, text=True).stdout.split()
        job = int(job)
        assert Path(f"/proc/{job}/stat").read_text().split()[3] != str(fake.pid)  # the shell
        time.sleep(1)  # several polls with Snakemake alive: no spurious stop
        assert not gone(job)
        with pytest.raises(RuntimeError, match="stayed claimed"):
            claim_gpu(1, lock_dir=locks, env={}, wait_s=0)
        fake.kill()
        killed = time.monotonic()
        while not gone(job):
            assert time.monotonic() - killed < 10, "the job outlived its Snakemake by 10 s"
            time.sleep(0.05)
        assert fake.stdout.readline().startswith(
            f"stopping: the Snakemake process that started this job (pid {fake.pid}) is gone")
        with claim_gpu(1, lock_dir=locks, env={}, wait_s=0) as claim:  # released at exit
            assert claim.device_id == "0"
    finally:
        os.killpg(fake.pid, signal.SIGKILL)
        fake.wait()


def test_a_write_in_progress_finishes_before_the_watch_ends_the_process():
    exits: list[int] = []
    watch = ParentWatch(logging.getLogger("test-orphan"), poll_s=0.05, exit=exits.append)
    dead = subprocess.Popen(["true"])
    dead.wait()  # reaped: no longer listed
    watch.watched = Watched(dead.pid, "0", True)
    with watch.writing():
        with watch:
            time.sleep(0.5)
            assert exits == []  # waiting for the write
    # __exit__ ran inside the write: a finished job is not ended
    time.sleep(0.2)
    assert exits == []

    second = ParentWatch(logging.getLogger("test-orphan"), poll_s=0.05, exit=exits.append)
    second.watched = watch.watched
    with second:
        with second.writing():
            time.sleep(0.3)
            assert exits == []
        deadline = time.monotonic() + 5
        while not exits and time.monotonic() < deadline:
            time.sleep(0.01)
        assert exits == [1]


def test_without_a_snakemake_ancestor_the_direct_parent_is_watched():
    child = subprocess.run(
        [sys.executable, "-c", "from dlwpt.orphan import snakemake_ancestor as a; "
         "w = a(); print(w.pid, w.is_snakemake, w.start is not None)"],
        cwd=REPO, capture_output=True, text=True, check=True)
    assert child.stdout.split() == [str(os.getpid()), "False", "True"]
