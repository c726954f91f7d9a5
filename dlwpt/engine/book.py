"""The book's loop (chapter 8's `training_loop`), kept literal as the reference and baseline:
a DataLoader over (image, label) pairs, a blocking `.to(device)` and `loss.item()` per step."""

from collections.abc import Iterator

import torch
from torch import nn
from torch.utils.data import DataLoader, Sampler

from dlwpt.engine.trainer import Trainer, TrainSettings, epoch_permutation


class PermutationSampler(Sampler[int]):
    """shuffle=True for the book's DataLoader, drawing from the same source as the resident loop."""

    def __init__(self, generator: torch.Generator, n: int):
        self.generator, self.n = generator, n

    def __iter__(self) -> Iterator[int]:
        return iter(epoch_permutation(self.generator, self.n).tolist())

    def __len__(self) -> int:
        return self.n


class BookTrainer(Trainer):
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
        """Chapter 8's training_loop, literal, plus a running correct count (validate's idiom)."""
        model, optimizer, loss_fn, device = self.model, self.optimizer, self.loss_fn, self.device
        model.train()
        loss_train = 0.0
        correct = 0
        for imgs, labels in self.train_loader:
            imgs = imgs.to(device=device)
            labels = labels.to(device=device)
            outputs = model(imgs)
            loss = loss_fn(outputs, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_train += loss.item()
            correct += int((outputs.argmax(dim=1) == labels).sum())
        return loss_train / len(self.train_loader), correct / len(self.train_loader.sampler)
