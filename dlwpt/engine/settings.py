"""A model's training settings and what both loops build from them: the loss and the optimizer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

LOSSES: dict[str, Callable[..., torch.Tensor]] = {
    "cross_entropy": F.cross_entropy,
    "nll": F.nll_loss,
}
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class TrainSettings:
    """The training half of a model config (train.defaults merged with the models entry)."""

    epochs: int = 100
    batch_size: int = 64
    optimizer: str = "sgd"
    lr: float = 1e-2
    momentum: float = 0.0
    l2: float = 0.0
    loss: str = "cross_entropy"

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> TrainSettings:
        settings = cls(**{f.name: cfg[f.name] for f in fields(cls) if f.name in cfg})
        if settings.loss not in LOSSES:
            raise ValueError(f"unknown loss {settings.loss!r}; known: {', '.join(LOSSES)}")
        if settings.optimizer not in ("sgd", "adam"):
            raise ValueError(f"unknown optimizer {settings.optimizer!r}; known: sgd, adam")
        return settings


def make_optimizer(model: nn.Module, settings: TrainSettings,
                   capturable: bool = False) -> torch.optim.Optimizer:
    """The settings' optimizer over the model's parameters. `capturable` keeps Adam's step
    count on the device, which a CUDA graph replaying the optimizer step needs."""
    if settings.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=settings.lr, capturable=capturable)
    return torch.optim.SGD(model.parameters(), lr=settings.lr, momentum=settings.momentum)


def l2_penalty(model: nn.Module) -> torch.Tensor:
    """The book's training_loop_l2reg term: the sum of squares of every parameter."""
    return sum(p.pow(2.0).sum() for p in model.parameters())


def make_loss_fn(model: nn.Module, settings: TrainSettings) -> LossFn:
    """The loss both loops minimize (and report): the criterion plus the optional L2 term."""
    criterion = LOSSES[settings.loss]
    if not settings.l2:
        return criterion
    return lambda outputs, labels: criterion(outputs, labels) + settings.l2 * l2_penalty(model)
