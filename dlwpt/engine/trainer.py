"""What both loops share: settings, loss, optimizer, sample order, evaluation, state for resume."""

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, Self

import torch
import torch.nn.functional as F
from torch import nn

LOSSES = {"cross_entropy": F.cross_entropy, "nll": F.nll_loss}
# Forward-only batches: larger than training's, smaller on the CPU where cache size wins.
EVAL_BATCH_SIZE = {"cpu": 256, "cuda": 2000}


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


def make_loss_fn(model: nn.Module, settings: TrainSettings) -> Callable[..., torch.Tensor]:
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


def epoch_permutation(generator: torch.Generator, n: int) -> torch.Tensor:
    """One epoch's sample order: RandomSampler's (shuffle=True) draw, on the generator's device."""
    return torch.randperm(n, generator=generator, device=generator.device)


@torch.no_grad()
def eval_outputs(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Eval-mode outputs, batch by batch: accuracy and predictions agree exactly."""
    batch_size = EVAL_BATCH_SIZE.get(images.device.type, 1000)
    was_training = model.training
    model.eval()
    outputs = torch.cat([model(batch) for batch in images.split(batch_size)])
    model.train(was_training)
    return outputs


def accuracy_counts(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Correct predictions in eval mode, as a device tensor (no host sync)."""
    return (eval_outputs(model, images).argmax(dim=1) == labels).sum()


class Trainer:
    """Model, optimizer, loss, sample-order generator and evaluation data of one run;
    `channels_last` and `capturable` (optimizer state for CUDA graphs) are the loop's choice."""

    def __init__(self, model: nn.Module, data: dict[str, torch.Tensor], settings: TrainSettings,
                 device: str | torch.device, seed: int, *,
                 permutation_device: str | torch.device, channels_last: bool = False,
                 capturable: bool = False):
        self.device = torch.device(device)
        self.settings, self.capturable = settings, capturable
        self.graphs_status = "not used"  # "on" | "off (why)" | "not used", for the summary
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.model = model.to(self.device, memory_format=self.memory_format)
        self.optimizer = make_optimizer(self.model, settings, capturable=capturable)
        self.loss_fn = make_loss_fn(self.model, settings)
        self.permutation_generator = torch.Generator(device=permutation_device).manual_seed(seed)
        self.n_train = len(data["train_labels"])
        self.n_batches = -(-self.n_train // settings.batch_size)
        self.eval_sets = {split: (
            data[f"{split}_images"].to(self.device).contiguous(memory_format=self.memory_format),
            data[f"{split}_labels"].to(self.device)) for split in ("train", "val")}

    def train_epoch(self) -> tuple[float, float]:
        """Train one epoch; return (mean batch loss as the book prints it, running accuracy)."""
        raise NotImplementedError

    def accuracy(self, split: str) -> float:
        images, labels = self.eval_sets[split]
        return accuracy_counts(self.model, images, labels).item() / len(labels)

    def predictions(self, split: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(labels, predicted class, probability of class 1) on the CPU. softmax is shift-invariant:
        logits and LogSoftmax outputs alike give probabilities (NaN ones from a diverged model)."""
        images, labels = self.eval_sets[split]
        outputs = eval_outputs(self.model, images)
        return (labels.cpu(), outputs.argmax(dim=1).cpu(),
                torch.softmax(outputs.float(), dim=1)[:, 1].cpu())

    def state_dict(self) -> dict[str, Any]:
        """Everything a bit-identical continuation needs (model, optimizer, every RNG in use)."""
        state = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "permutation_rng": self.permutation_generator.get_state(),
                 "cpu_rng": torch.get_rng_state()}
        if self.device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        # Our capturable flag before loading: the loader places Adam's step count (CPU or
        # device) by the flag it finds in the saved groups.
        groups = [{**g, "capturable": self.capturable} if "capturable" in g else g
                  for g in state["optimizer"]["param_groups"]]
        self.optimizer.load_state_dict({**state["optimizer"], "param_groups": groups})
        self.permutation_generator.set_state(state["permutation_rng"])
        torch.set_rng_state(state["cpu_rng"])
        if "cuda_rng" in state and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)
