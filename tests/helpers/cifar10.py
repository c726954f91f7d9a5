"""CIFAR-10's official python format written from tensors: fixtures for the batch and archive
readers (the real official archive is not part of the shared data)."""

from __future__ import annotations

import pickle
import tarfile
from pathlib import Path

import numpy as np
import torch

from dlwpt.ingest.cifar.layout import (
    CIFAR10_CLASSES,
    META,
    PYTHON_DIR,
    PYTHON_MEMBERS,
    SIDE,
    TEST_BATCH,
    TRAIN_BATCHES,
)


def write_python_batches(images_by_split: dict[str, tuple[torch.Tensor, list[int]]],
                         folder: Path) -> None:
    """Write the official python batches into `folder`.

    `images_by_split` maps "train" and "test" to (uint8 Nx3x32x32, labels in official order);
    the training images are spread over data_batch_1..5 like the official 5 x 10,000.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    def dump(name: str, obj: dict) -> None:
        with open(folder / name, "wb") as f:
            pickle.dump(obj, f, protocol=2)

    dump(META, {b"label_names": [n.encode() for n in CIFAR10_CLASSES],
                b"num_cases_per_batch": len(images_by_split["train"][1]) // len(TRAIN_BATCHES),
                b"num_vis": 3 * SIDE * SIDE})
    train_images, train_labels = images_by_split["train"]
    test_images, test_labels = images_by_split["test"]
    parts = np.array_split(np.arange(len(train_labels)), len(TRAIN_BATCHES))
    batches = [(name, train_images[idx], [train_labels[i] for i in idx])
               for name, idx in zip(TRAIN_BATCHES, parts, strict=True)]
    batches.append((TEST_BATCH, test_images, list(test_labels)))
    for i, (name, images, labels) in enumerate(batches):
        data = images.to(torch.uint8).reshape(len(labels), -1).numpy().copy()
        dump(name, {b"batch_label": f"batch {i + 1}".encode(), b"labels": [int(x) for x in labels],
                    b"data": data,
                    b"filenames": [f"{name}_{j:05d}.png".encode() for j in range(len(labels))]})


def make_python_tarball(folder: Path, tar_path: Path) -> None:
    """Pack a `write_python_batches` folder like the official archive (cifar-10-batches-py/)."""
    with tarfile.open(tar_path, "w:gz") as tar:
        for name in PYTHON_MEMBERS:
            tar.add(Path(folder) / name, arcname=f"{PYTHON_DIR}/{name}")
