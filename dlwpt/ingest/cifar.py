"""Chapter 7: CIFAR-10 -> the book's normalized birds-vs-airplanes subset ("cifar2"), the same
from an image tree, the python batches or the unextracted archive; normalized, unless set, by the
statistics of the whole training split (all ten classes), as in the book."""

import io
import multiprocessing
import os
import pickle
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from dlwpt import cifar10
from dlwpt.cifar10 import CIFAR10_CLASSES, SIDE
from dlwpt.ingest.common import PathLike, write_outputs
from dlwpt.io import DataError, error_text, file_digest

DEFAULT_CLASSES = {"airplane": 0, "bird": 1}
# Below this many files a process pool costs more than it saves (tests build tiny trees).
PARALLEL_MIN_FILES = 2000
CHUNK_FILES = 500
MAX_WORKERS = 8

Splits = dict[str, tuple[torch.Tensor, torch.Tensor]]  # split -> (uint8 Nx3x32x32, int64 N)


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles only what CIFAR batches hold (dicts, lists, bytes, numpy arrays): a pickle can
    otherwise run arbitrary code, and the archive may come from a mirror."""

    ALLOWED = {("numpy._core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "scalar"),
               ("numpy._core.numeric", "_frombuffer"), ("numpy", "ndarray"), ("numpy", "dtype"),
               ("_codecs", "encode")}  # how Python 3 writes bytes at protocol 2

    def find_class(self, module, name):
        if module.startswith("numpy.core"):  # pickled by numpy 1.x (the official batches)
            module = "numpy._core" + module.removeprefix("numpy.core")
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def _unpickle(blob: bytes, where: str) -> dict:
    try:
        obj = _BatchUnpickler(io.BytesIO(blob), encoding="bytes").load()
    except Exception as e:  # a corrupt pickle raises nearly any exception type
        raise DataError(where, f"not a CIFAR-10 python batch ({error_text(e)})") from e
    if not isinstance(obj, dict):
        raise DataError(where, "not a CIFAR-10 python batch (not a dict)")
    return obj


def parse_python_batches(blobs: Mapping[str, bytes], where: Mapping[str, str]) -> Splits:
    """The splits from the bytes of every PYTHON_MEMBERS file, named in messages by `where`."""
    meta = _unpickle(blobs[cifar10.META], where[cifar10.META])
    try:
        names = [n.decode() for n in meta[b"label_names"]]
    except (KeyError, TypeError, AttributeError, UnicodeDecodeError) as e:
        raise DataError(where[cifar10.META], "no b'label_names' list") from e
    unknown = [n for n in names if n not in CIFAR10_CLASSES]
    if unknown:
        raise DataError(where[cifar10.META], f"unknown class {unknown[0]!r}")
    to_official = np.array([CIFAR10_CLASSES.index(n) for n in names], dtype=np.int64)

    splits = {}
    for split, members in (("train", cifar10.TRAIN_BATCHES), ("test", (cifar10.TEST_BATCH,))):
        images, labels = [], []
        for member in members:
            batch = _unpickle(blobs[member], where[member])
            data = batch.get(b"data")
            if (not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2
                    or data.shape[1] != 3 * SIDE * SIDE):
                raise DataError(where[member], f"b'data' is not an Nx{3 * SIDE * SIDE} uint8 array")
            batch_labels = np.asarray(batch.get(b"labels", []))
            if batch_labels.shape != (len(data),) or not np.isin(
                    batch_labels, np.arange(len(names))).all():
                raise DataError(where[member], f"b'labels' must be {len(data)} labels "
                                               f"in 0..{len(names) - 1}")
            images.append(data.reshape(-1, 3, SIDE, SIDE))
            labels.append(to_official[batch_labels.astype(np.int64)])
        splits[split] = (torch.from_numpy(np.concatenate(images)),
                         torch.from_numpy(np.concatenate(labels)))
    return splits


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
            return None, (path, f"unreadable image ({error_text(e)})")
    return out, None


def decode_images(paths: Sequence[Path]) -> np.ndarray:
    """All images as Nx32x32x3 uint8, forked processes decoding large inputs (PIL holds the GIL;
    forked, a Snakemake script is not re-imported). PIL: torchvision's pixels, a lighter import."""
    chunks = [[str(p) for p in paths[i:i + CHUNK_FILES]] for i in range(0, len(paths), CHUNK_FILES)]
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    workers = min(available or 1, MAX_WORKERS)
    pool = (ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
            if workers > 1 and len(paths) >= PARALLEL_MIN_FILES
            and "fork" in multiprocessing.get_all_start_methods() else None)
    arrays = []
    try:
        for array, error in (pool.map if pool else map)(_decode_files, chunks):
            if error:
                raise DataError(*error)
            arrays.append(array)
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
    return np.concatenate(arrays) if arrays else np.empty((0, SIDE, SIDE, 3), np.uint8)


def read_cifar10(src: PathLike) -> tuple[Splits, list[dict], str]:
    """The train and test splits (uint8 images, labels in official class order), the summary's
    source entries, and the source format."""
    kind, path = cifar10.source_format(Path(src))
    if kind != "image_tree":
        blobs, where = cifar10.python_batches(kind, path)
        files = where.values() if kind == "python_folder" else [path]
        return (parse_python_batches(blobs, where),
                [{"path": str(p), "sha256": file_digest(p)} for p in files], kind)
    fingerprint, names = cifar10.tree_survey(path)
    images = cifar10.tree_images(path, names)
    files = [path / name for found in images.values() for name in found]
    pixels = torch.from_numpy(decode_images(files)).permute(0, 3, 1, 2).contiguous()
    labels = torch.tensor([CIFAR10_CLASSES.index(c) for (_, c), found in images.items()
                           for _ in found])
    n = sum(len(found) for (split, _), found in images.items() if split == "train")
    # One source entry for the whole tree: its fingerprint (names, sizes, modification times),
    # the one the workflow plans with, not a checksum of the images' content.
    return ({"train": (pixels[:n], labels[:n]), "test": (pixels[n:], labels[n:])},
            [{"path": str(path), "fingerprint": fingerprint}], kind)


def channel_stats(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and (unbiased) std of uint8 images after ToTensor's /255, from a 256-bin
    histogram: the book's statistics exactly (in float64), without its 600 MB float copy."""
    levels = torch.arange(256, dtype=torch.float64) / 255
    counts = torch.stack([torch.bincount(channel.reshape(-1), minlength=256)
                          for channel in images.unbind(1)]).double()
    n = counts.sum(1, keepdim=True)
    mean = (counts * levels).sum(1, keepdim=True) / n
    std = ((counts * (levels - mean) ** 2).sum(1, keepdim=True) / (n - 1)).sqrt()
    return mean.flatten().float(), std.flatten().float()


def ingest_cifar(src: PathLike, out_pt: PathLike, out_json: PathLike,
                 classes: Mapping[str, int] | None = None, mean: Sequence[float] | None = None,
                 std: Sequence[float] | None = None, samples_per_class: int = 8) -> None:
    """The two `classes` (airplanes and birds by default) relabelled and normalized, in source
    order, and `samples_per_class` raw training images of every class for the report."""
    # classes, mean and std are validated with the config (schemas/, dlwpt.config).
    classes = dict(DEFAULT_CLASSES if classes is None else classes)
    splits, source_entries, kind = read_cifar10(src)
    train_images, train_labels = splits["train"]
    mean_t, std_t = (channel_stats(train_images) if mean is None
                     else (torch.tensor(v, dtype=torch.float32) for v in (mean, std)))

    samples = []
    for label, name in enumerate(CIFAR10_CLASSES):
        picked = torch.nonzero(train_labels == label).flatten()[:samples_per_class]
        if len(picked) < samples_per_class:
            raise DataError(src, f"only {len(picked)} training images of {name}, "
                                 f"samples_per_class is {samples_per_class}")
        samples.append(train_images[picked])

    label_map = torch.tensor([classes.get(name, -1) for name in CIFAR10_CLASSES])
    tensors, counts, source_counts = {}, {}, {}
    for out_split, split in (("train", "train"), ("val", "test")):
        images, labels = splits[split]
        keep = label_map[labels] >= 0
        # ToTensor (/ 255: v2 ToDtype's * (1/255) differs in the last bit for 126 of the 256
        # levels) then Normalize, batched.
        tensors[f"{out_split}_images"] = ((images[keep].float() / 255 - mean_t.view(1, -1, 1, 1))
                                          / std_t.view(1, -1, 1, 1))
        tensors[f"{out_split}_labels"] = label_map[labels[keep]]
        per_class = torch.bincount(labels, minlength=len(CIFAR10_CLASSES)).tolist()
        source_counts[split] = dict(zip(CIFAR10_CLASSES, per_class, strict=True))
        counts[out_split] = {name: source_counts[split][name] for name in classes}
    tensors.update(mean=mean_t, std=std_t, samples=torch.stack(samples))

    write_outputs("cifar2", out_pt, out_json, tensors, source_entries, classes=classes,
                  source_classes=list(CIFAR10_CLASSES),
                  normalization="computed" if mean is None else "config", mean=mean_t.tolist(),
                  std=std_t.tolist(), counts=counts, source_counts=source_counts,
                  source_format=kind, samples_per_class=samples_per_class)
