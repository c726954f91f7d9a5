"""Run the repository's Snakemake workflow as users do, in a separate work dir."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.helpers.config import QUICK_YAML
from tests.helpers.data import CIFAR10, DATA, REPO

SNAKEMAKE = [sys.executable, "-m", "snakemake"]
QUICK = str(QUICK_YAML)
# The shared quick run's terminal output, kept in its work dir (tests/conftest.py).
TERMINAL = "terminal.txt"


def snakemake(workdir: Path, *args: str, env: dict[str, str] | None = None,
              check: bool = True, timeout: float = 1500,
              checkout: Path = REPO) -> subprocess.CompletedProcess:
    """Run the repository's workflow (or that of a `private_checkout`) in `workdir` (outputs
    land there, not in the checkout)."""
    full_env = {**os.environ, "DLWPT_DATA": str(DATA), "DLWPT_CIFAR10": str(CIFAR10),
                **(env or {})}
    cmd = [*SNAKEMAKE, "-s", str(checkout / "Snakefile"), "-d", str(workdir), *args]
    result = subprocess.run(cmd, env=full_env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-4000:]}\n"
                             f"{result.stderr[-6000:]}")
    return result


# What Snakemake prints, before the error, on every run with a --configfile: not error text.
SNAKEMAKE_NOTICES = re.compile(
    r"Using workflow specific profile .* for setting default command line arguments\."
    r"|Config file \S+ is extended by additional config specified via the command line\.")


def parse(workdir: Path, *configfiles: str) -> str:
    """What a dry run (-n) in `workdir` that stops while the workflow is parsed prints: its
    stdout (where Snakemake logs in a dry run, errors included), then its stderr."""
    result = snakemake(workdir, "-n", "--configfile", *configfiles, "--cores", "1", check=False)
    assert result.returncode != 0
    return result.stdout + result.stderr


def error_lines(out: str) -> list[str]:
    """The lines of a refused parse's output besides Snakemake's notices, checked to carry no
    traceback, `File ...` line or WorkflowError around them."""
    for noise in ("Traceback", 'File "', "WorkflowError", "Error in file"):
        assert noise not in out, out
    return [s for s in out.splitlines() if s and not SNAKEMAKE_NOTICES.fullmatch(s)]


def hint_of(log: Path) -> str:
    """The command named by the "rebuild the run with: ..." hint of a job log's last line."""
    last = log.read_text().strip().splitlines()[-1]
    return last.split("; rebuild the run with: ", 1)[1]


def run_hint(hint: str, *args: str, timeout: float = 1500) -> subprocess.CompletedProcess:
    """Run a hint's command as printed (in a shell, from this directory, as the failed run was)
    with `args` added, in an environment without the data-source variables: the command must
    carry those of the run that failed."""
    env = {k: v for k, v in os.environ.items() if k not in ("DLWPT_DATA", "DLWPT_CIFAR10")}
    result = subprocess.run(["bash", "-c", " ".join([hint, *args])], env=env,
                            capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f"{hint} failed:\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}")
    return result


def job_counts(stdout: str) -> dict[str, int]:
    """Parse Snakemake's `job count` table (printed by a dry run, -n)."""
    counts: dict[str, int] = {}
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("job") and "count" in line)
    for line in lines[start + 2:]:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        counts[parts[0]] = int(parts[1])
    return counts


def planned_jobs(stdout: str) -> list[dict]:
    """The jobs of a dry run: rule, wildcards (as printed, "" if none), inputs, reason."""
    jobs = []
    for block in re.split(r"\n(?=rule \w+:\n)", stdout):
        head = re.match(r"rule (\w+):\n", block)
        if not head:
            continue
        fields = dict(re.findall(r"^    (\w+): (.*)$", block, flags=re.M))
        jobs.append({"rule": head.group(1), "wildcards": fields.get("wildcards", ""),
                     "input": fields["input"].split(", ") if "input" in fields else [],
                     "reason": fields.get("reason", "")})
    return jobs


@contextmanager
def edited(path: Path, change: Callable[[str], str] | None = None) -> Iterator[None]:
    """Really edit `path` (Snakemake ignores a bare mtime change), then restore it exactly.

    By default a change a job sees: a statement added to a Python module (a comment or a
    docstring would change nothing, see dlwpt.code_inputs.source_digest), a line added to any
    other file. `change` edits the text instead, and must change it.
    """
    original, stat = path.read_bytes(), path.stat()
    if change is None:
        added = "\n_EDITED_BY_A_TEST = True\n" if path.suffix == ".py" else "\n# edited by a test\n"
        text = original.decode() + added
    else:
        text = change(original.decode())
        assert text != original.decode(), f"{path}: the edit changed nothing"
    path.write_bytes(text.encode())
    try:
        yield
    finally:
        path.write_bytes(original)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def private_checkout(dest: Path) -> Path:
    """A copy of the workflow's code (no venv, git, outputs or caches) for tests that run in
    parallel with the rerun tests, which edit the checkout's modules for a moment (`edited`):
    plans made from the copy never see those edits."""
    anywhere = shutil.ignore_patterns("__pycache__", ".pytest_cache", ".ruff_cache", "*.egg-info",
                                      "artifacts")

    def ignored(folder: str, names: list[str]) -> set[str]:
        # Outputs only at the top: dlwpt/results/ is code.
        top = Path(folder) == REPO and TOP_LEVEL_SKIPPED.intersection(names)
        return set(anywhere(folder, names)) | (top or set())

    shutil.copytree(REPO, dest, ignore=ignored)
    return dest


TOP_LEVEL_SKIPPED = {".git", ".venv", ".snakemake", ".cache", "results", "resources", "logs",
                     "benchmarks", ".pytest-slurm.log"}


def uninterrupted_metrics(work: Path, model: str, reference: Path, subsample: int
                          ) -> tuple[list[dict], list[dict]]:
    """metrics.csv rows (without the seconds) of `work`'s seed-0 run of `model`, and of the same
    run trained again in this process without interruption: a resumed run must equal it."""
    from dlwpt.runs import RunFiles
    from dlwpt.train import RunSettings, train_model

    summary = json.loads((work / f"results/train/{model}/seed0/summary.json").read_text())
    train_model(RunFiles.in_folder(reference),
                RunSettings(model_name=model,
                            model_cfg={k: v for k, v in summary["hyperparameters"].items()
                                       if k not in ("subsample", "n_train")},
                            seed=0, device="cpu", subsample=subsample),
                data=work / "results/data/cifar2.pt")

    def rows(path: Path) -> list[dict]:
        with open(path) as f:
            return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(f)]

    return rows(work / f"results/train/{model}/seed0/metrics.csv"), rows(reference / "metrics.csv")
