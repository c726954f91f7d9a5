"""Two training loops with the same semantics: the book's reference loop and a fast engine.

Both draw each epoch's sample order from `epoch_permutation(generator, n)`, so with generators
seeded alike (on the CPU) they visit the same batches and agree up to floating-point noise.

- `BookTrainer` runs `book_loop`: a DataLoader over a Python list of (image, label) pairs and a
  blocking `.to(device)` and `loss.item()` per step (chapter 8's `training_loop`).
- `FastTrainer` keeps the dataset resident on the device, gathers batches with index_select from
  an on-device permutation, accumulates the loss on the device (one host sync per epoch), uses
  channels_last convolutions on the CPU and, on CUDA, replays the whole training step
  (forward + backward + optimizer step) as one CUDA graph per distinct batch size. Captured graphs
  are checked against eager steps before use; a graph that fails to capture or disagrees is
  dropped with a warning and the run continues eagerly (`graphs_status` says which happened).

Accuracy: `train_epoch` also returns the running accuracy of the epoch's training batches (free:
the outputs exist already). `accuracy(split)` is the book's `validate` figure (no_grad, here in
eval mode, batched on the device); train_model calls it for the validation set every epoch and for
the training set once at the end, because a full eval-mode pass over the 10,000 training images
costs about 80% of a training epoch on the CPU (tanh dominates forward and backward alike).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Sampler

from dlwpt.models import is_convolutional

LOSSES: dict[str, Callable[..., torch.Tensor]] = {
    "cross_entropy": F.cross_entropy,
    "nll": F.nll_loss,
}
# Forward-only batches: larger than training's, smaller on the CPU where cache size wins.
EVAL_BATCH_SIZE = {"cpu": 256, "cuda": 2000}
# Allowed relative difference between a replayed graph's parameter update and the eager one:
# far above TF32/atomics noise (~1e-4), far below any wrong input or detached tensor (~1).
GRAPH_CHECK_RTOL = 1e-2
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
# A training step: batch indices in, [loss, correct] out (device tensors, no host sync).
Step = Callable[[torch.Tensor], torch.Tensor]
log = logging.getLogger("dlwpt")


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


def epoch_permutation(generator: torch.Generator, n: int) -> torch.Tensor:
    """One epoch's sample order: RandomSampler's (shuffle=True) draw, on the generator's device."""
    return torch.randperm(n, generator=generator, device=generator.device)


class PermutationSampler(Sampler[int]):
    """shuffle=True for the book's DataLoader, drawing from the same source as the fast engine."""

    def __init__(self, generator: torch.Generator, n: int):
        self.generator, self.n = generator, n

    def __iter__(self) -> Iterator[int]:
        return iter(epoch_permutation(self.generator, self.n).tolist())

    def __len__(self) -> int:
        return self.n


def book_loop(n_epochs: int, optimizer: torch.optim.Optimizer, model: nn.Module,
              loss_fn: LossFn, train_loader: DataLoader,
              device: torch.device) -> list[tuple[float, float]]:
    """Chapter 8's training_loop, kept literal as the reference, plus a running correct count
    (the book's validate idiom): (mean batch loss, running accuracy) per epoch."""
    results = []
    for _ in range(n_epochs):
        loss_train = 0.0
        correct = 0
        for imgs, labels in train_loader:
            imgs = imgs.to(device=device)
            labels = labels.to(device=device)
            outputs = model(imgs)
            loss = loss_fn(outputs, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_train += loss.item()
            correct += int((outputs.argmax(dim=1) == labels).sum())
        results.append((loss_train / len(train_loader), correct / len(train_loader.sampler)))
    return results


@torch.no_grad()
def accuracy_counts(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Correct predictions in eval mode, as a device tensor (no host sync)."""
    batch_size = EVAL_BATCH_SIZE.get(labels.device.type, 1000)
    was_training = model.training
    model.eval()
    correct = torch.zeros((), dtype=torch.int64, device=labels.device)
    for start in range(0, len(labels), batch_size):
        outputs = model(images[start:start + batch_size])
        correct += (outputs.argmax(dim=1) == labels[start:start + batch_size]).sum()
    model.train(was_training)
    return correct


class Trainer:
    """What both loops share: model, optimizer, loss, sample-order generator, evaluation data."""

    channels_last = False
    capturable = False
    graphs_status = "not used"

    def __init__(self, model: nn.Module, data: dict[str, torch.Tensor], settings: TrainSettings,
                 device: str | torch.device, seed: int, permutation_device: str | torch.device):
        self.device = torch.device(device)
        self.settings = settings
        self.memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        self.model = model.to(self.device, memory_format=self.memory_format)
        self.optimizer = make_optimizer(self.model, settings, capturable=self.capturable)
        self.loss_fn = make_loss_fn(self.model, settings)
        self.permutation_generator = torch.Generator(device=permutation_device)
        self.permutation_generator.manual_seed(seed)
        self.n_train = len(data["train_labels"])
        self.n_batches = -(-self.n_train // settings.batch_size)
        self.eval_sets = {split: self._resident(data[f"{split}_images"], data[f"{split}_labels"])
                          for split in ("train", "val")}

    def _resident(self, images: torch.Tensor,
                  labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        images = images.to(self.device).contiguous(memory_format=self.memory_format)
        return images, labels.to(self.device)

    def train_epoch(self) -> tuple[float, float]:
        """Train one epoch; return (mean batch loss as the book prints it, running accuracy)."""
        raise NotImplementedError

    def accuracy(self, split: str) -> float:
        """Eval-mode accuracy over the whole "train" or "val" set."""
        images, labels = self.eval_sets[split]
        return accuracy_counts(self.model, images, labels).item() / len(labels)

    def state_dict(self) -> dict[str, Any]:
        """Everything a bit-identical continuation needs (model, optimizer, every RNG in use)."""
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "permutation_rng": self.permutation_generator.get_state(),
            "cpu_rng": torch.get_rng_state(),
        }
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


class BookTrainer(Trainer):
    """The book's loop (reference and baseline); its DataLoader samples from CPU permutations."""

    def __init__(self, model: nn.Module, data: dict[str, torch.Tensor], settings: TrainSettings,
                 device: str | torch.device, seed: int):
        super().__init__(model, data, settings, device, seed, permutation_device="cpu")
        pairs = list(zip(data["train_images"], data["train_labels"], strict=True))
        # The loader draws a worker base seed each epoch from `generator`: give it its own, so
        # neither the permutation stream nor the global RNG (dropout) is consumed by it.
        self.train_loader = DataLoader(
            pairs, batch_size=settings.batch_size,
            sampler=PermutationSampler(self.permutation_generator, len(pairs)),
            generator=torch.Generator(),
        )

    def train_epoch(self) -> tuple[float, float]:
        self.model.train()
        (result,) = book_loop(1, self.optimizer, self.model, self.loss_fn, self.train_loader,
                              self.device)
        return result


class FastTrainer(Trainer):
    """Resident data, on-device sample order and loss sums; CUDA graphs when `cuda_graphs`."""

    def __init__(self, model: nn.Module, data: dict[str, torch.Tensor], settings: TrainSettings,
                 device: str | torch.device, seed: int, cuda_graphs: bool = True):
        device = torch.device(device)
        self.use_graphs = cuda_graphs and device.type == "cuda"
        self.capturable = self.use_graphs
        # channels_last is 1.6x on the CPU for these convs, slower on the GPU (PERFORMANCE-NOTES).
        self.channels_last = device.type == "cpu" and is_convolutional(model)
        super().__init__(model, data, settings, device, seed, permutation_device=device)
        self.train_images, self.train_labels = self.eval_sets["train"]
        self.captured_steps: dict[int, Step] = {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        # Loading replaces the optimizer's state tensors, which captured graphs would keep
        # updating: capture again on the next epoch.
        self.captured_steps = {}

    def train_step(self, index: torch.Tensor) -> torch.Tensor:
        """One optimizer step on the samples `index` names; returns [loss, correct] (no sync)."""
        images = self.train_images.index_select(0, index)
        labels = self.train_labels.index_select(0, index)
        outputs = self.model(images)
        loss = self.loss_fn(outputs, labels)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        correct = (outputs.detach().argmax(dim=1) == labels).sum()
        return torch.stack([loss.detach().double(), correct.double()])

    def train_epoch(self) -> tuple[float, float]:
        self.model.train()
        if self.use_graphs and not self.captured_steps:
            self._enable_graphs()
        order = epoch_permutation(self.permutation_generator, self.n_train)
        totals = torch.zeros(2, dtype=torch.float64, device=self.device)
        for start in range(0, self.n_train, self.settings.batch_size):
            index = order[start:start + self.settings.batch_size]
            step = self.captured_steps.get(len(index), self.train_step)
            totals += step(index)
        loss_sum, correct = totals.tolist()
        return loss_sum / self.n_batches, correct / self.n_train

    def _enable_graphs(self) -> None:
        """Capture one step per batch size and check each against eager steps; on any failure
        train eagerly (the same computation, slower) rather than stop or train wrongly."""
        batch_size = self.settings.batch_size
        sizes = sorted({min(batch_size, self.n_train), self.n_train % batch_size} - {0})
        try:
            steps = self._record_steps(sizes)
            for size, step in steps.items():
                self._check_step(step, size)
        except Exception as e:  # any failure to capture or to agree means: train eagerly
            self.use_graphs = False
            self.graphs_status = f"off ({type(e).__name__}: {e})"
            log.warning("CUDA graphs %s; training eagerly instead", self.graphs_status)
            return
        self.captured_steps = steps
        self.graphs_status = "on"
        log.info("CUDA graphs on: %d captured training steps agree with eager steps", len(steps))

    def _record_steps(self, sizes: list[int]) -> dict[int, Step]:
        """One CUDA graph per batch size, after warm-up steps on a side stream (lazy optimizer,
        cuBLAS and cuDNN state must exist before capture) that are then undone in place, RNG
        draws (dropout) included, so a graph run draws the masks an eager run draws."""
        with torch.random.fork_rng(devices=[self.device]), \
                preserved_training_state(self.model, self.optimizer):
            warm_up = torch.cuda.Stream(self.device)
            warm_up.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(warm_up):
                for size in sizes:
                    for _ in range(3):
                        self.train_step(torch.arange(size, device=self.device))
            torch.cuda.current_stream(self.device).wait_stream(warm_up)
        return {size: CapturedStep(self.train_step, size, self.device) for size in sizes}

    def _check_step(self, step: Step, size: int) -> None:
        """Two consecutive steps on two different batches, replayed and eager, from the same
        model, optimizer and RNG state: stale inputs, updates to copies, or state the graph does
        not see all show up as a different loss or parameter update. Raises on disagreement;
        leaves model, optimizer and RNGs as they were."""
        picker = torch.Generator(device=self.device).manual_seed(size)
        batches = [torch.randperm(self.n_train, generator=picker, device=self.device)[:size]
                   for _ in range(2)]
        eager_totals, eager_update = self._trial(self.train_step, batches)
        graph_totals, graph_update = self._trial(step, batches)
        if not torch.allclose(graph_totals[:, 0], eager_totals[:, 0], rtol=1e-3, atol=1e-6):
            raise GraphCheckError(f"batch size {size}: losses {listed(graph_totals[:, 0])} "
                                  f"replayed, {listed(eager_totals[:, 0])} eager")
        error = ((graph_update - eager_update).norm() / eager_update.norm().clamp_min(1e-12)).item()
        if not error <= GRAPH_CHECK_RTOL:
            raise GraphCheckError(f"batch size {size}: parameter update differs from eager by "
                                  f"{error:.2g} (relative, allowed {GRAPH_CHECK_RTOL})")

    def _trial(self, step: Step,
               batches: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Run `step` on `batches` and undo it: ([loss, correct] per batch, the state change)."""
        rng_devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=rng_devices), \
                preserved_training_state(self.model, self.optimizer):
            before = floating_state(self.model)
            totals = torch.stack([step(index).clone() for index in batches])
            return totals, floating_state(self.model) - before


class GraphCheckError(RuntimeError):
    """A captured training step does not compute what the eager step computes."""


def listed(values: torch.Tensor) -> str:
    return ", ".join(f"{v:.6g}" for v in values.tolist())


def floating_state(model: nn.Module) -> torch.Tensor:
    """Parameters and floating buffers (BatchNorm running statistics) as one flat vector."""
    return torch.cat([v.detach().flatten().double() for v in model.state_dict().values()
                      if v.is_floating_point()])


class CapturedStep:
    """`train_step` recorded once as a CUDA graph over a static index tensor, then replayed.

    Every tensor the step touches is static: parameters and optimizer state are updated in place,
    grads are set to None by zero_grad inside the capture and re-created by backward from the
    graph's pool at the same addresses on every replay, the batch is gathered inside the graph
    from the resident dataset through `self.index`, and [loss, correct] is the graph's output.
    """

    def __init__(self, train_step: Step, batch_size: int, device: torch.device):
        self.index = torch.zeros(batch_size, dtype=torch.int64, device=device)
        self.graph = torch.cuda.CUDAGraph()
        # Our own capture stream, entered outside torch.cuda.graph: should the capture fail
        # (and capture_end raise on exit), the current stream is still restored.
        capture_stream = torch.cuda.Stream(device)
        with torch.cuda.stream(capture_stream), \
                torch.cuda.graph(self.graph, stream=capture_stream):
            self.totals = train_step(self.index)

    def __call__(self, index: torch.Tensor) -> torch.Tensor:
        self.index.copy_(index)
        self.graph.replay()
        return self.totals


@contextlib.contextmanager
def preserved_training_state(model: nn.Module, optimizer: torch.optim.Optimizer) -> Iterator[None]:
    """Undo the block's training steps (warm-up, check trials) in place, so captured graphs keep
    pointing at the same tensors; also when the block raises.

    Optimizer state created during the block is zeroed rather than dropped: a zero momentum
    buffer (SGD, dampening 0) and zero Adam moments with step 0 behave exactly as fresh state.
    """
    model_state = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer_state = {p: {k: v.clone() if torch.is_tensor(v) else v for k, v in s.items()}
                       for p, s in optimizer.state.items()}
    try:
        yield
    finally:
        with torch.no_grad():
            for key, value in model.state_dict().items():
                value.copy_(model_state[key])
            for param, state in optimizer.state.items():
                for key, value in state.items():
                    if not torch.is_tensor(value):
                        continue
                    if param in optimizer_state:
                        value.copy_(optimizer_state[param][key])
                    else:
                        value.zero_()
        optimizer.zero_grad()


def make_trainer(engine: str, model: nn.Module, data: dict[str, torch.Tensor],
                 settings: TrainSettings, device: str | torch.device, seed: int) -> Trainer:
    """engine: "book" (reference loop), "fast" (CUDA graphs on GPU) or "eager" (fast, no graphs)."""
    if engine == "book":
        return BookTrainer(model, data, settings, device, seed)
    if engine in ("fast", "eager"):
        return FastTrainer(model, data, settings, device, seed, cuda_graphs=engine == "fast")
    raise ValueError(f"unknown engine {engine!r}; known: book, fast, eager")
