"""Read a run's TensorBoard event files back with tensorboard's own reader."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from tensorboard.backend.event_processing import event_accumulator

from dlwpt.live import TAGS


def scalar_events(folder: Path) -> dict[str, list]:
    """tag -> every ScalarEvent (step, value, wall_time) of the folder's event files, in the
    order written: no sampling, and no purge of a step written twice (which TensorBoard's
    default would hide)."""
    reader = event_accumulator.EventAccumulator(
        str(folder), size_guidance={event_accumulator.SCALARS: 0}, purge_orphaned_data=False)
    reader.Reload()
    return {tag: reader.Scalars(tag) for tag in reader.Tags()["scalars"]}


def scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """tag -> [(step, value)]."""
    return {tag: [(e.step, e.value) for e in events]
            for tag, events in scalar_events(folder).items()}


def expected_scalars(metrics_csv: Path) -> dict[str, list[tuple[int, float]]]:
    """metrics.csv as the event files must hold it: one value per epoch and tag, in float32
    (TensorBoard's scalar type)."""
    with open(metrics_csv) as f:
        rows = list(csv.DictReader(f))
    return {tag: [(int(r["epoch"]), float(np.float32(float(r[column])))) for r in rows]
            for column, tag in TAGS.items()}
