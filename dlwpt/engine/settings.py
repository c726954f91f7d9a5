"""A model's training settings and what both loops build from them: the loss and the optimizer."""

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, Self

import torch
import torch.nn.functional as F
from torch import nn

LOSSES: dict[str, Callable[..., torch.Tensor]] = {"cross_entropy": F.cross_entropy,
                                                   "nll": F.nll_loss}
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class TrainSettings:
    epochs: int = 100
    batch_size: int = 64
    optimizer: str = "sgd"
    lr: float = 1e-2
    momentum: float = 0.0
    weight_decay: float = 0.0  # the optimizer's own L2: adds weight_decay * p to each gradient
    l2: float = 0.0  # the book's explicit loss term, l2 * sum p^2 (so weight_decay = 2 * l2)
    l1: float = 0.0  # the book's L1 variant, l1 * sum |p|
    loss: str = "cross_entropy"

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> Self:
        """Refuses an unknown loss or optimizer: outside the workflow no schema checks them."""
        settings = cls(**{f.name: cfg[f.name] for f in fields(cls) if f.name in cfg})
        if settings.loss not in LOSSES:
            raise ValueError(f"unknown loss {settings.loss!r}; known: {', '.join(LOSSES)}")
        if settings.optimizer not in ("sgd", "adam"):
            raise ValueError(f"unknown optimizer {settings.optimizer!r}; known: sgd, adam")
        return settings


def make_optimizer(model: nn.Module, settings: TrainSettings,
                   capturable: bool = False) -> torch.optim.Optimizer:
    """`capturable` keeps Adam's step count on the device, as a CUDA graph of the step needs."""
    if settings.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=settings.lr,
                                weight_decay=settings.weight_decay, capturable=capturable)
    return torch.optim.SGD(model.parameters(), lr=settings.lr, momentum=settings.momentum,
                           weight_decay=settings.weight_decay)


def make_loss_fn(model: nn.Module, settings: TrainSettings) -> LossFn:
    """The criterion plus the optional L2 and L1 terms (with neither, the bare criterion)."""
    criterion = LOSSES[settings.loss]
    if not settings.l2 and not settings.l1:
        return criterion

    def loss_fn(outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        loss = criterion(outputs, labels)
        if settings.l2:  # the book's training_loop_l2reg term
            loss = loss + settings.l2 * sum(p.pow(2.0).sum() for p in model.parameters())
        if settings.l1:  # the book's L1 variant of the same loop
            loss = loss + settings.l1 * sum(p.abs().sum() for p in model.parameters())
        return loss

    return loss_fn
