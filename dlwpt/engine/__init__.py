"""Two training loops with the same semantics (config `train.loop`): `book`, chapter 8's
`training_loop`, the reference, and `resident` (data, sample order and loss sums on the device;
on CUDA checked CUDA graphs). Both draw each epoch's order from `epoch_permutation`, so seeded
alike (on the CPU) they visit the same batches and agree up to floating-point noise. The training
set's eval-mode `accuracy` is taken once at the end: it costs about 80% of a CPU training epoch."""

import torch
from torch import nn

from dlwpt.engine.book import BookTrainer
from dlwpt.engine.resident import ResidentTrainer
from dlwpt.engine.trainer import Trainer, TrainSettings


def make_trainer(loop: str, model: nn.Module, data: dict[str, torch.Tensor],
                 settings: TrainSettings, device: str | torch.device, seed: int,
                 cuda_graphs: str = "auto") -> Trainer:
    """The trainer for config `train.loop` and `train.cuda_graphs` (unused by the book loop)."""
    if loop == "book":
        return BookTrainer(model, data, settings, device, seed)
    if loop == "resident":
        return ResidentTrainer(model, data, settings, device, seed, cuda_graphs=cuda_graphs)
    raise ValueError(f"unknown loop {loop!r}; known: book, resident")
