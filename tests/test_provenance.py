"""What the report records about a run, checked against the machine and a real git checkout."""

from __future__ import annotations

import copy
import datetime
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
import torch

from dlwpt import provenance as prov

REPO = Path(__file__).resolve().parents[1]

NOT_GIT = "unknown (not a git checkout)"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t",
                           *args], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture()
def checkout(tmp_path, monkeypatch):
    """A real one-commit git repository; git looks no higher than tmp_path."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "Snakefile").write_text("rule all:\n")
    _git(repo, "add", "Snakefile")
    _git(repo, "commit", "-q", "-m", "first")
    return repo


def test_git_commit_is_head(checkout):
    head = _git(checkout, "rev-parse", "HEAD")
    assert len(head) == 40 and prov.git_commit(str(checkout)) == head
    (checkout / "notes.txt").write_text("untracked files do not make a run dirty\n")
    assert prov.git_commit(str(checkout)) == head
    (checkout / "Snakefile").write_text("rule all:\n    input: []\n")
    assert prov.git_commit(str(checkout)) == f"{head}-dirty"
    _git(checkout, "commit", "-q", "-am", "second")
    new_head = _git(checkout, "rev-parse", "HEAD")
    assert new_head != head and prov.git_commit(str(checkout)) == new_head


def test_git_commit_outside_a_checkout(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    plain = tmp_path / "plain"
    plain.mkdir()
    assert prov.git_commit(str(plain)) == NOT_GIT
    assert prov.git_commit(str(tmp_path / "missing")) == NOT_GIT


def test_git_commit_without_git_installed(checkout, monkeypatch):
    monkeypatch.setenv("PATH", str(checkout / "no-bin"))
    assert prov.git_commit(str(checkout)) == NOT_GIT


def test_package_versions_are_the_installed_ones_of_every_pinned_package(tmp_path):
    versions = prov.package_versions()
    assert versions["python"] == platform.python_version()
    pins = [line.split("==")[0] for line in (REPO / "requirements.txt").read_text().splitlines()
            if "==" in line and not line.startswith("#")]
    assert list(versions) == ["python", *pins]
    assert {"scipy", "jsonschema", "tensorboard", "statsmodels"} <= set(versions)
    for name in ("snakemake", "numpy", "scipy", "jsonschema"):
        assert versions[name] == metadata.version(name)
    assert versions["numpy"] == np.__version__
    # torch with its build, which its metadata leaves out
    assert versions["torch"] == torch.__version__
    assert versions["torch"].startswith(metadata.version("torch"))
    other = tmp_path / "requirements.txt"
    other.write_text("# a comment\nnumpy==1.0  # pinned\nno-such-package-dlwpt==0.1\n\n")
    assert prov.package_versions(other) == {"python": platform.python_version(),
                                            "numpy": np.__version__,
                                            "no-such-package-dlwpt": "not installed"}


def _cpuinfo_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.split(":")[0].strip() == "model name":
            return line.split(":", 1)[1].strip()
    pytest.skip("/proc/cpuinfo names no model")


def test_device_names_this_cpu(monkeypatch):
    model = _cpuinfo_model()
    assert prov.cpu_model() == model
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert prov.device_description() == f"CPU: {model}, {os.cpu_count()} cores"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_device_names_the_gpu():
    """Against NVML's names (nvidia-smi ignores CUDA_VISIBLE_DEVICES, so any listed GPU)."""
    try:
        listed = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                                capture_output=True, text=True, check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("nvidia-smi unavailable")
    name, _, cuda = prov.device_description().rpartition(" (CUDA ")
    assert name in {line.strip() for line in listed}
    assert cuda == f"{torch.version.cuda})"


def test_provenance_record(checkout):
    config = {"datasets": ["wine", "cifar2"], "train": {"epochs": 3, "lr": 0.01},
              "data": {"local_dir": None}}
    given = copy.deepcopy(config)
    before = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    record = prov.provenance(config, str(checkout))
    after = datetime.datetime.now(datetime.UTC)
    assert set(record) == {"config", "git_commit", "packages", "device", "date"}
    assert record["config"] == given
    assert record["git_commit"] == _git(checkout, "rev-parse", "HEAD")
    assert record["packages"] == prov.package_versions()
    assert record["device"] == prov.device_description()
    date = datetime.datetime.fromisoformat(record["date"])
    assert date.utcoffset() == datetime.timedelta(0) and before <= date <= after
