"""Shared pieces of the ingest tests: ingest-and-load, edited copies, the bad-input assertion."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dlwpt.io import DataError, load_tensors, read_json


def outputs(folder: Path) -> tuple[Path, Path]:
    """Output paths inside a folder that does not exist yet (so 'nothing written' is checkable)."""
    return folder / "out" / "data.pt", folder / "out" / "data.json"


def ingested(folder: Path, ingest: Callable[..., None], src, **options) -> tuple[dict, dict]:
    """Run `ingest(src, out_pt, out_json, **options)` into `folder`; load both outputs."""
    out_pt, out_json = outputs(folder)
    ingest(src, out_pt, out_json, **options)
    return load_tensors(out_pt), read_json(out_json)


def edited_copy(src: Path, dst: Path, edit: Callable[[list[str]], list[str]]) -> Path:
    """A copy of the text file `src` at `dst` with its lines passed through `edit`."""
    dst.write_text("\n".join(edit(src.read_text().splitlines())) + "\n")
    return dst


def with_cell(src: Path, dst: Path, line: int, column: int, value: str, sep: str) -> Path:
    """A copy of the table `src` at `dst` with one cell (0-based line and column) replaced."""

    def edit(lines: list[str]) -> list[str]:
        cells = lines[line].split(sep)
        cells[column] = value
        lines[line] = sep.join(cells)
        return lines

    return edited_copy(src, dst, edit)


def assert_rejects(ingest: Callable[[Path, Path], None], bad_path: Path, folder: Path) -> str:
    """`ingest(out_pt, out_json)` raises a one-line DataError naming `bad_path`, writes nothing."""
    out_pt, out_json = outputs(folder)
    with pytest.raises(DataError) as info:
        ingest(out_pt, out_json)
    message = str(info.value)
    assert str(bad_path) in message
    assert "\n" not in message
    assert not out_pt.parent.exists() or not any(out_pt.parent.iterdir())
    return message


def pil_pixels(path: Path) -> np.ndarray:
    """An image read with PIL directly (HxWxC uint8), independent of the ingest code path."""
    with Image.open(path) as image:
        return np.array(image.convert("RGB"))


def truncated_copy(src: Path, dst: Path, keep: float = 0.5) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep)])
    return dst
