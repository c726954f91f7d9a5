"""A stand-in for the network on one machine: a data copy served over HTTP the way the pipeline's
downloads find it on the internet, and a command run against it with no data variables set.

    python -m tests.helpers.mirror DATA -- make test

The server holds DATA's raw files and the book's checkpoint at their download paths, and a
CIFAR-10 archive in the official format rebuilt from DATA's image tree (the official archive is
not part of the data copy); `DLWPT_TEST_DATA_CONFIG` points the test-data fetch at them with the
rebuilt archive's checksum. `make test` in a checkout with no data beside it then fetches and
converts them exactly as it would the real files. CI runs the whole suite this way.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from dlwpt.ingest.cifar import CIFAR10_CLASSES
from tests.helpers.cifar10 import make_official_tarball, official_batches
from tests.helpers.data import CIFAR_TREE
from tests.helpers.fetch_data import REFERENCE
from tests.helpers.http_server import DataServer

ARCHIVE = "cifar-10-python.tar.gz"
# Left out of the environment: the data variables, and what an enclosing `make` passes on to a
# make it starts (its command-line variables, DATA= among them).
UNSET = ("DLWPT_DATA", "DLWPT_CIFAR10", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in UNSET}


def rebuilt_archive(tree: Path, archive: Path) -> str:
    """`tree/{train,test}/<class>/NNNN.jpg` as an official-format archive, class after class in
    file order (the order the conversion numbers them back in); its md5 checksum."""
    splits = {}
    for split in ("train", "test"):
        pixels, labels = [], []
        for label, name in enumerate(CIFAR10_CLASSES):
            for path in sorted((tree / split / name).glob("*.jpg")):
                pixels.append(np.asarray(Image.open(path).convert("RGB")))
                labels.append(label)
        splits[split] = (np.stack(pixels), labels)
    make_official_tarball(official_batches(splits), archive)
    return "md5:" + hashlib.md5(archive.read_bytes()).hexdigest()


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m tests.helpers.mirror DATA -- COMMAND...", file=sys.stderr)
        return 2
    data = Path(argv[0]).resolve()
    with tempfile.TemporaryDirectory(prefix="dlwpt-mirror-") as scratch:
        archive = Path(scratch) / ARCHIVE
        checksum = rebuilt_archive(data / CIFAR_TREE, archive)
        extra = {REFERENCE[0]: data / REFERENCE[1], ARCHIVE: archive}
        with DataServer(data, extra) as server:
            config = Path(scratch) / "download.yaml"
            config.write_text(yaml.safe_dump({"data": {"download": {
                "base_url": f"{server.url}/ok", "cifar10_url": f"{server.url}/ok/{ARCHIVE}",
                "cifar10_checksum": checksum}}}))
            return subprocess.run(argv[2:], env={**clean_env(),
                                                 "DLWPT_TEST_DATA_CONFIG": str(config)}
                                  ).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
