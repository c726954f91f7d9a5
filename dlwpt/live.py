"""A training run's per-epoch scalars as TensorBoard event files (the live view).

`tensorboard --logdir results/tensorboard` follows running jobs: every epoch's scalars are
flushed to disk as soon as the epoch ends. The scalars are metrics.csv's columns, stored by
TensorBoard as float32.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dlwpt.io import SettingError

# metrics.csv column -> TensorBoard tag; the prefix groups the charts (train and val accuracy
# side by side under "accuracy").
TAGS = {
    "train_loss": "loss/train",
    "train_acc": "accuracy/train",
    "val_acc": "accuracy/val",
    "seconds": "time/seconds_per_epoch",
}
EVENT_FILES = "events.out.tfevents.*"


class EpochLog:
    """Writes each epoch's scalars to `folder` and flushes them at once.

    A resumed run starts a new event file holding the checkpointed epochs (with the wall times
    they were first written at, where the checkpoint has them) and removes the folder's earlier
    event files, which may also hold epochs after the checkpoint: so the folder holds every
    epoch exactly once. As a context manager, closed when the block ends, however it ends.
    """

    def __init__(self, folder: str | os.PathLike, history: Sequence[dict[str, float]] = (),
                 walltimes: Sequence[float] = ()) -> None:
        # Imported here, not at module level: only a job that writes event files pays for the
        # import (0.3 s after torch), and code that only reads this module never needs it.
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as e:
            raise SettingError(f"cannot write the TensorBoard event files ({e}): install the "
                               "pinned tensorboard (requirements.txt)") from None

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob(EVENT_FILES):
            old.unlink()
        # flush_secs is a fallback only: add() flushes every epoch.
        self.writer = SummaryWriter(log_dir=str(folder), flush_secs=30)
        self.walltimes: list[float] = []
        for i, row in enumerate(history):
            self.add(row, walltimes[i] if i < len(walltimes) else None)

    def add(self, row: dict[str, Any], walltime: float | None = None) -> None:
        """One epoch (a metrics.csv row); flushed so a watching TensorBoard sees it now."""
        walltime = time.time() if walltime is None else walltime
        for column, tag in TAGS.items():
            self.writer.add_scalar(tag, row[column], global_step=row["epoch"], walltime=walltime)
        self.writer.flush()
        self.walltimes.append(walltime)

    def close(self) -> None:
        self.writer.close()

    def __enter__(self) -> EpochLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

