"""Chapter 4 time series: bike rentals by day, and the fill of the original file's missing hours."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlwpt.ingest.bikes import ingest_bikes
from dlwpt.io import load_tensors, read_json
from tests.helpers.data import P1CH4
from tests.helpers.ingest import assert_rejects, edited_copy, ingested, outputs, with_cell

BIKES = P1CH4 / "bike-sharing-dataset"
FIXED = BIKES / "hour-fixed.csv"
ORIGINAL = BIKES / "hour.csv"


@pytest.fixture(scope="module")
def fixed(tmp_path_factory):
    return ingested(tmp_path_factory.mktemp("bikes"), ingest_bikes, FIXED)


def test_hourly_equals_the_books_loadtxt(fixed):
    tensors, summary = fixed
    book = np.loadtxt(FIXED, dtype=np.float32, delimiter=",", skiprows=1,
                      converters={1: lambda x: float(x[8:10])})
    assert tensors["hourly"].shape == (17520, 17) and tensors["hourly"].dtype == torch.float32
    np.testing.assert_array_equal(tensors["hourly"].numpy(), book)
    assert summary["columns"][9] == "weathersit" and summary["filled_hours"] == 0


def test_daily_views_and_encodings(fixed):
    tensors, _ = fixed
    hourly, daily = tensors["hourly"], tensors["daily"]
    assert daily.shape == (730, 17, 24)
    for day, hour in [(0, 0), (1, 5), (729, 23)]:
        assert torch.equal(daily[day, :, hour], hourly[day * 24 + hour])
    assert (daily[:, 5, :] == torch.arange(24.0)).all()  # the hour column
    weather = tensors["daily_weather"]
    assert weather.shape == (730, 21, 24) and torch.equal(weather[:, :17], daily)
    onehot = weather[:, 17:]
    assert (onehot.sum(dim=1) == 1).all()
    assert torch.equal(onehot.argmax(dim=1) + 1.0, daily[:, 9, :])
    assert onehot[0, :, 0].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert torch.equal(tensors["weather_alt"], (daily[:, 9, :] - 1) / 3)
    temp = tensors["temp_scaled"]
    assert temp.min().item() == 0.0 and temp.max().item() == 1.0
    assert temp[0, 0].item() == pytest.approx((0.24 - 0.02) / (1.0 - 0.02), abs=1e-6)


def test_original_file_filled_equals_fixed_file(fixed, tmp_path):
    out_pt, out_json = outputs(tmp_path)
    ingest_bikes(ORIGINAL, out_pt, out_json, missing_hours="fill")
    filled, summary = load_tensors(out_pt), read_json(out_json)
    assert filled.keys() == fixed[0].keys()
    for key, tensor in fixed[0].items():
        assert torch.equal(filled[key], tensor), key
    assert summary["filled_hours"] == 17520 - 17379
    # The book's fix cannot see the >24 h outage of 2012-10-29/30: one "day" spans both dates.
    assert summary["mixed_date_days"] == fixed[1]["mixed_date_days"] == [
        {"day": 667, "first_instant": 15884, "days_of_month": [29, 30]}]


def test_missing_hours_rejected_in_error_mode(tmp_path):
    message = assert_rejects(
        lambda pt, js: ingest_bikes(ORIGINAL, pt, js, missing_hours="error"), ORIGINAL, tmp_path)
    assert "141 hours missing" in message


def _edited_copy(tmp_path, edit):
    return edited_copy(FIXED, tmp_path / "hour-fixed.csv", edit)


def test_partial_last_day_is_rejected(tmp_path):
    bad = _edited_copy(tmp_path, lambda lines: lines[:-1])
    message = assert_rejects(lambda pt, js: ingest_bikes(bad, pt, js), bad, tmp_path)
    assert "17519" in message


def test_missing_column_is_rejected(tmp_path):
    bad = _edited_copy(tmp_path, lambda lines: [line.rsplit(",", 1)[0] for line in lines])
    message = assert_rejects(lambda pt, js: ingest_bikes(bad, pt, js), bad, tmp_path)
    assert "cnt" in message


def test_non_numeric_cell_is_rejected(tmp_path):
    bad = with_cell(FIXED, tmp_path / "hour-fixed.csv", 500, 10, "warm", ",")
    message = assert_rejects(lambda pt, js: ingest_bikes(bad, pt, js), bad, tmp_path)
    assert "line 501" in message and "'temp'" in message
