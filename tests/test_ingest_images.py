"""Chapter 4 images: the dog photo and the normalized cat batch, on the real files."""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

import dlwpt.ingest.common as common
from dlwpt.ingest.images import ingest_image, ingest_image_batch
from dlwpt.io import load_tensors, read_json
from tests.helpers.data import P1CH4
from tests.helpers.ingest import assert_rejects, outputs, pil_pixels, truncated_copy

DOG = P1CH4 / "image-dog" / "bobby.jpg"
CATS = P1CH4 / "image-cats"
PIXELS = [(0, 0), (359, 639), (719, 1279), (100, 1000)]  # (row, column)


def test_dog_is_chw_uint8_with_the_file_pixels(tmp_path):
    out_pt, out_json = outputs(tmp_path)
    ingest_image(DOG, out_pt, out_json)
    image = load_tensors(out_pt)["image"]
    assert image.shape == (3, 720, 1280) and image.dtype == torch.uint8
    expected = pil_pixels(DOG)
    for row, col in PIXELS:
        assert image[:, row, col].tolist() == expected[row, col].tolist()
    summary = read_json(out_json)
    assert summary["dataset"] == "image_dog"
    assert summary["tensors"]["image"]["shape"] == [3, 720, 1280]
    assert summary["sources"] == [{"path": str(DOG),
                                   "sha256": hashlib.sha256(DOG.read_bytes()).hexdigest()}]


def test_cats_batch_raw_pixels_and_normalization(tmp_path):
    out_pt, out_json = outputs(tmp_path)
    ingest_image_batch(CATS, out_pt, out_json, size=256)
    t = load_tensors(out_pt)
    assert t["raw"].shape == (3, 3, 256, 256) and t["raw"].dtype == torch.uint8
    assert t["normalized"].shape == (3, 3, 256, 256) and t["normalized"].dtype == torch.float32
    files = sorted(CATS.glob("*.png"))
    for i, path in enumerate(files):
        expected = pil_pixels(path)
        for row, col in [(0, 0), (128, 128), (255, 17)]:
            assert t["raw"][i, :, row, col].tolist() == expected[row, col, :3].tolist()
    all_pixels = np.stack([pil_pixels(p)[..., :3] for p in files]).astype(np.float64) / 255
    np.testing.assert_allclose(t["mean"], all_pixels.mean(axis=(0, 1, 2)), atol=1e-5)
    np.testing.assert_allclose(t["std"], all_pixels.std(axis=(0, 1, 2), ddof=1), atol=1e-5)
    per_channel = t["normalized"].transpose(0, 1).reshape(3, -1)
    np.testing.assert_allclose(per_channel.mean(dim=1), 0.0, atol=1e-5)
    np.testing.assert_allclose(per_channel.std(dim=1), 1.0, atol=1e-5)
    assert read_json(out_json)["files"] == ["cat1.png", "cat2.png", "cat3.png"]


def test_cats_list_of_files_equals_folder(tmp_path):
    files = sorted(CATS.glob("*.png"))
    ingest_image_batch(files, tmp_path / "a.pt", tmp_path / "a.json")
    ingest_image_batch(CATS, tmp_path / "b.pt", tmp_path / "b.json")
    a, b = load_tensors(tmp_path / "a.pt"), load_tensors(tmp_path / "b.pt")
    assert a.keys() == b.keys() == {"raw", "normalized", "mean", "std"}
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_truncated_jpeg_is_rejected(tmp_path):
    bad = truncated_copy(DOG, tmp_path / "bobby.jpg")
    assert_rejects(lambda pt, js: ingest_image(bad, pt, js), bad, tmp_path)


def test_truncated_png_in_batch_is_rejected(tmp_path):
    folder = tmp_path / "cats"
    shutil.copytree(CATS, folder)
    bad = truncated_copy(CATS / "cat2.png", folder / "cat2.png")
    assert_rejects(lambda pt, js: ingest_image_batch(folder, pt, js), bad, tmp_path)


def test_wrong_size_in_batch_is_rejected(tmp_path):
    folder = tmp_path / "cats"
    shutil.copytree(CATS, folder)
    bad = folder / "cat0.png"
    Image.new("RGB", (128, 256)).save(bad)
    message = assert_rejects(lambda pt, js: ingest_image_batch(folder, pt, js), bad, tmp_path)
    assert "128x256" in message


def test_failed_summary_leaves_no_tensor_file(tmp_path, monkeypatch):
    def broken_write_json(path, obj):
        raise OSError("disk full")

    monkeypatch.setattr(common, "write_json", broken_write_json)
    out_pt, out_json = outputs(tmp_path)
    with pytest.raises(OSError):
        ingest_image(DOG, out_pt, out_json)
    assert not out_pt.exists() and not out_json.exists()
