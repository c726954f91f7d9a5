"""`make test-data` in a checkout with no data beside it: fetched once from a local HTTP server
holding a copy of the data, then read by the tests; offline, one line before pytest.

The server holds the real raw files and checkpoint, and a small valid CIFAR-10 archive built
here (2 training and 1 test image per class) in place of the official 170 MB one.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from dlwpt import sources
from dlwpt.ingest.cifar import CIFAR10_CLASSES
from tests.helpers.cifar10 import make_official_tarball, official_batches
from tests.helpers.data import REPO
from tests.helpers.fetch_data import REFERENCE
from tests.helpers.http_server import DataServer
from tests.helpers.mirror import clean_env

VENV = Path(sys.executable).parent.parent
PER_CLASS = {"train": 2, "test": 1}
CACHE = ".cache/test-data"


def fresh_checkout(tmp_path: Path) -> Path:
    """The checkout's files as a clone has them (tracked, and new ones git does not ignore)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    clone = tmp_path / "clone"
    for rel in listed:
        if (REPO / rel).is_file():
            (clone / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, clone / rel)
    return clone


def make(clone: Path, target: str, config: Path) -> subprocess.CompletedProcess:
    """`make <target>` in the clone with this venv (not reinstalled), no data variables set."""
    env = {**clean_env(), "DLWPT_TEST_DATA_CONFIG": str(config), "PYTHONPATH": str(clone)}
    return subprocess.run(["make", "-s", f"VENV={VENV}", "-o", f"{VENV}/bin/.installed", target],
                          cwd=clone, env=env, capture_output=True, text=True, timeout=600)


def small_archive(path: Path) -> tuple[str, dict]:
    """A valid CIFAR-10 archive of smooth images (JPEG keeps them close), and its images."""
    ramp = np.arange(32, dtype=np.uint8) * 7
    images = {}
    for split, n in PER_CLASS.items():
        pixels = np.empty((10 * n, 32, 32, 3), dtype=np.uint8)
        for i in range(10 * n):
            pixels[i, :, :, 0], pixels[i, :, :, 1] = ramp[None, :], ramp[:, None]
            pixels[i, :, :, 2] = 10 * i
        images[split] = (pixels, [label for label in range(10) for _ in range(n)])
    make_official_tarball(official_batches(images), path)
    return "md5:" + hashlib.md5(path.read_bytes()).hexdigest(), images


def test_a_fresh_checkout_fetches_the_test_data_once_and_its_tests_read_it(tmp_path, data_dir):
    archive = tmp_path / "served" / "cifar-10-python.tar.gz"
    archive.parent.mkdir()
    checksum, images = small_archive(archive)
    clone = fresh_checkout(tmp_path)
    extra = {REFERENCE[0]: data_dir / REFERENCE[1], "cifar-10-python.tar.gz": archive}
    with DataServer(data_dir, extra) as server:
        config = tmp_path / "download.yaml"
        config.write_text(json.dumps({"data": {"download": {
            "base_url": f"{server.url}/ok", "cifar10_checksum": checksum,
            "cifar10_url": f"{server.url}/ok/cifar-10-python.tar.gz"}}}))
        first = make(clone, "test-data", config)
        assert first.returncode == 0, first.stdout + first.stderr
        fetched = sum(server.requests.values())
        second = make(clone, "test-data", config)
        assert second.returncode == 0 and sum(server.requests.values()) == fetched
    cache = clone / CACHE
    assert fetched == len(sources.manifest()) + 2  # raw files, the checkpoint, the archive
    for rel in [*sources.manifest(), REFERENCE[1]]:
        assert (cache / rel).read_bytes() == (data_dir / rel).read_bytes(), rel
    assert not (cache / "cifar-10-python.tar.gz").exists()
    for split, n in PER_CLASS.items():
        for name in CIFAR10_CLASSES:
            files = sorted(p.name for p in (cache / "cifar10-jpeg" / split / name).iterdir())
            assert files == [f"{i:04d}.jpg" for i in range(n)]
    with Image.open(cache / "cifar10-jpeg/train/bird/0001.jpg") as img:
        assert img.format == "JPEG" and img.size == (32, 32)
        pixels = np.asarray(img.convert("RGB"), dtype=np.int16)
    # the second bird of the archive (label 2), as JPEG keeps it: channels and rows in place
    assert np.abs(pixels - images["train"][0][2 * 2 + 1]).mean() < 4
    assert abs(pixels[..., 2].mean() - 10 * 5) < 3  # its blue level names it among the images
    # the tests of the clone read the fetched copy: raw files and the CIFAR-10 tree
    env = clean_env()
    result = subprocess.run(
        [str(VENV / "bin/pytest"), "-q", "-p", "no:cacheprovider", "tests/test_download.py",
         "tests/test_cifar_official.py", "-k", "pins_every_file or reads_like_the_tree"],
        cwd=clone, env={**env, "PYTHONPATH": str(clone)}, capture_output=True, text=True,
        timeout=600)
    assert result.returncode == 0 and "2 passed" in result.stdout, result.stdout[-3000:]


def test_offline_without_data_make_test_stops_before_pytest_with_one_line(tmp_path):
    clone = fresh_checkout(tmp_path)
    config = tmp_path / "offline.yaml"
    config.write_text(json.dumps({"data": {"download": {
        "base_url": "http://127.0.0.1:9/data", "cifar10_url": "http://127.0.0.1:9/c.tar.gz"}}}))
    result = make(clone, "test", config)
    assert result.returncode != 0 and result.stdout == ""
    line, *rest = result.stderr.splitlines()
    assert rest == [] or all(r.startswith("make: ***") for r in rest), result.stderr
    for name in (CACHE, "DLWPT_DATA", "DLWPT_CIFAR10", "127.0.0.1:9"):
        assert name in line, line
    assert not (clone / CACHE).exists() or not any((clone / CACHE).rglob("*"))


def test_make_run_sets_the_cifar_copy_only_when_the_data_folder_holds_one(tmp_path):
    """`make run DATA=...`: DLWPT_DATA when it holds p1ch4/, DLWPT_CIFAR10 only when it also
    holds cifar10-jpeg/ (else data.cifar10 or the download decides)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / ".installed").touch()
    fake = bin_dir / "snakemake"  # prints what the real one would be given
    fake.write_text('#!/bin/sh\necho "data=$DLWPT_DATA cifar=$DLWPT_CIFAR10"\n')
    fake.chmod(0o755)
    env = clean_env()
    data = tmp_path / "data"
    (data / "p1ch4").mkdir(parents=True)

    def run() -> str:
        return subprocess.run(["make", "-s", "run", f"DATA={data}", f"BIN={bin_dir}"], cwd=REPO,
                              env=env, capture_output=True, text=True, check=True).stdout.strip()

    assert run() == f"data={data} cifar="
    (data / "cifar10-jpeg").mkdir()
    assert run() == f"data={data} cifar={data}/cifar10-jpeg"
    (data / "p1ch4").rmdir()
    assert run() == "data= cifar="
