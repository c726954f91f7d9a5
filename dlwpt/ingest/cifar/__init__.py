"""Chapter 7: CIFAR-10 -> the book's normalized birds-vs-airplanes subset ("cifar2").

Three inputs give identical tensors: an image-folder tree `{train,test}/<class>/*.{png,jpg}`
(`tree`), the official python batches, a folder or one holding `cifar-10-batches-py/`, and the
official `cifar-10-python.tar.gz` (both `batches`). Normalization statistics come from the whole
training split (all ten classes), as in the book, unless configured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from dlwpt.cifar10 import CIFAR10_CLASSES, PYTHON_DIR, PYTHON_MEMBERS
from dlwpt.ingest.cifar.batches import Splits, read_python_folder, read_python_tarball
from dlwpt.ingest.cifar.tree import read_tree
from dlwpt.ingest.common import PathLike, write_outputs
from dlwpt.io import DataError

__all__ = ["CIFAR10_CLASSES", "DEFAULT_CLASSES", "ingest_cifar", "read_cifar10"]

DEFAULT_CLASSES = {"airplane": 0, "bird": 1}


def read_cifar10(src: PathLike) -> tuple[Splits, list[dict], str]:
    """The train and test splits (uint8 images, labels in official class order), the summary's
    source entries, and the source format."""
    src = Path(src)
    if src.is_file():
        return *read_python_tarball(src), "python_tarball"
    if not src.is_dir():
        raise DataError(src, "no such file or folder")
    if (src / PYTHON_DIR).is_dir():
        src = src / PYTHON_DIR
    if any((src / name).exists() for name in PYTHON_MEMBERS):  # then it must hold them all
        return *read_python_folder(src), "python_folder"
    return *read_tree(src), "image_tree"


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


def ingest_cifar(src: PathLike, out_pt: PathLike, out_json: PathLike,
                 classes: Mapping[str, int] | None = None,
                 mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                 samples_per_class: int = 8) -> None:
    """`train_images`/`val_images` (normalized float32) and `train_labels`/`val_labels` (int64,
    relabelled by `classes`, default {"airplane": 0, "bird": 1}) in source order; `mean`/`std`;
    `samples` 10xKx3x32x32 uint8 raw training images of every class (K = samples_per_class)."""
    # classes, mean and std are validated with the config (schemas/, dlwpt.config).
    classes = dict(DEFAULT_CLASSES if classes is None else classes)
    splits, source_entries, source_format = read_cifar10(src)
    train_images, train_labels = splits["train"]
    if mean is None:
        mean_t, std_t = channel_stats(train_images)
        normalization = "computed"
    else:
        mean_t = torch.tensor(mean, dtype=torch.float32)
        std_t = torch.tensor(std, dtype=torch.float32)
        normalization = "config"

    samples = []
    for label, name in enumerate(CIFAR10_CLASSES):
        picked = torch.nonzero(train_labels == label).flatten()[:samples_per_class]
        if len(picked) < samples_per_class:
            raise DataError(src, f"only {len(picked)} training images of {name}, "
                                 f"samples_per_class is {samples_per_class}")
        samples.append(train_images[picked])

    label_map = torch.full((len(CIFAR10_CLASSES),), -1, dtype=torch.int64)
    for name, new_label in classes.items():
        label_map[CIFAR10_CLASSES.index(name)] = new_label
    tensors: dict = {}
    counts, source_counts = {}, {}
    for out_split, split in (("train", "train"), ("val", "test")):
        images, labels = splits[split]
        keep = label_map[labels] >= 0
        tensors[f"{out_split}_images"] = normalize(images[keep], mean_t, std_t)
        tensors[f"{out_split}_labels"] = label_map[labels[keep]]
        per_class = torch.bincount(labels, minlength=len(CIFAR10_CLASSES)).tolist()
        source_counts[split] = dict(zip(CIFAR10_CLASSES, per_class, strict=True))
        counts[out_split] = {name: source_counts[split][name] for name in classes}
    tensors.update(mean=mean_t, std=std_t, samples=torch.stack(samples))

    write_outputs(
        "cifar2", out_pt, out_json, tensors, [], source_entries=source_entries,
        classes=classes, source_classes=list(CIFAR10_CLASSES), normalization=normalization,
        mean=mean_t.tolist(), std=std_t.tolist(), counts=counts, source_counts=source_counts,
        source_format=source_format, samples_per_class=samples_per_class,
    )
