"""Data sources with real Snakemake runs: a bad CIFAR-10 copy is refused before any job (nothing
is deleted), and the plan follows what the raw files hold, not where they are.

One small run (wine, a CIFAR-10 tree of 3 linked JPEGs per class, one epoch of `net`) per test.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest

from dlwpt.cifar10 import CIFAR10_CLASSES, check_source
from tests.helpers.cifar10 import make_official_tarball, official_batches
from tests.helpers.workflow import planned_jobs, snakemake
from tests.test_faults import WINE, small_cifar_tree

pytestmark = pytest.mark.pipeline
TRAINED = "results/train/net/seed0/summary.json"
TARGETS = ["results/data/wine.pt", "results/data/cifar2.pt", TRAINED]


def small_run(tmp_path: Path, data_dir: Path) -> tuple[Path, list[str], dict[str, str]]:
    """A finished run of wine, cifar2 and one net: its work dir, arguments and environment."""
    config = tmp_path / "small.yaml"
    config.write_text(json.dumps({
        "datasets": ["wine", "cifar2"], "ingest": {"cifar2": {"samples_per_class": 2}},
        "train": {"models": ["net"], "device": "cpu", "seeds": [0], "defaults": {"epochs": 1}}}))
    env = {"DLWPT_DATA": str(data_dir),
           "DLWPT_CIFAR10": str(small_cifar_tree(data_dir, tmp_path / "cifar10"))}
    work = tmp_path / "work"
    run = ["--configfile", str(config), "--cores", "2", *TARGETS]
    snakemake(work, *run, env=env)
    return work, run, env


def mtimes(work: Path) -> dict[str, int]:
    """Every output of the run (cifar2.pt and the training outputs included)."""
    return {str(p.relative_to(work)): p.stat().st_mtime_ns
            for p in sorted((work / "results").rglob("*")) if p.is_file()}


def plan(work: Path, run: list[str], env: dict[str, str]) -> tuple[str, list[dict]]:
    result = snakemake(work, "-n", *run, env=env)
    return result.stdout + result.stderr, planned_jobs(result.stdout)


def small_archive(data_dir: Path, path: Path) -> Path:
    """The official archive's format with 2 training and 1 test image per class."""
    from PIL import Image

    images = {}
    for split, n in (("train", 2), ("test", 1)):
        files = [(data_dir / "cifar10-jpeg" / split / name / f"{i:04d}.jpg", label)
                 for label, name in enumerate(CIFAR10_CLASSES) for i in range(n)]
        images[split] = (np.stack([np.asarray(Image.open(f).convert("RGB")) for f, _ in files]),
                         [label for _, label in files])
    path.parent.mkdir(parents=True, exist_ok=True)
    make_official_tarball(official_batches(images), path)
    return path


def test_a_bad_cifar_source_is_refused_before_any_job_and_deletes_nothing(tmp_path, data_dir):
    work, run, env = small_run(tmp_path, data_dir)
    before = mtimes(work)
    assert "results/data/cifar2.pt" in before and "results/train/net/seed0/model.pt" in before

    only_train = tmp_path / "only-train"
    shutil.copytree(tmp_path / "cifar10" / "train", only_train / "train", symlinks=True)
    archive = small_archive(data_dir, tmp_path / "archive" / "cifar-10-python.tar.gz")
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size * 2 // 3])
    cases = {
        only_train: "incomplete CIFAR-10 image tree: test/ missing (only train/)",
        truncated: "unreadable or truncated archive (",
        data_dir / "p1ch4": "not a CIFAR-10 copy: no train/ and test/ image folders",
    }
    for source, problem in cases.items():
        for dry in ([], ["-n"]):
            result = snakemake(work, *dry, *run, env={**env, "DLWPT_CIFAR10": str(source)},
                               check=False)
            out = result.stdout + result.stderr
            assert result.returncode == 1, out[-2000:]
            lines = [line for line in out.splitlines() if line.startswith("data: ")]
            assert len(lines) == 1 and lines[0].startswith(
                f"data: DLWPT_CIFAR10={source.resolve()}: {problem}"), out[-2000:]
            assert "Traceback" not in out and "File " not in out
            assert "rule " not in result.stdout  # no job planned, let alone run
            assert mtimes(work) == before
    # The source corrected (the same tree, or the untruncated archive's own run): nothing to do.
    text, jobs = plan(work, run, env)
    assert "Nothing to be done" in text and jobs == []


def test_a_complete_archive_passes_the_check_once_and_is_remembered(tmp_path, data_dir):
    archive = small_archive(data_dir, tmp_path / "cifar-10-python.tar.gz")
    checked = tmp_path / "checked.json"
    assert check_source(archive, checked=checked) is None
    assert len(json.loads(checked.read_text())) == 1
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(archive.read_bytes()[:-20])  # only the gzip trailer and a little more
    assert check_source(cut, checked=checked).startswith("unreadable or truncated archive")
    with tarfile.open(tmp_path / "other.tar.gz", "w:gz") as tar:
        tar.add(data_dir / WINE, arcname="winequality-white.csv")
    assert check_source(tmp_path / "other.tar.gz") == (
        "not a CIFAR-10 python archive: no cifar-10-batches-py/batches.meta")


def linked_copy(source: Path, dest: Path) -> Path:
    """A symlink farm of `source`: every file a link, at another path."""
    for path in sorted(source.rglob("*")):
        if path.is_file():
            (dest / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
            (dest / path.relative_to(source)).symlink_to(path.resolve())
    return dest


def test_an_identical_copy_elsewhere_plans_no_job_and_one_changed_file_its_dataset(
        tmp_path, data_dir):
    work, run, env = small_run(tmp_path, data_dir)
    # DLWPT_DATA: a real copy of the wine CSV (new mtime, same bytes) at another path.
    data_copy = tmp_path / "data-copy"
    (data_copy / WINE).parent.mkdir(parents=True)
    shutil.copyfile(data_dir / WINE, data_copy / WINE)
    # DLWPT_CIFAR10: a symlink farm of the tree, and a copy of hard links.
    farm = linked_copy(tmp_path / "cifar10", tmp_path / "cifar-farm")
    hard = tmp_path / "cifar-hard"
    shutil.copytree(farm, hard, copy_function=os.link)
    for cifar in (farm, hard):
        copy_env = {"DLWPT_DATA": str(data_copy), "DLWPT_CIFAR10": str(cifar)}
        text, jobs = plan(work, run, copy_env)
        assert "Nothing to be done" in text and jobs == [], text[-3000:]

    # One line of the wine CSV changed: that dataset's ingest only.
    lines = (data_copy / WINE).read_bytes().splitlines(keepends=True)
    (data_copy / WINE).write_bytes(b"".join(lines[:-1]))
    _, jobs = plan(work, run, {**env, "DLWPT_DATA": str(data_copy)})
    assert [(j["rule"], j["wildcards"]) for j in jobs] == [("ingest_dataset", "dataset=wine")]
    assert jobs[0]["reason"].startswith("Params have changed")

    # One image of the CIFAR-10 copy replaced by another picture: cifar2's ingest and the zoo.
    bird = sorted((farm / "train" / "bird").iterdir())[0]
    bird.unlink()
    shutil.copyfile(data_dir / "cifar10-jpeg/train/airplane" / bird.name, bird)
    _, jobs = plan(work, run, {**env, "DLWPT_CIFAR10": str(farm)})
    assert sorted((j["rule"], j["wildcards"]) for j in jobs) == [
        ("ingest_dataset", "dataset=cifar2"), ("train_model", "model=net, seed=0")]
