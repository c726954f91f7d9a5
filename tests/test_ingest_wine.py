"""Chapter 4 tabular data: the white-wine table and the book's quality analysis."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlwpt.ingest.wine import ingest_wine
from tests.helpers.data import P1CH4
from tests.helpers.ingest import assert_rejects, edited_copy, ingested, with_cell

WINE = P1CH4 / "tabular-wine" / "winequality-white.csv"


@pytest.fixture(scope="module")
def wine(tmp_path_factory):
    return ingested(tmp_path_factory.mktemp("wine"), ingest_wine, WINE)


def test_table_equals_the_books_loadtxt(wine):
    tensors, _ = wine
    book = np.loadtxt(WINE, dtype=np.float32, delimiter=";", skiprows=1)
    assert tensors["table"].shape == (4898, 12) and tensors["table"].dtype == torch.float32
    np.testing.assert_array_equal(tensors["table"].numpy(), book)
    assert tensors["columns"][6] == "total sulfur dioxide" and tensors["columns"][-1] == "quality"
    assert tensors["data"].shape == (4898, 11)
    assert tensors["table"][0].tolist() == pytest.approx(
        [7, 0.27, 0.36, 20.7, 0.045, 45, 170, 1.001, 3, 0.45, 8.8, 6])


def test_target_one_hot_and_normalization(wine):
    tensors, _ = wine
    target = tensors["target"]
    assert target.dtype == torch.int64 and target[:3].tolist() == [6, 6, 6]
    assert torch.bincount(target).tolist() == [0, 0, 0, 20, 163, 1457, 2198, 880, 175, 5]
    onehot = tensors["target_onehot"]
    assert onehot.shape == (4898, 10)
    assert (onehot.sum(dim=1) == 1).all() and torch.equal(onehot.argmax(dim=1), target)
    normalized = tensors["data_normalized"]
    np.testing.assert_allclose(normalized.mean(dim=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(normalized.var(dim=0), 1.0, atol=1e-4)
    assert tensors["var"][6].item() == pytest.approx(42.498**2, rel=1e-3)


def test_book_analysis_values(wine):
    tensors, summary = wine
    analysis = summary["analysis"]
    assert analysis["counts"] == {"bad": 20, "mid": 3818, "good": 1060}
    threshold = analysis["threshold"]
    assert threshold["threshold"] == pytest.approx(141.8330, abs=1e-3)
    assert (threshold["n_predicted"], threshold["n_actual"], threshold["n_matches"]) == (
        2727, 3258, 2018)
    assert threshold["matches_over_predicted"] == pytest.approx(0.74, abs=5e-3)
    assert threshold["matches_over_actual"] == pytest.approx(0.62, abs=5e-3)
    assert tensors["group_means"].shape == (3, 12)
    assert analysis["group_means"]["good"]["alcohol"] == pytest.approx(11.416, abs=1e-3)
    assert analysis["group_means"]["bad"]["total sulfur dioxide"] == pytest.approx(170.6, abs=1e-3)


def test_missing_column_is_rejected(tmp_path):
    bad = edited_copy(WINE, tmp_path / "wine.csv",
                      lambda lines: [";".join(line.split(";")[:4] + line.split(";")[5:])
                                     for line in lines])
    message = assert_rejects(lambda pt, js: ingest_wine(bad, pt, js), bad, tmp_path)
    assert "chlorides" in message


def test_non_numeric_cell_is_rejected(tmp_path):
    bad = with_cell(WINE, tmp_path / "wine.csv", 99, 1, "abc", ";")
    message = assert_rejects(lambda pt, js: ingest_wine(bad, pt, js), bad, tmp_path)
    assert "line 100" in message and "'volatile acidity'" in message and "'abc'" in message


def test_quality_outside_0_to_9_is_rejected(tmp_path):
    bad = with_cell(WINE, tmp_path / "wine.csv", 10, -1, "10", ";")
    message = assert_rejects(lambda pt, js: ingest_wine(bad, pt, js), bad, tmp_path)
    assert "line 11" in message and "quality 10" in message
