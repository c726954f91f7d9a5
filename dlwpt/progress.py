"""Where a long run stands: each training job's epoch line and the whole run's share done (from
the start-up estimate's plan.json and each job's record). Never raises: it never fails a job.
"""

import contextlib
import logging
import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dlwpt import io
from dlwpt.runs import TRAIN_RULE, run_dir, run_name

PROGRESS_DIR = Path("results/.progress")  # relative to the workflow's working directory
PLAN_NAME = "plan.json"


def duration(seconds: float) -> str:
    """`4h51m`, `12m05s`, `45s`: hours and minutes once over an hour."""
    seconds = max(0, int(round(seconds)))
    if seconds >= 3600:
        hours, minutes = divmod(int(round(seconds / 60)), 60)
        return f"{hours}h{minutes:02d}m"
    if seconds >= 60:
        minutes, seconds = divmod(seconds, 60)
        return f"{minutes}m{seconds:02d}s"
    return f"{seconds}s"


def progress_path(progress_dir: str | os.PathLike, run: str, seed: int) -> Path:
    return run_dir(run, seed, progress_dir).with_suffix(".json")


def record_epoch(progress_dir: str | os.PathLike, run: str, seed: int, epoch: int, epochs: int,
                 elapsed: float, done: bool = False, now: float | None = None) -> None:
    """This job's progress; done=True at its end (a diverged run stops before its last epoch)."""
    with contextlib.suppress(Exception):  # e.g. a full disk, or a folder in the file's place
        io.write_json(progress_path(progress_dir, run, seed), {
            "run": run, "seed": seed, "epoch": epoch, "epochs": epochs, "elapsed": elapsed,
            "done": done, "time": time.time() if now is None else now})


def job_fraction(job: Mapping[str, Any], started: float, progress_dir: Path, root: Path) -> float:
    """How much of a planned job is done: 1 when its benchmark file (written as a job ends) or its
    `done` record is newer than the plan, else a training job's epochs' share."""
    with contextlib.suppress(OSError):
        if job.get("benchmark") and (root / job["benchmark"]).stat().st_mtime >= started:
            return 1.0
    if job.get("rule") == TRAIN_RULE:
        record = io.read_json(progress_path(progress_dir, job["run"], job["seed"]), or_none=True)
        if isinstance(record, dict) and record.get("time", 0) >= started:
            if record.get("done"):
                return 1.0
            if record.get("epochs"):
                return min(1.0, max(0.0, record["epoch"] / record["epochs"]))
    return 0.0


def planned_time(share: float, jobs: Sequence[Mapping[str, float]]) -> float:
    """When, on the plan's timeline, `share` of its work should be done (each job's evenly)."""
    total = sum(job["seconds"] for job in jobs)
    if total <= 0 or not jobs:
        return 0.0
    target = share * total

    def done_at(t: float) -> float:
        work = 0.0
        for job in jobs:
            span = job["end"] - job["start"]
            if t >= job["end"]:
                work += job["seconds"]
            elif t > job["start"] and span > 0:
                work += job["seconds"] * (t - job["start"]) / span
        return work

    low, high = 0.0, max(job["end"] for job in jobs)
    for _ in range(50):
        middle = (low + high) / 2
        low, high = (middle, high) if done_at(middle) < target else (low, middle)
    return high


def remaining_seconds(share: float, elapsed: float, planned_elapsed: float,
                      wall: float) -> float:
    """The plan's wall time still ahead, scaled by the pace so far (elapsed / planned_elapsed,
    with a prior of a tenth of the plan at its pace, so the first minutes do not swing it)."""
    if share >= 1:
        return 0.0
    prior = 0.1 * wall
    pace = (elapsed + prior) / (planned_elapsed + prior) if prior > 0 else 1.0
    return max(0.0, wall - planned_elapsed) * pace


def whole_run_line(progress_dir: str | os.PathLike = PROGRESS_DIR,
                   now: float | None = None) -> str | None:
    """The whole run's line; None without a plan (--no-hooks, or a job run alone). Benchmark
    paths are relative to the working directory, two levels above `progress_dir`."""
    progress_dir = Path(progress_dir)
    plan = io.read_json(progress_dir / PLAN_NAME, or_none=True)
    now = time.time() if now is None else now
    try:
        jobs, started = plan["jobs"], float(plan["started"])
        if not jobs:
            return None
        total = sum(job["seconds"] for job in jobs)  # each job weighs its expected seconds
        done = sum(job["seconds"] * job_fraction(job, started, progress_dir,
                                                 progress_dir.parent.parent) for job in jobs)
        share = 0.0 if total <= 0 else done / total
        left = remaining_seconds(share, now - started, planned_time(share, jobs), plan["wall_s"])
        if not math.isfinite(share + left):
            return None
        return f"run: {int(share * 100)}% of the expected work, about {duration(left)} left"
    except Exception:  # a plan or progress file that is not what this version writes
        return None


class JobProgress:
    """dlwpt.train's `on_epoch`: each epoch's line, then (but after the last epoch: the end
    follows) its record in `progress_dir` and the whole run's line."""

    def __init__(self, run: str, seed: int, log: logging.Logger,
                 progress_dir: str | os.PathLike | None = PROGRESS_DIR) -> None:
        self.run, self.seed, self.log, self.progress_dir = run, seed, log, progress_dir
        self.warned = False

    def __call__(self, rows: Sequence[Mapping[str, float]], epochs: int, elapsed: float,
                 done: bool = False) -> None:
        try:
            row, epoch = rows[-1], int(rows[-1]["epoch"])
            if not done:
                eta = elapsed / epoch * (epochs - epoch)
                self.log.info("%s", f"{run_name(self.run, self.seed)} epoch {row['epoch']}/{epochs}"
                              f" loss {row['train_loss']:.4f} train_acc {row['train_acc']:.4f} "
                              f"val_acc {row['val_acc']:.4f} {row['seconds']:.2f} s ETA "
                              f"{duration(eta)}")
            if self.progress_dir is None or (epoch >= epochs and not done):
                return
            record_epoch(self.progress_dir, self.run, self.seed, epoch, epochs, elapsed, done=done)
            if line := whole_run_line(self.progress_dir):
                self.log.info("%s", line)
        except Exception as e:  # progress is never worth a failed job: one warning, once
            if not self.warned:
                self.warned = True
                self.log.warning("no progress line: %s: %s", type(e).__name__, e)
