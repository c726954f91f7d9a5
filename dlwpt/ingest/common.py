"""Pieces the ingest modules share: listing inputs, validated parsing, all-or-nothing output.
Every reader validates the whole input before anything is written."""

import math
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dlwpt.io import DataError, file_digest, save_tensors, write_json

PathLike = str | os.PathLike
Sources = PathLike | Iterable[PathLike]


def list_sources(sources: Sources, pattern: str = "*") -> list[Path]:
    """A folder means its non-hidden regular files matching `pattern`, sorted by name (directory
    order differs between filesystems); a list of files is taken as given, in its order."""
    if isinstance(sources, str | os.PathLike):
        folder = Path(sources)
        if folder.is_file():
            return [folder]
        if not folder.is_dir():
            raise DataError(folder, "no such file or folder")
        files = sorted(p for p in folder.glob(pattern)
                       if p.is_file() and not p.name.startswith("."))
        if not files:
            raise DataError(folder, f"no files matching {pattern!r}")
        return files
    files = [Path(p) for p in sources]
    if not files:
        raise ValueError("no input files given")
    for path in files:
        if not path.is_file():
            raise DataError(path, "no such file")
    return files


def read_text_utf8(path: PathLike) -> str:
    try:
        return Path(path).read_text(encoding="utf8")
    except UnicodeDecodeError as e:
        raise DataError(path, f"not UTF-8 text (bad byte at offset {e.start})") from e


def read_table(path: PathLike, delimiter: str, expected: list[str],
               converters: Mapping[int, Callable[[str], float]] | None = None,
               ) -> tuple[list[str], np.ndarray]:
    """Header (quotes stripped; must be `expected`: columns are indexed by position, as in the
    book) and float32 rows: the book's `np.loadtxt`, but a bad cell named by line and column."""
    converters = converters or {}
    lines = read_text_utf8(path).splitlines()
    if not lines:
        raise DataError(path, "empty file")
    header = [name.strip().strip('"') for name in lines[0].split(delimiter)]
    parse = [converters.get(i, float) for i in range(len(header))]
    rows = []
    for line_number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = line.split(delimiter)
        if len(cells) != len(header):
            raise DataError(path, f"line {line_number}: {len(cells)} fields, "
                                  f"the header has {len(header)}")
        row = []
        for name, cell, to_number in zip(header, cells, parse, strict=True):
            try:
                value = to_number(cell)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                raise DataError(path, f"line {line_number}, column {name!r}: "
                                      f"not a number: {cell.strip()!r}")
            row.append(value)
        rows.append(row)
    if not rows:
        raise DataError(path, "no data rows")
    missing = [c for c in expected if c not in header]
    if missing:
        raise DataError(path, f"missing column(s): {', '.join(missing)}")
    if header != expected:
        raise DataError(path, f"columns {header} differ from the expected {expected}")
    return header, np.array(rows, dtype=np.float32)


def write_outputs(name: str, out_pt: PathLike, out_json: PathLike, tensors: dict[str, Any],
                  sources: list[PathLike | dict], **extra: Any) -> None:
    """The tensor file and its JSON summary (built before either is written), or neither. A
    source is a file read, hashed here, or its summary entry (one for a 60,000-file tree)."""
    stats = {}
    for key, t in tensors.items():
        if isinstance(t, torch.Tensor):
            stats[key] = {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", "")}
            if t.numel() and t.dtype != torch.bool:
                f = t.detach().to(torch.float64)
                stats[key].update(min=f.min().item(), max=f.max().item(), mean=f.mean().item(),
                                  std=f.std().item() if t.numel() > 1 else 0.0)
    summary = {"dataset": name,
               "sources": [s if isinstance(s, dict) else {"path": str(s), "sha256": file_digest(s)}
                           for s in sources],
               "tensors": stats, **extra}
    save_tensors(out_pt, tensors)
    try:
        write_json(out_json, summary)
    except BaseException:
        Path(out_pt).unlink(missing_ok=True)
        raise
