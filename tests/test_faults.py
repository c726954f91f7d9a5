"""What a user cannot see: changed raw data, the same data by another path, a moved checkout.

Real Snakemake runs on one small dataset each (wine), so each case costs seconds.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from dlwpt import sources
from dlwpt.io import file_digest
from tests.helpers.data import CIFAR10, DATA, REPO
from tests.helpers.tensorboard import expected_scalars, scalars
from tests.helpers.workflow import QUICK, hint_of, run_hint, snakemake, uninterrupted_metrics

pytestmark = pytest.mark.pipeline
WINE = "p1ch4/tabular-wine/winequality-white.csv"
TARGET = "results/data/wine.pt"


def only(tmp_path: Path, **settings) -> str:
    path = tmp_path / "only-wine.yaml"
    path.write_text(json.dumps({"datasets": ["wine"], **settings}))
    return str(path)


def copy_with_cut_wine(data_dir: Path, root: Path) -> Path:
    """A local copy whose wine CSV lost its last 2898 wines at a line boundary."""
    cut = root / WINE
    cut.parent.mkdir(parents=True)
    cut.write_bytes(b"".join((data_dir / WINE).read_bytes().splitlines(keepends=True)[:2001]))
    return cut


def test_a_cut_csv_is_refused_before_ingestion_naming_both_digests(tmp_path, data_dir):
    cut = copy_with_cut_wine(data_dir, tmp_path / "copy")
    work = tmp_path / "work"
    result = snakemake(work, "--configfile", only(tmp_path), "--cores", "1", TARGET,
                       env={"DLWPT_DATA": str(tmp_path / "copy")}, check=False)
    assert result.returncode != 0
    last = (work / "logs/ingest_dataset/wine.log").read_text().strip().splitlines()[-1]
    assert last.split(" ", 1)[1] == (
        f"error: {cut}: sha256:{file_digest(cut)} does not match the pinned "
        f"{sources.manifest()[WINE]}; set data.verify: false to accept a different file")
    assert not (work / "results/data").exists() or not list((work / "results/data").iterdir())


def test_verify_false_ingests_the_different_file_and_records_it(tmp_path, data_dir):
    cut = copy_with_cut_wine(data_dir, tmp_path / "copy")
    work = tmp_path / "work"
    config = only(tmp_path, data={"verify": False})
    snakemake(work, "--configfile", config, "--cores", "1", TARGET,
              env={"DLWPT_DATA": str(tmp_path / "copy")})
    summary = json.loads((work / "results/data/wine.json").read_text())
    assert summary["tensors"]["table"]["shape"] == [2000, 12]
    assert summary["raw_differences"] == [{"path": str(cut), "expected": sources.manifest()[WINE],
                                           "actual": f"sha256:{file_digest(cut)}"}]


def test_the_books_file_records_no_difference(tmp_path, data_dir):
    work = tmp_path / "work"
    snakemake(work, "--configfile", only(tmp_path), "--cores", "1", TARGET)
    assert json.loads((work / "results/data/wine.json").read_text())["raw_differences"] == []


def test_the_same_data_by_another_path_plans_no_job(tmp_path, data_dir):
    work = tmp_path / "work"
    config = only(tmp_path)
    snakemake(work, "--configfile", config, "--cores", "1", TARGET,
              env={"DLWPT_DATA": str(data_dir)})
    link = tmp_path / "data-link"
    link.symlink_to(data_dir)
    for given in (str(link), str(Path(shutil.os.path.relpath(data_dir, work)))):
        result = snakemake(work, "-n", "--configfile", config, "--cores", "1", TARGET,
                           env={"DLWPT_DATA": given})
        assert "Nothing to be done" in result.stdout + result.stderr, given


def test_a_moved_checkout_plans_no_job(tmp_path, data_dir):
    """The checkout is its own work dir (the usual case); moved with results/ and .snakemake/."""
    tracked = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout.split("\n")
    first = tmp_path / "checkout"
    for rel in filter(None, tracked):
        if (REPO / rel).is_file():
            (first / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, first / rel)
    config = only(tmp_path)
    run = ["-s", "Snakefile", "--configfile", config, "--cores", "1", TARGET]
    snakemake_in(first, *run)
    moved = first.rename(tmp_path / "renamed")
    result = snakemake_in(moved, "-n", *run)
    assert "Nothing to be done" in result.stdout + result.stderr, result.stdout[-2000:]


def snakemake_in(checkout: Path, *args: str) -> subprocess.CompletedProcess:
    """Snakemake run from inside `checkout` with its own Snakefile, as users type it."""
    import os
    import sys

    env = {**os.environ, "DLWPT_DATA": str(DATA), "DLWPT_CIFAR10": str(CIFAR10)}
    result = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=checkout, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def start_one_model_run(tmp_path: Path, epochs: int):
    """Snakemake training net (seed 0, 3,000 images, `epochs`) in the background, in its own
    session: (work dir, target, command, environment, the Snakemake process)."""
    import os
    import sys

    config = tmp_path / "one-model.yaml"
    config.write_text(json.dumps({"datasets": ["cifar2"], "train": {
        "models": ["net"], "device": "cpu", "subsample": 3000, "defaults": {"epochs": epochs}}}))
    work = tmp_path / "work"
    target = "results/train/net/seed0/summary.json"
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(work),
               "--configfile", str(config), "--cores", "2", target]
    env = {**os.environ, "DLWPT_DATA": str(DATA), "DLWPT_CIFAR10": str(CIFAR10)}
    first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    return work, target, command, env, first


def test_a_killed_training_job_resumes_when_the_same_command_runs_again(tmp_path):
    """SIGKILL of the real training process mid-run; the same command again resumes from the
    checkpoint and ends with the metrics of an uninterrupted run."""
    import os
    import signal
    import time

    work, target, command, env, first = start_one_model_run(tmp_path, epochs=6)
    checkpoint = work / "results/.resume/net/seed0/checkpoint.pt"
    deadline = time.monotonic() + 600
    while not checkpoint.exists():
        assert first.poll() is None and time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.2)
    # The job itself: Snakemake runs the script from a copy named *.train_model.py.
    jobs = subprocess.run(["pgrep", "-s", str(first.pid), "-f", r"train_model\.py"],
                          capture_output=True, text=True).stdout.split()
    assert jobs, "the training job's process was not found"
    for pid in jobs:
        os.kill(int(pid), signal.SIGKILL)
    first.wait(timeout=120)
    assert not (work / target).exists()

    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    log = (work / "logs/train_model/net/seed0.log").read_text()
    assert "resuming net seed 0 after epoch" in log

    resumed, uninterrupted = uninterrupted_metrics(work, "net", tmp_path / "reference", 3000)
    assert resumed == uninterrupted and len(resumed) == 6
    # Snakemake removed the killed job's event files; the resumed job rewrote the checkpointed
    # epochs: each of the 6 epochs once, as in metrics.csv.
    assert scalars(work / "results/tensorboard/net/seed0") == expected_scalars(
        work / "results/train/net/seed0/metrics.csv")


def test_a_killed_snakemake_stops_its_training_job_and_the_next_run_resumes(tmp_path):
    """SIGKILL of Snakemake itself (not of its job) mid-training: the orphaned job stops within
    10 s, saying why, with its checkpoint in place; after `--unlock` (the killed Snakemake left
    its lock) the same command resumes alone and ends with an uninterrupted run's metrics."""
    import time

    # about 25 s of training
    work, target, command, env, first = start_one_model_run(tmp_path, epochs=100)

    def jobs() -> list[str]:
        return subprocess.run(["pgrep", "-s", str(first.pid), "-f", r"train_model\.py"],
                              capture_output=True, text=True).stdout.split()

    checkpoint = work / "results/.resume/net/seed0/checkpoint.pt"
    deadline = time.monotonic() + 600
    while not checkpoint.exists():
        assert first.poll() is None and time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.2)
    assert jobs(), "the training job's process was not found"
    first.kill()
    killed = time.monotonic()
    while jobs():
        assert time.monotonic() - killed < 10, "the training job outlived Snakemake by 10 s"
        time.sleep(0.1)
    first.wait()
    log = work / "logs/train_model/net/seed0.log"
    last = log.read_text().strip().splitlines()[-1].split(" ", 1)[1]
    assert last.startswith(f"stopping: the Snakemake process that started this job "
                           f"(pid {first.pid}) is gone; the next run resumes after epoch ")
    stopped_after = int(last.rsplit(" ", 1)[1])
    assert 1 <= stopped_after < 100 and not (work / target).exists()
    assert not list(checkpoint.parent.glob(".*.tmp"))  # no half-written checkpoint

    locked = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert locked.returncode != 0 and "--unlock" in locked.stderr, locked.stderr[-3000:]
    subprocess.run([*command, "--unlock"], env=env, capture_output=True, check=True, timeout=600)
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    text = log.read_text()
    assert f"resuming net seed 0 after epoch {stopped_after}\n" in text and "stopping" not in text

    resumed, uninterrupted = uninterrupted_metrics(work, "net", tmp_path / "reference", 3000)
    assert resumed == uninterrupted and len(resumed) == 100
    assert scalars(work / "results/tensorboard/net/seed0") == expected_scalars(
        work / "results/train/net/seed0/metrics.csv")


def test_a_second_run_and_unlock_are_refused_while_a_run_lives_in_the_folder(tmp_path):
    """A run with a long job holds the folder: the same command, and `--unlock`, each say so in
    one line naming its pid and start time, before Snakemake's lock message, and leave its lock
    (a dry run only looks, and runs); once it is gone, `--unlock` works again."""
    import os
    import re
    import signal
    import sys
    import time

    config = tmp_path / "long-fit.yaml"
    config.write_text(json.dumps({"datasets": [], "thermometer": {"experiments": {"long": {
        "kind": "hand_gradient", "lr": 1.0e-4, "epochs": 100_000_000, "input_scale": 1.0}}}}))
    work = tmp_path / "work"
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(work),
               "--configfile", str(config), "--cores", "1", "results/thermometer/long.json"]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        locks, deadline = work / ".snakemake/locks", time.monotonic() + 300
        while not (locks.is_dir() and any(locks.iterdir())):
            assert first.poll() is None and time.monotonic() < deadline, "no lock appeared"
            time.sleep(0.2)
        for extra in ([], ["--unlock"]):
            second = subprocess.run([*command, *extra], capture_output=True, text=True,
                                    timeout=300)
            assert second.returncode == 1
            lines = [s for s in second.stderr.splitlines() if s.startswith("run: ")]
            assert len(lines) == 1 and re.fullmatch(
                rf"run: another snakemake run \(pid {first.pid}, started "
                r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\) is working in this folder; wait for "
                r"it or stop it", lines[0]), second.stderr[-3000:]
            assert "LockException" not in second.stdout + second.stderr
            assert any(locks.iterdir()) and first.poll() is None
        looked = subprocess.run([*command, "-n"], capture_output=True, text=True, timeout=300)
        assert looked.returncode == 0 and "run: " not in looked.stdout + looked.stderr
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    # a killed run's leftover lock: Snakemake's message, and --unlock clears it
    locked = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert locked.returncode != 0 and "--unlock" in locked.stderr and "run: " not in locked.stderr
    subprocess.run([*command, "--unlock"], capture_output=True, check=True, timeout=300)
    assert not locks.exists() or not any(locks.iterdir())
    readme = (REPO / "README.md").read_text()
    assert ("`run: another snakemake run (pid N, started <time>) is working in this folder; wait "
            "for it or stop it`") in readme
    assert "first check that no run still works there (`--unlock` refuses" in readme


def test_a_failed_report_keeps_the_previous_one_and_reruns_converge(tmp_path, data_dir):
    """A summary.json corrupted, then a model.pt truncated, after the run: the report refuses
    each in one line naming the file and the command that rebuilds it, the published page
    stays as it was, the same command fails again rather than exit 0, and the named command,
    run as printed, repairs the run. (A small CIFAR tree and a short thermometer keep each run
    to seconds.)"""
    config = tmp_path / "small.yaml"
    config.write_text(json.dumps({
        "datasets": ["cifar2"], "ingest": {"cifar2": {"samples_per_class": 2}},
        "train": {"models": ["net"], "defaults": {"epochs": 1}},
        "thermometer": {"experiments": {name: {"epochs": 5} for name in (
            "hand_lr1e-2", "hand_lr1e-4", "hand_scaled_lr1e-2", "autograd_sgd", "autograd_adam",
            "split_sgd", "nn_linear", "nn_seq_tanh13", "nn_named_tanh8")}}}))
    small = {"DLWPT_CIFAR10": str(small_cifar_tree(data_dir, tmp_path / "cifar10"))}
    work = tmp_path / "work"
    run = ["--configfile", QUICK, str(config), "--cores", "2"]
    snakemake(work, *run, env=small)
    page = work / "results/report.html"
    published = page.read_bytes()
    history = work / "results/history/runs"
    assert len(list(history.glob("*.json"))) == 1
    summary = work / "results/train/net/seed0/summary.json"
    good_summary = summary.read_bytes()
    summary.write_text('{"model": "net", "se')
    for _ in range(2):  # the same command again: fails again, never exit 0 on a stale page
        result = snakemake(work, *run, check=False, env=small)
        assert result.returncode != 0
        last = (work / "logs/make_report.log").read_text().strip().splitlines()[-1]
        named = summary.relative_to(work)  # as the job sees it, from the work dir
        assert last.split(" ", 1)[1].startswith(f"error: {named}: cannot read JSON")
        # the command of this run, as typed, with the variables it ran with
        hint = hint_of(work / "logs/make_report.log")
        assert hint.endswith(f"{shlex.join(run)} --forcerun {named}"), hint
        assert f"DLWPT_CIFAR10={shlex.quote(small['DLWPT_CIFAR10'])} " in hint
        assert page.read_bytes() == published
    assert len(list(history.glob("*.json"))) == 1  # a failed run adds nothing
    summary.write_bytes(good_summary)
    snakemake(work, *run, env=small)
    published = page.read_bytes()  # rebuilt from the repaired summary
    assert len(list(history.glob("*.json"))) == 1  # the same results again add nothing

    model = work / "results/train/net/seed0/model.pt"
    model.write_bytes(model.read_bytes()[:1000])
    result = snakemake(work, *run, check=False, env=small)
    assert result.returncode != 0
    last = (work / "logs/make_report.log").read_text().strip().splitlines()[-1]
    assert f"error: {model.relative_to(work)}: changed since it was trained" in last
    assert page.read_bytes() == published
    run_hint(hint_of(work / "logs/make_report.log"))  # as printed
    assert json.loads(summary.read_text())["files"]["model.pt"] == (
        "sha256:" + file_digest(model))
    assert page.read_bytes() != published  # a new page, from the retrained run
    assert len(list(history.glob("*.json"))) == 2


def test_a_hand_edited_summary_is_refused_and_the_page_stays(quick_pipeline, tmp_path_factory):
    """train_acc edited to 0.999 in a finished run's summary.json (it feeds two of the
    book's claims). The same command again: exit non-zero, one line naming the summary (its
    seal no longer matches) with the command that rebuilds the run, and the published page
    and the history exactly as they were. In a copy of the shared quick run."""
    import re

    # A sibling of the original (the same depth keeps the report's relative train_code paths).
    work = tmp_path_factory.mktemp("edited_summary")
    shutil.copytree(quick_pipeline, work, symlinks=True, dirs_exist_ok=True)
    page, history = work / "results/report.html", work / "results/history/runs"
    published, entries = page.read_bytes(), sorted(history.glob("*.json"))
    summary = work / "results/train/net/seed0/summary.json"
    text = summary.read_text()
    edited = re.sub(r'"train_acc": 0\.\d+', '"train_acc": 0.999', text, count=1)
    assert edited != text
    summary.write_text(edited)

    run = ["--configfile", QUICK, "--cores", "2"]
    result = snakemake(work, *run, check=False)
    assert result.returncode != 0
    named = summary.relative_to(work)
    errors = [line for line in (work / "logs/make_report.log").read_text().splitlines()
              if "error" in line.lower()]
    assert len(errors) == 1, errors
    assert errors[0].split(" ", 1)[1].startswith(
        f"error: {named}: changed after training (its seal does not match); rebuild the run "
        "with: ")
    assert hint_of(work / "logs/make_report.log").endswith(f"{shlex.join(run)} --forcerun {named}")
    assert f"{named}: changed after training" in result.stderr
    assert page.read_bytes() == published
    assert sorted(history.glob("*.json")) == entries


def small_cifar_tree(data_dir: Path, root: Path, per_class: int = 3) -> Path:
    """A CIFAR-10 image tree of `per_class` real JPEGs per class and split (symlinks): the
    cifar2 ingest and a training epoch on it take seconds."""
    source = data_dir / "cifar10-jpeg"
    for split in ("train", "test"):
        for folder in sorted((source / split).iterdir()):
            (root / split / folder.name).mkdir(parents=True)
            for image in sorted(folder.glob("*.jpg"))[:per_class]:
                (root / split / folder.name / image.name).symlink_to(image)
    return root


def test_a_changed_added_or_removed_cifar_image_reruns_the_cifar2_ingest(tmp_path, data_dir):
    """A small CIFAR-10 image tree (links to the real JPEGs): each change plans the cifar2
    ingest again, and cifar2.json records the fingerprint that saw it."""
    import shutil as sh

    source = data_dir / "cifar10-jpeg"
    tree = small_cifar_tree(data_dir, tmp_path / "cifar10")
    work = tmp_path / "work"
    config = tmp_path / "cifar2-only.yaml"
    config.write_text(json.dumps({"datasets": ["cifar2"],
                                  "ingest": {"cifar2": {"samples_per_class": 2}}}))
    target = "results/data/cifar2.pt"
    run = ["--configfile", str(config), "--cores", "1", target]
    snakemake(work, *run, env={"DLWPT_CIFAR10": str(tree)})
    recorded = json.loads((work / "results/data/cifar2.json").read_text())["source_fingerprint"]

    def plan() -> str:
        result = snakemake(work, "-n", *run, env={"DLWPT_CIFAR10": str(tree)})
        return result.stdout + result.stderr

    assert "Nothing to be done" in plan()
    bird = tree / "train" / "bird"
    first = sorted(bird.iterdir())[0]
    first.unlink()
    sh.copyfile(source / "train" / "airplane" / first.name, first)  # replaced, another picture
    assert "Params have changed" in plan()
    snakemake(work, *run, env={"DLWPT_CIFAR10": str(tree)})
    changed = json.loads((work / "results/data/cifar2.json").read_text())["source_fingerprint"]
    assert changed != recorded
    assert "Nothing to be done" in plan()
    (bird / "9999.jpg").symlink_to(first)  # added
    assert "Params have changed" in plan()
    (bird / "9999.jpg").unlink()
    assert "Nothing to be done" in plan()  # as it was when last ingested
    first.unlink()  # removed
    assert "Params have changed" in plan()
