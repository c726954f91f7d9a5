"""The resident loop: the book's training step without its per-step host round trips. The data
stays on the device, batches are gathered with index_select from an on-device permutation, and
loss and accuracy are summed on the device (one host sync per epoch)."""

from typing import Any

import torch
from torch import nn

from dlwpt.engine.cuda_graphs import Recorder, Step, checked_steps, record_steps
from dlwpt.engine.trainer import Trainer, TrainSettings, epoch_permutation


class ResidentTrainer(Trainer):
    """cuda_graphs: "auto" replays each step as a checked CUDA graph on a CUDA device, "off"
    never; tests pass a stand-in `record_steps` and set `use_graphs` to run the check on the CPU."""

    def __init__(self, model: nn.Module, data: dict[str, torch.Tensor], settings: TrainSettings,
                 device: str | torch.device, seed: int, *, cuda_graphs: str = "auto",
                 record_steps: Recorder = record_steps):
        if cuda_graphs not in ("auto", "off"):
            raise ValueError(f"unknown cuda_graphs setting {cuda_graphs!r}; known: auto, off")
        device = torch.device(device)
        self.use_graphs = cuda_graphs == "auto" and device.type == "cuda"
        super().__init__(
            model, data, settings, device, seed, permutation_device=device,
            # 1.6x on the CPU for these convs, slower on the GPU (the shared performance notes).
            channels_last=device.type == "cpu" and any(
                isinstance(m, nn.Conv2d) for m in model.modules()),
            capturable=self.use_graphs,
        )
        if cuda_graphs == "off" and device.type == "cuda":
            self.graphs_status = "off (train.cuda_graphs: off)"
        self.record_steps = record_steps
        self.train_images, self.train_labels = self.eval_sets["train"]
        self.captured_steps: dict[int, Step] = {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        # New optimizer state tensors, which captured graphs would not see: capture again.
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
            # Checked steps for a full batch and the remainder; after a failure, eager ones.
            size = self.settings.batch_size
            sizes = sorted({min(size, self.n_train), self.n_train % size} - {0})
            self.captured_steps, self.graphs_status = checked_steps(self, sizes, self.record_steps)
            self.use_graphs = bool(self.captured_steps)
        order = epoch_permutation(self.permutation_generator, self.n_train)
        totals = torch.zeros(2, dtype=torch.float64, device=self.device)
        for index in order.split(self.settings.batch_size):
            step = self.captured_steps.get(len(index), self.train_step)
            totals += step(index)
        loss_sum, correct = totals.tolist()
        return loss_sum / self.n_batches, correct / self.n_train
