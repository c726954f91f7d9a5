"""Atomic outputs on a full disk: one line naming the file, nothing half-written."""

from __future__ import annotations

import errno
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
import torch

from dlwpt import io
from dlwpt.io import DiskFullError, atomic_path, save_tensors, write_text

REPO = Path(__file__).resolve().parents[1]


def test_enospc_from_a_python_write_names_the_file_and_keeps_the_old_one(tmp_path):
    target = tmp_path / "summary.json"
    target.write_text("previous")
    with pytest.raises(DiskFullError) as caught, atomic_path(target) as tmp:
        tmp.write_text("partial")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert str(caught.value) == f"{target}: cannot write: No space left on device"
    assert target.read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]


def test_other_failures_pass_through_unchanged(tmp_path, monkeypatch):
    # Even on a (seemingly) full disk, an error that is not a writer's stays what it is.
    monkeypatch.setattr(io, "NEARLY_FULL_BYTES", 1 << 62)
    with pytest.raises(ValueError, match="not about space"), atomic_path(tmp_path / "x") as tmp:
        tmp.write_text("partial")
        raise ValueError("not about space")
    with pytest.raises(PermissionError), atomic_path(tmp_path / "y"):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(io, "NEARLY_FULL_BYTES", 0)  # plenty of space: torch's error stays
    with pytest.raises(RuntimeError, match="unexpected pos"), atomic_path(tmp_path / "z"):
        raise RuntimeError("unexpected pos 576 vs 534")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def tiny_disk():
    """A 256 KiB tmpfs (needs root, as on the project's machines and CI)."""
    mount = Path("/tmp") / f"dlwpt-tiny-{uuid.uuid4().hex[:8]}"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        mount.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)
        mount.rmdir()


def test_torch_save_on_a_full_tmpfs_is_one_line_and_leaves_nothing(tiny_disk):
    # torch's own message for this is "unexpected pos ..." with no mention of space.
    small = tiny_disk / "small.pt"
    save_tensors(small, {"x": torch.zeros(10)})
    with pytest.raises(DiskFullError, match="No space left on device") as caught:
        save_tensors(tiny_disk / "big.pt", {"x": torch.zeros(1_000_000)})
    assert caught.value.path == str(tiny_disk / "big.pt")
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["small.pt"]
    assert torch.equal(torch.load(small, weights_only=True)["x"], torch.zeros(10))
    write_text(tiny_disk / "after.txt", "space is free again")  # the temp file was removed


def test_a_pipeline_step_on_a_full_disk_exits_1_with_one_line(tiny_disk, tmp_path):
    script = textwrap.dedent(f"""
        import torch
        from dlwpt.io import save_tensors, script_errors
        with script_errors({str(tmp_path / "step.log")!r}):
            save_tensors({str(tiny_disk / "cifar2.pt")!r}, {{"x": torch.zeros(1_000_000)}})
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                            text=True)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].endswith(
        f"error: {tiny_disk / 'cifar2.pt'}: cannot write: No space left on device")
    assert list(tiny_disk.iterdir()) == []


def test_one_line_folds_a_multi_line_message():
    assert io.one_line("first\n  second  line \n\nthird") == "first second  line third"
    assert io.one_line(ValueError("a\nb")) == "a b"
    assert str(io.DataError("x.csv", "bad\n  row")) == "x.csv: bad row"


def test_json_digest_is_the_sha256_of_canonical_json():
    import hashlib

    canonical = '{"a":[1,2.5],"b":"é"}'
    assert io.json_digest({"b": "é", "a": [1, 2.5]}) == hashlib.sha256(
        canonical.encode()).hexdigest()
    assert io.json_digest({"b": 1, "a": 2}, sort_keys=False) == hashlib.sha256(
        b'{"b":1,"a":2}').hexdigest()
