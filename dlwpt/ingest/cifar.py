"""Chapter 7: CIFAR-10 -> the book's normalized birds-vs-airplanes subset ("cifar2").

Three inputs give identical tensors: an image-folder tree `{train,test}/<class>/*.{png,jpg}`,
the official python batches (a folder, or one holding `cifar-10-batches-py/`), and the official
`cifar-10-python.tar.gz`, read member by member without extracting. Normalization statistics
come from the whole training split (all ten classes), as in the book, unless configured.
"""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import os
import pickle
import tarfile
import zlib
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from PIL import Image

from dlwpt.ingest.common import PathLike, one_line, write_outputs
from dlwpt.io import DataError, file_digest

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")
DEFAULT_CLASSES = {"airplane": 0, "bird": 1}
SIDE = 32
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
TREE_SPLITS = ("train", "test")
PYTHON_DIR = "cifar-10-batches-py"
META = "batches.meta"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
PYTHON_MEMBERS = (META, *TRAIN_BATCHES, TEST_BATCH)
# Below this many files a process pool costs more than it saves (tests build tiny trees).
PARALLEL_MIN_FILES = 2000
CHUNK_FILES = 500
MAX_WORKERS = 8

Splits = dict[str, tuple[torch.Tensor, torch.Tensor]]  # split -> (uint8 Nx3x32x32, int64 N)


# --- image-folder tree --------------------------------------------------------------------

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


def _worker_count() -> int:
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(available or 1, MAX_WORKERS)


def decode_images(paths: Sequence[Path]) -> np.ndarray:
    """All images as Nx32x32x3 uint8, decoded by a process pool on large inputs.

    Threads do not help: PIL holds the GIL for most of a 32x32 decode. Workers are forked
    (not spawned) so a Snakemake script is not re-imported by each of them.
    """
    chunks = [[str(p) for p in paths[i:i + CHUNK_FILES]]
              for i in range(0, len(paths), CHUNK_FILES)]
    workers = _worker_count()
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


def _tree_digest(root: Path, files: list[Path]) -> str:
    """SHA-256 of the (relative path, size) manifest: detects changes without reading 60k files."""
    h = hashlib.sha256()
    for path in sorted(files):
        h.update(f"{path.relative_to(root).as_posix()}\t{path.stat().st_size}\n".encode())
    return h.hexdigest()


def _read_tree(root: Path) -> tuple[Splits, list[dict]]:
    found = _tree_files(root)
    all_files = [p for files, _ in found.values() for p in files]
    pixels = torch.from_numpy(decode_images(all_files)).permute(0, 3, 1, 2).contiguous()
    splits, start = {}, 0
    for split, (files, labels) in found.items():
        splits[split] = (pixels[start:start + len(files)],
                         torch.tensor(labels, dtype=torch.int64))
        start += len(files)
    return splits, [{"path": str(root), "sha256": _tree_digest(root, all_files)}]


# --- official python batches ----------------------------------------------------------------

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


def _parse_python_batches(blobs: Mapping[str, bytes], where: Mapping[str, str]) -> Splits:
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


def _read_python_folder(folder: Path) -> tuple[Splits, list[dict]]:
    paths = {name: folder / name for name in PYTHON_MEMBERS}
    for path in paths.values():
        if not path.is_file():
            raise DataError(path, "CIFAR-10 batch file missing")
    blobs = {name: path.read_bytes() for name, path in paths.items()}
    splits = _parse_python_batches(blobs, {name: str(p) for name, p in paths.items()})
    return splits, [{"path": str(p), "sha256": file_digest(p)} for p in paths.values()]


def _read_python_tarball(tar_path: Path) -> tuple[Splits, list[dict]]:
    blobs = {}
    try:
        with tarfile.open(tar_path, "r:*") as tar:
            for member in tar:
                path = PurePosixPath(member.name)
                if member.isfile() and path.parent.name == PYTHON_DIR and \
                        path.name in PYTHON_MEMBERS:
                    blobs[path.name] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise DataError(tar_path, f"unreadable archive ({one_line(e)})") from e
    missing = [name for name in PYTHON_MEMBERS if name not in blobs]
    if missing:
        raise DataError(tar_path, f"archive lacks {PYTHON_DIR}/{missing[0]}")
    where = {name: f"{tar_path}:{PYTHON_DIR}/{name}" for name in PYTHON_MEMBERS}
    splits = _parse_python_batches(blobs, where)
    return splits, [{"path": str(tar_path), "sha256": file_digest(tar_path)}]


def read_cifar10(src: PathLike) -> tuple[Splits, list[dict], str]:
    """The train and test splits (uint8 images, labels in official class order), the summary's
    source entries, and the source format."""
    src = Path(src)
    if src.is_file():
        return *_read_python_tarball(src), "python_tarball"
    if not src.is_dir():
        raise DataError(src, "no such file or folder")
    if (src / PYTHON_DIR).is_dir():
        src = src / PYTHON_DIR
    if any((src / name).exists() for name in PYTHON_MEMBERS):
        return *_read_python_folder(src), "python_folder"
    return *_read_tree(src), "image_tree"


def write_python_batches(images_by_split: dict[str, tuple[torch.Tensor, list[int]]],
                         folder: Path) -> None:
    """Write CIFAR-10's official python format (for tests and the download stage's fixtures).

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


# --- the book's subset ----------------------------------------------------------------------

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
    """ToTensor (uint8 -> float / 255) then Normalize, batched."""
    return (images.float() / 255 - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)


def ingest_cifar(src: PathLike, out_pt: PathLike, out_json: PathLike,
                 classes: Mapping[str, int] | None = None,
                 mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                 samples_per_class: int = 8) -> None:
    """`train_images`/`val_images` (normalized float32) and `train_labels`/`val_labels` (int64,
    relabelled by `classes`, default {"airplane": 0, "bird": 1}) in source order; `mean`/`std`;
    `samples` 10xKx3x32x32 uint8 raw training images of every class (K = samples_per_class)."""
    classes = dict(DEFAULT_CLASSES if classes is None else classes)
    unknown = [name for name in classes if name not in CIFAR10_CLASSES]
    if unknown:
        raise ValueError(f"classes: {unknown[0]!r} is not a CIFAR-10 class")
    if any(label < 0 for label in classes.values()):
        raise ValueError("classes: labels must be >= 0")
    if (mean is None) != (std is None):
        raise ValueError("give both mean and std, or neither")

    splits, source_entries, source_format = read_cifar10(src)
    train_images, train_labels = splits["train"]
    if mean is None:
        mean_t, std_t = channel_stats(train_images)
        normalization = "computed"
    else:
        mean_t = torch.tensor(mean, dtype=torch.float32)
        std_t = torch.tensor(std, dtype=torch.float32)
        if mean_t.shape != (3,) or std_t.shape != (3,) or not (std_t > 0).all():
            raise ValueError("mean and std need 3 values each, std positive")
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
