"""Which device a training job uses: `auto` resolved, and one GPU per CUDA job.

`--resources gpu=N` never says which GPU, so each CUDA job takes an exclusive `flock` on a
per-device lock file: race-free, freed by the kernel when the job dies. Under Slurm with
`ConstrainDevices=yes` every job sees its GPU as device 0: locks are named after
SLURM_STEP_GPUS / SLURM_JOB_GPUS (the node's indices) when they list as many."""

import contextlib
import fcntl
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from itertools import count, takewhile
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from dlwpt.io import SettingError

if TYPE_CHECKING:
    import torch

DEFAULT_LOCK_DIR = Path(tempfile.gettempdir()) / "dlwpt-gpu-locks"


@dataclass(frozen=True)
class Candidate:
    device_id: str  # as the machine names it (nvidia-smi index or UUID): what is locked
    index: int  # the torch index inside this process (cuda:<index>)


def candidates(device_count: int, allowed: list[int] | None = None,
               env: Mapping[str, str] = os.environ) -> list[Candidate]:
    """The devices this job may claim (`allowed`: train.gpus), by CUDA_VISIBLE_DEVICES' names
    (torch numbers them 0..n-1): jobs with different visibility still exclude each other."""
    names = [str(i) for i in range(device_count)]
    if "CUDA_VISIBLE_DEVICES" in env:
        # CUDA stops at the first invalid entry (e.g. "-1" hides every device).
        names = list(takewhile(lambda name: not name.startswith("-"),
                               _listed(env["CUDA_VISIBLE_DEVICES"])))[:device_count]
        slurm = _listed(env.get("SLURM_STEP_GPUS") or env.get("SLURM_JOB_GPUS") or "")
        if len(slurm) == len(names) > 0:  # both in ascending index order
            names = slurm
    keep = None if allowed is None else {str(i) for i in allowed}
    return [Candidate(name, i) for i, name in enumerate(names) if keep is None or name in keep]


def _listed(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


@dataclass(frozen=True)
class GpuClaim(Candidate, contextlib.AbstractContextManager):
    """A held device: `index` for torch, `device_id` for the record; release() or exit frees it."""

    lock: BinaryIO  # closing it drops its flock, as the kernel does when the job dies

    def release(self) -> None:
        self.lock.close()

    def __exit__(self, *exc: object) -> None:
        self.release()


def try_claim(candidate: Candidate, lock_dir: Path) -> GpuClaim | None:
    lock_dir.mkdir(parents=True, exist_ok=True)
    name = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in candidate.device_id)
    lock = open(lock_dir / f"gpu-{name}.lock", "ab")  # held until released
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        return None
    return GpuClaim(candidate.device_id, candidate.index, lock)


def claim_gpu(device_count: int, allowed: list[int] | None = None, *,
              lock_dir: str | os.PathLike = DEFAULT_LOCK_DIR, wait_s: float = 24 * 3600.0,
              poll_s: float = 1.0, env: Mapping[str, str] = os.environ,
              log: logging.Logger | None = None,
              sleep: Callable[[float], None] = time.sleep) -> GpuClaim:
    """Claim the first free device, waiting (with one log line) while all are taken."""
    options = candidates(device_count, allowed, env)
    if not options:
        raise RuntimeError(
            f"no usable GPU: {device_count} visible, CUDA_VISIBLE_DEVICES="
            f"{env.get('CUDA_VISIBLE_DEVICES', '(unset)')}, train.gpus={allowed}")
    names, deadline = ", ".join(c.device_id for c in options), time.monotonic() + wait_s
    for attempt in count():
        for candidate in options:  # the first free one: a claim holds its lock
            if (claim := try_claim(candidate, Path(lock_dir))) is not None:
                return claim
        if time.monotonic() >= deadline:
            raise RuntimeError(f"every GPU ({names}) stayed claimed by other jobs for "
                               f"{wait_s:.0f} s")
        if attempt == 0 and log is not None:
            log.info("all GPUs (%s) are claimed by other jobs; waiting for one to free up", names)
        sleep(poll_s)


def scheduler_gpus(env: Mapping[str, str] = os.environ) -> str | None:
    """The GPUs Slurm gave this job, as its variables say (None outside Slurm or without)."""
    for name in ("SLURM_STEP_GPUS", "SLURM_JOB_GPUS", "SLURM_GPUS_ON_NODE"):
        value = env.get(name, "").strip()
        if value and value != "0":
            return f"{name}={value}"
    return None


def requests_gpu(device: str, request: str | bool, cuda_here: Callable[[], bool]) -> bool:
    """Whether a training job asks the scheduler for a GPU (`train.request_gpu`); for auto/auto
    whether this machine has one (a cluster's login node has none: its profile says true)."""
    if device == "cpu" or request is False:
        return False
    return request is True or device == "cuda" or cuda_here()


def resolve_device(device: str) -> str:
    """`auto` means CUDA when this machine has it; decided once so rules and jobs agree."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@contextlib.contextmanager
def claimed_device(device: str, gpus: list[int] | None,
                   log: logging.Logger) -> Iterator[tuple["torch.device", str | None]]:
    """The job's device (`auto` resolved) and the machine's name for its GPU (None on the CPU or
    an explicit cuda:N), claimed among `gpus` until the block ends."""
    import torch

    resolved = torch.device(resolve_device(device))
    # A cluster job given a GPU whose torch sees none (a CPU-only torch build, a missing
    # driver) would otherwise train on the CPU for hours without a word.
    if device == "auto" and resolved.type == "cpu" and (granted := scheduler_gpus()):
        log.warning("the scheduler gave this job a GPU (%s) but torch sees no CUDA device: "
                    "training on the CPU", granted)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise SettingError("train.device is cuda but this machine has no usable CUDA device "
                           "(torch.cuda.is_available() is False); set train.device: auto or cpu")
    if resolved.type != "cuda" or resolved.index is not None:
        yield resolved, None
        return
    try:
        claim = claim_gpu(torch.cuda.device_count(), gpus, log=log)
    except RuntimeError as e:  # none usable under these settings: one line
        raise SettingError(str(e)) from None
    with claim:
        log.info("claimed GPU %s (cuda:%d) for this run", claim.device_id, claim.index)
        yield torch.device("cuda", claim.index), claim.device_id
