"""The command that repeats this Snakemake run, for recovery hints: the failed run's command line
as typed (`--forcerun <file>` alone, after a `--configfile config/quick.yaml` run, would plan the
default configuration and delete the quick run's outputs). Recorded while parsed (the only time
it is at hand) in the run record, not a param (that would rerun the report whenever `--cores`
changed); the record also refuses a second run."""

import json
import os
import shlex
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlwpt.io import write_json

RECORD = Path(".snakemake/dlwpt-run.json")  # relative to the work dir
PROC = Path("/proc")
# Snakemake options that neither run jobs nor unlock: these look, and leave the record alone.
LOOKS = ("dryrun", "lint", "list_target_rules", "list_rules", "print_compilation", "summary",
         "detailed_summary", "dag", "rulegraph", "filegraph", "d3dag", "list_changes",
         "list_input_changes", "list_params_changes", "list_untracked", "containerize",
         "report", "archive", "generate_unit_tests", "cleanup_metadata", "list_conda_envs",
         "conda_cleanup_envs", "conda_create_envs_only", "cleanup_shadow",
         "container_cleanup_images")
# The environment variables that choose the data (dlwpt.sources): part of the run's settings.
SETTINGS = ("DLWPT_DATA", "DLWPT_CIFAR10")


@dataclass(frozen=True)
class Watched:
    """A process as /proc lists it (dlwpt.orphan watches one; the run record names one)."""

    pid: int
    start: str | None  # /proc's start time (field 22), or None where /proc cannot say
    is_snakemake: bool


def proc_stat(pid: int, proc: Path) -> tuple[str, int, str] | None:
    """(state, parent pid, start time) of `pid` from /proc, or None if it is not listed."""
    try:
        text = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # the name, in parentheses, may hold spaces
    return fields[0], int(fields[1]), fields[19]


def running(pid: int, start: str, proc: Path = PROC) -> bool:
    """Whether `pid` is the live process that started at `start` (not a reused pid)."""
    stat = proc_stat(pid, proc)
    return stat is not None and stat[0] not in ("Z", "X") and stat[2] == start


def alive(watched: Watched, original_ppid: int, proc: Path = PROC) -> bool:
    if os.getppid() != original_ppid and watched.pid == original_ppid:
        return False  # reparented: the direct parent died
    return watched.start is None or running(watched.pid, watched.start, proc)


def snakemake_command(argv: Sequence[str], executable: str,
                      environ: Mapping[str, str]) -> str | None:
    """This run's command line as a shell command (sys.argv as Snakemake's process saw it),
    or None where argv is not Snakemake's command line (the Python API, a test runner)."""
    if not argv:
        return None
    program = Path(argv[0])
    if program.name == "__main__.py" and program.parent.name == "snakemake":
        head = [executable, "-m", "snakemake"]  # python -m snakemake
    elif program.name == "snakemake":  # `snakemake` when that is the one on PATH
        found = shutil.which("snakemake")
        try:
            head = ["snakemake" if found and os.path.samefile(found, argv[0]) else argv[0]]
        except OSError:
            head = [argv[0]]
    else:
        return None
    settings = [f"{name}={shlex.quote(environ[name])}" for name in SETTINGS if name in environ]
    command = " ".join([*settings, shlex.join([*head, *argv[1:]])])
    return None if "\n" in command else command  # a hint is one line


def rebuild_hint(target: str | os.PathLike, command: str | None) -> str:
    """`command` with `--forcerun target` (relative to the work dir), or in words without one."""
    if command:
        return f"rebuild the run with: {command} --forcerun {shlex.quote(str(target))}"
    return (f"rebuild the run with the snakemake command of this run (the same --configfile "
            f"files and options) and --forcerun {shlex.quote(str(target))} added")


def intent(argv: Sequence[str]) -> str | None:
    """"run" (jobs may run: the lock is taken), "unlock", or None (a dry run or another look,
    or argv that is not Snakemake's command line), read with Snakemake's own parser."""
    if snakemake_command(argv, "python", {}) is None:
        return None
    from snakemake.cli import get_argument_parser

    try:
        args, _ = get_argument_parser().parse_known_args(list(argv[1:]))
    except SystemExit:  # Snakemake itself says what is wrong with its command line
        return None
    if args.unlock:
        return "unlock"
    return None if any(getattr(args, name, None) for name in LOOKS) else "run"


def live_record(record: Path = RECORD) -> dict[str, Any] | None:
    """The run record if the process it names still lives (the same pid and start time)."""
    try:
        found = json.loads(record.read_text())
        return found if running(int(found["pid"]), str(found["start"])) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def claim(argv: Sequence[str], executable: str, environ: Mapping[str, str],
          record: Path = RECORD) -> str | None:
    """For a run or `--unlock`: one line if another live run works in this folder; else, for a
    run, record this one (pid, start time, command line) and None."""
    if (wanted := intent(argv)) is None:
        return None
    other = live_record(record)
    if other is not None and other["pid"] != os.getpid():
        return (f"run: another snakemake run (pid {other['pid']}, started {other['started']}) "
                "is working in this folder; wait for it or stop it")
    mine = proc_stat(os.getpid(), PROC)
    if wanted == "run" and mine is not None:
        write_json(record, {"pid": os.getpid(), "start": mine[2],
                            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                            "command": snakemake_command(argv, executable, environ)})
    return None


def recorded_command(record: Path = RECORD) -> str | None:
    """The command line of the live run that recorded itself here (the one running this job)."""
    return (live_record(record) or {}).get("command")
