"""Ingest: raw book data -> tensor files + JSON summaries. A job imports only its dataset's module
(its rule's code, `ingest_module`: an edit reruns that dataset only). Raw files are checked against
their pins first: a wine CSV cut at a line boundary still parses, only its digest tells."""

import logging
import os
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import Any

from dlwpt.io import DataError, file_digest, read_json, write_json

INGESTERS = {  # dataset -> (module, function)
    "image_dog": ("images", "ingest_image"), "image_cats": ("images", "ingest_image_batch"),
    "ct": ("ct", "ingest_ct"), "wine": ("wine", "ingest_wine"), "bikes": ("bikes", "ingest_bikes"),
    "text": ("text", "ingest_text"), "cifar2": ("cifar", "ingest_cifar"),
}


def ingest_module(name: str) -> str:
    return f"{__name__}.{INGESTERS[name][0]}"


def ingester(name: str) -> Callable[..., None]:
    return getattr(import_module(ingest_module(name)), INGESTERS[name][1])


def verify_raw_files(files: list[str | os.PathLike], root: str | os.PathLike,
                     pinned: dict[str, str], enforce: bool = True) -> list[dict[str, str | None]]:
    """Every file of `files` (below `root`) changed, missing or not in `pinned` (relative path ->
    "sha256:<hex>"); with `enforce`, a DataError naming the first."""
    root = Path(root)
    present = {Path(f).relative_to(root).as_posix() for f in files}
    differences = []
    for rel in [*sorted(pinned), *sorted(present - pinned.keys())]:
        path, expected = root / rel, pinned.get(rel)
        actual = "sha256:" + file_digest(path) if rel in present and path.exists() else "missing"
        if actual != expected:
            differences.append({"path": str(path), "expected": expected, "actual": actual})
    if enforce and differences:
        first = differences[0]
        if first["actual"] == "missing":
            problem = f"missing (pinned {first['expected']})"
        elif first["expected"] is None:
            problem = (f"not one of the book's files ({first['actual']}); remove it or set "
                       "data.verify: false")
        else:
            problem = (f"{first['actual']} does not match the pinned {first['expected']}; set "
                       "data.verify: false to accept a different file")
        more = f" ({len(differences) - 1} more files differ)" if len(differences) > 1 else ""
        raise DataError(first["path"], problem + more)
    return differences


# Many parameters: the job's inputs, outputs and params as rules/ingest.smk names them.
def run_ingest(dataset: str, raw_files: list[str], out_pt: str | os.PathLike,
               out_json: str | os.PathLike, options: dict[str, Any], *, pinned: dict[str, str],
               raw_root: str | os.PathLike, verify: bool = True,
               record: dict[str, Any] | None = None, log: logging.Logger | None = None) -> None:
    """One ingest job: the raw files against their pins (with `verify` off a difference is
    recorded, not refused), then the dataset's function; `record` adds keys to the summary."""
    log = log or logging.getLogger("dlwpt")
    differences = verify_raw_files(raw_files, raw_root, pinned, enforce=verify) if pinned else []
    for difference in differences:
        log.warning("accepted (data.verify: false): %s is %s, pinned %s", difference["path"],
                    difference["actual"], difference["expected"])
    # A function that reads several files (an image batch, a DICOM series) also takes one.
    raw = raw_files[0] if len(raw_files) == 1 else raw_files
    ingester(dataset)(raw, out_pt, out_json, **options)
    extra = {**(record or {}), **({"raw_differences": differences} if pinned else {})}
    if extra:
        write_json(out_json, {**read_json(out_json), **extra})
