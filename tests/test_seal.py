"""A training summary's seal (issue 18): the sha256 of its own canonical JSON, so a hand edit of
summary.json is refused like an edit of the files whose digests it records; and
`python -m dlwpt seal`, which seals the summaries written before seals were recorded."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dlwpt.__main__ import main
from dlwpt.io import (
    BROKEN,
    SEAL_KEY,
    SEALED,
    UNSEALED,
    DataError,
    read_json,
    seal_state,
    sealed,
    summary_seal,
    write_json,
)
from dlwpt.report.inputs import check_seal
from tests.helpers.report_inputs import write_run

# The canonical JSON of SUMMARY, written out by hand: sorted keys, no spaces. Its sha256, by
# `printf '%s' '<canonical>' | sha256sum`.
SUMMARY = {"model": "net", "seed": 0, "val_acc": None, "train_acc": 0.734,
           "files": {"model.pt": "sha256:ab"}}
CANONICAL = ('{"files":{"model.pt":"sha256:ab"},"model":"net","seed":0,"train_acc":0.734,'
             '"val_acc":null}')
SEAL = "fce9fdebb411dcd1befa4a21bbb7da0967da03b0d019cae96ce2d087cafdc446"
# The same with train_acc 0.999 (the edit of issue 18).
EDITED_SEAL = "082adaf922078175da5bd898d6d274b8783df1853f8e316cec811543bf28615a"


def test_the_seal_is_the_sha256_of_the_canonical_json_without_itself():
    import hashlib

    assert hashlib.sha256(CANONICAL.encode()).hexdigest() == SEAL
    assert summary_seal(SUMMARY) == SEAL
    assert summary_seal({**SUMMARY, SEAL_KEY: "anything"}) == SEAL  # the seal is left out
    assert summary_seal(dict(reversed(SUMMARY.items()))) == SEAL  # key order does not count
    assert summary_seal({**SUMMARY, "train_acc": 0.999}) == EDITED_SEAL
    # Values as they read back from the file: tuples as lists, numpy scalars as numbers,
    # non-ASCII escaped (`{"a":[1,2.5,"\u00e9"],"b":{"c":true}}`, by hand).
    assert summary_seal({"b": {"c": True}, "a": (1, np.float32(2.5), "é")}) == (
        "048a0a8202cf4ce13956abd425a5b6dff196513cbba8fb5e80dc7843b43d51b2")


def test_sealed_adds_the_seal_last_and_it_survives_the_file():
    summary = sealed(SUMMARY)
    assert list(summary) == [*SUMMARY, SEAL_KEY] and summary[SEAL_KEY] == SEAL
    assert sealed(summary) == summary  # sealing again changes nothing
    assert seal_state(summary) == SEALED


def test_a_sealed_summary_reads_back_sealed(tmp_path):
    """Floats that need all their digits, NaN and infinity, as training may write them."""
    summary = sealed({**SUMMARY, "total_seconds": 0.1 + 0.2, "loss": [math.nan, math.inf],
                      "n_params": np.int64(18090)})
    write_json(tmp_path / "summary.json", summary)
    assert seal_state(read_json(tmp_path / "summary.json")) == SEALED


@pytest.mark.parametrize(("summary", "state"), [
    (SUMMARY, UNSEALED),
    (sealed(SUMMARY) | {"train_acc": 0.999}, BROKEN),  # a number edited
    ({k: v for k, v in sealed(SUMMARY).items() if k != "files"}, BROKEN),  # a key removed
    (sealed(SUMMARY) | {SEAL_KEY: EDITED_SEAL}, BROKEN),  # the seal edited
    (sealed(SUMMARY) | {SEAL_KEY: None}, BROKEN),
    (sealed(SUMMARY | {"train_acc": 0.999}), SEALED),  # edited, then sealed again: by intent
])
def test_seal_state(summary, state):
    assert seal_state(summary) == state


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
    seal = f"{sys.executable} -m dlwpt seal {Path('results/train').resolve()}"
    assert str(unsealed.value) == (
        f"{path}: not sealed (written before summaries were sealed); if the run is as "
        f"trained, seal it with: {seal}; or rebuild the run with: snakemake --cores 2 "
        f"--forcerun {path}")


# --- python -m dlwpt seal -------------------------------------------------------------------

def runs(results: Path) -> dict[str, Path]:
    """Four runs as training writes them (sealed), under results/train/<model>/seed0/."""
    return {model: write_run(results, model, 0, arch="Net", train_acc=0.8, val_acc=0.7,
                             n_params=100, seconds_per_epoch=1.0)["summary"]
            for model in ("net", "width", "depth", "res")}


def unseal(path: Path) -> None:
    write_json(path, {k: v for k, v in read_json(path).items() if k != SEAL_KEY})


def test_seal_seals_good_runs_refuses_changed_ones_and_leaves_sealed_ones(tmp_path, capsys):
    summaries = runs(tmp_path / "results")
    for model in ("net", "width", "depth"):
        unseal(summaries[model])
    metrics = summaries["width"].with_name("metrics.csv")  # unsealed, its metrics edited
    metrics.write_text(metrics.read_text().replace("0.8", "0.9"))
    # Unsealed, then its train_acc edited: no other file holds that figure, so it is sealed.
    write_json(summaries["depth"], read_json(summaries["depth"]) | {"train_acc": 0.999})
    broken = sealed(read_json(summaries["res"])) | {"val_acc": 0.999}  # sealed, then edited
    write_json(summaries["res"], broken)
    before = {m: (p.read_bytes(), p.stat().st_mtime_ns) for m, p in summaries.items()}

    assert main(["seal", str(tmp_path / "results/train")]) == 2
    out, err = capsys.readouterr()
    train = tmp_path / "results/train"
    assert out.splitlines() == [f"sealed {train}/depth/seed0/summary.json",
                                f"sealed {train}/net/seed0/summary.json",
                                "2 sealed, 0 already sealed, 2 refused"]
    hint = ("rebuild the run with the snakemake command of this run (the same --configfile "
            "files and options) and --forcerun results/train/{}/seed0/summary.json added")
    assert err.splitlines() == [
        f"refused {train}/res/seed0/summary.json: changed after training (its seal does not "
        f"match); {hint.format('res')}",
        f"refused {train}/width/seed0/summary.json: metrics.csv changed since it was trained; "
        f"{hint.format('width')}"]
    for model in ("net", "depth"):
        after = read_json(summaries[model])
        assert seal_state(after) == SEALED
        assert {k: v for k, v in after.items() if k != SEAL_KEY} == json.loads(
            before[model][0])
    for model in ("width", "res"):  # refused: left as they were
        assert (summaries[model].read_bytes(),
                summaries[model].stat().st_mtime_ns) == before[model]

    # Again: the sealed ones are left alone, byte for byte and mtime.
    sealed_now = {m: (summaries[m].read_bytes(), summaries[m].stat().st_mtime_ns)
                  for m in ("net", "depth")}
    assert main(["seal", str(train)]) == 2
    out, _ = capsys.readouterr()
    assert out.splitlines() == ["0 sealed, 2 already sealed, 2 refused"]
    assert {m: (summaries[m].read_bytes(), summaries[m].stat().st_mtime_ns)
            for m in ("net", "depth")} == sealed_now


def test_seal_refuses_a_summary_whose_figures_its_run_files_contradict(tmp_path, capsys):
    """An unsealed summary whose val_acc or epochs were edited: metrics.csv and the predictions
    hold them too, so `seal` refuses it (the report's line then says to rebuild the run)."""
    summaries = runs(tmp_path / "results")
    edits = {"net": {"val_acc": 0.999}, "width": {"epochs": 3}}
    for model, edit in edits.items():
        write_json(summaries[model], {k: v for k, v in read_json(summaries[model]).items()
                                      if k != SEAL_KEY} | edit)
    assert main(["seal", str(tmp_path / "results/train")]) == 2
    out, err = capsys.readouterr()
    assert out.splitlines() == ["0 sealed, 2 already sealed, 2 refused"]
    refused = err.splitlines()
    assert refused[0].startswith(f"refused {tmp_path}/results/train/net/seed0/summary.json: "
                                 "val_acc 0.999 differs from metrics.csv's last epoch or the "
                                 "predictions'; rebuild the run with")
    assert refused[1].startswith(f"refused {tmp_path}/results/train/width/seed0/summary.json: "
                                 "epochs 3 but metrics.csv has 2 epochs; rebuild the run with")


def test_seal_with_nothing_to_refuse_exits_0(tmp_path, capsys):
    summaries = runs(tmp_path / "results")
    unseal(summaries["net"])
    assert main(["seal", str(tmp_path / "results/train")]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[-1] == "1 sealed, 3 already sealed, 0 refused" and err == ""


def test_seal_without_summaries_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["seal", str(tmp_path / "nothing")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == (f"error: {tmp_path / 'nothing'}: no summary.json here (give the "
                                 "training results folder, results/train by default)\n")


def test_the_command_the_report_prints_seals_the_run_from_any_directory(tmp_path):
    """`python -m dlwpt seal <folder>` as the report's line prints it, run elsewhere."""
    summaries = runs(tmp_path / "work/results")
    unseal(summaries["net"])
    with pytest.raises(DataError) as error:
        check_seal(read_json(summaries["net"]), summaries["net"])
    command = str(error.value).split("seal it with: ", 1)[1].split("; or ", 1)[0]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run(["bash", "-c", command], cwd=elsewhere, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "1 sealed, 3 already sealed, 0 refused"
    check_seal(read_json(summaries["net"]), summaries["net"])
