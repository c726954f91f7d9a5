"""The book's normalization: per-channel statistics of the training images, and ToTensor +
Normalize applied to a whole batch at once."""

from __future__ import annotations

import torch


def channel_stats(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and (unbiased) std of uint8 images after ToTensor's /255.

    The book stacks all 50,000 float images (600 MB); a 256-bin histogram per channel gives the
    same statistics exactly, in float64, without the copy.
    """
    levels = torch.arange(256, dtype=torch.float64) / 255
    means, stds = [], []
    for c in range(images.shape[1]):
        counts = torch.bincount(images[:, c].reshape(-1), minlength=256).double()
        n = counts.sum()
        mean = (counts * levels).sum() / n
        means.append(mean)
        stds.append(((counts * (levels - mean) ** 2).sum() / (n - 1)).sqrt())
    return torch.stack(means).float(), torch.stack(stds).float()


def normalize(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """ToTensor (uint8 -> float / 255) then Normalize, batched.

    Not torchvision's v2 transforms: ToDtype(scale=True) multiplies by 1/255, which differs from
    ToTensor's / 255 in the last bit for 126 of the 256 levels; v2.Normalize alone is identical
    to this line but would add torchvision's import for nothing.
    """
    return (images.float() / 255 - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)
