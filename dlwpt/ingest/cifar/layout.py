"""What every CIFAR-10 reader agrees on: the classes in official order, the image size, the
official python batches' file names (torch-free, in `dlwpt.cifar10`), and the shape of a
reader's result."""

from __future__ import annotations

import torch

from dlwpt.cifar10 import (  # noqa: F401  (the names every reader imports from here)
    CIFAR10_CLASSES,
    META,
    PYTHON_DIR,
    PYTHON_MEMBERS,
    SIDE,
    TEST_BATCH,
    TRAIN_BATCHES,
)

Splits = dict[str, tuple[torch.Tensor, torch.Tensor]]  # split -> (uint8 Nx3x32x32, int64 N)
