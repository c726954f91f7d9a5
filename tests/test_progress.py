"""Where a long run stands: the whole-run progress and the epoch lines, with known inputs; and
the quick run's terminal."""

from __future__ import annotations

import json
import os
import re
import time

import pytest

from dlwpt import progress
from dlwpt.io import read_json, write_json
from tests.helpers.workflow import TERMINAL

# --- progress during the run ---------------------------------------------------------------------

@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (7.4, "7s"), (59.4, "59s"), (61, "1m01s"), (3599.4, "59m59s"),
    (3600, "1h00m"), (4 * 3600 + 51 * 60 + 10, "4h51m"), (26 * 3600, "26h00m"), (-5, "0s")])
def test_duration(seconds, text):
    assert progress.duration(seconds) == text


def test_the_epoch_line_names_its_run(caplog):
    import logging

    log = logging.getLogger("progress-epoch-line")
    row = {"epoch": 3, "train_loss": 0.68021, "train_acc": 0.548, "val_acc": 0.65951,
           "seconds": 5.244}
    with caplog.at_level(logging.INFO, logger="progress-epoch-line"):
        # 540 s for 3 epochs: 97 more take 4h51m
        progress.JobProgress("res_deep", 1, log, None)([row], 100, 540.0)
        row = {"epoch": 1, "train_loss": 0.5, "train_acc": 0.5, "val_acc": 0.5, "seconds": 1.0}
        progress.JobProgress("sweeps/width/n_chans1~64", 0, log, None)([row], 2, 7.0)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == ("res_deep/seed1 epoch 3/100 loss 0.6802 train_acc 0.5480 val_acc 0.6595 "
                        "5.24 s ETA 4h51m")
    assert lines[1].startswith("sweeps/width/n_chans1~64/seed0 epoch 1/2 ") and len(lines) == 2


def test_the_whole_run_line(tmp_path):
    folder = tmp_path / "results/.progress"
    write_json(folder / progress.PLAN_NAME, {"started": 0.0, "wall_s": 60656, "jobs": [
        {"id": "train_model/net/seed0", "rule": "train_model", "run": "net", "seed": 0,
         "seconds": 60656, "start": 0, "end": 60656}]})
    progress.record_epoch(folder, "net", 0, 634, 1000, elapsed=1.0, now=1.0)
    # 63.4% done on the plan's pace: 36.6% of the plan left
    assert progress.whole_run_line(folder, now=0.634 * 60656) == (
        "run: 63% of the expected work, about 6h10m left")


SEQUENTIAL = [{"seconds": 10, "start": 0, "end": 10}, {"seconds": 30, "start": 10, "end": 40}]


def test_planned_time_on_the_plans_timeline():
    assert progress.planned_time(0, SEQUENTIAL) == pytest.approx(0, abs=1e-9)
    assert progress.planned_time(0.25, SEQUENTIAL) == pytest.approx(10)
    assert progress.planned_time(25 / 40, SEQUENTIAL) == pytest.approx(25)  # half of the 2nd
    assert progress.planned_time(1, SEQUENTIAL) == pytest.approx(40)
    # two jobs side by side: half of the work is done at half of their time
    parallel = [{"seconds": 10, "start": 0, "end": 10}, {"seconds": 10, "start": 0, "end": 10}]
    assert progress.planned_time(0.5, parallel) == pytest.approx(5)


def test_remaining_time_follows_the_pace_so_far():
    # on the plan's pace: what the plan has left
    assert progress.remaining_seconds(25 / 40, 25, 25, 40) == pytest.approx(15)
    # twice as slow so far: more left, tempered by a prior of a tenth of the plan
    assert progress.remaining_seconds(25 / 40, 50, 25, 40) == pytest.approx(
        15 * (50 + 4) / (25 + 4))
    assert progress.remaining_seconds(1, 100, 40, 40) == 0


def test_job_fraction_reads_benchmarks_and_records(tmp_path):
    started = time.time() - 100
    work = tmp_path
    folder = work / "results/.progress"
    job = {"rule": "train_model", "run": "sweeps/width/n_chans1~8", "seed": 0,
           "benchmark": "benchmarks/train_model/sweeps/width/n_chans1~8/seed0.tsv"}
    assert progress.job_fraction(job, started, folder, work) == 0  # not started
    progress.record_epoch(folder, job["run"], 0, 3, 10, elapsed=30.0)
    assert progress.job_fraction(job, started, folder, work) == pytest.approx(0.3)
    assert json.loads((folder / "sweeps/width/n_chans1~8/seed0.json").read_text())["epoch"] == 3
    assert not list(folder.rglob("*.tmp"))
    progress.record_epoch(folder, job["run"], 0, 4, 10, elapsed=40.0, done=True)  # diverged
    assert progress.job_fraction(job, started, folder, work) == 1
    # a record from before this run's plan counts nothing
    progress.record_epoch(folder, job["run"], 0, 9, 10, elapsed=1.0, now=started - 50)
    assert progress.job_fraction(job, started, folder, work) == 0
    # a job's benchmark file written in this run: finished
    bench = work / job["benchmark"]
    bench.parent.mkdir(parents=True)
    bench.write_text("s\n1.0\n")
    assert progress.job_fraction(job, started, folder, work) == 1
    os.utime(bench, (started - 10, started - 10))  # from an earlier run
    assert progress.job_fraction(job, started, folder, work) == 0


def test_whole_run_line_from_the_plan_and_the_jobs_progress(tmp_path):
    folder = tmp_path / "results/.progress"
    assert progress.whole_run_line(folder) is None  # no plan: no line
    now = time.time()
    started = now - 25
    (tmp_path / "benchmarks/ingest_dataset").mkdir(parents=True)
    (tmp_path / "benchmarks/ingest_dataset/cifar2.tsv").write_text("s\n10\n")
    write_json(folder / progress.PLAN_NAME, {
        "started": started, "wall_s": 40, "jobs": [
            {"id": "ingest_dataset/cifar2", "rule": "ingest_dataset", "seconds": 10,
             "start": 0, "end": 10, "benchmark": "benchmarks/ingest_dataset/cifar2.tsv"},
            {"id": "train_model/net/seed0", "rule": "train_model", "run": "net", "seed": 0,
             "seconds": 30, "start": 10, "end": 40,
             "benchmark": "benchmarks/train_model/net/seed0.tsv"}]})
    progress.record_epoch(folder, "net", 0, 50, 100, elapsed=15.0)
    # 10 + 15 of 40 s of work done (each job weighs its expected seconds), on the plan's pace:
    # 15 s left
    assert progress.whole_run_line(folder, now=now) == (
        "run: 62% of the expected work, about 15s left")
    plan = read_json(folder / progress.PLAN_NAME)
    write_json(folder / progress.PLAN_NAME,
               {**plan, "jobs": [{**job, "seconds": 0} for job in plan["jobs"]]})
    assert progress.whole_run_line(folder, now=now).startswith("run: 0% of the expected work")
    (folder / progress.PLAN_NAME).write_text("{not json")
    assert progress.whole_run_line(folder, now=now) is None


# --- progress never fails a training job ----------------------------------------------------------

GOOD_PLAN = {"started": 0.0, "wall_s": 40, "jobs": [
    {"id": "train_model/net/seed0", "rule": "train_model", "run": "net", "seed": 0,
     "seconds": 30, "start": 0, "end": 30, "benchmark": "benchmarks/train_model/net/seed0.tsv"}]}
GOOD_RECORD = {"run": "net", "seed": 0, "epoch": 1, "epochs": 2, "elapsed": 3.0, "done": False,
               "time": 1.0}
# A file as another version, a crash or a person may leave it: truncated, of the wrong shape,
# with numbers that are none.
BAD_TEXTS = [
    "", '{"jobs": [', "null", "[]", '"abc"', '{"jobs": "abc"}', '{"jobs": [1, 2]}',
    '{"jobs": [{}], "started": 0, "wall_s": 1}', '{"jobs": {"a": 1}, "started": 0}',
    json.dumps({**GOOD_PLAN, "started": "yesterday"}), json.dumps({**GOOD_PLAN, "wall_s": None}),
    json.dumps({**GOOD_PLAN, "wall_s": float("nan")}),
    json.dumps({**GOOD_PLAN, "wall_s": float("inf")}),
    json.dumps({**GOOD_PLAN, "jobs": [{**GOOD_PLAN["jobs"][0], "seconds": float("nan")}]}),
    json.dumps({**GOOD_PLAN, "jobs": [{**GOOD_PLAN["jobs"][0], "end": "x"}]}),
    json.dumps({**GOOD_PLAN, "jobs": [{**GOOD_PLAN["jobs"][0], "run": None, "seed": []}]}),
    json.dumps({**GOOD_RECORD, "epochs": 0}), json.dumps({**GOOD_RECORD, "epoch": "1"}),
    json.dumps({**GOOD_RECORD, "epoch": float("nan")}), json.dumps({**GOOD_RECORD, "time": "x"}),
    '\udcff\x00\xff',
]


def progress_files(folder):
    """Every file progress reads during training: the plan, and a job's progress record."""
    return [folder / progress.PLAN_NAME, progress.progress_path(folder, "net", 0)]


def bad_files(folder):
    """(file, writer) pairs: each file replaced by each bad text, and by a folder."""
    def write(text):
        return lambda path: path.write_bytes(text.encode("utf-8", "surrogateescape"))

    def folder_instead(path):
        (path / "inside").mkdir(parents=True)

    return [(path, make) for path in progress_files(folder)
            for make in [*map(write, BAD_TEXTS), folder_instead]]


def test_bad_progress_files_mean_no_whole_run_line_never_an_error(tmp_path, caplog):
    """Each file progress reads during training, replaced by something it cannot use: the job's
    hook (and whole_run_line) gives no line, or the line of the files that are good, and
    never raises; at most one warning."""
    import logging
    import shutil

    log = logging.getLogger("progress-fuzz")
    folder = tmp_path / "results/.progress"
    rows = [{"epoch": 1, "train_loss": 0.7, "train_acc": 0.5, "val_acc": 0.5, "seconds": 1.0}]
    for index, (path, make) in enumerate(bad_files(folder)):
        shutil.rmtree(folder, ignore_errors=True)
        write_json(folder / progress.PLAN_NAME, GOOD_PLAN)
        write_json(progress.progress_path(folder, "net", 0), GOOD_RECORD)
        if path.exists():
            path.unlink()
        make(path)
        line = progress.whole_run_line(folder, now=10.0)
        assert line is None or line.startswith("run: "), (index, line)
        hook = progress.JobProgress("net", 0, log, folder)
        with caplog.at_level(logging.INFO, logger="progress-fuzz"):
            caplog.clear()
            hook(rows, 2, 3.0)
            hook(rows, 2, 3.0, done=True)
        assert caplog.records and caplog.records[0].getMessage().startswith("net/seed0 epoch 1/2")
        assert len([r for r in caplog.records if r.levelname == "WARNING"]) <= 1, index


def test_the_job_hook_prints_the_epoch_line_then_the_whole_run_line(tmp_path, caplog):
    import logging

    folder = tmp_path / "results/.progress"
    now = time.time()
    write_json(folder / progress.PLAN_NAME, {**GOOD_PLAN, "started": now - 1})
    hook = progress.JobProgress("net", 0, logging.getLogger("progress-hook"), folder)
    row = {"epoch": 1, "train_loss": 0.7, "train_acc": 0.5, "val_acc": 0.5, "seconds": 1.0}
    with caplog.at_level(logging.INFO, logger="progress-hook"):
        hook([row], 2, 4.0)  # 4 s for the first of 2 epochs: 4 s left
        hook([row, {**row, "epoch": 2}], 2, 8.0)  # the last: no whole-run line yet
        hook([row, {**row, "epoch": 2}], 2, 8.5, done=True)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == ("net/seed0 epoch 1/2 loss 0.7000 train_acc 0.5000 val_acc 0.5000 "
                        "1.00 s ETA 4s")
    assert lines[1].startswith("run: 50% of the expected work")
    assert lines[2].startswith("net/seed0 epoch 2/2 ") and lines[3].startswith("run: 100% ")
    assert len(lines) == 4
    assert read_json(progress.progress_path(folder, "net", 0))["done"] is True


@pytest.mark.pipeline
def test_the_quick_runs_terminal_names_each_epochs_run_and_estimates_before_the_first_job(
        quick_pipeline):
    """Issue 20, on the shared quick run's terminal output: one estimate block before the first
    job, every epoch line names its `<model>/seed<k>`, and a whole-run line after (at least)
    each training job."""
    terminal = (quick_pipeline / TERMINAL).read_text().splitlines()
    estimates = [i for i, line in enumerate(terminal) if line.startswith("Estimate: ")]
    first_job = next(i for i, line in enumerate(terminal)
                     if re.match(r"(local)?rule \w+:$", line.strip()))
    assert len(estimates) == 1 and estimates[0] < first_job, terminal[:40]
    assert "12 training runs (10 models and 2 sweep points x 1 seed)" in terminal[estimates[0]]
    epochs = [line for line in terminal if re.search(r" epoch \d+/\d+ loss ", line)]
    runs = {re.search(r"(\S+)/seed(\d+) epoch \d+/\d+ loss ", line).group(1) for line in epochs
            if re.search(r"(\S+)/seed(\d+) epoch \d+/\d+ loss ", line)}
    assert len(epochs) == 12 * 2 and all(
        re.search(r"(^|\s)\S+/seed0 epoch [12]/2 loss ", line) for line in epochs), epochs[:3]
    assert "sweeps/channels/n_chans1~8" in runs and "res_deep" in runs and len(runs) == 12
    whole_run = [line for line in terminal
                 if re.search(r"run: \d+% of the expected work, about \S+ left", line)]
    assert len(whole_run) >= 12, whole_run
