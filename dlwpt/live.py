"""A training run's per-epoch scalars (metrics.csv's columns) as TensorBoard event files,
flushed every epoch so `tensorboard --logdir results/tensorboard` follows running jobs.
"""

import contextlib
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dlwpt.io import SettingError

# metrics.csv column -> TensorBoard tag; the prefix groups the charts (train and val accuracy
# side by side under "accuracy").
TAGS = {"train_loss": "loss/train", "train_acc": "accuracy/train", "val_acc": "accuracy/val",
        "seconds": "time/seconds_per_epoch"}
EVENT_FILES = "events.out.tfevents.*"


class EpochLog(contextlib.AbstractContextManager):
    """Each epoch's scalars in `folder`. A resumed run rewrites the checkpointed epochs (at their
    first wall times) into a new event file, removing the old ones (they may hold later epochs)."""

    def __init__(self, folder: str | os.PathLike, history: Sequence[dict[str, float]] = (),
                 walltimes: Sequence[float] = ()) -> None:
        # Imported here: only a job that writes event files pays for it (0.3 s after torch).
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as e:
            raise SettingError(f"cannot write the TensorBoard event files ({e}): install the "
                               "pinned tensorboard (requirements.txt)") from None

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob(EVENT_FILES):
            old.unlink()
        self.writer = SummaryWriter(log_dir=str(folder), flush_secs=30)  # add() flushes each epoch
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

    def __exit__(self, *exc: object) -> None:
        self.writer.close()

