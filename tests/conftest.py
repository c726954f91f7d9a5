"""Shared fixtures: where the real data is, and one real quick Snakemake run for the whole suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cifar2_helpers import JPEG_ROOT, SHARED_DATA

REPO = Path(__file__).resolve().parents[1]
DATA, CIFAR10 = SHARED_DATA.resolve(), JPEG_ROOT.resolve()
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def snakemake(workdir: Path, *args: str, env: dict[str, str] | None = None,
              check: bool = True, timeout: float = 1500) -> subprocess.CompletedProcess:
    """Run the repository's workflow in `workdir` (outputs land there, not in the checkout)."""
    full_env = {**os.environ, "DLWPT_DATA": str(DATA), "DLWPT_CIFAR10": str(CIFAR10),
                **(env or {})}
    cmd = [*SNAKEMAKE, "-s", str(REPO / "Snakefile"), "-d", str(workdir), *args]
    result = subprocess.run(cmd, env=full_env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-4000:]}\n"
                             f"{result.stderr[-6000:]}")
    return result


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA / "p1ch4").is_dir():
        pytest.fail(f"real data not found at {DATA}: set DLWPT_DATA to the folder holding p1ch4/")
    return DATA


@pytest.fixture(scope="session")
def quick_pipeline(tmp_path_factory, data_dir) -> Path:
    """A work dir in which the whole pipeline ran for real with config/quick.yaml."""
    workdir = tmp_path_factory.mktemp("quick_pipeline")
    snakemake(workdir, "--configfile", str(REPO / "config/quick.yaml"), "--cores", "2")
    return workdir
