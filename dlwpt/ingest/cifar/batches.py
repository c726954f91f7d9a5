"""Readers for CIFAR-10's official python batches: a folder of pickles, or the official
`cifar-10-python.tar.gz` read member by member without extracting; both through one restricted
unpickler."""

from __future__ import annotations

import io
import pickle
import tarfile
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from dlwpt.cifar10 import (
    CIFAR10_CLASSES,
    META,
    PYTHON_DIR,
    PYTHON_MEMBERS,
    SIDE,
    TEST_BATCH,
    TRAIN_BATCHES,
    python_members,
)
from dlwpt.ingest.common import one_line
from dlwpt.io import DataError, file_digest

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
        raise DataError(where, f"not a CIFAR-10 python batch ({one_line(e)})") from e
    if not isinstance(obj, dict):
        raise DataError(where, "not a CIFAR-10 python batch (not a dict)")
    return obj


def parse_python_batches(blobs: Mapping[str, bytes], where: Mapping[str, str]) -> Splits:
    """The splits from the bytes of every PYTHON_MEMBERS file; `where` names each file in
    error messages (a path, or archive:member)."""
    meta = _unpickle(blobs[META], where[META])
    try:
        names = [n.decode() for n in meta[b"label_names"]]
    except (KeyError, TypeError, AttributeError, UnicodeDecodeError) as e:
        raise DataError(where[META], "no b'label_names' list") from e
    unknown = [n for n in names if n not in CIFAR10_CLASSES]
    if unknown:
        raise DataError(where[META], f"unknown class {unknown[0]!r}")
    to_official = np.array([CIFAR10_CLASSES.index(n) for n in names], dtype=np.int64)

    splits = {}
    for split, members in (("train", TRAIN_BATCHES), ("test", (TEST_BATCH,))):
        images, labels = [], []
        for member in members:
            batch = _unpickle(blobs[member], where[member])
            data, batch_labels = batch.get(b"data"), batch.get(b"labels")
            if (not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2
                    or data.shape[1] != 3 * SIDE * SIDE):
                raise DataError(where[member], f"b'data' is not an Nx{3 * SIDE * SIDE} uint8 "
                                               "array")
            batch_labels = np.asarray(batch_labels if batch_labels is not None else [])
            if batch_labels.shape != (len(data),) or not np.isin(
                    batch_labels, np.arange(len(names))).all():
                raise DataError(where[member], f"b'labels' must be {len(data)} labels "
                                               f"in 0..{len(names) - 1}")
            images.append(data.reshape(-1, 3, SIDE, SIDE))
            labels.append(to_official[batch_labels.astype(np.int64)])
        splits[split] = (torch.from_numpy(np.concatenate(images)),
                         torch.from_numpy(np.concatenate(labels)))
    return splits


def read_python_folder(folder: Path) -> tuple[Splits, list[dict]]:
    """The splits, and one summary source entry per batch file."""
    paths = {name: folder / name for name in PYTHON_MEMBERS}
    for path in paths.values():
        if not path.is_file():
            raise DataError(path, "CIFAR-10 batch file missing")
    blobs = {name: path.read_bytes() for name, path in paths.items()}
    splits = parse_python_batches(blobs, {name: str(p) for name, p in paths.items()})
    return splits, [{"path": str(p), "sha256": file_digest(p)} for p in paths.values()]


def read_python_tarball(tar_path: Path) -> tuple[Splits, list[dict]]:
    """The splits, and one summary source entry for the archive."""
    blobs = {}
    try:
        with tarfile.open(tar_path, "r:*") as tar:
            for name, member in python_members(tar):
                blobs[name] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise DataError(tar_path, f"unreadable archive ({one_line(e)})") from e
    missing = [name for name in PYTHON_MEMBERS if name not in blobs]
    if missing:
        raise DataError(tar_path, f"archive lacks {PYTHON_DIR}/{missing[0]}")
    where = {name: f"{tar_path}:{PYTHON_DIR}/{name}" for name in PYTHON_MEMBERS}
    splits = parse_python_batches(blobs, where)
    return splits, [{"path": str(tar_path), "sha256": file_digest(tar_path)}]
