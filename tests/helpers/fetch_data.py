"""`make test-data`: the data the tests read, found where it is or fetched into `.cache/test-data/`.

Found: `DLWPT_DATA` (a folder holding `p1ch4/`), else `../shared/data`. Otherwise fetched with the
pipeline's own downloader (`dlwpt.download.fetch`) against pinned checksums: the book's raw
files (`dlwpt/manifest.json`), its chapter 8 checkpoint (`REFERENCE`), and CIFAR-10's official
archive (`data.download` in config.yaml), converted to the image tree the tests read:
`cifar10-jpeg/{train,test}/<class>/NNNN.jpg`, in archive order, encoded with PIL's default JPEG
settings (quality 75, 4:2:0), the settings of the shared copy's files. Each piece is fetched
once; a second run fetches nothing. `DLWPT_TEST_DATA_CONFIG` names a YAML file merged over
config.yaml's `data.download` (another server, another archive and its checksum).
Offline with nothing found: one line naming the folder and the two variables, exit 1.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from dlwpt import sources
from dlwpt.download import fetch, reachable
from dlwpt.io import DataError
from tests.helpers.data import CACHE_DATA, CIFAR10, CIFAR_TREE, DATA, REPO

# The book's published chapter 8 Net (data/p1ch6 of its code repository), saved where tests read it.
REFERENCE = ("p1ch6/birds_vs_airplanes.pt", "reference/birds_vs_airplanes.pt",
             "sha256:82bbc255589220d8d9e37981be4149707ed9b7dab44ad045e2a8357475dd1eae")


def settings() -> dict[str, str]:
    """config.yaml's `data.download`, with `DLWPT_TEST_DATA_CONFIG`'s merged over it."""
    download = yaml.safe_load((REPO / "config.yaml").read_text())["data"]["download"]
    extra = os.environ.get("DLWPT_TEST_DATA_CONFIG")
    if extra:
        download.update(((yaml.safe_load(Path(extra).read_text()) or {}).get("data") or {})
                        .get("download") or {})
    return download


def missing(root: Path) -> list[str]:
    """What of the test data `root` lacks: raw files, the checkpoint, the CIFAR-10 tree (unless
    DLWPT_CIFAR10 names one elsewhere)."""
    lacking = [rel for rel in sources.manifest() if not (root / rel).is_file()]
    lacking += [REFERENCE[1]] if not (root / REFERENCE[1]).is_file() else []
    return lacking + ([CIFAR_TREE] if not CIFAR10.is_dir() else [])


def convert_cifar10(archive: Path, tree: Path) -> None:
    """The official archive as `tree/{train,test}/<class>/NNNN.jpg`, written beside and renamed."""
    from PIL import Image

    from dlwpt.ingest.cifar import CIFAR10_CLASSES, read_cifar10

    splits, _, _ = read_cifar10(archive)
    partial = tree.with_name(tree.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    for split, (images, labels) in splits.items():
        counts = dict.fromkeys(CIFAR10_CLASSES, 0)
        for image, label in zip(images.permute(0, 2, 3, 1).numpy(), labels.tolist(),
                                strict=True):
            name = CIFAR10_CLASSES[label]
            folder = partial / split / name
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(folder / f"{counts[name]:04d}.jpg", "JPEG")
            counts[name] += 1
    partial.rename(tree)


def fetch_all(root: Path, download: dict[str, str]) -> None:
    manifest = sources.manifest()
    base = download["base_url"]
    for rel in missing(root):
        if rel == CIFAR_TREE:
            archive = root / "cifar-10-python.tar.gz"
            fetch(download["cifar10_url"], archive, download["cifar10_checksum"])
            convert_cifar10(archive, root / CIFAR_TREE)
            archive.unlink()
        elif rel == REFERENCE[1]:
            fetch(sources.download_url(base, REFERENCE[0]), root / rel, REFERENCE[2])
        else:
            fetch(sources.download_url(base, rel), root / rel, manifest[rel])


def main() -> int:
    if DATA != CACHE_DATA.resolve():  # DLWPT_DATA, or ../shared/data
        if (DATA / "p1ch4").is_dir():
            return 0
        print(f"test data: {DATA} holds no p1ch4/: set DLWPT_DATA to the folder holding p1ch4/",
              file=sys.stderr)
        return 1
    if not missing(CACHE_DATA):
        return 0
    download = settings()
    hosts = [url for url in (download["base_url"], download["cifar10_url"]) if not reachable(url)]
    if hosts:
        print(f"test data: none in {CACHE_DATA.relative_to(REPO)}/ or ../shared/data, and no "
              f"network to fetch it ({urlsplit(hosts[0]).netloc} unreachable): set DLWPT_DATA "
              "(a folder holding p1ch4/ and reference/) and DLWPT_CIFAR10 (a CIFAR-10 image "
              "tree), or connect and run `make test-data`", file=sys.stderr)
        return 1
    print(f"test data: fetching into {CACHE_DATA.relative_to(REPO)}/", file=sys.stderr)
    try:
        fetch_all(CACHE_DATA, download)
    except DataError as e:
        print(f"test data: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
