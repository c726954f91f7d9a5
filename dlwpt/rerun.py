"""The command that repeats this Snakemake run, for recovery hints ("rebuild the run with: ...").

A hint is only useful if it works as printed: `snakemake --forcerun <file>` alone, after a run
with `--configfile config/quick.yaml`, plans the default configuration and deletes the quick
run's outputs. So the hint is the command line of the run that failed, as typed (its
`--configfile` files, `--config` values, `-d`, `-s`, `--cores`, `--profile`, ...), after the
data-source variables it ran with, with `--forcerun <file>` added. Its relative paths are
relative to the directory that command ran in, where the hint is meant to be run; the file
given to `--forcerun` is relative to the work dir, as Snakemake reads targets after `-d`.

The Snakefile computes it while it is parsed (the only time Snakemake's own command line is at
hand) and hands it to the report job in an environment variable rather than a param: the
command line is no part of the page, and a param would rerun the report whenever `--cores`,
`-d` or a config file's path changed.
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

VARIABLE = "DLWPT_RERUN_COMMAND"
# The environment variables that choose the data (dlwpt.sources): part of the run's settings.
SETTINGS = ("DLWPT_DATA", "DLWPT_CIFAR10")


def snakemake_command(argv: Sequence[str], executable: str,
                      environ: Mapping[str, str]) -> str | None:
    """This run's command line as a shell command (sys.argv as Snakemake's process saw it),
    or None where argv is not Snakemake's command line (the Python API, a test runner)."""
    if not argv:
        return None
    program = Path(argv[0])
    if program.name == "__main__.py" and program.parent.name == "snakemake":
        head = [executable, "-m", "snakemake"]  # python -m snakemake
    elif program.name == "snakemake":
        found = shutil.which("snakemake")
        same = found is not None and _same_file(found, argv[0])
        head = ["snakemake" if same else argv[0]]
    else:
        return None
    settings = [f"{name}={shlex.quote(environ[name])}" for name in SETTINGS if name in environ]
    command = " ".join([*settings, shlex.join([*head, *argv[1:]])])
    return None if "\n" in command else command  # a hint is one line


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def rebuild_hint(target: str | os.PathLike, command: str | None) -> str:
    """How to rebuild the job that makes `target` (a path relative to the work dir): `command`
    (snakemake_command's) with `--forcerun target`, or the same in words without one."""
    if command:
        return f"rebuild the run with: {command} --forcerun {shlex.quote(str(target))}"
    return (f"rebuild the run with the snakemake command of this run (the same --configfile "
            f"files and options) and --forcerun {shlex.quote(str(target))} added")
