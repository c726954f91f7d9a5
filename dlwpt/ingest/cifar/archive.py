"""Reader for the official `cifar-10-python.tar.gz`, member by member without extracting; the
batches go through the restricted unpickler of `batches`."""

from __future__ import annotations

import tarfile
import zlib
from pathlib import Path

from dlwpt.cifar10 import python_members
from dlwpt.ingest.cifar.batches import parse_python_batches
from dlwpt.ingest.cifar.layout import PYTHON_DIR, PYTHON_MEMBERS, Splits
from dlwpt.ingest.common import one_line
from dlwpt.io import DataError, file_digest


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
