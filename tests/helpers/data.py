"""Where the real data and the repository are, and test-only CIFAR-2 tensors built from the data.

The CIFAR-2 (airplane/bird) tensors mirror the `results/data/cifar2.pt` contract
(docs/ARCHITECTURE.md) so training tests run before and independently of the ingest stage.
Decoding 12,000 JPEGs takes seconds, so the result is cached under the system temp folder
(never in the repository).
"""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
# The real data, outside the repository (every test and bench/ take the location from here):
# DLWPT_DATA / DLWPT_CIFAR10 when set, else ../shared/data beside the checkout, else what
# `make test-data` fetched into the git-ignored CACHE_DATA (tests/helpers/fetch_data.py).
CACHE_DATA = REPO / ".cache" / "test-data"
CIFAR_TREE = "cifar10-jpeg"
_SHARED = REPO.parent / "shared" / "data"
SHARED_DATA = Path(os.environ.get("DLWPT_DATA")
                   or (_SHARED if (_SHARED / "p1ch4").is_dir() else CACHE_DATA))
JPEG_ROOT = Path(os.environ.get("DLWPT_CIFAR10") or SHARED_DATA / CIFAR_TREE)
# Resolved, for subprocesses that run elsewhere (Snakemake in a temporary work dir).
DATA, CIFAR10 = SHARED_DATA.resolve(), JPEG_ROOT.resolve()
P1CH4 = DATA / "p1ch4"
REFERENCE_NET = SHARED_DATA / "reference/birds_vs_airplanes.pt"
CLASSES = {"airplane": 0, "bird": 1}
# The published CIFAR-10 constants the book normalizes with.
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)
CACHE = Path(tempfile.gettempdir()) / "dlwpt-test-cache" / "cifar2-interleaved.pt"


def _load_split(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalized images and labels, classes interleaved so any prefix holds both classes."""
    per_class = [sorted((JPEG_ROOT / split / name).glob("*.jpg")) for name in CLASSES]
    paths = [p for group in zip(*per_class, strict=True) for p in group]
    labels = torch.tensor(list(CLASSES.values()) * len(per_class[0]), dtype=torch.int64)
    images = []
    for path in paths:
        with Image.open(path) as img:
            images.append(np.asarray(img.convert("RGB")))
    raw = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return ((raw - mean) / std).contiguous(), labels


@functools.lru_cache(maxsize=1)
def cifar2_file() -> Path:
    """Path of a cifar2.pt with the ingest contract's keys (train: 10000, val: the 2000 test)."""
    if not CACHE.exists():
        train_images, train_labels = _load_split("train")
        val_images, val_labels = _load_split("test")
        CACHE.parent.mkdir(parents=True, exist_ok=True)
        tmp = CACHE.with_suffix(f".{os.getpid()}.tmp")
        torch.save(
            {
                "train_images": train_images,
                "train_labels": train_labels,
                "val_images": val_images,
                "val_labels": val_labels,
                "mean": torch.tensor(MEAN),
                "std": torch.tensor(STD),
            },
            tmp,
        )
        os.replace(tmp, CACHE)
    return CACHE


def load_cifar2() -> dict[str, torch.Tensor]:
    return torch.load(cifar2_file(), weights_only=True)


def subset_file(tmp_dir: Path, n_train: int, n_val: int) -> Path:
    """A small cifar2.pt: the first n_train / n_val images of each split."""
    data = load_cifar2()
    small = {k: data[k] for k in ("mean", "std")}
    for split, n in (("train", n_train), ("val", n_val)):
        for key in (f"{split}_images", f"{split}_labels"):
            small[key] = data[key][:n].clone()
    path = Path(tmp_dir) / f"cifar2_{n_train}_{n_val}.pt"
    torch.save(small, path)
    return path
