"""Ingest: raw book data -> tensor files + JSON summaries (docs/ARCHITECTURE.md, "Ingest outputs").

`ingester(name)` returns `(function, takes_many)` for a dataset: `takes_many` says whether the
function takes the rule's whole list of raw files (an image batch, a DICOM series) or one path.
Modules are imported on demand, so an ingest job imports only its dataset's module; the rule
declares that module as code by name (`ingest_module`, no import needed), so editing one dataset's
module reruns that dataset only.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

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
    _, function, takes_many = INGESTERS[name]
    return getattr(import_module(ingest_module(name)), function), takes_many
