"""CIFAR-10's official python format written from images: fixtures for the batch and archive
readers (the real official archive is not part of the shared data).

`write_python_batches` pickles with this Python (numpy 2 names); `official_batches` writes the
byte format of the real cifar-10-python.tar.gz (Python 2 cPickle, numpy 1.x names).
"""

from __future__ import annotations

import io
import pickle
import tarfile
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
)


def write_python_batches(images_by_split: dict[str, tuple[torch.Tensor, list[int]]],
                         folder: Path) -> None:
    """Write the official python batches into `folder`.

    `images_by_split` maps "train" and "test" to (uint8 Nx3x32x32, labels in official order);
    the training images are spread over data_batch_1..5 like the official 5 x 10,000.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    def dump(name: str, obj: dict) -> None:
        with open(folder / name, "wb") as f:
            pickle.dump(obj, f, protocol=2)

    dump(META, {b"label_names": [n.encode() for n in CIFAR10_CLASSES],
                b"num_cases_per_batch": len(images_by_split["train"][1]) // len(TRAIN_BATCHES),
                b"num_vis": 3 * SIDE * SIDE})
    train_images, train_labels = images_by_split["train"]
    test_images, test_labels = images_by_split["test"]
    parts = np.array_split(np.arange(len(train_labels)), len(TRAIN_BATCHES))
    batches = [(name, train_images[idx], [train_labels[i] for i in idx])
               for name, idx in zip(TRAIN_BATCHES, parts, strict=True)]
    batches.append((TEST_BATCH, test_images, list(test_labels)))
    for i, (name, images, labels) in enumerate(batches):
        data = images.to(torch.uint8).reshape(len(labels), -1).numpy().copy()
        dump(name, {b"batch_label": f"batch {i + 1}".encode(), b"labels": [int(x) for x in labels],
                    b"data": data,
                    b"filenames": [f"{name}_{j:05d}.png".encode() for j in range(len(labels))]})


def make_python_tarball(folder: Path, tar_path: Path) -> None:
    """Pack a `write_python_batches` folder like the official archive (cifar-10-batches-py/)."""
    with tarfile.open(tar_path, "w:gz") as tar:
        for name in PYTHON_MEMBERS:
            tar.add(Path(folder) / name, arcname=f"{PYTHON_DIR}/{name}")


# --- The official archive, byte format and all ----------------------------------------------
# cifar-10-python.tar.gz was written by Python 2's cPickle (protocol 2) with numpy 1.x: dict keys
# and strings are Python 2 `str` (SHORT_BINSTRING/BINSTRING, loaded as bytes), arrays are
# `numpy.core.multiarray._reconstruct` + `numpy.ndarray` + `numpy.dtype` globals whose module
# names numpy 2 renamed (numpy._core). pickle.dump under Python 3 cannot produce that stream,
# so the opcodes are written by hand.

class _Py2Array:
    """A uint8 matrix to be pickled the way numpy 1.x reduced an ndarray."""

    def __init__(self, array: np.ndarray):
        self.array = np.ascontiguousarray(array, dtype=np.uint8)


class _Py2Pickler:
    """Protocol-2 opcodes as Python 2's cPickle emitted them (memo puts, batches of 1000)."""

    BATCH = 1000

    def __init__(self):
        self.out = bytearray(b"\x80\x02")  # PROTO 2
        self.memo = 1  # cPickle's first memo id

    def put(self) -> None:
        self.out += (b"q" + bytes([self.memo]) if self.memo < 256
                     else b"r" + self.memo.to_bytes(4, "little"))
        self.memo += 1

    def global_(self, module: str, name: str) -> None:
        self.out += f"c{module}\n{name}\n".encode()
        self.put()

    def save(self, obj) -> None:
        out = self.out
        if obj is None:
            out += b"N"
        elif isinstance(obj, bool):
            out += b"\x88" if obj else b"\x89"
        elif isinstance(obj, int):
            if 0 <= obj < 256:
                out += b"K" + bytes([obj])
            elif 0 <= obj < 65536:
                out += b"M" + obj.to_bytes(2, "little")
            else:
                out += b"J" + obj.to_bytes(4, "little", signed=True)
        elif isinstance(obj, bytes):  # a Python 2 str
            out += (b"U" + bytes([len(obj)]) if len(obj) < 256
                    else b"T" + len(obj).to_bytes(4, "little")) + obj
            self.put()
        elif isinstance(obj, tuple):
            if 1 <= len(obj) <= 3:
                for item in obj:
                    self.save(item)
                out += {1: b"\x85", 2: b"\x86", 3: b"\x87"}[len(obj)]
            else:
                out += b"("
                for item in obj:
                    self.save(item)
                out += b"t"
            self.put()
        elif isinstance(obj, list):
            out += b"]"
            self.put()
            for i in range(0, len(obj), self.BATCH):
                out += b"("
                for item in obj[i:i + self.BATCH]:
                    self.save(item)
                out += b"e"
        elif isinstance(obj, dict):
            out += b"}"
            self.put()
            items = list(obj.items())
            for i in range(0, len(items), self.BATCH):
                out += b"("
                for key, value in items[i:i + self.BATCH]:
                    self.save(key)
                    self.save(value)
                out += b"u"
        elif isinstance(obj, _Py2Array):
            self.save_array(obj.array)
        else:
            raise TypeError(f"no Python 2 form for {type(obj).__name__}")

    def save_array(self, array: np.ndarray) -> None:
        """numpy 1.x: _reconstruct(ndarray, (0,), 'b') then BUILD with (version, shape, dtype,
        is_fortran, raw bytes); the dtype itself is dtype('u1', 0, 1) then BUILD with its
        state tuple (version 3, byte order '|', ...)."""
        self.global_("numpy.core.multiarray", "_reconstruct")
        self.global_("numpy", "ndarray")
        self.save((0,))
        self.save(b"b")
        self.out += b"\x87R"  # TUPLE3, REDUCE
        self.put()
        self.out += b"("
        self.save(1)
        self.save(tuple(array.shape))
        self.global_("numpy", "dtype")
        self.save(b"u1")
        self.save(0)
        self.save(1)
        self.out += b"\x87R"
        self.put()
        self.save((3, b"|", None, None, None, -1, -1, 0))
        self.out += b"b"  # BUILD (the dtype's state)
        self.save(False)  # not Fortran-ordered
        self.save(array.tobytes())
        self.out += b"tb"  # TUPLE, BUILD (the array's state)


def py2_pickle(obj) -> bytes:
    """`obj` (dicts, lists, tuples, bytes as Python 2 str, ints, None, bools, _Py2Array) as
    cPickle.dumps(obj, 2) under Python 2 with numpy 1.x."""
    pickler = _Py2Pickler()
    pickler.save(obj)
    return bytes(pickler.out + b".")


def official_batches(images_by_split: dict[str, tuple[np.ndarray, list[int]]]) -> dict[str, bytes]:
    """The bytes of every cifar-10-batches-py member, in the official format.

    `images_by_split` maps "train" and "test" to (uint8 Nx32x32x3 as PIL decodes, labels in
    official order); rows are stored as the official batches store them, 1024 red, then 1024
    green, then 1024 blue values; training images are spread over data_batch_1..5 in order.
    """
    blobs = {META: py2_pickle({b"num_cases_per_batch": 10000,
                               b"label_names": [n.encode() for n in CIFAR10_CLASSES],
                               b"num_vis": 3 * SIDE * SIDE})}
    train_images, train_labels = images_by_split["train"]
    parts = np.array_split(np.arange(len(train_labels)), len(TRAIN_BATCHES))
    batches = [(name, f"training batch {i + 1} of 5", train_images[idx],
                [train_labels[j] for j in idx]) for i, (name, idx) in
               enumerate(zip(TRAIN_BATCHES, parts, strict=True))]
    test_images, test_labels = images_by_split["test"]
    batches.append((TEST_BATCH, "testing batch 1 of 1", test_images, list(test_labels)))
    for name, batch_label, images, labels in batches:
        rows = images.transpose(0, 3, 1, 2).reshape(len(labels), 3 * SIDE * SIDE)
        blobs[name] = py2_pickle({
            b"data": _Py2Array(rows), b"labels": [int(x) for x in labels],
            b"batch_label": batch_label.encode(),
            b"filenames": [f"{name}_{j:05d}.png".encode() for j in range(len(labels))]})
    return blobs


def make_official_tarball(blobs: dict[str, bytes], tar_path: Path) -> None:
    """Pack `official_batches` like cifar-10-python.tar.gz: a cifar-10-batches-py/ folder entry,
    its members and the readme.html the reader must skip."""
    with tarfile.open(tar_path, "w:gz") as tar:
        folder = tarfile.TarInfo(PYTHON_DIR)
        folder.type, folder.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(folder)
        members = {**blobs, "readme.html": b"<meta HTTP-EQUIV=\"REFRESH\" content=\"0\">\n"}
        for name, blob in members.items():
            info = tarfile.TarInfo(f"{PYTHON_DIR}/{name}")
            info.size, info.mode = len(blob), 0o644
            tar.addfile(info, io.BytesIO(blob))
