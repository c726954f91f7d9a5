"""A training job that outlives the Snakemake process that started it stops within seconds.

Killed by SIGKILL, Snakemake cannot stop its jobs: an orphan would train on, holding its GPU,
while the next run writes the same run. `ParentWatch` checks every second that the nearest
Snakemake ancestor (a shell between them outlives it), else the parent, lives; a zombie or a
reused pid counts as gone. Not `prctl(PR_SET_PDEATHSIG)`: it fires when the forking *thread*
ends (Snakemake forks from worker threads) and cannot see through a shell.
"""

import contextlib
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Self

from dlwpt.rerun import PROC, Watched, alive, proc_stat


def snakemake_ancestor(proc: Path = PROC, pid: int | None = None) -> Watched:
    """The nearest ancestor of `pid` (this process) that is Snakemake, else the direct parent."""
    mine = proc_stat(os.getpid() if pid is None else pid, proc)
    if mine is None:  # no /proc: only reparenting can tell
        return Watched(os.getppid(), None, False)
    parent = current = mine[1]
    for _ in range(64):  # a deeper tree is not a Snakemake job's
        stat = proc_stat(current, proc) if current > 1 else None
        if stat is None:
            break
        with contextlib.suppress(OSError):  # its cmdline unreadable: not Snakemake
            argv = (proc / str(current) / "cmdline").read_bytes().split(b"\0")
            # `python -m snakemake`, `python .venv/bin/snakemake`, `snakemake`; not a shell
            # running a script under .snakemake/.
            if any(os.path.basename(arg) == b"snakemake" for arg in argv[:3]):
                return Watched(current, stat[2], True)
        current = stat[1]
    stat = proc_stat(parent, proc)
    return Watched(parent, stat[2] if stat else None, False)


class ParentWatch:
    """Ends this process within about `poll_s` of its Snakemake's death, never during a write
    held in `writing()`; `progress` (set by the job) ends its log line, `done()` stops it."""

    def __init__(self, log: logging.Logger, *, poll_s: float = 1.0, proc: Path = PROC,
                 exit: Callable[[int], object] = os._exit):
        self.log, self.poll_s, self.proc, self._exit = log, poll_s, proc, exit
        self.progress = "the next run starts over (no checkpoint yet)"
        self._lock, self._stopped = threading.Lock(), threading.Event()
        self._original_ppid = os.getppid()
        self.watched = snakemake_ancestor(proc)
        self._thread = threading.Thread(target=self._run, name="parent-watch", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done()

    def done(self) -> None:
        self._stopped.set()

    def writing(self) -> threading.Lock:
        """Held by each write the job must finish: the watch ends the process only between."""
        return self._lock

    def _run(self) -> None:
        while not self._stopped.wait(self.poll_s):
            if alive(self.watched, self._original_ppid, self.proc):
                continue
            with self._lock:
                if self._stopped.is_set():  # the job finished meanwhile
                    return
                who = "Snakemake process" if self.watched.is_snakemake else "parent process"
                self.log.warning("stopping: the %s that started this job (pid %d) is gone; %s",
                                 who, self.watched.pid, self.progress)
                for handler in self.log.handlers:
                    handler.flush()
                self._exit(1)  # the kernel drops the GPU claim (flock) with the process
            return
