"""Chapter 4 text: Pride and Prejudice, one line one-hot by character, the word vocabulary."""

from __future__ import annotations

import pytest
import torch

from dlwpt.ingest.text import ingest_text
from tests.helpers.data import P1CH4
from tests.helpers.ingest import assert_rejects, ingested

BOOK = P1CH4 / "jane-austen" / "1342-0.txt"
LINE_200 = "“Impossible, Mr. Bennet, impossible, when I am not acquainted with him"


@pytest.fixture(scope="module")
def text(tmp_path_factory):
    return ingested(tmp_path_factory.mktemp("text"), ingest_text, BOOK, line_index=200)


def test_line_200_characters_one_hot(text):
    tensors, summary = text
    assert summary["line"] == LINE_200 and summary["line_index"] == 200
    onehot = tensors["line_onehot"]
    assert onehot.shape == (70, 128) and onehot.dtype == torch.float32
    assert (onehot.sum(dim=1) == 1).all()
    letters = onehot.argmax(dim=1).tolist()
    assert letters[0] == 0  # the curly quote is not ASCII
    assert letters[1:] == [ord(ch) for ch in LINE_200[1:]]


def test_vocabulary_and_word_indices(text):
    tensors, summary = text
    vocab = tensors["vocab"]
    assert len(vocab) == summary["vocab_size"] == 7261
    assert vocab == sorted(vocab) and vocab.index("impossible") == 3394
    assert summary["word2index_sample"]["impossible"] == 3394
    assert summary["line_words"] == ["impossible", "mr", "bennet", "impossible", "when", "i",
                                     "am", "not", "acquainted", "with", "him"]
    words_onehot = tensors["line_words_onehot"]
    assert words_onehot.shape == (11, 7261) and (words_onehot.sum(dim=1) == 1).all()
    assert [vocab[i] for i in words_onehot.argmax(dim=1)] == summary["line_words"]
    indices = tensors["book_word_indices"]
    assert indices.dtype == torch.int64 and indices.shape == (summary["n_words"],) == (124592,)
    assert [vocab[i] for i in indices[:4]] == ["\ufeffthe", "project", "gutenberg", "ebook"]


def test_non_utf8_file_is_rejected(tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes(BOOK.read_text(encoding="utf8")[:5000].encode("latin-1", errors="replace")
                    + "café".encode("latin-1"))
    assert_rejects(lambda pt, js: ingest_text(bad, pt, js), bad, tmp_path)


def test_line_index_out_of_range_is_rejected(tmp_path):
    message = assert_rejects(lambda pt, js: ingest_text(BOOK, pt, js, line_index=13428), BOOK,
                             tmp_path)
    assert "13428 lines" in message
