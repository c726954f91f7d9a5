"""CUDA graphs of the resident loop's training step (no per-kernel launch cost, which dominates
these small models): capture, check against eager steps from the same state (a wrong graph would
train silently wrong; on disagreement the run trains eagerly, saying why), undo in place."""

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Protocol

import torch
from torch import nn

# Allowed relative difference between a replayed graph's parameter update and the eager one:
# far above TF32/atomics noise (~1e-4), far below any wrong input or detached tensor (~1).
GRAPH_CHECK_RTOL = 1e-2
# A training step: batch indices in, [loss, correct] out (device tensors, no host sync).
Step = Callable[[torch.Tensor], torch.Tensor]
log = logging.getLogger("dlwpt")


class SteppedTraining(Protocol):
    """What capture and check use of a trainer (dlwpt.engine.resident.ResidentTrainer)."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    device: torch.device
    n_train: int

    def train_step(self, index: torch.Tensor) -> torch.Tensor: ...


# Records one step per batch size: `record_steps`, or a tests' stand-in that runs on the CPU.
Recorder = Callable[[SteppedTraining, list[int]], dict[int, Step]]


class GraphCheckError(RuntimeError):
    """A captured training step does not compute what the eager step computes."""


def checked_steps(trainer: SteppedTraining, sizes: list[int],
                  record: Recorder) -> tuple[dict[int, Step], str]:
    """(steps, "on"): one step per batch size, recorded and checked against eager steps; or
    ({}, "off (why)") with a warning: train eagerly rather than stop or train wrongly."""
    try:
        steps = record(trainer, sizes)
        for size, step in steps.items():
            check_step(trainer, step, size)
    except Exception as e:
        status = f"off ({type(e).__name__}: {e})"
        log.warning("CUDA graphs %s; training eagerly instead", status)
        return {}, status
    log.info("CUDA graphs on: %d captured training steps agree with eager steps", len(steps))
    return steps, "on"


def record_steps(trainer: SteppedTraining, sizes: list[int]) -> dict[int, Step]:
    """One CUDA graph per batch size, after warm-up steps on a side stream (lazy optimizer, cuBLAS
    and cuDNN state must exist before capture), undone with their RNG draws (dropout masks)."""
    device = trainer.device
    with torch.random.fork_rng(devices=[device]), \
            preserved_training_state(trainer.model, trainer.optimizer):
        warm_up = torch.cuda.Stream(device)
        warm_up.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(warm_up):
            for size in sizes:
                for _ in range(3):
                    trainer.train_step(torch.arange(size, device=device))
        torch.cuda.current_stream(device).wait_stream(warm_up)
    return {size: CapturedStep(trainer.train_step, size, device) for size in sizes}


def check_step(trainer: SteppedTraining, step: Step, size: int) -> None:
    """Two steps on different batches, replayed and eager, from the same state: stale inputs,
    updates to copies or state the graph misses change a loss or the update. Undone after."""
    picker = torch.Generator(device=trainer.device).manual_seed(size)
    batches = [torch.randperm(trainer.n_train, generator=picker, device=trainer.device)[:size]
               for _ in range(2)]
    eager_totals, eager_update = trial(trainer, trainer.train_step, batches)
    graph_totals, graph_update = trial(trainer, step, batches)
    if not torch.allclose(graph_totals[:, 0], eager_totals[:, 0], rtol=1e-3, atol=1e-6):
        replayed = ", ".join(f"{v:.6g}" for v in graph_totals[:, 0].tolist())
        eager = ", ".join(f"{v:.6g}" for v in eager_totals[:, 0].tolist())
        raise GraphCheckError(f"batch size {size}: losses {replayed} replayed, {eager} eager")
    error = ((graph_update - eager_update).norm() / eager_update.norm().clamp_min(1e-12)).item()
    if not error <= GRAPH_CHECK_RTOL:
        raise GraphCheckError(f"batch size {size}: parameter update differs from eager by "
                              f"{error:.2g} (relative, allowed {GRAPH_CHECK_RTOL})")


def trial(trainer: SteppedTraining, step: Step,
          batches: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Run `step` on `batches` and undo it: ([loss, correct] per batch, the state change)."""
    rng_devices = [trainer.device] if trainer.device.type == "cuda" else []
    with torch.random.fork_rng(devices=rng_devices), \
            preserved_training_state(trainer.model, trainer.optimizer):
        before = floating_state(trainer.model)
        totals = torch.stack([step(index).clone() for index in batches])
        return totals, floating_state(trainer.model) - before


def floating_state(model: nn.Module) -> torch.Tensor:
    """Parameters and floating buffers (BatchNorm running statistics) as one flat vector."""
    return torch.cat([v.detach().flatten().double() for v in model.state_dict().values()
                      if v.is_floating_point()])


class CapturedStep:
    """`train_step` recorded once as a CUDA graph over a static index tensor, then replayed.
    Every tensor it touches is static: parameters and optimizer state updated in place, grads
    (None after zero_grad) re-created by backward at the same addresses of the graph's pool, the
    batch gathered inside the graph through `self.index`, [loss, correct] the graph's output."""

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
    """Undo the block's training steps in place (graphs keep their tensors), also if it raises.
    New optimizer state is zeroed, not dropped: zero SGD momentum (dampening 0) and zero Adam
    moments at step 0 behave exactly as fresh state."""
    model_state = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer_state = {p: {k: v.clone() for k, v in s.items() if torch.is_tensor(v)}
                       for p, s in optimizer.state.items()}
    try:
        yield
    finally:
        with torch.no_grad():
            for key, value in model.state_dict().items():
                value.copy_(model_state[key])
            for param, state in optimizer.state.items():
                saved = optimizer_state.get(param, {})
                for key, value in state.items():
                    if torch.is_tensor(value):
                        value.copy_(saved[key] if key in saved else torch.zeros_like(value))
        optimizer.zero_grad()
