"""The run history (dlwpt.history) and its command line (python -m dlwpt runs / diff), on
small synthetic runs (tests/helpers/report_inputs.write_run): no Snakemake."""

from __future__ import annotations

import copy
import datetime
import json
import logging
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from dlwpt import history as h
from dlwpt.__main__ import main
from dlwpt.code_inputs import source_digest
from dlwpt.config import check_config, schema_problem
from dlwpt.io import file_digest, json_digest, read_json, write_json
from dlwpt.report import verdicts
from dlwpt.results import changes as ch
from dlwpt.results.changes import CodeChange, SettingChange
from dlwpt.results.comparisons import DATA_CHANGED, compare_runs
from dlwpt.results.reading import load_runs, run_files
from dlwpt.runs import TRAIN_KEYS, TRAINED_FILES, blob_path
from tests.helpers.report_inputs import N_VAL, write_run

REPO = Path(__file__).resolve().parents[1]
ARCH = {"net": "Net", "width": "NetWidth", "depth": "NetDepth"}
ACCURACY = {"net": 0.85, "width": 0.87, "depth": 0.86}
CODE = ("dlwpt/train.py", "dlwpt/engine/resident.py", "dlwpt/engine/trainer.py")
T0 = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.UTC)


def make_config(**model_settings) -> dict:
    """A config as run: the three models of ARCH; `model_settings`: {model: {key: value}}."""
    config = {"datasets": ["cifar2"],
              "train": {"device": "cpu", "gpus": None, "loop": "resident",
                        "cuda_graphs": "auto", "seeds": [0, 1, 2], "subsample": None,
                        "checkpoint_every": 1, "defaults": {"epochs": 2, "lr": 0.01}},
              "models": {"net": {"arch": "Net"}, "width": {"arch": "NetWidth", "n_chans1": 32},
                         "depth": {"arch": "NetDepth", "n_chans1": 32}}}
    for model, settings in model_settings.items():
        config["models"][model].update(settings)
    return config


def correctness(model: str, seed: int, variant: int, accuracy: float) -> np.ndarray:
    """Per-image hits of one run: a fixed random pattern (the variant: another training)."""
    rng = np.random.default_rng([list(ARCH).index(model), seed, variant])
    return rng.random(N_VAL) < accuracy


class Workspace:
    """A results/ folder of runs, a checkout with training code, cifar2.pt, published tables."""

    def __init__(self, root: Path):
        self.root = root
        self.repo = root / "repo"
        for rel in CODE:
            self.write_code(rel, f"NAME = {rel!r}\n")
        self.history = root / "results" / "history"

    def write_code(self, rel: str, text: str) -> None:
        path = self.repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def run(self, name: str, config: dict, *, variants: dict[str, int] | None = None,
            accuracy: dict[str, float] | None = None, seeds=(0, 1, 2), data: bytes = b"cifar2",
            published: str = "") -> dict:
        """The files of one run of the pipeline under root/<name>/: every model of `config`
        (variant 0 unless `variants` says it was retrained: another pattern of hits)."""
        folder = self.root / name
        runs = []
        for model in config["models"]:
            acc = (accuracy or {}).get(model, ACCURACY[model])
            for seed in seeds:
                hits = correctness(model, seed, (variants or {}).get(model, 0), acc)
                runs.append(write_run(folder, model, seed, arch=ARCH[model], train_acc=0.9,
                                      val_acc=None, n_params=100, seconds_per_epoch=1.0,
                                      correct=hits))
        data_pt = folder / "data" / "cifar2.pt"
        data_pt.parent.mkdir(parents=True, exist_ok=True)
        data_pt.write_bytes(data)
        tables = {}
        for table in h.PUBLISHED:
            tables[table] = folder / f"{table}.csv"
            tables[table].write_text(f"{table}\n{published}\n")
        snapshot = h.Snapshot.from_files(
            config=config, runs=runs, data_pt=data_pt,
            code_files=[self.repo / rel for rel in CODE], repo=self.repo)
        return {"snapshot": snapshot, "published": tables, "runs": runs, "data_pt": data_pt}

    def record(self, run: dict, minutes: int = 0, commit: str = "0123456789abcdef") -> str | None:
        return h.record(self.history, run["snapshot"], run["published"], git_commit=commit,
                        now=T0 + datetime.timedelta(minutes=minutes))

    def blobs(self) -> set[Path]:
        return set((self.history / "objects").rglob("*")) - set(
            (self.history / "objects").glob("*"))

    def entries(self) -> list[Path]:
        return h.entry_files(self.history)


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return Workspace(tmp_path)


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# --- the store ------------------------------------------------------------------------------

def test_a_run_is_recorded_once_and_the_same_results_again_add_nothing(ws):
    first = ws.run("a", make_config())
    run_id = ws.record(first)
    assert re.fullmatch(r"20260101T120000Z-[0-9a-f]{8}", run_id)
    entry = read_json(ws.history / "runs" / f"{run_id}.json")
    assert entry["layout"] == h.LAYOUT and entry["git_commit"] == "0123456789abcdef"
    assert entry["dirty"] is False and entry["time"] == "2026-01-01T12:00:00+00:00"
    assert entry["data"] == file_digest(first["data_pt"])
    # the digest the workflow compares code by: comments and docstrings are no change
    assert entry["code"] == {rel: source_digest(ws.repo / rel) for rel in sorted(CODE)}
    assert len(set(entry["code"].values())) == len(CODE)
    net = entry["models"]["net"]
    assert net["settings"] == {"arch": "Net", "epochs": 2, "lr": 0.01,
                               "train": {k: make_config()["train"][k] for k in TRAIN_KEYS}}
    assert net["settings_digest"] == json_digest(net["settings"])
    assert net["seeds"]["1"]["predictions"] == file_digest(
        ws.root / "a/train/net/seed1/val_predictions.csv")
    # 3 models x 3 seeds x 3 files + 2 published tables, each stored once under its digest
    files = [Path(r[k]) for r in first["runs"] for k in ("summary", "metrics", "predictions")]
    files += first["published"].values()
    blobs = ws.blobs()
    assert {p.name for p in blobs} == {file_digest(f) for f in files}
    assert all(p.name == file_digest(p) and p.parent.name == p.name[:2] for p in blobs)
    # the same results published again (another time, another commit): nothing added
    assert ws.record(ws.run("b", make_config()), minutes=5, commit="fedcba9876-dirty") is None
    assert len(ws.entries()) == 1 and ws.blobs() == blobs


def test_an_entry_that_retrains_one_model_adds_its_files_the_tables_and_the_entry(ws):
    ws.record(ws.run("a", make_config()))
    before = ws.blobs()
    second = ws.run("b", make_config(net={"lr": 0.005}), variants={"net": 1}, published="v2")
    run_id = ws.record(second, minutes=1, commit="0123456789abcdef-dirty")
    added = ws.blobs() - before
    retrained = {file_digest(ws.root / f"b/train/net/seed{s}/{f}") for s in (0, 1, 2)
                 for f in ("summary.json", "metrics.csv", "val_predictions.csv")}
    retrained |= {file_digest(p) for p in second["published"].values()}
    # (a new file may equal one already kept: write_run's short metrics.csv often do)
    assert {p.name for p in added} == retrained - {p.name for p in before}
    assert len(added) >= 3 * 2 + 2  # summaries and predictions of net, the tables
    assert [p.stem for p in ws.entries()][-1] == run_id
    assert read_json(ws.entries()[-1])["dirty"] is True


def test_blobs_are_checked_when_read(ws):
    ws.record(ws.run("a", make_config()))
    snapshot = h.load(ws.history)
    blob = blob_path(ws.history, snapshot.models["width"].seeds[2]["summary"])
    blob.write_text(blob.read_text().replace('"seed": 2', '"seed": 3'))
    with pytest.raises(h.HistoryError, match=r"does not match its name .*referenced by"):
        snapshot.summary("width", 2)
    blob.unlink()
    with pytest.raises(h.HistoryError, match=rf"^{re.escape(str(blob))}: missing"):
        h.load(ws.history).mean_val_acc("width")


def test_a_damaged_blob_is_replaced_when_the_same_file_is_recorded_again(ws):
    run = ws.run("a", make_config())
    ws.record(run)
    blob = blob_path(ws.history, file_digest(run["published"]["metrics"]))
    blob.write_text("damaged")
    again = ws.run("b", make_config())
    again["published"]["comparisons"].write_text("comparisons\nv2\n")  # so it is a new entry
    assert ws.record(again, minutes=1) is not None
    assert file_digest(blob) == blob.name


# --- compare --------------------------------------------------------------------------------

def test_the_first_run_has_nothing_to_compare_with(ws):
    current = ws.run("a", make_config())["snapshot"]
    assert h.previous(ws.history, current) is None
    changes = h.compare(None, current)
    assert changes.first and changes.old is None and changes.models == ()


def test_a_changed_setting_is_named_with_its_old_and_new_value(ws):
    old = ws.run("a", make_config())
    ws.record(old)
    new = ws.run("b", make_config(net={"lr": 0.005}, width={"n_chans1": 64}),
                 variants={"net": 1, "width": 1}, accuracy={"net": 0.9})
    assert h.previous(ws.history, new["snapshot"]).id == ws.entries()[0].stem
    changes = h.compare(h.load(ws.history), new["snapshot"])
    assert not changes.first and not changes.data_changed and changes.code == ()
    assert changes.old.id == ws.entries()[0].stem and changes.new.id is None
    by_model = {m.model: m for m in changes.models}
    net, width, depth = by_model["net"], by_model["width"], by_model["depth"]
    assert verdicts.change_words(net) == "lr 0.01 -> 0.005"
    assert net.settings == (SettingChange("lr", 0.01, 0.005),)
    assert verdicts.change_words(width) == "n_chans1 32 -> 64"
    assert net.status == width.status == ch.CHANGED and depth.status == ch.UNCHANGED
    assert depth.comparison is None and depth.settings == () and depth.verdict is None
    assert net.old_acc == pytest.approx(np.mean([correctness("net", s, 0, 0.85).mean()
                                                 for s in (0, 1, 2)]))
    assert net.new_acc == pytest.approx(np.mean([correctness("net", s, 1, 0.9).mean()
                                                 for s in (0, 1, 2)]))
    row = net.comparison
    assert (row["family"], row["model_a"], row["model_b"]) == (ch.FAMILY, ch.NEW, ch.OLD)
    assert row["seeds"] == "0 1 2" and row["test"] == "two_source_t"
    assert row["diff"] == pytest.approx(net.new_acc - net.old_acc)
    assert row["family_size"] == 2 and net.verdict == "a_better"
    assert [m.model for m in changes.models] == ["net", "width", "depth"]
    assert verdicts.difference_words(net.comparison).startswith("difference +")
    # added and removed models
    fewer = copy.deepcopy(make_config())
    del fewer["models"]["depth"]
    changes = h.compare(new["snapshot"], ws.run("c", fewer)["snapshot"])
    assert [(m.model, m.status) for m in changes.models][-1] == ("depth", ch.REMOVED)
    changes = h.compare(ws.run("c", fewer)["snapshot"], new["snapshot"])
    assert [(m.model, m.status) for m in changes.models][-1] == ("depth", ch.ADDED)


def test_the_paired_verdict_is_the_comparisons_layers_own(ws, tmp_path):
    old = ws.run("a", make_config())
    new = ws.run("b", make_config(net={"lr": 0.005}), variants={"net": 1},
                 accuracy={"net": 0.87})
    row = h.compare(old["snapshot"], new["snapshot"]).models[0].comparison
    # the same two runs of net as two models of one zoo, compared by the report's own code
    direct = []
    for name, run in (("new", new), ("old", old)):
        for seed in (0, 1, 2):
            direct.append(write_run(tmp_path / "direct", name, seed, arch="Net", train_acc=0.9,
                                    val_acc=None, n_params=100, seconds_per_epoch=1.0,
                                    correct=run["snapshot"].predictions("net", seed)[1]))
    table, _, correct = load_runs(direct, ["new", "old"], {})
    expected = compare_runs(table, correct, ["new", "old"])
    expected = expected[expected["family"] == "all_pairs"].iloc[0]
    for column in ("seeds", "test", "value_a", "value_b", "diff", "diff_ci_low", "diff_ci_high",
                   "se", "df", "p_value", "p_adjusted", "family_size", "detectable_80",
                   "verdict"):
        assert row[column] == (pytest.approx(expected[column]) if isinstance(row[column], float)
                               else expected[column]), column


def test_one_seed_is_tested_with_mcnemar_and_seeds_in_common_only(ws):
    old = ws.run("a", make_config(), seeds=(0, 1))
    new = ws.run("b", make_config(net={"lr": 0.005}), variants={"net": 1}, seeds=(1, 2))
    net = h.compare(old["snapshot"], new["snapshot"]).models[0]
    assert net.comparison["seeds"] == "1" and net.comparison["test"] == "mcnemar_exact"
    assert (net.old_seeds, net.new_seeds) == ((0, 1), (1, 2))
    # the accuracies the difference is of: on the seed both ran
    assert net.old_acc == correctness("net", 1, 0, 0.85).mean()
    assert net.new_acc == correctness("net", 1, 1, 0.85).mean()
    assert net.comparison["diff"] == pytest.approx(net.new_acc - net.old_acc)
    depth = h.compare(old["snapshot"], new["snapshot"]).models[2]
    assert depth.status == ch.UNCHANGED  # seed 1, the one both ran, is the same run


def test_a_code_change_names_the_file_and_retrains_every_model(ws):
    old = ws.run("a", make_config())
    ws.write_code("dlwpt/engine/resident.py", "FASTER = True\n")
    new = ws.run("b", make_config(), variants={m: 1 for m in ARCH})
    changes = h.compare(old["snapshot"], new["snapshot"])
    assert [c.path for c in changes.code] == ["dlwpt/engine/resident.py"]
    assert verdicts.code_summary(changes.code) == ["dlwpt/engine/resident.py"]
    assert all(m.status == ch.CHANGED and m.code and m.settings == () for m in changes.models)
    assert {m.comparison["family_size"] for m in changes.models} == {3}
    many = [CodeChange(p, "a", "b") for p in
            ("dlwpt/engine/a.py", "dlwpt/engine/b.py", "dlwpt/engine/c.py", "dlwpt/train.py")]
    assert verdicts.code_summary(many) == ["dlwpt/engine/ (3 files)", "dlwpt/train.py"]


def test_a_comment_or_docstring_edit_of_the_training_code_is_no_code_change(ws):
    """As the workflow plans (its code params): such an edit retrains nothing, so the history
    must not call the next run's models changed either."""
    old = ws.run("a", make_config())
    ws.write_code("dlwpt/engine/resident.py",
                  '"""A docstring now."""\n# and a comment\nNAME = "dlwpt/engine/resident.py"\n')
    new = ws.run("b", make_config())
    changes = h.compare(old["snapshot"], new["snapshot"])
    assert not changes.code and all(m.status == ch.UNCHANGED for m in changes.models)


def test_changed_data_is_said_and_nothing_is_paired(ws):
    old = ws.run("a", make_config())
    new = ws.run("b", make_config(), variants={m: 1 for m in ARCH}, data=b"other cifar2")
    changes = h.compare(old["snapshot"], new["snapshot"])
    assert changes.data_changed
    assert all(m.data and m.verdict == DATA_CHANGED and m.comparison["diff"] is None
               for m in changes.models)


def test_a_model_retrained_with_the_same_settings_is_tested_too(ws):
    old = ws.run("a", make_config())
    new = ws.run("b", make_config(), variants={"depth": 1})
    depth = h.compare(old["snapshot"], new["snapshot"]).models[2]
    assert depth.status == ch.RETRAINED and depth.verdict in ("a_better", "b_better",
                                                             "not_distinguishable")


def test_the_page_compares_with_the_last_entry_whose_training_differs(ws):
    ws.record(ws.run("a", make_config()))
    lower = ws.run("b", make_config(net={"lr": 0.005}), variants={"net": 1})
    ws.record(lower, minutes=1)
    # published again with another label: a new entry, the same training
    relabelled = make_config(net={"lr": 0.005}) | {"experiment": "lower lr"}
    again = ws.run("b", relabelled, variants={"net": 1})
    assert ws.record(again, minutes=2) is not None and len(ws.entries()) == 3
    assert h.previous(ws.history, again["snapshot"]).id == ws.entries()[0].stem


# --- the command line -----------------------------------------------------------------------

def two_entries(ws) -> None:
    ws.record(ws.run("a", make_config() | {"experiment": "baseline"}))
    ws.record(ws.run("b", make_config(net={"lr": 0.005}) | {"experiment": "lower lr"},
                     variants={"net": 1}, accuracy={"net": 0.9}), minutes=90)


def test_runs_lists_the_entries_and_only_the_settings_that_differ(ws, capsys):
    two_entries(ws)
    code, out, err = cli(capsys, "runs", "--history", str(ws.history))
    assert code == 0 and err == ""
    header, *rows = out.splitlines()
    assert header.split() == ["id", "date", "commit", "experiment", "net.lr", "acc:net",
                              "acc:width", "acc:depth"]
    first, second = (ws.entries()[0].stem, ws.entries()[1].stem)
    assert rows[0].startswith(first) and "2026-01-01 12:00" in rows[0]
    assert rows[1].startswith(second) and "2026-01-01 13:30" in rows[1]
    assert "baseline" in rows[0] and "lower lr" in rows[1] and "0123456789" in rows[0]
    assert rows[0].split()[-4:] == ["0.01", *(f"{ACC:.3f}" for ACC in (
        h.load(ws.history, first).mean_val_acc(m) for m in ARCH))]
    assert rows[1].split()[-4] == "0.005"
    code, out, _ = cli(capsys, "runs", "--all", "--history", str(ws.history))
    header = out.splitlines()[0].split()
    assert {"net.lr", "width.n_chans1", "train.subsample", "seeds", "data", "code"} <= set(header)


def test_runs_json_and_markdown(ws, capsys):
    two_entries(ws)
    code, out, _ = cli(capsys, "runs", "--json", "--history", str(ws.history))
    view = json.loads(out)
    assert code == 0 and view["settings"] == ["net.lr"] and view["models"] == list(ARCH)
    assert [e["settings"] for e in view["entries"]] == [{"net.lr": 0.01}, {"net.lr": 0.005}]
    assert view["entries"][1]["experiment"] == "lower lr"
    assert view["entries"][0]["val_acc"]["net"] == pytest.approx(
        h.load(ws.history, view["entries"][0]["id"]).mean_val_acc("net"))
    code, out, _ = cli(capsys, "runs", "--md", "--history", str(ws.history))
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("| id | date |") and set(lines[1]) <= set("|- ")
    assert len(lines) == 4


def test_diff_shows_the_change_the_accuracies_and_the_pages_verdict_words(ws, capsys):
    two_entries(ws)
    code, out, err = cli(capsys, "diff", "--history", str(ws.history))
    assert code == 0 and err == ""
    changes = h.compare(*h.snapshots(ws.history))
    net = changes.models[0]
    lines = out.splitlines()
    assert lines[0] == (f"old: {changes.old.id} (2026-01-01 12:00, commit 0123456789, "
                        "experiment baseline)")
    assert lines[2] == "training code: unchanged" and lines[3] == "data: unchanged"
    net_line = next(line for line in lines if line.startswith("net "))
    assert "lr 0.01 -> 0.005" in net_line
    assert f"{net.old_acc:.3f}" in net_line and f"{net.new_acc:.3f}" in net_line
    assert net_line.endswith(f"new better ({verdicts.difference_words(net.comparison)})")
    assert net_line.endswith(verdicts.change_verdict_words(net))
    assert re.search(r"^width +unchanged +0\.\d{3} +0\.\d{3} +—$", out, re.M)
    # explicit ids (a unique beginning will do), the same answer
    first, second = (p.stem for p in ws.entries())
    assert cli(capsys, "diff", first, second[:20], "--history", str(ws.history))[1] == out
    code, out, _ = cli(capsys, "diff", "--json", "--history", str(ws.history))
    view = json.loads(out)
    assert view["models"][0]["settings"] == [{"key": "lr", "old": 0.01, "new": 0.005}]
    assert view["models"][0]["verdict"] == "a_better"
    assert view["models"][0]["verdict_words"] == "new better"
    assert view["models"][0]["comparison"]["p_adjusted"] == pytest.approx(
        net.comparison["p_adjusted"])
    code, out, _ = cli(capsys, "diff", "--md", "--history", str(ws.history))
    assert code == 0 and "| net | lr 0.01 -&gt; 0.005 |" in out


def test_the_module_runs_as_a_command(ws):
    two_entries(ws)
    result = subprocess.run([sys.executable, "-m", "dlwpt", "runs", "--history",
                             str(ws.history)], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0 and "net.lr" in result.stdout


def net_blob(ws, seed: int, name: str, ref: str | None = None) -> Path:
    """The blob of net's run file `name` of `seed` in entry `ref` (None: the latest)."""
    return blob_path(ws.history, h.load(ws.history, ref).models["net"].seeds[seed][name])


def edit_entry(path: Path, change) -> None:
    entry = read_json(path)
    change(entry)
    write_json(path, entry)


BAD_HISTORIES = {
    "no history": (lambda ws: None, ["runs"], r"no history: no run has been published"),
    "unknown id": (two_entries, ["diff", "2025", "2026"], r"runs: no entry '2025' \(2 entries"),
    "ambiguous id": (two_entries, ["diff", "2026"], r"'2026' begins 2 entries"),
    "older layout": (lambda ws: (two_entries(ws), edit_entry(
        ws.entries()[0], lambda e: e.update(layout=0))), ["runs"],
                     r"\.json: written by an older layout \(0\); this checkout reads layout 1"),
    "newer layout": (lambda ws: (two_entries(ws), edit_entry(
        ws.entries()[0], lambda e: e.update(layout=2))), ["runs"],
                     r"written by a newer layout \(2\).*update the checkout"),
    "changed blob": (lambda ws: (two_entries(ws), net_blob(ws, 0, "summary").write_text("{}")),
                     ["runs"],
                     r"does not match its name \(referenced by .*\.json\)"),
    "missing blob": (lambda ws: (two_entries(ws), net_blob(ws, 0, "summary").unlink()), ["runs"],
                     r"objects/[0-9a-f]{2}/[0-9a-f]{64}: missing \(referenced by"),
}


@pytest.mark.parametrize("case", BAD_HISTORIES)
def test_every_bad_input_is_one_line_and_exit_2(ws, capsys, case):
    setup, args, message = BAD_HISTORIES[case]
    setup(ws)
    capsys.readouterr()
    code, out, err = cli(capsys, *args, "--history", str(ws.history))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert re.search(message, err), err


def test_a_usage_error_is_one_line_and_exit_2(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["runs", "--md", "--json"])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and err.count("\n") == 1 and "not allowed with" in err


# --- damage, nothing to compare, what users typed ---------------------------------------------

def truncated(path: Path) -> Path:
    path.write_text(path.read_text()[:40])
    return path


def hand_edited(path: Path) -> Path:
    edit_entry(path, lambda e: e["models"]["net"]["settings"].update(lr=0.5))
    return path


def renamed(path: Path) -> Path:
    return path.rename(path.with_name("20990101T000000Z-00000000.json"))


@pytest.mark.parametrize("damage", [truncated, hand_edited, renamed])
def test_a_damaged_entry_is_moved_aside_and_the_history_keeps_recording(ws, caplog, damage):
    two_entries(ws)
    first = ws.entries()[0]
    damaged = damage(ws.entries()[1])
    third = ws.run("c", make_config(net={"lr": 0.002}), variants={"net": 2})
    run_id = publish(ws, third, ws.history, caplog)
    assert run_id is not None
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.startswith(f"history: {damaged} moved to {ws.history / 'damaged'}: ")
    assert "\n" not in warning
    assert [p.name for p in (ws.history / "damaged").iterdir()] == [damaged.name]
    assert [p.stem for p in ws.entries()] == [first.stem, run_id]
    # later runs record without a word about it, and compare with the entries left
    fourth = ws.run("d", make_config(net={"lr": 0.001}), variants={"net": 3})
    assert publish(ws, fourth, ws.history, caplog) is not None
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]
    assert h.previous(ws.history, fourth["snapshot"]).id == run_id


def test_a_missing_blob_drops_its_model_named_and_the_rest_compares(ws, capsys, tmp_path):
    from tests.helpers.report_inputs import report_inputs
    from tests.test_report import Page, build

    ws.record(ws.run("a", make_config()))
    new = ws.run("b", make_config(net={"lr": 0.005}, width={"n_chans1": 64}),
                 variants={"net": 1, "width": 1}, accuracy={"width": 0.95})
    ws.record(new, minutes=1)
    old_entry = ws.entries()[0]
    blob = net_blob(ws, 1, "predictions", old_entry.stem)
    blob.unlink()
    changes = h.compare(h.load(ws.history, old_entry.stem), h.load(ws.history))
    net, width, depth = changes.models
    problem = f"{blob}: missing (referenced by {old_entry})"
    assert (net.status, net.problem, net.comparison) == (ch.NOT_COMPARED, problem, None)
    assert width.status == ch.CHANGED and width.verdict == "a_better"
    assert width.comparison["family_size"] == 1 and depth.status == ch.UNCHANGED
    code, out, err = cli(capsys, "diff", "--history", str(ws.history))
    assert (code, err) == (0, "")
    assert re.search(rf"^net +not compared: {re.escape(problem)} +— +— +—$", out, re.M)
    assert re.search(r"^width +n_chans1 32 -> 64 +0\.\d{3} +0\.\d{3} +new better \(", out,
                     re.M)
    inputs = report_inputs(tmp_path / "inputs", datasets=[], seeds=(0,))
    page = Page(build(tmp_path, inputs, changes=changes, thermometer=[])[0])
    assert [row["model"] for row in page.rows("changes-table")] == ["width"]
    assert f"Not compared: net, a file of its runs in the history is missing or damaged " \
           f"({problem})." in page.text


def test_nothing_to_compare_is_one_line_and_exit_0(ws, capsys):
    first = ws.record(ws.run("a", make_config()))
    code, out, err = cli(capsys, "diff", "--history", str(ws.history))
    assert (code, err) == (0, "") and out == (
        f"nothing to compare: no entry before {first} was trained differently (the first "
        "run, or the same training published again)\n")
    second = ws.record(ws.run("b", make_config(net={"lr": 0.005}), variants={"net": 1}),
                       minutes=1)
    for args, said in (([first, first], f"{first} and {first}"),
                        ([first[:20], first], f"{first[:20]} and {first}"),
                        ([second], f"{second} and the latest")):
        code, out, err = cli(capsys, "diff", *args, "--history", str(ws.history))
        assert (code, err) == (0, "")
        assert out == f"nothing to compare: {said} are one entry, {args[-1]}\n"


TYPED = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "two\nlines",
         "[click](javascript:alert(1))"]


def test_typed_labels_are_escaped_in_every_output(ws, capsys, tmp_path):
    """Experiment labels (and model names, the same cells) reach the page (HTML: escaped by
    the templates), `runs --md` / `diff --md` (Markdown: inert) and plain `runs` (one line)."""
    import markupsafe

    from tests.helpers.report_inputs import report_inputs
    from tests.test_report import Page, build

    for i, label in enumerate([*TYPED, None]):
        config = make_config(net={"lr": 0.01 / (i + 1)}) | {"experiment": label}
        ws.record(ws.run(f"r{i}", config, variants={"net": i}), minutes=i)
    code, out, _ = cli(capsys, "runs", "--history", str(ws.history))
    rows = out.splitlines()[1:]
    assert code == 0 and len(rows) == len(TYPED) + 1
    assert [label in row for label, row in zip(TYPED, rows, strict=False)] == [
        True, True, False, True]
    assert "two lines" in rows[2]
    code, out, _ = cli(capsys, "runs", "--md", "--history", str(ws.history))
    rows = out.splitlines()[2:]
    assert code == 0 and len(rows) == len(TYPED) + 1
    assert "<" not in out and ">" not in out and "](" not in out.replace("\\](", "")
    assert "| &lt;script&gt;alert(1)&lt;/script&gt; |" in rows[0]
    assert '| "&gt;&lt;img src=x onerror=alert(1)&gt; |' in rows[1]
    assert "| two lines |" in rows[2]
    assert "| \\[click\\](javascript:alert(1)) |" in rows[3]
    inputs = report_inputs(tmp_path / "inputs", datasets=[], seeds=(0,))
    latest = h.load(ws.history)
    for label, entry in zip(TYPED, ws.entries(), strict=False):
        code, out, _ = cli(capsys, "diff", "--md", entry.stem, latest.id,
                           "--history", str(ws.history))
        first_line = out.splitlines()[0]
        assert code == 0 and "<" not in out and "](" not in out.replace("\\](", "")
        assert first_line.startswith(f"- old: {entry.stem} (") and "\n" not in first_line
        changes = h.compare(h.load(ws.history, entry.stem), latest)
        page, _ = build(tmp_path, inputs, changes=changes, thermometer=[])
        assert str(markupsafe.escape(label)) in page
        assert label not in page or markupsafe.escape(label) == label  # markup, escaped
        assert f"experiment “{' '.join(label.split())}”" in Page(page).texts["changes-summary"]


# --- recording from publish_report ----------------------------------------------------------

def publish(ws, run: dict, history: Path, caplog) -> str | None:
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="dlwpt.test"):
        return h.record_published(
            history, config=run["snapshot"].config, runs=run["runs"], data_pt=run["data_pt"],
            code_files=[ws.repo / rel for rel in CODE], repo=ws.repo,
            published=run["published"], log=logging.getLogger("dlwpt.test"))


def test_publish_records_the_run_once(ws, caplog):
    run = ws.run("a", make_config())
    run_id = publish(ws, run, ws.history, caplog)
    assert run_id and f"history: recorded {run_id}" in caplog.text
    assert read_json(ws.entries()[0])["git_commit"] is None  # ws.repo is not a git checkout
    assert publish(ws, run, ws.history, caplog) is None
    assert "nothing added" in caplog.text and len(ws.entries()) == 1


def test_a_history_that_cannot_be_written_is_a_warning_not_a_failure(ws, caplog, monkeypatch):
    run = ws.run("a", make_config())
    blocked = ws.root / "results" / "history-file"
    blocked.parent.mkdir(parents=True, exist_ok=True)
    blocked.write_text("a file where the history folder should be")
    assert publish(ws, run, blocked, caplog) is None
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.getMessage().startswith(f"run not recorded in {blocked}: ")
    assert "\n" not in warning.getMessage()
    # a latest entry of another layout stops recording, with a warning naming it: a new entry
    # beside it would mix layouts
    ws.record(run)
    edit_entry(ws.entries()[0], lambda e: e.update(layout=2))
    second = ws.run("b", make_config(net={"lr": 0.005}), variants={"net": 1})
    caplog.clear()
    assert publish(ws, second, ws.history, caplog) is None and len(ws.entries()) == 1
    assert f"{ws.entries()[0]}: written by a newer layout (2)" in caplog.text
    # nor does anything else go wrong there fail the job
    monkeypatch.setattr(h, "record", lambda *a, **k: 1 / 0)
    assert publish(ws, second, ws.history, caplog) is None
    assert "ZeroDivisionError" in caplog.text


def test_the_report_run_files_are_looked_up_by_the_names_the_rules_give_them(tmp_path):
    # in any order: the names, not the positions, say which file is which
    inputs = {f"{m}/seed{s}/{f}": str(tmp_path / f"{m}{s}{f}")
              for f in reversed(TRAINED_FILES) for s in (1, 0) for m in ("sweeps/w/n~8", "a")}
    runs = run_files(inputs, ["a", "sweeps/w/n~8"], [0, 1])
    assert [(r["model"], r["seed"]) for r in runs] == [
        ("a", 0), ("a", 1), ("sweeps/w/n~8", 0), ("sweeps/w/n~8", 1)]
    assert runs[3]["summary"] == tmp_path / "sweeps/w/n~81summary.json"
    assert runs[0]["predictions"] == tmp_path / "a0val_predictions.csv"
    assert runs[0]["model_pt"] == tmp_path / "a0model.pt"


# --- settings -------------------------------------------------------------------------------

def test_experiment_is_an_optional_label_in_the_strict_schema():
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    schema = REPO / "schemas/config.schema.yaml"
    for label in ("lower lr", None):
        assert schema_problem(config | {"experiment": label}, schema) is None
        check_config(config | {"experiment": label})
    assert schema_problem(config | {"experiment": 3}, schema) == (
        "experiment: 3 is not of type 'string', 'null'")
    assert schema_problem(config | {"experimnet": "x"}, schema) == (
        "unknown key 'experimnet' in the top level")


# --- size -----------------------------------------------------------------------------------

def realistic(run: dict, rng: np.random.Generator, epochs: int = 100) -> None:
    """Rewrite a write_run run's metrics.csv and val_predictions.csv as training writes them
    (full-precision floats, `epochs` epochs), and its summary's digests."""
    summary_path = Path(run["summary"])
    summary = read_json(summary_path)
    predictions = pd.read_csv(run["predictions"])
    prob = np.where(predictions["predicted"] == 1, rng.uniform(0.5, 1, len(predictions)),
                    rng.uniform(0, 0.5, len(predictions))).astype(np.float32)
    Path(run["predictions"]).write_text("index,label,predicted,prob\n" + "".join(
        f"{i},{a},{b},{float(p)!r}\n" for i, (a, b, p) in enumerate(zip(
            predictions["label"], predictions["predicted"], prob, strict=True))))
    rows = ["epoch,train_loss,train_acc,val_acc,seconds"]
    rows += [f"{e},{rng.uniform(0.1, 0.7)!r},{rng.uniform(0.5, 1)!r},{rng.uniform(0.5, 1)!r},"
             f"{rng.uniform(1, 2)!r}" for e in range(1, epochs + 1)]
    Path(run["metrics"]).write_text("\n".join(rows) + "\n")
    summary["files"] = {Path(run[k]).name: "sha256:" + file_digest(run[k])
                        for k in ("model_pt", "metrics", "predictions")}
    write_json(summary_path, summary)


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def test_retraining_one_model_of_the_default_zoo_adds_well_under_2_mb(tmp_path):
    """10 models x 3 seeds (val_predictions.csv 2,000 rows, metrics.csv 100
    epochs, the published tables of that size); one model retrained. The figure is
    docs/history.md's."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    repo_code = [REPO / "scripts/train_model.py", *sorted((REPO / "dlwpt").rglob("*.py"))]
    rng = np.random.default_rng(0)

    def zoo(name: str, retrained: str | None) -> dict:
        runs = []
        for i, (model, entry) in enumerate(config["models"].items()):
            for seed in (0, 1, 2):
                variant = 1 if model == retrained else 0
                hits = np.random.default_rng([i, seed, variant]).random(N_VAL) < 0.85
                run = write_run(tmp_path / name, model, seed, arch=entry["arch"], train_acc=0.9,
                                val_acc=None, n_params=1000, seconds_per_epoch=1.0, correct=hits)
                old = tmp_path / "a" / "train" / model / f"seed{seed}"
                if name != "a" and model != retrained:  # the same files as before
                    for file in old.iterdir():
                        shutil.copyfile(file, Path(run["summary"]).parent / file.name)
                else:
                    realistic(run, rng)
                runs.append(run)
        published = {}
        for table, rows, width in (("metrics", 30, 330), ("comparisons", 300, 320)):
            published[table] = tmp_path / name / f"{table}.csv"
            published[table].write_text("".join(f"{r},{rng.bytes(width // 2).hex()}\n"
                                                for r in range(rows)))
        data_pt = tmp_path / "cifar2.pt"
        data_pt.write_bytes(b"cifar2")
        snapshot = h.Snapshot.from_files(config=config, runs=runs, data_pt=data_pt,
                                         code_files=repo_code, repo=REPO)
        return {"snapshot": snapshot, "published": published}

    history = tmp_path / "history"
    first = zoo("a", None)
    h.record(history, first["snapshot"], first["published"], now=T0)
    size_first = folder_size(history)
    config["models"]["width"]["n_chans1"] = 16
    second = zoo("b", "width")
    h.record(history, second["snapshot"], second["published"],
             now=T0 + datetime.timedelta(hours=1))
    growth = folder_size(history) - size_first
    entry = folder_size(history / "runs") / 2
    print(f"\nhistory: first entry {size_first / 1e6:.2f} MB, one model retrained "
          f"+{growth / 1e3:.0f} kB (entry {entry / 1e3:.0f} kB)")
    assert growth < 2_000_000 and growth < size_first / 3


# --- the page's section ---------------------------------------------------------------------

def test_the_page_says_what_changed_and_what_it_did(ws, tmp_path):
    """The report's first section, from compare()'s rows: the setting, old and new accuracy and
    the paired verdict in the comparisons' words; the first run; a history that cannot be read;
    no section when no history was read."""
    from tests.helpers.report_inputs import report_inputs
    from tests.test_report import Page, build

    old = ws.run("a", make_config())
    ws.record(old)
    new = ws.run("b", make_config(net={"lr": 0.005}), variants={"net": 1},
                 accuracy={"net": 0.9})
    changes = h.compare(h.previous(ws.history, new["snapshot"]), new["snapshot"])
    net = changes.models[0]
    inputs = report_inputs(tmp_path / "inputs", datasets=[], seeds=(0,))
    page, _ = build(tmp_path, inputs, changes=changes, thermometer=[])
    parsed = Page(page)
    assert parsed.rows("changes-table") == [{
        "model": "net", "what changed": "lr 0.01 -> 0.005",
        "old val acc": f"{net.old_acc:.3f}", "new val acc": f"{net.new_acc:.3f}",
        "new − old": f"new better ({verdicts.difference_words(changes.models[0].comparison)})"}]
    assert net.verdict == "a_better"
    assert parsed.texts["changes-unchanged"] == "Unchanged: width, depth."
    assert parsed.texts["changes-summary"].startswith(
        f"Compared with run {ws.entries()[0].stem} (2026-")
    # the first section after the first screen (what ran, the winner, the claims)
    ids = list(parsed.ids)
    assert ids.index("summary") < ids.index("changes") < ids.index("results")
    assert ids[ids.index("changes"):][:3] == ["changes", "changes-summary", "changes-table"]
    first, _ = build(tmp_path, inputs, changes=h.compare(None, new["snapshot"]), thermometer=[])
    assert Page(first).texts["changes-summary"].startswith("The first run in the history")
    broken, _ = build(tmp_path, inputs, history_problem="results/history/runs/x.json: not "
                      "JSON", thermometer=[])
    assert Page(broken).texts["changes-summary"].endswith(
        "could not be read, so this run is not compared with the previous one: "
        "results/history/runs/x.json: not JSON")
    none, _ = build(tmp_path, inputs, thermometer=[])
    assert 'id="changes"' not in none
