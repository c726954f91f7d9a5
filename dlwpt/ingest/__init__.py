"""Ingest: raw book data -> tensor files + JSON summaries (docs/ARCHITECTURE.md, "Ingest outputs").

Modules are imported on demand, so an ingest job imports only its dataset's module; the rule
declares that module as code by name (`ingest_module`), so editing one dataset's module reruns
that dataset only.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from importlib import import_module
from typing import Any

INGESTERS = {
    "image_dog": ("images", "ingest_image", False),
    "image_cats": ("images", "ingest_image_batch", True),
    "ct": ("ct", "ingest_ct", True),
    "wine": ("wine", "ingest_wine", False),
    "bikes": ("bikes", "ingest_bikes", False),
    "text": ("text", "ingest_text", False),
    "cifar2": ("cifar", "ingest_cifar", False),
}


def ingest_module(name: str) -> str:
    """The dotted name of the module holding a dataset's ingest function."""
    return f"{__name__}.{INGESTERS[name][0]}"


def ingester(name: str) -> tuple[Callable[..., None], bool]:
    """A dataset's function, and whether it takes the whole list of raw files (an image batch, a
    DICOM series) rather than one path."""
    _, function, takes_many = INGESTERS[name]
    return getattr(import_module(ingest_module(name)), function), takes_many


# Many parameters: the job's inputs, outputs and params as rules/ingest.smk names them.
def run_ingest(dataset: str, raw_files: list[str], out_pt: str | os.PathLike,
               out_json: str | os.PathLike, options: dict[str, Any], *, pinned: dict[str, str],
               raw_root: str | os.PathLike, verify: bool = True,
               record: dict[str, Any] | None = None, log: logging.Logger | None = None) -> None:
    """One ingest job: the raw files against their pins (a difference stops the job unless
    `verify` is off, when it is recorded), then the dataset's function; `record` adds keys to the
    JSON summary."""
    from dlwpt.io import read_json, write_json
    from dlwpt.verify import verify_raw_files

    log = log or logging.getLogger("dlwpt")
    differences = verify_raw_files(raw_files, raw_root, pinned, enforce=verify) if pinned else []
    for difference in differences:
        log.warning("accepted (data.verify: false): %s is %s, pinned %s", difference["path"],
                    difference["actual"], difference["expected"])
    ingest, takes_many = ingester(dataset)
    ingest(raw_files if takes_many else raw_files[0], out_pt, out_json, **options)
    extra = {**(record or {}), **({"raw_differences": differences} if pinned else {})}
    if extra:
        write_json(out_json, {**read_json(out_json), **extra})
