"""Two training loops with the same semantics, chosen by config `train.loop`: `book` (book.py,
chapter 8's `training_loop`, the reference) and `resident` (resident.py: data, sample order and
loss sums on the device; on CUDA each step replayed as a checked CUDA graph, cuda_graphs.py).
Both draw each epoch's sample order from `epoch_permutation` (trainer.py), so with generators
seeded alike (on the CPU) they visit the same batches and agree up to floating-point noise.

`train_epoch` also returns the running accuracy of the epoch's training batches (free: the
outputs exist already); `accuracy(split)` is the book's `validate` figure, in eval mode.
train_model calls it for the validation set every epoch and for the training set once at the
end: a full eval-mode pass over the 10,000 training images costs about 80% of a training epoch
on the CPU (tanh dominates forward and backward alike).
"""

from __future__ import annotations

import torch
from torch import nn

from dlwpt.engine.book import BookTrainer
from dlwpt.engine.resident import ResidentTrainer
from dlwpt.engine.settings import TrainSettings, make_loss_fn, make_optimizer
from dlwpt.engine.trainer import Trainer, accuracy_counts

LOOPS = ("book", "resident")

__all__ = ["BookTrainer", "ResidentTrainer", "Trainer", "TrainSettings", "accuracy_counts",
           "make_loss_fn", "make_optimizer", "make_trainer"]


def make_trainer(loop: str, model: nn.Module, data: dict[str, torch.Tensor],
                 settings: TrainSettings, device: str | torch.device, seed: int,
                 cuda_graphs: str = "auto") -> Trainer:
    """The trainer for config `train.loop` ("book" | "resident") and `train.cuda_graphs`
    ("auto" | "off"; the book loop never uses graphs)."""
    if loop == "book":
        return BookTrainer(model, data, settings, device, seed)
    if loop == "resident":
        return ResidentTrainer(model, data, settings, device, seed, cuda_graphs=cuda_graphs)
    raise ValueError(f"unknown loop {loop!r}; known: {', '.join(LOOPS)}")
