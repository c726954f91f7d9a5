"""The live view: each run's per-epoch scalars as TensorBoard event files (dlwpt.live)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from dlwpt.live import EVENT_FILES, TAGS, EpochLog
from dlwpt.progress import JobProgress
from dlwpt.runs import RunFiles
from dlwpt.train import Plumbing, RunSettings, train_model
from tests.helpers.data import subset_file
from tests.helpers.tensorboard import expected_scalars, scalar_events, scalars

CFG = {"arch": "NetDropout", "n_chans1": 8, "p": 0.4, "epochs": 4, "batch_size": 64,
       "optimizer": "sgd", "lr": 1e-2, "momentum": 0.9, "l2": 0.0, "loss": "cross_entropy"}


@pytest.fixture(scope="module")
def small_data(tmp_path_factory) -> Path:
    return subset_file(tmp_path_factory.mktemp("cifar2"), n_train=400, n_val=200)


def train(data: Path, out: Path, resume_dir: Path | None = None, checkpoint_every: int = 1,
          log: logging.Logger | None = None) -> dict:
    """As a job does: the event files in out/tb, the epoch lines to `log`."""
    run = RunSettings(model_name="live", model_cfg=CFG, seed=1, device="cpu",
                      checkpoint_every=checkpoint_every)
    log = log or logging.getLogger("live-test")
    plumbing = Plumbing(epoch_log=lambda rows, walltimes: EpochLog(out / "tb", rows, walltimes),
                        on_epoch=JobProgress("live", 1, log, None))
    return train_model(RunFiles.in_folder(out), run, data=data, resume=resume_dir, log=log,
                       plumbing=plumbing)


class KillAt(logging.Handler):
    """Stands for a killed job: raises when the progress line of `epoch` is logged (after
    that epoch's scalars and any checkpoint were written)."""

    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.marker = f" epoch {epoch}/"  # after the run's name: `net/seed0 epoch 3/5 ...`

    def emit(self, record: logging.LogRecord) -> None:
        if self.marker in record.getMessage():
            raise KeyboardInterrupt(self.marker)


def test_event_files_hold_every_epoch_of_metrics_csv(small_data, tmp_path):
    train(small_data, tmp_path)
    written = scalars(tmp_path / "tb")
    assert set(written) == set(TAGS.values())
    assert written == expected_scalars(tmp_path / "metrics.csv")
    assert [step for step, _ in written["accuracy/val"]] == [1, 2, 3, 4]
    assert len(list((tmp_path / "tb").glob(EVENT_FILES))) == 1


def test_a_resumed_run_holds_each_epoch_once(small_data, tmp_path):
    """Killed after epoch 3 with the checkpoint at epoch 2: the event files already hold epoch
    3, which the resumed run trains again; afterwards every epoch is there exactly once, equal
    to metrics.csv, the checkpointed epochs with their first wall times."""
    killed = logging.getLogger("live-test-killed")
    killed.propagate = False
    killed.setLevel(logging.INFO)
    killed.addHandler(KillAt(3))
    with pytest.raises(KeyboardInterrupt):
        train(small_data, tmp_path, resume_dir=tmp_path / "resume", checkpoint_every=2, log=killed)
    before = scalars(tmp_path / "tb")
    assert [step for step, _ in before["loss/train"]] == [1, 2, 3]
    first_walltimes = [e.wall_time for e in scalar_events(tmp_path / "tb")["loss/train"]]

    train(small_data, tmp_path, resume_dir=tmp_path / "resume", checkpoint_every=2)
    after = scalars(tmp_path / "tb")
    assert after == expected_scalars(tmp_path / "metrics.csv")
    assert [step for step, _ in after["loss/train"]] == [1, 2, 3, 4]
    assert {tag: values[:2] for tag, values in after.items()} == {
        tag: values[:2] for tag, values in before.items()}
    walltimes = [e.wall_time for e in scalar_events(tmp_path / "tb")["loss/train"]]
    assert walltimes[:2] == first_walltimes[:2] and walltimes[2] > first_walltimes[2]
