"""Raw files against the SHA-256 pinned in manifest.json, before an ingest step reads them.

A wine CSV cut at a line boundary or a CT series without its last slice still parses; only the
digest tells that it is not the book's data. With `data.verify: false` the differences are
recorded (and shown in the report's provenance) instead of stopping the run.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from dlwpt.io import DataError, file_digest

MISSING = "missing"


def _describe(difference: dict[str, str | None]) -> str:
    if difference["actual"] == MISSING:
        return f"missing (pinned {difference['expected']})"
    if difference["expected"] is None:
        return (f"not one of the book's files ({difference['actual']}); "
                "remove it or set data.verify: false")
    return (f"{difference['actual']} does not match the pinned {difference['expected']}; "
            "set data.verify: false to accept a different file")


def verify_raw_files(files: list[str | os.PathLike], root: str | os.PathLike,
                     pinned: dict[str, str], enforce: bool = True) -> list[dict[str, str | None]]:
    """Compare `files` (below `root`) with `pinned` (path relative to root -> "sha256:<hex>").

    Raise DataError on the first difference when `enforce`; else return them all, each a file
    that is changed, missing or not pinned at all (for the ingest summary, so the report can list
    which files differ).
    """
    root = Path(root)
    present = {Path(f).relative_to(root).as_posix(): Path(f) for f in files}
    differences = []
    for rel, expected in sorted(pinned.items()):
        path = present.get(rel)
        if path is None or not path.exists():
            differences.append({"path": str(root / rel), "expected": expected, "actual": MISSING})
        elif (actual := "sha256:" + file_digest(path)) != expected:
            differences.append({"path": str(path), "expected": expected, "actual": actual})
    for rel in sorted(set(present) - set(pinned)):
        differences.append({"path": str(present[rel]), "expected": None,
                            "actual": "sha256:" + file_digest(present[rel])})
    if enforce and differences:
        first = differences[0]
        more = f" ({len(differences) - 1} more files differ)" if len(differences) > 1 else ""
        raise DataError(first["path"], _describe(first) + more)
    return differences


def tree_survey(root: str | os.PathLike) -> tuple[str, list[str]]:
    """SHA-256 over every visible file's relative name, size and mtime below `root` (a file: its
    own, named "."), and the names it covered (the CIFAR-10 start-up check counts the images).

    Cheap enough for a param computed when the workflow is parsed (about 60,000 stat calls for
    the CIFAR-10 image tree), so a replaced, truncated, added or removed image reruns the ingest
    step, while the same tree reached by another path (relative, absolute, symlink) does not.
    """
    root = Path(root).resolve()
    digest = hashlib.sha256()
    names: list[str] = []

    def add(rel: str, stat: os.stat_result) -> None:
        names.append(rel)
        digest.update(f"{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())

    if root.is_file():
        add(".", root.stat())
        return "sha256:" + digest.hexdigest(), names
    # Symlinked class folders are followed (the readers follow them too); hidden files
    # (.DS_Store, editor droppings), which no reader takes, are not part of the data.
    for folder, dirs, files in os.walk(root, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(n for n in files if not n.startswith(".")):
            path = Path(folder, name)
            add(path.relative_to(root).as_posix(), path.stat())
    return "sha256:" + digest.hexdigest(), names


def content_digest(files: list[str | os.PathLike], root: str | os.PathLike) -> str:
    """SHA-256 over each file's name relative to `root` and its own SHA-256: what a local copy
    holds, whatever its path (about 40 ms for the book's 55 MB of raw files)."""
    digest = hashlib.sha256()
    for path in sorted(Path(f) for f in files):
        digest.update(f"{path.relative_to(root).as_posix()}\0{file_digest(path)}\n".encode())
    return "sha256:" + digest.hexdigest()
