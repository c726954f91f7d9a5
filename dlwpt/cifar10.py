"""CIFAR-10's layout and a copy's files, read alike by the (torch-free) check when the workflow is
parsed and the cifar2 ingest: a doomed job is refused before Snakemake deletes a good cifar2.pt."""

import contextlib
import hashlib
import os
import tarfile
import zlib
from pathlib import Path, PurePosixPath

from dlwpt.io import DataError, DiskFullError, error_text, read_json, write_json

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


def source_format(source: Path) -> tuple[str, Path]:
    """How a copy is stored (python_tarball, python_folder or image_tree), and what to read: a
    folder holding PYTHON_DIR/ means the batches in it."""
    if source.is_file():
        return "python_tarball", source
    if not source.is_dir():
        raise DataError(source, "no such file or folder")
    batches = source / PYTHON_DIR if (source / PYTHON_DIR).is_dir() else source
    if any((batches / name).exists() for name in PYTHON_MEMBERS):  # then it must hold them all
        return "python_folder", batches
    return "image_tree", source


def check_source(source: Path, names: list[str] | None = None, samples_per_class: int = 0,
                 checked: Path | None = None) -> str | None:
    """What is wrong with the CIFAR-10 copy at `source` (one phrase), or None. `checked`: a JSON
    file of the archives found complete (path, size, mtime, inode), decompressed once only."""
    key = None
    try:
        kind, path = source_format(source)
        if kind == "image_tree":
            tree_images(path, names, samples_per_class)
            return None
        if checked is not None and kind == "python_tarball":  # a folder's batch ends are cheap
            stat = path.stat()
            key = f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\0{stat.st_ino}"
            known = read_json(checked, or_none=True)
            known = [k for k in known if isinstance(k, str)] if isinstance(known, list) else []
            if key in known:
                return None
        blobs, where = python_batches(kind, path, tail=len(PICKLE_END))
    except DataError as e:
        return e.problem
    cut = [name for name, blob in blobs.items() if blob != PICKLE_END]
    if cut:
        return f"{where[cut[0]]} is truncated or not a CIFAR-10 python batch"
    if key is not None:
        with contextlib.suppress(OSError, DiskFullError):  # unwritable: the next plan checks again
            write_json(checked, [*known, key][-16:])
    return None


def tree_images(root: Path, names: list[str] | None = None,
                samples_per_class: int = 0) -> dict[tuple[str, str], list[str]]:
    """Each (split, class) folder's images, in official class order, as names relative to `root`
    sorted by name. `names`: the files below `root` (tree_survey's walk, not walked again)."""
    present = [s for s in TREE_SPLITS if (root / s).is_dir()]
    if not present:
        raise DataError(root, "not a CIFAR-10 copy: no train/ and test/ image folders, no "
                              f"{PYTHON_DIR}/ batches, no .tar.gz archive")
    if len(present) < len(TREE_SPLITS):
        missing = next(s for s in TREE_SPLITS if s not in present)
        raise DataError(root / missing, f"incomplete CIFAR-10 image tree: {missing}/ missing "
                                        f"(only {present[0]}/)")
    for split in TREE_SPLITS:
        unknown = sorted(e.name for e in os.scandir(root / split) if e.is_dir()
                         and not e.name.startswith(".") and e.name not in CIFAR10_CLASSES)
        if unknown:
            raise DataError(root / split / unknown[0], f"not CIFAR-10: {split}/{unknown[0]} is "
                                                       "not a CIFAR-10 class folder")
    if names is None:
        names = tree_survey(root)[1]
    images: dict[tuple[str, str], list[str]] = {(s, c): [] for s in TREE_SPLITS
                                                for c in CIFAR10_CLASSES}
    for name in names:
        parts = name.split("/")
        if len(parts) == 3 and (parts[0], parts[1]) in images and \
                PurePosixPath(parts[2]).suffix.lower() in IMAGE_SUFFIXES:
            images[parts[0], parts[1]].append(name)
    empty = [f"{s}/{c}" for (s, c), found in images.items() if not found]
    if empty:
        more = f" (and {len(empty) - 1} more)" if len(empty) > 1 else ""
        raise DataError(root / empty[0], f"incomplete CIFAR-10 image tree: {empty[0]}/ has no "
                                         f".png/.jpg images{more}")
    few = [c for (s, c), found in images.items() if s == "train" and len(found) < samples_per_class]
    if few:
        raise DataError(root / "train" / few[0], f"train/{few[0]}/ holds "
                        f"{len(images['train', few[0]])} images, fewer than "
                        f"ingest.cifar2.samples_per_class ({samples_per_class})")
    return images


def python_batches(kind: str, path: Path, tail: int = 0) -> tuple[dict[str, bytes], dict[str, str]]:
    """The bytes of each PYTHON_MEMBERS file of a python_folder or python_tarball (with `tail`,
    only its last `tail` bytes), and what names each in messages (a path, or archive:member)."""

    def read(f, size: int) -> bytes:
        f.seek(max(size - tail, 0) if tail else 0)
        return f.read()

    blobs = {}
    if kind == "python_folder":
        for name in PYTHON_MEMBERS:
            if not (path / name).is_file():
                raise DataError(path / name, f"incomplete CIFAR-10 python batches: {name} "
                                             f"missing in {path}")
            with open(path / name, "rb") as f:
                blobs[name] = read(f, (path / name).stat().st_size)
        return blobs, {name: str(path / name) for name in PYTHON_MEMBERS}
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                file = PurePosixPath(member.name)
                if member.isfile() and file.parent.name == PYTHON_DIR and \
                        file.name in PYTHON_MEMBERS:
                    blobs[file.name] = read(tar.extractfile(member), member.size)
            # Every member is read to its end, and then the rest (a .tar.gz has no index): a
            # stream cut short, even after the last member, ends early.
            while tar.fileobj.read(1 << 20):
                pass
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise DataError(path, f"unreadable or truncated archive ({error_text(e)})") from e
    missing = [name for name in PYTHON_MEMBERS if name not in blobs]
    if missing:
        raise DataError(path, f"not a CIFAR-10 python archive: no {PYTHON_DIR}/{missing[0]}")
    return blobs, {name: f"{path}:{PYTHON_DIR}/{name}" for name in PYTHON_MEMBERS}


def tree_survey(root: str | os.PathLike) -> tuple[str, list[str]]:
    """SHA-256 over each visible file's name (a file: its own, "."), size and mtime below `root`,
    and the names: a param cheap at every parse, which a changed image changes, a move does not."""
    root = Path(root).resolve()
    files = {".": root} if root.is_file() else {}
    # Symlinked class folders are followed (the readers follow them too); hidden files
    # (.DS_Store, editor droppings), which no reader takes, are not part of the data.
    for folder, dirs, names in os.walk(root, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(n for n in names if not n.startswith(".")):
            files[Path(folder, name).relative_to(root).as_posix()] = Path(folder, name)
    stats = {rel: path.stat() for rel, path in files.items()}
    text = "".join(f"{rel}\0{s.st_size}\0{s.st_mtime_ns}\n" for rel, s in stats.items())
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest(), list(files)
