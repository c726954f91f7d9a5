"""Read and check the page's fits and benchmarks; malformed ones raise DataError."""

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dlwpt.io import DataError
from dlwpt.results.reading import read_checked_csv, read_checked_json

THERMOMETER_KEYS = ("experiment", "kind", "t_u", "t_c", "loss", "diverged", "final", "curve")


def load_benchmarks(paths: list[Path]) -> pd.DataFrame:
    """Per benchmark file: rule (first folder under `benchmarks/`), job, mean seconds, peak RSS."""
    rows = []
    for path in map(Path, paths):
        frame = read_checked_csv(path, ("s",), sep="\t", na_values=["-", "NA"])
        if frame.empty:
            raise DataError(path, "no benchmark record")
        parts = path.with_suffix("").parts
        rule, *job = (parts[len(parts) - parts[::-1].index("benchmarks"):]
                      if "benchmarks" in parts[:-1] else parts[-2:])
        rss = frame["max_rss"].max() if "max_rss" in frame else math.nan
        rows.append({"rule": rule, "job": "/".join(job), "seconds": float(frame["s"].mean()),
                     "max_rss_mb": float(rss), "repeats": len(frame)})
    columns = ["rule", "job", "seconds", "max_rss_mb", "repeats"]
    return pd.DataFrame(rows, columns=columns).sort_values(["rule", "job"], ignore_index=True)


def finite_series(values: list[Any] | None) -> np.ndarray:
    """Losses as floats with None/inf (a diverged run) turned into NaN, so plots skip them."""
    array = np.array(values or [], dtype=float)  # None becomes NaN
    return np.where(np.isfinite(array), array, np.nan)


def load_thermometer(paths: list[Path], experiments: list[str]) -> list[dict[str, Any]]:
    """The experiments in `experiments` (config) order, unknown ones last, by name."""
    loaded = [read_checked_json(Path(p), THERMOMETER_KEYS) | {"path": str(p)} for p in paths]
    return sorted(loaded, key=lambda e: (experiments.index(e["experiment"])
                                         if e["experiment"] in experiments else len(experiments),
                                         e["experiment"]))


FIT_TOLERANCE = 1.25  # a fit converged when its final loss is within 25% of the best line's


def best_line_loss(t_u: list[float], t_c: list[float]) -> float:
    """The least-squares line's mean squared error: where the book's good fits end (2.93)."""
    x, y = np.asarray(t_u, dtype=float), np.asarray(t_c, dtype=float)
    w, b = np.polyfit(x, y, 1)
    return float(np.mean((w * x + b - y) ** 2))


def fit_converged(fit: dict[str, Any], loss: float | None) -> bool:
    return (not fit["diverged"] and loss is not None
            and loss <= FIT_TOLERANCE * best_line_loss(fit["t_u"], fit["t_c"]))

