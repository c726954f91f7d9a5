"""Chapter 7 data: CIFAR-10 -> normalized airplanes vs birds, from every supported source format."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from PIL import Image

import dlwpt.ingest.cifar as cifar_ingest
from dlwpt.cifar10 import tree_survey
from dlwpt.ingest.cifar import CIFAR10_CLASSES, ingest_cifar, read_cifar10
from dlwpt.io import load_tensors, read_json
from tests.helpers.cifar10 import make_python_tarball, write_python_batches
from tests.helpers.data import CIFAR10
from tests.helpers.ingest import assert_rejects, outputs, pil_pixels, truncated_copy

# This JPEG tree's statistics (the official archive gives 0.4914/0.4822/0.4465, 0.2470/...).
TREE_MEAN = [0.4913, 0.4821, 0.4465]
TREE_STD = [0.2452, 0.2428, 0.2606]


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """The whole 60,000-image tree ingested once (the slow part of these tests)."""
    out_pt, out_json = outputs(tmp_path_factory.mktemp("cifar_full"))
    start = time.perf_counter()
    ingest_cifar(CIFAR10, out_pt, out_json)
    print(f"full CIFAR-10 tree ingest: {time.perf_counter() - start:.1f} s")
    return load_tensors(out_pt), read_json(out_json)


def test_full_tree_shapes_counts_and_statistics(full):
    tensors, summary = full
    assert tensors["train_images"].shape == (10000, 3, 32, 32)
    assert tensors["val_images"].shape == (2000, 3, 32, 32)
    assert tensors["train_images"].dtype == torch.float32
    assert tensors["train_labels"].dtype == tensors["val_labels"].dtype == torch.int64
    assert torch.bincount(tensors["train_labels"]).tolist() == [5000, 5000]
    assert torch.bincount(tensors["val_labels"]).tolist() == [1000, 1000]
    assert (tensors["train_labels"][:5000] == 0).all()  # source order: airplanes, then birds
    np.testing.assert_allclose(tensors["mean"], TREE_MEAN, atol=1e-3)
    np.testing.assert_allclose(tensors["std"], TREE_STD, atol=1e-3)
    assert summary["normalization"] == "computed" and summary["source_format"] == "image_tree"
    assert summary["counts"] == {"train": {"airplane": 5000, "bird": 5000},
                                 "val": {"airplane": 1000, "bird": 1000}}
    assert summary["source_counts"]["train"] == dict.fromkeys(CIFAR10_CLASSES, 5000)
    assert summary["classes"] == {"airplane": 0, "bird": 1}
    # an image folder is named by the fingerprint the workflow plans with, not a checksum
    assert summary["sources"] == [{"path": str(CIFAR10), "fingerprint": tree_survey(CIFAR10)[0]}]


def test_full_tree_pixels_match_the_files(full):
    tensors, _ = full
    mean, std = tensors["mean"].view(3, 1, 1), tensors["std"].view(3, 1, 1)
    for images, index, path in [
        (tensors["train_images"], 0, CIFAR10 / "train/airplane/0000.jpg"),
        (tensors["train_images"], 5000 + 17, CIFAR10 / "train/bird/0017.jpg"),
        (tensors["val_images"], 1999, CIFAR10 / "test/bird/0999.jpg"),
    ]:
        expected = torch.from_numpy(pil_pixels(path)).permute(2, 0, 1).float() / 255
        torch.testing.assert_close(images[index] * std + mean, expected, atol=1e-6, rtol=0)
    samples = tensors["samples"]
    assert samples.shape == (10, 8, 3, 32, 32) and samples.dtype == torch.uint8
    expected = pil_pixels(CIFAR10 / "train/truck/0003.jpg")
    assert torch.equal(samples[9, 3], torch.from_numpy(expected).permute(2, 0, 1))


@pytest.fixture
def tiny_tree(tmp_path):
    """All ten classes, 3 train + 2 test images each, linked from the real tree."""
    root = tmp_path / "tiny"
    for split, n in (("train", 3), ("test", 2)):
        for name in CIFAR10_CLASSES:
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(n):  # the tree's files are 0000.jpg, 0001.jpg, ...
                (folder / f"{i:04d}.jpg").symlink_to(CIFAR10 / split / name / f"{i:04d}.jpg")
    return root


def _ingest(src, folder, **options):
    out_pt, out_json = outputs(folder)
    ingest_cifar(src, out_pt, out_json, samples_per_class=2, **options)
    return load_tensors(out_pt), read_json(out_json)


def test_python_folder_and_tarball_equal_the_tree(tiny_tree, tmp_path):
    splits, _, _ = read_cifar10(tiny_tree)
    batches = tmp_path / "python" / "cifar-10-batches-py"
    write_python_batches({s: (images, labels.tolist()) for s, (images, labels) in splits.items()},
                         batches)
    tarball = tmp_path / "cifar-10-python.tar.gz"
    make_python_tarball(batches, tarball)

    tree, tree_summary = _ingest(tiny_tree, tmp_path / "a")
    assert tree["train_labels"].tolist() == [0] * 3 + [1] * 3
    assert tree_summary["counts"]["val"] == {"airplane": 2, "bird": 2}
    for src, source_format in [(batches, "python_folder"), (batches.parent, "python_folder"),
                               (tarball, "python_tarball")]:
        other, summary = _ingest(src, tmp_path / source_format / src.name)
        assert summary["source_format"] == source_format
        assert other.keys() == tree.keys()
        for key in tree:
            assert torch.equal(other[key], tree[key]), (src, key)


def test_configured_normalization_and_classes(tiny_tree, tmp_path):
    tensors, summary = _ingest(tiny_tree, tmp_path, classes={"cat": 1, "dog": 0},
                               mean=[0.5, 0.5, 0.5], std=[0.25, 0.25, 0.25])
    assert summary["normalization"] == "config" and tensors["mean"].tolist() == [0.5] * 3
    assert tensors["train_labels"].tolist() == [1] * 3 + [0] * 3
    expected = torch.from_numpy(pil_pixels(CIFAR10 / "train/cat/0000.jpg")).permute(2, 0, 1)
    torch.testing.assert_close(tensors["train_images"][0], (expected / 255 - 0.5) / 0.25)


def test_tree_missing_a_class_is_rejected(tiny_tree, tmp_path):
    missing = tiny_tree / "train" / "truck"
    for link in missing.iterdir():
        link.unlink()
    missing.rmdir()
    assert_rejects(lambda pt, js: ingest_cifar(tiny_tree, pt, js), missing, tmp_path)


def test_tree_with_an_empty_class_is_rejected(tiny_tree, tmp_path):
    empty = tiny_tree / "test" / "bird"
    for link in empty.iterdir():
        link.unlink()
    message = assert_rejects(lambda pt, js: ingest_cifar(tiny_tree, pt, js), empty, tmp_path)
    assert "no .png/.jpg images" in message


def test_truncated_jpeg_is_rejected_by_the_worker_pool(tiny_tree, tmp_path, monkeypatch):
    monkeypatch.setattr(cifar_ingest, "PARALLEL_MIN_FILES", 1)
    monkeypatch.setattr(cifar_ingest, "CHUNK_FILES", 4)
    bad = tiny_tree / "train" / "dog" / "0001.jpg"
    bad.unlink()
    truncated_copy(CIFAR10 / "train" / "dog" / "0001.jpg", bad)
    assert_rejects(lambda pt, js: ingest_cifar(tiny_tree, pt, js, samples_per_class=2), bad,
                   tmp_path)


def test_wrong_image_size_is_rejected(tiny_tree, tmp_path):
    bad = tiny_tree / "test" / "ship" / "9999.png"
    Image.new("RGB", (64, 32)).save(bad)
    message = assert_rejects(lambda pt, js: ingest_cifar(tiny_tree, pt, js), bad, tmp_path)
    assert "64x32" in message


def test_corrupt_python_batch_is_rejected(tiny_tree, tmp_path):
    splits, _, _ = read_cifar10(tiny_tree)
    folder = tmp_path / "python"
    write_python_batches({s: (images, labels.tolist()) for s, (images, labels) in splits.items()},
                         folder)
    bad = folder / "data_batch_3"
    bad.write_bytes(bad.read_bytes()[:100])
    assert_rejects(lambda pt, js: ingest_cifar(folder, pt, js), bad, tmp_path)
