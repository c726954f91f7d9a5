"""The book's chapter 7-8 classifiers for 32x32 airplane/bird images, with its attribute names
(and so state_dict keys): the book's checkpoints load with strict=True, ours into its classes."""

from itertools import pairwise
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}
# Settings in a merged model config that belong to training, not to the architecture.
TRAINING_KEYS = {"lr", "epochs", "loss", "l2", "l1", "optimizer", "batch_size", "momentum",
                 "weight_decay"}


class FullyConnected(nn.Sequential):
    """Chapter 7's nn.Sequential of Linear/activation pairs (the book's keys 0, 2, ...); it
    flattens the images itself (the book does img.view(-1) outside), as every model takes them."""

    def __init__(self, hidden: list[int] = (512,), activation: str = "tanh",
                 log_softmax: bool = True, n_inputs: int = 3 * 32 * 32, n_classes: int = 2):
        widths = [n_inputs, *hidden]
        layers = [layer for a, b in pairwise(widths)
                  for layer in (nn.Linear(a, b), ACTIVATIONS[activation]())]
        layers.append(nn.Linear(widths[-1], n_classes))
        if log_softmax:
            layers.append(nn.LogSoftmax(dim=1))
        super().__init__(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.flatten(1))


class NetWidth(nn.Module):
    """Chapter 8's convnet with n_chans1 first-layer channels (the book's width experiment)."""

    def __init__(self, n_chans1: int = 32):
        super().__init__()
        self.n_chans1 = n_chans1
        self.conv1 = nn.Conv2d(3, n_chans1, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(n_chans1, n_chans1 // 2, kernel_size=3, padding=1)
        self.fc1 = nn.Linear(8 * 8 * n_chans1 // 2, 32)
        self.fc2 = nn.Linear(32, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.convolve(self.convolve(x, 1), 2)
        out = out.reshape(-1, 8 * 8 * self.n_chans1 // 2)  # reshape: channels_last is not viewable
        out = torch.tanh(self.fc1(out))
        return self.fc2(out)

    def convolve(self, out: torch.Tensor, layer: int) -> torch.Tensor:
        """conv<layer> -> tanh -> 2x2 max pool: what the book's variants extend."""
        return F.max_pool2d(torch.tanh(getattr(self, f"conv{layer}")(out)), 2)


class Net(NetWidth):
    """Chapter 8's first convnet (18,090 parameters): NetWidth's layers at 16 channels, built in
    the same order; loads the book's birds_vs_airplanes.pt."""

    def __init__(self):
        super().__init__(16)


class NetDropout(NetWidth):
    """NetWidth with Dropout2d after each pooling."""

    def __init__(self, n_chans1: int = 32, p: float = 0.4):
        super().__init__(n_chans1)
        self.conv1_dropout = nn.Dropout2d(p=p)
        self.conv2_dropout = nn.Dropout2d(p=p)

    def convolve(self, out: torch.Tensor, layer: int) -> torch.Tensor:
        return getattr(self, f"conv{layer}_dropout")(super().convolve(out, layer))


class NetBatchNorm(NetWidth):
    """NetWidth with BatchNorm2d between each convolution and its tanh."""

    def __init__(self, n_chans1: int = 32):
        super().__init__(n_chans1)
        self.conv1_batchnorm = nn.BatchNorm2d(num_features=n_chans1)
        self.conv2_batchnorm = nn.BatchNorm2d(num_features=n_chans1 // 2)

    def convolve(self, out: torch.Tensor, layer: int) -> torch.Tensor:
        conv, norm = getattr(self, f"conv{layer}"), getattr(self, f"conv{layer}_batchnorm")
        return F.max_pool2d(torch.tanh(norm(conv(out))), 2)


class NetDepth(nn.Module):
    """Three conv layers with ReLU (the book's depth experiment)."""

    def __init__(self, n_chans1: int = 32):
        super().__init__()
        self.n_chans1 = n_chans1
        self.conv1 = nn.Conv2d(3, n_chans1, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(n_chans1, n_chans1 // 2, kernel_size=3, padding=1)
        self.conv3 = nn.Conv2d(n_chans1 // 2, n_chans1 // 2, kernel_size=3, padding=1)
        self.fc1 = nn.Linear(4 * 4 * n_chans1 // 2, 32)
        self.fc2 = nn.Linear(32, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.max_pool2d(torch.relu(self.conv1(x)), 2)
        out = F.max_pool2d(torch.relu(self.conv2(out)), 2)
        out = F.max_pool2d(self._third_layer(out), 2)
        out = out.reshape(-1, 4 * 4 * self.n_chans1 // 2)
        out = torch.relu(self.fc1(out))
        return self.fc2(out)

    def _third_layer(self, out: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv3(out))


class NetRes(NetDepth):
    """NetDepth with a skip connection around conv3 (pooling after the sum, as in the book)."""

    def _third_layer(self, out: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv3(out)) + out


class ResBlock(nn.Module):
    """conv (no bias) -> batch norm -> ReLU, plus the input; the book's initialization."""

    def __init__(self, n_chans: int):
        super().__init__()
        self.conv = nn.Conv2d(n_chans, n_chans, kernel_size=3, padding=1, bias=False)
        self.batch_norm = nn.BatchNorm2d(num_features=n_chans)
        nn.init.kaiming_normal_(self.conv.weight, nonlinearity="relu")
        nn.init.constant_(self.batch_norm.weight, 0.5)
        nn.init.zeros_(self.batch_norm.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.batch_norm(self.conv(x))) + x


class NetResDeep(nn.Module):
    """A stack of n_blocks ResBlocks. shared_blocks=True is the book's `n_blocks * [ResBlock(...)]`:
    the list repeats ONE block, so all positions share weights (75,810 parameters at 100 blocks);
    False builds independent blocks (994,530), with the same state_dict keys."""

    def __init__(self, n_chans1: int = 32, n_blocks: int = 10, shared_blocks: bool = True):
        super().__init__()
        self.n_chans1 = n_chans1
        self.conv1 = nn.Conv2d(3, n_chans1, kernel_size=3, padding=1)
        blocks = (n_blocks * [ResBlock(n_chans=n_chans1)] if shared_blocks
                  else [ResBlock(n_chans=n_chans1) for _ in range(n_blocks)])
        self.resblocks = nn.Sequential(*blocks)
        self.fc1 = nn.Linear(8 * 8 * n_chans1, 32)
        self.fc2 = nn.Linear(32, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.max_pool2d(torch.relu(self.conv1(x)), 2)
        out = F.max_pool2d(self.resblocks(out), 2)
        out = out.reshape(-1, 8 * 8 * self.n_chans1)
        out = torch.relu(self.fc1(out))
        return self.fc2(out)


ARCHITECTURES: dict[str, type[nn.Module]] = {cls.__name__: cls for cls in (
    FullyConnected, Net, NetWidth, NetDropout, NetBatchNorm, NetDepth, NetRes, NetResDeep)}


def build_model(cfg: dict[str, Any]) -> nn.Module:
    """The model a config entry (merged over train.defaults) describes; training keys ignored."""
    arch = cfg["arch"]
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown arch {arch!r}; known: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[arch](**{k: v for k, v in cfg.items()
                                  if k != "arch" and k not in TRAINING_KEYS})


def count_parameters(model: nn.Module) -> int:
    """Trainable numbers in the model; a shared block counts once (model.parameters() dedups)."""
    return sum(p.numel() for p in model.parameters())


def resdeep_variant(cfg: dict[str, Any]) -> str | None:
    """"shared" / "independent" for NetResDeep configs (the book's default is shared), else None."""
    if cfg.get("arch") == "NetResDeep":
        return "shared" if cfg.get("shared_blocks", True) else "independent"
    return None
