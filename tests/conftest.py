"""Shared fixtures: where the real data is, and one real quick Snakemake run for the whole suite.

Shared functions live in tests/helpers/ (test modules import those, never this file).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.data import DATA, REPO
from tests.helpers.workflow import TERMINAL, snakemake


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA / "p1ch4").is_dir():
        pytest.fail(f"test data not found at {DATA}: run `make test-data`, or set DLWPT_DATA to "
                    "the folder holding p1ch4/")
    return DATA


@pytest.fixture(scope="session")
def quick_pipeline(tmp_path_factory, data_dir) -> Path:
    """A work dir in which the whole pipeline ran for real with config/quick.yaml."""
    workdir = tmp_path_factory.mktemp("quick_pipeline")
    result = snakemake(workdir, "--configfile", str(REPO / "config/quick.yaml"), "--cores", "2")
    # What the terminal showed (Snakemake writes its log, and the jobs' lines, to stderr), for
    # the tests of what a user sees while the run goes.
    (workdir / TERMINAL).write_text(result.stdout + result.stderr)
    return workdir

