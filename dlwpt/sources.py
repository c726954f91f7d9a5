"""Where raw data comes from: a local copy in the book's layout, or downloads pinned by
`manifest.json` (the book's repository's `data/p1ch4/...`; CIFAR-10's archive: in config)."""

import hashlib
import json
import os
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from dlwpt.io import file_digest

RESOURCES = Path("resources")
CIFAR_ARCHIVE = RESOURCES / "cifar-10-python.tar.gz"
CT_SERIES = "p1ch4/volumetric-dicom/2-LUNG 3.0  B70f-04083"

# A dataset's manifest paths start with its prefix; in a local copy, the files of a prefix folder
# that match its pattern are taken as they are (raw_files).
DATASET_PREFIXES = {
    "image_dog": ("p1ch4/image-dog/", None),
    "image_cats": ("p1ch4/image-cats/", "*.png"),
    "ct": (CT_SERIES + "/", "*"),
    "wine": ("p1ch4/tabular-wine/winequality-white.csv", None),
    "text": ("p1ch4/jane-austen/1342-0.txt", None),
}


def manifest() -> dict[str, str]:
    """Relative path -> "sha256:<hex>" for every raw file of the book's repository we use."""
    return json.loads(resources.files("dlwpt").joinpath("manifest.json").read_text())


def data_root(config: dict[str, Any]) -> Path | None:
    """The local folder holding `p1ch4/` (env DLWPT_DATA, then config), or None to download.
    Resolved: the same data by another path (relative, symlink) plans no job."""
    value = os.environ.get("DLWPT_DATA") or config["data"].get("local_dir")
    return Path(value).resolve() if value else None


def cifar_source(config: dict[str, Any]) -> Path:
    """The local CIFAR-10 copy (env DLWPT_CIFAR10, then config), else the downloaded archive."""
    value = os.environ.get("DLWPT_CIFAR10") or config["data"].get("cifar10")
    return Path(value).resolve() if value else CIFAR_ARCHIVE  # canonical, as data_root


def cifar_setting(config: dict[str, Any]) -> str | None:
    """The setting that names the local CIFAR-10 copy (None: the downloaded archive)."""
    return ("DLWPT_CIFAR10" if os.environ.get("DLWPT_CIFAR10")
            else "data.cifar10" if config["data"].get("cifar10") else None)


def relative_files(dataset: str, config: dict[str, Any]) -> list[str]:
    """The manifest paths one ingest step reads (bikes: the configured CSV)."""
    if dataset == "bikes":
        return [f"p1ch4/bike-sharing-dataset/{config['ingest']['bikes']['file']}"]
    return sorted(p for p in manifest() if p.startswith(DATASET_PREFIXES[dataset][0]))


def raw_files(dataset: str, config: dict[str, Any]) -> list[Path]:
    """An ingest step's inputs, in the local copy or under resources/. A local image or DICOM
    folder is taken as it is (data.verify refuses an extra or missing file; off, it is ingested)."""
    root = data_root(config)
    prefix, pattern = DATASET_PREFIXES.get(dataset, (None, None))
    found = sorted(p for p in (root / prefix).glob(pattern)
                   if p.is_file() and not p.name.startswith(".")) if root and pattern else []
    return found or [(root or RESOURCES) / r for r in relative_files(dataset, config)]


def missing_local_files(config: dict[str, Any], datasets: list[str]) -> list[Path]:
    """Files a local-copy run needs that are not there (checked before any job starts)."""
    needed = ([p for d in datasets if d != "cifar2" for p in raw_files(d, config)]
              if data_root(config) is not None else [])
    if "cifar2" in datasets and (cifar := cifar_source(config)) != CIFAR_ARCHIVE:
        needed.append(cifar)
    return [p for p in needed if not p.exists()]


def download_url(base_url: str, rel: str) -> str:
    return base_url.rstrip("/") + "/" + quote(rel.removeprefix("/"))


def content_digest(files: list[str | os.PathLike], root: str | os.PathLike) -> str:
    """SHA-256 over each file's name relative to `root` and its own SHA-256: what a local copy
    holds, whatever its path (~40 ms for the book's 55 MB)."""
    text = "".join(f"{path.relative_to(root).as_posix()}\0{file_digest(path)}\n"
                   for path in sorted(map(Path, files)))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
