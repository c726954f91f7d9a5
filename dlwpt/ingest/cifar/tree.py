"""Reader for an image-folder tree `{train,test}/<class>/*.{png,jpg}` (such as the shared
JPEG copy of CIFAR-10): class folders in official order, files sorted by name."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from dlwpt.cifar10 import CIFAR10_CLASSES, IMAGE_SUFFIXES, SIDE, TREE_SPLITS
from dlwpt.ingest.cifar.batches import Splits
from dlwpt.ingest.common import one_line
from dlwpt.io import DataError
from dlwpt.verify import tree_survey

# Below this many files a process pool costs more than it saves (tests build tiny trees).
PARALLEL_MIN_FILES = 2000
CHUNK_FILES = 500
MAX_WORKERS = 8


def _decode_files(paths: list[str]) -> tuple[np.ndarray | None, tuple[str, str] | None]:
    """Decode images into Nx32x32x3 uint8, or return (bad path, problem) for the first bad one
    (DataError cannot be pickled back from a worker process, a tuple can)."""
    out = np.empty((len(paths), SIDE, SIDE, 3), dtype=np.uint8)
    for i, path in enumerate(paths):
        try:
            with Image.open(path) as image:
                if image.size != (SIDE, SIDE):
                    return None, (path, f"image is {image.size[0]}x{image.size[1]}, "
                                        f"expected {SIDE}x{SIDE}")
                out[i] = np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
            return None, (path, f"unreadable image ({one_line(e)})")
    return out, None


def decode_images(paths: Sequence[Path]) -> np.ndarray:
    """All images as Nx32x32x3 uint8, decoded by a process pool on large inputs.

    Threads do not help: PIL holds the GIL for most of a 32x32 decode. Workers are forked
    (not spawned) so a Snakemake script is not re-imported by each of them. PIL rather than
    torchvision.io.decode_image: same pixels and ~1.5 s less decoding for the 60,000 files on 2
    cores, but importing torchvision costs ~2.5 s more (it loads torch._dynamo).
    """
    chunks = [[str(p) for p in paths[i:i + CHUNK_FILES]]
              for i in range(0, len(paths), CHUNK_FILES)]
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    workers = min(available or 1, MAX_WORKERS)
    pool = None
    if (workers > 1 and len(paths) >= PARALLEL_MIN_FILES
            and "fork" in multiprocessing.get_all_start_methods()):
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
    try:
        arrays = []
        for array, error in (pool.map(_decode_files, chunks) if pool
                             else map(_decode_files, chunks)):
            if error:
                raise DataError(*error)
            arrays.append(array)
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
    return np.concatenate(arrays) if arrays else np.empty((0, SIDE, SIDE, 3), np.uint8)


def _tree_files(root: Path) -> dict[str, tuple[list[Path], list[int]]]:
    """Per split: image files (official class order, sorted names) and their labels."""
    found = {}
    for split in TREE_SPLITS:
        split_dir = root / split
        if not split_dir.is_dir():
            raise DataError(split_dir, "split folder missing")
        unknown = sorted(p.name for p in split_dir.iterdir()
                         if p.is_dir() and not p.name.startswith(".")
                         and p.name not in CIFAR10_CLASSES)
        if unknown:
            raise DataError(split_dir / unknown[0], "not a CIFAR-10 class folder")
        files, labels = [], []
        for label, name in enumerate(CIFAR10_CLASSES):
            folder = split_dir / name
            if not folder.is_dir():
                raise DataError(folder, "class folder missing")
            images = sorted(p for p in folder.iterdir()
                            if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
            if not images:
                raise DataError(folder, "class folder has no .png/.jpg images")
            files += images
            labels += [label] * len(images)
        found[split] = (files, labels)
    return found


def read_tree(root: Path) -> tuple[Splits, list[dict]]:
    """The train and test splits, and one summary source entry for the whole tree."""
    found = _tree_files(root)
    all_files = [p for files, _ in found.values() for p in files]
    pixels = torch.from_numpy(decode_images(all_files)).permute(0, 3, 1, 2).contiguous()
    splits, start = {}, 0
    for split, (files, labels) in found.items():
        splits[split] = (pixels[start:start + len(files)],
                         torch.tensor(labels, dtype=torch.int64))
        start += len(files)
    # The tree's fingerprint (names, sizes, modification times: dlwpt.verify), the one the
    # workflow plans with; not a checksum of the images' content.
    return splits, [{"path": str(root), "fingerprint": tree_survey(root)[0]}]
