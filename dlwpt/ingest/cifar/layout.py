"""What every CIFAR-10 reader agrees on: the classes in official order, the image size, the
official python batches' file names, and the shape of a reader's result."""

from __future__ import annotations

import torch

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")
SIDE = 32
PYTHON_DIR = "cifar-10-batches-py"
META = "batches.meta"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
PYTHON_MEMBERS = (META, *TRAIN_BATCHES, TEST_BATCH)

Splits = dict[str, tuple[torch.Tensor, torch.Tensor]]  # split -> (uint8 Nx3x32x32, int64 N)
