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
    "image_dog": ("images", "ingest_image"),
    "image_cats": ("images", "ingest_image_batch"),
    "ct": ("ct", "ingest_ct"),
    "wine": ("wine", "ingest_wine"),
    "bikes": ("bikes", "ingest_bikes"),
    "text": ("text", "ingest_text"),
    "cifar2": ("cifar", "ingest_cifar"),
}


def ingest_module(name: str) -> str:
    """The dotted name of the module holding a dataset's ingest function."""
    return f"{__name__}.{INGESTERS[name][0]}"


def ingester(name: str) -> Callable[..., None]:
    return getattr(import_module(ingest_module(name)), INGESTERS[name][1])


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
    # A function that reads several files (an image batch, a DICOM series) also takes one.
    raw = raw_files[0] if len(raw_files) == 1 else raw_files
    ingester(dataset)(raw, out_pt, out_json, **options)
    extra = {**(record or {}), **({"raw_differences": differences} if pinned else {})}
    if extra:
        write_json(out_json, {**read_json(out_json), **extra})
