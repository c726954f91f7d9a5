"""Shared fixtures: where the real data is, and one real quick Snakemake run for the whole suite.

Shared functions live in tests/helpers/ (test modules import those, never this file).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.data import DATA, REPO
from tests.helpers.workflow import snakemake


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


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Groups for `pytest -n 2 --dist loadgroup` (make test): every module that runs real
    Snakemake workflows in one worker, in order, as the rerun tests edit the checkout's modules
    for a moment and other plans must not see that; the Slurm tests (mostly waiting on the
    queue, from a private copy of the checkout) on their own; the rest by module, so that
    module fixtures are built once."""
    snakemake_modules = {item.module.__name__ for item in items
                         if item.get_closest_marker("pipeline")
                         or "quick_pipeline" in item.fixturenames}
    for item in items:
        module = item.module.__name__
        group = ("slurm" if module.endswith("test_slurm")
                 else "snakemake" if module in snakemake_modules else module)
        item.add_marker(pytest.mark.xdist_group(group))
