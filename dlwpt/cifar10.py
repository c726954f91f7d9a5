"""CIFAR-10's layout, and the check of a copy made when the workflow is parsed (torch-free: the
Snakefile imports it). `check_source` refuses, before any job runs, a copy the cifar2 ingest
would refuse, so Snakemake never deletes a good `results/data/cifar2.pt` for a doomed job.
"""

from __future__ import annotations

import contextlib
import os
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from dlwpt.io import DiskFullError, read_json, write_json

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")
SIDE = 32
PYTHON_DIR = "cifar-10-batches-py"
META = "batches.meta"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
PYTHON_MEMBERS = (META, *TRAIN_BATCHES, TEST_BATCH)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
TREE_SPLITS = ("train", "test")
# Every batch is a pickled dict: its last two bytes are SETITEMS and STOP (Python 2's cPickle
# and Python 3's pickle alike), so a batch cut short almost never ends with them.
PICKLE_END = b"u."


def check_source(source: Path, names: list[str] | None = None, samples_per_class: int = 0,
                 checked: Path | None = None) -> str | None:
    """What is wrong with the CIFAR-10 copy at `source` (one phrase), or None.

    `names`: the files below a folder source, relative (the fingerprint's walk: the image
    tree is counted from it, not walked again). `samples_per_class`: the training images the
    ingest keeps per class for the report, so a class folder needs at least that many.
    `checked`: a small JSON file remembering the archives found complete (by path, size, mtime
    and inode), so an archive is decompressed once, not at every plan; None: always check.
    """
    if source.is_file():
        return _archive_problem(source, checked)
    batches = source / PYTHON_DIR if (source / PYTHON_DIR).is_dir() else source
    if any((batches / name).exists() for name in PYTHON_MEMBERS):
        return _batches_problem(batches)
    return _tree_problem(source, names, samples_per_class)


def _tree_problem(root: Path, names: list[str] | None, samples_per_class: int) -> str | None:
    present = [s for s in TREE_SPLITS if (root / s).is_dir()]
    if not present:
        return (f"not a CIFAR-10 copy: no {' and '.join(s + '/' for s in TREE_SPLITS)} image "
                f"folders, no {PYTHON_DIR}/ batches, no .tar.gz archive")
    if len(present) < len(TREE_SPLITS):
        missing = next(s for s in TREE_SPLITS if s not in present)
        return f"incomplete CIFAR-10 image tree: {missing}/ missing (only {present[0]}/)"
    for split in TREE_SPLITS:
        unknown = sorted(e.name for e in os.scandir(root / split) if e.is_dir()
                         and not e.name.startswith(".") and e.name not in CIFAR10_CLASSES)
        if unknown:
            return f"not CIFAR-10: {split}/{unknown[0]} is not a CIFAR-10 class folder"
    if names is None:
        from dlwpt.verify import tree_survey

        names = tree_survey(root)[1]
    counts = dict.fromkeys(((s, c) for s in TREE_SPLITS for c in CIFAR10_CLASSES), 0)
    for name in names:
        parts = name.split("/")
        if len(parts) == 3 and (parts[0], parts[1]) in counts and \
                PurePosixPath(parts[2]).suffix.lower() in IMAGE_SUFFIXES:
            counts[parts[0], parts[1]] += 1
    empty = [f"{s}/{c}" for (s, c), n in counts.items() if n == 0]
    if empty:
        more = f" (and {len(empty) - 1} more)" if len(empty) > 1 else ""
        return f"incomplete CIFAR-10 image tree: {empty[0]}/ has no .png/.jpg images{more}"
    few = [(c, n) for (s, c), n in counts.items() if s == "train" and n < samples_per_class]
    if few:
        return (f"train/{few[0][0]}/ holds {few[0][1]} images, fewer than "
                f"ingest.cifar2.samples_per_class ({samples_per_class})")
    return None


def _batches_problem(folder: Path) -> str | None:
    for name in PYTHON_MEMBERS:
        path = folder / name
        if not path.is_file():
            return f"incomplete CIFAR-10 python batches: {path.name} missing in {folder}"
        size = path.stat().st_size
        with open(path, "rb") as f:
            f.seek(max(size - len(PICKLE_END), 0))
            if f.read() != PICKLE_END:
                return f"{path.name} in {folder} is truncated or not a CIFAR-10 python batch"
    return None


def _archive_problem(archive: Path, checked: Path | None) -> str | None:
    stat = archive.stat()
    key = f"{archive.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\0{stat.st_ino}"
    known = read_json(checked, or_none=True) if checked else None
    known = [k for k in known if isinstance(k, str)] if isinstance(known, list) else []
    if key in known:
        return None
    # Every member is read to its end (a .tar.gz has no index): cut short, the stream ends early.
    found = set()
    try:
        with tarfile.open(archive, "r:*") as tar:
            for name, member in python_members(tar):
                data = tar.extractfile(member)
                data.seek(max(member.size - len(PICKLE_END), 0))
                if data.read() != PICKLE_END:
                    return f"{member.name} in the archive is not a CIFAR-10 python batch"
                found.add(name)
            while tar.fileobj.read(1 << 20):  # a cut after the last member: the rest is short
                pass
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        problem = " ".join(str(e).split()) or type(e).__name__
        return f"unreadable or truncated archive ({problem})"
    missing = [name for name in PYTHON_MEMBERS if name not in found]
    if missing:
        return f"not a CIFAR-10 python archive: no {PYTHON_DIR}/{missing[0]}"
    if checked is not None:
        with contextlib.suppress(OSError, DiskFullError):  # unwritable: the next plan checks again
            write_json(checked, [*known, key][-16:])
    return None


def python_members(tar: tarfile.TarFile) -> Iterator[tuple[str, tarfile.TarInfo]]:
    """The python batches of an archive, as (file name, member), in archive order: the files
    named PYTHON_MEMBERS in a PYTHON_DIR folder, wherever that folder sits."""
    for member in tar:
        path = PurePosixPath(member.name)
        if member.isfile() and path.parent.name == PYTHON_DIR and path.name in PYTHON_MEMBERS:
            yield path.name, member
