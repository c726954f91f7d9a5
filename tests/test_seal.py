"""A training summary's seal: the sha256 of its own canonical JSON, so a hand edit of
summary.json is refused like an edit of the files whose digests it records, and so is a summary
without one (written before summaries were sealed): the run is rebuilt."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from dlwpt.io import SEAL_KEY, DataError, json_digest, read_json, sealed, summary_seal, write_json
from dlwpt.results.reading import check_summary

# The canonical JSON of SUMMARY, written out by hand: sorted keys, no spaces. Its sha256, by
# `printf '%s' '<canonical>' | sha256sum`.
SUMMARY = {"model": "net", "seed": 0, "val_acc": None, "train_acc": 0.734,
           "files": {"model.pt": "sha256:ab"}}
CANONICAL = ('{"files":{"model.pt":"sha256:ab"},"model":"net","seed":0,"train_acc":0.734,'
             '"val_acc":null}')
SEAL = "fce9fdebb411dcd1befa4a21bbb7da0967da03b0d019cae96ce2d087cafdc446"
# The same with train_acc 0.999.
EDITED_SEAL = "082adaf922078175da5bd898d6d274b8783df1853f8e316cec811543bf28615a"
UNICODE_SEAL = "9b15082422dc88c28bfa4b8486a98c5c0c47ac937289ca7af28f9c01c0bf6518"


def check_seal(summary: dict, path: Path, command: str | None = None) -> None:
    """check_summary on a run of SUMMARY's model and seed, with no files to check: the seal."""
    check_summary(summary, {"summary": path, "model": "net", "seed": 0}, command)


def test_the_seal_is_the_sha256_of_the_canonical_json_without_itself():
    import hashlib

    assert hashlib.sha256(CANONICAL.encode()).hexdigest() == SEAL
    assert summary_seal(SUMMARY) == SEAL
    assert summary_seal({**SUMMARY, SEAL_KEY: "anything"}) == SEAL  # the seal is left out
    assert summary_seal(dict(reversed(SUMMARY.items()))) == SEAL  # key order does not count
    assert summary_seal({**SUMMARY, "train_acc": 0.999}) == EDITED_SEAL
    # Values as they read back from the file: tuples as lists, numpy scalars as numbers,
    # non-ASCII as is (`{"a":[1,2.5,"é"],"b":{"c":true}}`, by hand), as every JSON digest.
    assert summary_seal({"b": {"c": True}, "a": (1, np.float32(2.5), "é")}) == UNICODE_SEAL
    assert json_digest({"b": {"c": True}, "a": [1, 2.5, "é"]}) == UNICODE_SEAL
    # a configuration's key order is part of it
    assert json_digest({"b": 1, "a": 2}, sort_keys=False) != json_digest({"a": 2, "b": 1},
                                                                          sort_keys=False)


def test_sealed_adds_the_seal_last_and_it_survives_the_file():
    summary = sealed(SUMMARY)
    assert list(summary) == [*SUMMARY, SEAL_KEY] and summary[SEAL_KEY] == SEAL
    assert sealed(summary) == summary  # sealing again changes nothing
    check_seal(summary, Path("summary.json"))


def test_a_sealed_summary_reads_back_sealed(tmp_path):
    """Floats that need all their digits, NaN and infinity, as training may write them."""
    summary = sealed({**SUMMARY, "total_seconds": 0.1 + 0.2, "loss": [math.nan, math.inf],
                      "n_params": np.int64(18090)})
    write_json(tmp_path / "summary.json", summary)
    check_seal(read_json(tmp_path / "summary.json"), tmp_path / "summary.json")


@pytest.mark.parametrize("summary", [
    sealed(SUMMARY) | {"train_acc": 0.999},  # a number edited
    {k: v for k, v in sealed(SUMMARY).items() if k != "files"},  # a key removed
    sealed(SUMMARY) | {SEAL_KEY: EDITED_SEAL},  # the seal edited
    sealed(SUMMARY) | {SEAL_KEY: None},
])
def test_a_summary_changed_after_training_is_refused(summary):
    with pytest.raises(DataError, match="changed after training"):
        check_seal(summary, Path("summary.json"))


def test_the_report_refuses_an_edited_or_unsealed_summary_in_one_line(tmp_path):
    path = Path("results/train/net/seed0/summary.json")
    check_seal(sealed(SUMMARY), path)  # as training wrote it
    with pytest.raises(DataError) as edited:
        check_seal(sealed(SUMMARY) | {"train_acc": 0.999}, path, "snakemake --cores 2")
    assert str(edited.value) == (
        f"{path}: changed after training (its seal does not match); rebuild the run with: "
        f"snakemake --cores 2 --forcerun {path}")
    with pytest.raises(DataError) as unsealed:
        check_seal(SUMMARY, path, "snakemake --cores 2")
    assert str(unsealed.value) == (
        f"{path}: not sealed (written before summaries were sealed); rebuild the run with: "
        f"snakemake --cores 2 --forcerun {path}")
