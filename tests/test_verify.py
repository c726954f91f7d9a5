"""Raw files against the pinned SHA-256 digests, on the real data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dlwpt import sources
from dlwpt.ingest import verify_raw_files
from dlwpt.io import DataError, file_digest

WINE = "p1ch4/tabular-wine/winequality-white.csv"


def pinned_for(dataset: str) -> dict[str, str]:
    config = {"ingest": {"bikes": {"file": "hour-fixed.csv"}}}
    manifest = sources.manifest()
    return {rel: manifest[rel] for rel in sources.relative_files(dataset, config)}


def linked_copy(data_dir: Path, root: Path, rels: list[str]) -> list[Path]:
    """A copy of the book's layout under `root` made of symlinks (digests follow them)."""
    paths = []
    for rel in rels:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(data_dir / rel)
        paths.append(path)
    return paths


@pytest.mark.parametrize("dataset", ["image_dog", "image_cats", "ct", "wine", "bikes", "text"])
def test_the_shared_copy_is_the_books_data(data_dir, dataset):
    pinned = pinned_for(dataset)
    files = [data_dir / rel for rel in pinned]
    assert verify_raw_files(files, data_dir, pinned) == []


def test_a_wine_csv_cut_at_a_line_boundary_is_refused_naming_both_digests(data_dir, tmp_path):
    cut = tmp_path / WINE
    cut.parent.mkdir(parents=True)
    lines = (data_dir / WINE).read_bytes().splitlines(keepends=True)
    cut.write_bytes(b"".join(lines[:2000]))  # header + 1999 wines: still a valid table
    pinned = pinned_for("wine")
    with pytest.raises(DataError) as caught:
        verify_raw_files([cut], tmp_path, pinned)
    message = str(caught.value)
    assert message.startswith(f"{cut}: sha256:{file_digest(cut)} does not match the pinned ")
    assert pinned[WINE] in message and "data.verify: false" in message
    assert "\n" not in message


def test_a_ct_series_without_its_last_slice_is_refused(data_dir, tmp_path):
    pinned = pinned_for("ct")
    rels = sorted(pinned)
    files = linked_copy(data_dir, tmp_path, rels[:-1])
    with pytest.raises(DataError, match=r"missing \(pinned sha256:[0-9a-f]{64}\)") as caught:
        verify_raw_files(files, tmp_path, pinned)
    assert caught.value.path == str(tmp_path / rels[-1])


def test_an_extra_slice_is_refused_and_several_differences_are_counted(data_dir, tmp_path):
    pinned = pinned_for("ct")
    files = linked_copy(data_dir, tmp_path, sorted(pinned))
    extra = files[0].parent / "extra.dcm"
    shutil.copyfile(files[0], extra)
    files[1].unlink()
    with pytest.raises(DataError, match=r"\(1 more files differ\)"):
        verify_raw_files(files[2:] + [files[0], extra], tmp_path, pinned)
    with pytest.raises(DataError, match="not one of the book's files"):
        verify_raw_files([*files[:1], *files[2:], extra], tmp_path,
                         {k: v for k, v in pinned.items() if k != sorted(pinned)[1]})


def test_verify_false_returns_every_difference_instead(data_dir, tmp_path):
    cut = tmp_path / WINE
    cut.parent.mkdir(parents=True)
    cut.write_bytes((data_dir / WINE).read_bytes()[:1000])
    pinned = pinned_for("wine")
    assert verify_raw_files([cut], tmp_path, pinned, enforce=False) == [
        {"path": str(cut), "expected": pinned[WINE], "actual": f"sha256:{file_digest(cut)}"}]


def test_tree_fingerprint_sees_replaced_truncated_added_and_removed_images(tmp_path):
    import os

    from dlwpt.cifar10 import tree_survey

    tree = tmp_path / "cifar" / "train" / "bird"
    tree.mkdir(parents=True)
    for i in range(3):
        (tree / f"{i:04d}.jpg").write_bytes(bytes([i]) * 100)
    root = tmp_path / "cifar"
    first = tree_survey(root)[0]
    link = tmp_path / "link"
    link.symlink_to(root)
    assert tree_survey(link)[0] == first
    assert tree_survey(os.path.relpath(root))[0] == first
    seen = {first}
    (tree / "0000.jpg").write_bytes(b"x" * 100)  # replaced, same size: the mtime changes
    os.utime(tree / "0000.jpg", ns=(1, 1))
    seen.add(tree_survey(root)[0])
    (tree / "0001.jpg").write_bytes(b"x" * 10)  # truncated
    seen.add(tree_survey(root)[0])
    (tree / "0003.jpg").write_bytes(b"new")  # added
    seen.add(tree_survey(root)[0])
    (tree / "0002.jpg").unlink()  # removed
    seen.add(tree_survey(root)[0])
    assert len(seen) == 5
    last = tree_survey(root)[0]
    (tree / ".DS_Store").write_bytes(b"finder")  # hidden: not data
    assert tree_survey(root)[0] == last
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "0000.jpg").write_bytes(b"cat")
    (root / "train" / "cat").symlink_to(elsewhere)  # a linked class folder counts
    linked = tree_survey(root)[0]
    assert linked != last
    (elsewhere / "0000.jpg").write_bytes(b"dog")
    os.utime(elsewhere / "0000.jpg", ns=(2, 2))
    assert tree_survey(root)[0] != linked


def test_tree_fingerprint_of_the_real_cifar_tree_covers_every_image(data_dir):
    """All 60,000 images (train: 5,000 per class, test: 1,000), each by its relative name, and
    the same value through another path to the same tree."""
    from dlwpt.cifar10 import CIFAR10_CLASSES, tree_survey

    root = data_dir / "cifar10-jpeg"
    value, names = tree_survey(root)
    assert sorted(names) == sorted(f"{split}/{name}/{i:04d}.jpg"
                                   for split, n in (("train", 5000), ("test", 1000))
                                   for name in CIFAR10_CLASSES for i in range(n))
    assert tree_survey(root / ".")[0] == value
