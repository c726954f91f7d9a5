"""Chapter 4 volumetric data: the real CT series, ordered by position, in Hounsfield units."""

from __future__ import annotations

import hashlib

import numpy as np
import pydicom
import pytest
import torch

from dlwpt.ingest.ct import ingest_ct
from dlwpt.io import load_tensors
from tests.helpers.data import P1CH4
from tests.helpers.ingest import assert_rejects, ingested, outputs

SERIES = P1CH4 / "volumetric-dicom" / "2-LUNG 3.0  B70f-04083"


def _position(path):
    return float(pydicom.dcmread(path, stop_before_pixels=True).ImagePositionPatient[2])


SLICES = sorted(SERIES.glob("*.dcm"), key=_position)  # anatomical order, unlike the names


@pytest.fixture(scope="module")
def ct(tmp_path_factory):
    return ingested(tmp_path_factory.mktemp("ct"), ingest_ct, SERIES)


def test_volume_shape_positions_and_spacing(ct):
    tensors, summary = ct
    assert tensors["volume"].shape == (1, 1, 99, 512, 512)
    assert tensors["volume"].dtype == torch.float32
    positions = tensors["positions"]
    assert positions.dtype == torch.float64 and positions.shape == (99,)
    assert (positions.diff() > 0).all()
    assert positions[0].item() == -288.0 and positions[-1].item() == 6.0
    assert tensors["spacing"].tolist() == [3.0, 0.564453125, 0.564453125]
    assert summary["series"]["slices"] == 99 and summary["series"]["modality"] == "CT"
    assert sorted(source["path"] for source in summary["sources"]) == sorted(map(str, SLICES))
    first = next(source for source in summary["sources"] if source["path"] == str(SLICES[0]))
    assert first["sha256"] == hashlib.sha256(SLICES[0].read_bytes()).hexdigest()


def test_slices_follow_position_not_file_name(ct):
    tensors, summary = ct
    order = summary["files_in_order"]
    assert order != sorted(order)  # the file names are shuffled relative to the anatomy
    for k in (0, 49, 98):
        ds = pydicom.dcmread(SERIES / order[k])
        assert float(ds.ImagePositionPatient[2]) == tensors["positions"][k].item()
        hounsfield = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        np.testing.assert_array_equal(tensors["volume"][0, 0, k].numpy(), hounsfield)


def test_hounsfield_range_is_plausible(ct):
    volume = ct[0]["volume"][0, 0]
    assert volume.min().item() <= -1000 and volume.max().item() < 4000
    lowest = volume[0]  # abdomen: air at the image corners
    assert lowest[:24, :24].mean().item() < -950 and lowest[:24, -24:].mean().item() < -950
    middle = volume[49]  # chest: lungs, heart, body wall
    assert -500 < middle.mean().item() < -250
    assert (middle < -900).float().mean().item() > 0.1  # lung and outside air


def _copy_slices(folder, slices=SLICES[40:44]):
    """A small valid series: neighbouring slices of the real one, linked into `folder`."""
    folder.mkdir()
    for src in slices:
        (folder / src.name).symlink_to(src)
    return folder


def test_small_series_of_neighbouring_slices_is_valid(tmp_path):
    folder = _copy_slices(tmp_path / "series")
    out_pt, out_json = outputs(tmp_path)
    ingest_ct(folder, out_pt, out_json)
    tensors = load_tensors(out_pt)
    assert tensors["volume"].shape == (1, 1, 4, 512, 512)
    assert tensors["positions"].tolist() == [_position(p) for p in SLICES[40:44]]


def test_missing_slice_is_rejected(tmp_path):
    folder = _copy_slices(tmp_path / "series", SLICES[40:42] + SLICES[43:46])
    message = assert_rejects(lambda pt, js: ingest_ct(folder, pt, js), SLICES[43].name,
                             tmp_path)
    assert "missing slices" in message


def test_non_dicom_file_is_rejected(tmp_path):
    folder = _copy_slices(tmp_path / "series")
    bad = folder / "notes.txt"
    bad.write_text("not a slice\n")
    assert_rejects(lambda pt, js: ingest_ct(folder, pt, js), bad, tmp_path)


def test_mixed_slice_sizes_are_rejected(tmp_path):
    folder = _copy_slices(tmp_path / "series")
    ds = pydicom.dcmread(SLICES[10])
    half = np.ascontiguousarray(ds.pixel_array[::2, ::2])
    ds.Rows, ds.Columns = half.shape
    ds.PixelData = half.tobytes()
    bad = folder / "zz_small.dcm"
    ds.save_as(bad)
    message = assert_rejects(lambda pt, js: ingest_ct(folder, pt, js), bad, tmp_path)
    assert "256x256" in message


def test_missing_pixel_data_is_rejected(tmp_path):
    folder = _copy_slices(tmp_path / "series")
    ds = pydicom.dcmread(SLICES[10])
    del ds.PixelData
    bad = folder / "zz_empty.dcm"
    ds.save_as(bad)
    assert_rejects(lambda pt, js: ingest_ct(folder, pt, js), bad, tmp_path)


def test_duplicate_position_is_rejected(tmp_path):
    folder = _copy_slices(tmp_path / "series")
    bad = folder / "zz_duplicate.dcm"
    bad.symlink_to(SLICES[41])
    files = sorted(folder.iterdir())
    message = assert_rejects(lambda pt, js: ingest_ct(files, pt, js), folder, tmp_path)
    assert "same slice position" in message
