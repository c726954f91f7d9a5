"""CIFAR-10 in the official archive's own byte format (Python 2 pickles written with numpy 1.x),
read from the archive, from its unpacked folder, and downloaded against its md5 pin."""

from __future__ import annotations

import hashlib
import io
import pickle
import pickletools
import tarfile

import numpy as np
import pytest
import torch

from dlwpt.cifar10 import META, PYTHON_DIR, PYTHON_MEMBERS
from dlwpt.download import fetch, parse_checksum
from dlwpt.ingest.cifar import CIFAR10_CLASSES, ingest_cifar, read_cifar10
from dlwpt.io import DataError, file_digest
from tests.helpers.cifar10 import make_official_tarball, official_batches
from tests.helpers.config import default_config
from tests.helpers.data import CIFAR10
from tests.helpers.http_server import DataServer
from tests.helpers.ingest import ingested, pil_pixels

N_TRAIN, N_TEST = 2, 1  # images per class: 20 training images, 4 per data batch


def _files(split: str, n: int):
    return [(CIFAR10 / split / name / f"{i:04d}.jpg", label)
            for label, name in enumerate(CIFAR10_CLASSES) for i in range(n)]


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    """The archive, its blobs, and an image tree of the same JPEGs (links to the shared tree)."""
    root = tmp_path_factory.mktemp("official")
    images_by_split = {}
    for split, n in (("train", N_TRAIN), ("test", N_TEST)):
        files = _files(split, n)
        images_by_split[split] = (np.stack([pil_pixels(path) for path, _ in files]),
                                  [label for _, label in files])
        for path, _ in files:
            link = root / "tree" / split / path.parent.name / path.name
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(path)
    blobs = official_batches(images_by_split)
    tarball = root / "cifar-10-python.tar.gz"
    make_official_tarball(blobs, tarball)
    return tarball, blobs, root / "tree"


def test_fixture_is_in_the_official_byte_format(official):
    """Guards the fixture: were it written with numpy 2 names, the remapping would not run."""
    _, blobs, _ = official
    for name in PYTHON_MEMBERS:
        ops = list(pickletools.genops(blobs[name]))
        assert ops[0][0].name == "PROTO" and ops[0][1] == 2
        globals_ = [arg for op, arg, _ in ops if op.name == "GLOBAL"]
        assert not any("numpy._core" in g for g in globals_)
        if name == META:
            assert globals_ == []
            continue
        assert globals_ == ["numpy.core.multiarray _reconstruct", "numpy ndarray", "numpy dtype"]
        # Python 2 str (loaded as bytes), never Python 3 unicode, for keys and strings
        assert not any(op.name in {"BINUNICODE", "SHORT_BINUNICODE"} for op, _, _ in ops)
        keys = {arg for op, arg, _ in ops if op.name == "SHORT_BINSTRING"}
        assert {"data", "labels", "batch_label", "filenames"} <= keys
    listing = io.StringIO()
    pickletools.dis(blobs["data_batch_1"], out=listing)
    assert "GLOBAL     'numpy.core.multiarray _reconstruct'" in listing.getvalue()
    # numpy 2 still unpickles numpy 1 names: an independent decoding of the written stream
    batch = pickle.loads(blobs["data_batch_1"], encoding="bytes")
    assert batch[b"data"].dtype == np.uint8 and batch[b"data"].shape == (4, 3072)
    assert batch[b"labels"] == [0, 0, 1, 1] and batch[b"batch_label"] == b"training batch 1 of 5"
    meta = pickle.loads(blobs[META], encoding="bytes")
    assert meta[b"label_names"] == [n.encode() for n in CIFAR10_CLASSES]


def test_official_archive_reads_like_the_tree(official):
    tarball, _, tree = official
    splits, sources, source_format = read_cifar10(tarball)
    tree_splits, _, _ = read_cifar10(tree)
    assert source_format == "python_tarball"
    assert sources == [{"path": str(tarball), "sha256": file_digest(tarball)}]
    for split, n in (("train", N_TRAIN), ("test", N_TEST)):
        images, labels = splits[split]
        assert images.dtype == torch.uint8 and images.shape == (10 * n, 3, 32, 32)
        assert labels.dtype == torch.int64
        assert labels.tolist() == [label for label in range(10) for _ in range(n)]
        assert torch.equal(images, tree_splits[split][0])
        assert torch.equal(labels, tree_splits[split][1])
    # known pixels, straight from PIL: data_batch_3's first row is train/bird/0000.jpg (index 4)
    expected = torch.from_numpy(pil_pixels(CIFAR10 / "train/bird/0000.jpg")).permute(2, 0, 1)
    assert torch.equal(splits["train"][0][4], expected)
    assert splits["train"][1][4].item() == CIFAR10_CLASSES.index("bird")


def test_official_archive_and_folder_ingest_like_the_tree(official, tmp_path):
    tarball, _, tree = official
    with tarfile.open(tarball) as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    folder = tmp_path / "unpacked" / PYTHON_DIR
    classes = {"cat": 0, "ship": 1, "airplane": 2}
    want, want_summary = ingested(tmp_path / "tree", _ingest, tree, classes=classes)
    assert want_summary["source_format"] == "image_tree"
    for src, source_format in [(tarball, "python_tarball"), (folder, "python_folder"),
                               (folder.parent, "python_folder")]:
        got, summary = ingested(tmp_path / source_format / src.name, _ingest, src,
                                classes=classes)
        assert summary["source_format"] == source_format
        assert summary["source_classes"] == list(CIFAR10_CLASSES)
        assert summary["counts"] == {"train": dict.fromkeys(classes, N_TRAIN),
                                     "val": dict.fromkeys(classes, N_TEST)}
        assert summary["source_counts"]["test"] == dict.fromkeys(CIFAR10_CLASSES, N_TEST)
        assert got.keys() == want.keys()
        for key in want:
            assert torch.equal(got[key], want[key]), (src, key)
    # source order (official class order), relabelled: airplane=2, cat=0, ship=1
    assert got["train_labels"].tolist() == [2, 2, 0, 0, 1, 1]
    assert got["samples"].shape == (10, 2, 3, 32, 32)


def _ingest(src, out_pt, out_json, **options):
    ingest_cifar(src, out_pt, out_json, samples_per_class=N_TRAIN, **options)


@pytest.fixture()
def server(data_dir, official):
    with DataServer(data_dir, extra={"cifar-10-python.tar.gz": official[0]}) as s:
        yield s


def test_the_pinned_archive_checksum_is_the_published_md5():
    """The md5 the CIFAR-10 page (www.cs.toronto.edu/~kriz/cifar.html) publishes for
    cifar-10-python.tar.gz, which torchvision's CIFAR10 also pins."""
    download = default_config()["data"]["download"]
    assert download["cifar10_url"] == "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    assert parse_checksum(download["cifar10_checksum"]) == (
        "md5", "c58f30108f718f92721af3b95e74349a")


def test_archive_download_checks_its_md5(server, official, tmp_path):
    tarball = official[0]
    md5 = hashlib.md5(tarball.read_bytes()).hexdigest()
    url = f"{server.url}/ok/cifar-10-python.tar.gz"
    for checksum in (f"md5:{md5}", f"md5:{md5.upper()}"):  # the schema allows either case
        dest = tmp_path / checksum[:6] / "cifar-10-python.tar.gz"
        assert fetch(url, dest, checksum, backoff_s=0) == dest
        assert dest.read_bytes() == tarball.read_bytes()
        assert [p.name for p in dest.parent.iterdir()] == [dest.name]
    assert read_cifar10(dest)[2] == "python_tarball"


def test_archive_with_a_wrong_md5_fails_and_leaves_nothing(server, official, tmp_path):
    md5 = hashlib.md5(official[0].read_bytes()).hexdigest()
    wrong = format(int(md5, 16) ^ 1, "032x")
    url = f"{server.url}/ok/cifar-10-python.tar.gz"
    dest = tmp_path / "cifar-10-python.tar.gz"
    with pytest.raises(DataError) as err:
        fetch(url, dest, f"md5:{wrong}", backoff_s=0)
    assert str(err.value) == (f"{dest}: md5 checksum mismatch for {url}: "
                              f"expected {wrong}, got {md5}")
    assert server.requests["/ok/cifar-10-python.tar.gz"] == 1  # a mismatch is not retried
    assert list(tmp_path.iterdir()) == []
