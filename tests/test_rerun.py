"""The command a recovery hint names (dlwpt.rerun): this run's, as typed, with --forcerun."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from dlwpt.io import DataError, sealed
from dlwpt.rerun import rebuild_hint, snakemake_command
from dlwpt.results.reading import check_summary

MAIN = str(Path(shlex.__file__).parent / "site-packages/snakemake/__main__.py")
ARGS = ["-d", "../my work", "--configfile", "config/quick.yaml", "--config", "x={'a': 1}",
        "--cores", "2"]


def test_python_m_snakemake_is_repeated_with_the_interpreter_that_ran_it():
    command = snakemake_command([MAIN, *ARGS], "/opt/venv/bin/python", {})
    assert shlex.split(command) == ["/opt/venv/bin/python", "-m", "snakemake", *ARGS]


@pytest.mark.parametrize("typed", [".venv/bin/snakemake", "/nowhere/bin/snakemake"])
def test_the_snakemake_script_is_repeated_as_typed(typed):
    assert shlex.split(snakemake_command([typed, *ARGS], sys.executable, {})) == [typed, *ARGS]


def test_the_data_source_variables_of_the_run_come_first():
    environ = {"DLWPT_DATA": "../shared/my data", "DLWPT_CIFAR10": "/c", "HOME": "/h"}
    command = snakemake_command(["snakemake", "--cores", "1"], sys.executable, environ)
    assert command == "DLWPT_DATA='../shared/my data' DLWPT_CIFAR10=/c snakemake --cores 1"


@pytest.mark.parametrize("argv", [
    [], ["/usr/bin/pytest", "-x"], ["snakemake", "--config", "a=\nb"]])
def test_no_command_where_argv_is_not_one_snakemake_command_line(argv):
    assert snakemake_command(argv, sys.executable, {}) is None


def test_the_hint_adds_forcerun_or_says_it_in_words():
    target = Path("results/train/net/seed0/summary.json")
    assert rebuild_hint(target, "snakemake --cores 2") == (
        f"rebuild the run with: snakemake --cores 2 --forcerun {target}")
    assert rebuild_hint(target, None) == (
        "rebuild the run with the snakemake command of this run (the same --configfile files "
        f"and options) and --forcerun {target} added")


def test_the_report_names_the_command_it_was_given(tmp_path):
    summary, metrics = tmp_path / "summary.json", tmp_path / "metrics.csv"
    metrics.write_text("epoch\n")
    run = {"summary": summary, "model": "net", "seed": 0, "metrics": metrics}
    with pytest.raises(DataError) as error:
        check_summary(sealed({"model": "net", "seed": 0, "files": {"metrics.csv": "sha256:0"}}),
                      run, "snakemake --configfile q.yaml")
    assert str(error.value).startswith(f"{metrics}: changed since it was trained")
    assert str(error.value).endswith(
        f"rebuild the run with: snakemake --configfile q.yaml --forcerun {summary}")
