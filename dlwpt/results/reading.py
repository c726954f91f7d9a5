"""Read and check a training run's files as the page and the history both read them: the
report is the last stage, where a silently wrong upstream file would become a misleading page."""

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dlwpt.io import SEAL_KEY, DataError, file_digest, read_json, summary_seal
from dlwpt.rerun import rebuild_hint
from dlwpt.runs import TRAINED, run_name
from dlwpt.statistics import wilson_interval

SUMMARY_KEYS = ("model", "arch", "seed", "epochs", "train_acc", "val_acc", "n_params", "device",
                "seconds_per_epoch", "total_seconds", "resdeep_blocks")
METRICS_COLUMNS = ("epoch", "train_loss", "train_acc", "val_acc", "seconds")
CSV_COLUMNS = ("model", "arch", "seed", "train_acc", "val_acc", "diverged_epoch", "n_params",
               "seconds_per_epoch", "total_seconds", "device", "gpu", "engine", "epochs",
               "resdeep_blocks", "book_train_acc", "book_val_acc", "val_acc_ci_low",
               "val_acc_ci_high")
# The run table's columns besides CSV_COLUMNS: the summary's settings and the machine's load
# around training (None in a summary written before it was recorded).
RUN_EXTRAS = ("n_blocks", "n_val", "hyperparameters", "load_average")
# val_predictions.csv, as dlwpt.train writes it (not imported: the report would then depend on
# the training code, and editing it would rerun the report).
PREDICTION_COLUMNS = ("index", "label", "predicted", "prob")


def read_checked_json(path: Path, keys: tuple[str, ...] = ()) -> dict[str, Any]:
    try:
        obj = read_json(path)
    except (OSError, ValueError) as e:
        raise DataError(path, f"cannot read JSON ({e})") from e
    if not isinstance(obj, dict):
        raise DataError(path, f"expected a JSON object, got {type(obj).__name__}")
    require_keys(obj, keys, path)
    return obj


def require_keys(obj: Any, keys: Sequence[str], path: Path, what: str = "key") -> None:
    absent = [k for k in keys if k not in obj]
    if absent:
        raise DataError(path, f"missing {what}(s): {', '.join(absent)}")


def read_checked_csv(path: Path, columns: tuple[str, ...], **kwargs: Any) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, **kwargs)
    except (OSError, ValueError) as e:
        raise DataError(path, f"cannot read table ({e})") from e
    require_keys(frame, columns, path, "column")
    return frame


# Long: each run's files are read and cross-checked in one pass (summary, digests,
# predictions, curve), so a damaged run fails with the first file that shows it.
def load_runs(runs: list[dict[str, Any]], models: list[str],
              book_accuracy: dict[str, list[float]], rerun_command: str | None = None
              ) -> tuple[pd.DataFrame, pd.DataFrame, dict[tuple[str, int], np.ndarray]]:
    """Per (model, seed), in `models`' order: a row (CSV_COLUMNS, RUN_EXTRAS), its curve, its
    per-image correctness; a damaged run's error says to rebuild it (`rerun_command` --forcerun)."""
    rows, curves, correct = [], [], {}
    labels_seen: tuple[Path, np.ndarray] | None = None
    for run in runs:
        summary_path, metrics_path = Path(run["summary"]), Path(run["metrics"])
        predictions_path = Path(run["predictions"])
        try:
            summary = read_checked_json(summary_path, SUMMARY_KEYS)
        except DataError as e:
            raise DataError(summary_path, f"{e.problem}; "
                                          f"{rebuild_hint(summary_path, rerun_command)}") from e
        check_summary(summary, run, rerun_command)
        labels, hits = read_predictions(predictions_path, summary, summary_path, rerun_command)
        labels_seen = labels_seen or (predictions_path, labels)
        if not np.array_equal(labels, labels_seen[1]):
            # Paired tests need the same images in the same order in every run.
            raise DataError(predictions_path, f"its labels differ from {labels_seen[0]}'s: not "
                                              "the same validation images in the same order")
        correct[(run["model"], int(run["seed"]))] = hits
        book = book_accuracy.get(run["model"])  # none for a custom model
        # from val_acc, not the predictions: a diverged run's come from non-finite weights
        val_acc = summary.get("val_acc")
        low, high = (wilson_interval(round(val_acc * len(hits)), len(hits))
                     if val_acc is not None and math.isfinite(val_acc) else (math.nan, math.nan))
        engine, graphs = summary.get("engine", "unknown"), summary.get("cuda_graphs", "not used")
        if graphs != "not used":  # the CUDA-graph outcome where graphs were tried
            engine += f", CUDA graphs {graphs}"
        rows.append({**summary, "engine": engine,  # the table keeps only its columns
                     "book_train_acc": float(book[0]) if book else None,
                     "book_val_acc": float(book[1]) if book else None,
                     "val_acc_ci_low": low, "val_acc_ci_high": high,
                     "n_blocks": (summary.get("hyperparameters") or {}).get("n_blocks"),
                     "n_val": len(hits), "hyperparameters": summary.get("hyperparameters"),
                     "load_average": summary.get("load_average")})
        curve = read_checked_csv(metrics_path, METRICS_COLUMNS)
        if curve.empty:
            raise DataError(metrics_path, "no epochs recorded")
        curves.append(curve.assign(model=run["model"], seed=int(run["seed"])))
    order = {name: i for i, name in enumerate(models)}
    rows.sort(key=lambda row: (order.get(row["model"], len(order)), row["model"], row["seed"]))
    table = pd.DataFrame(rows, columns=[*CSV_COLUMNS, *RUN_EXTRAS])
    # A run that diverged in its first epoch has no accuracies (null): NaN, not None.
    for column in ("train_acc", "val_acc", "val_acc_ci_low", "val_acc_ci_high"):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype(float)
    table["diverged_epoch"] = table["diverged_epoch"].astype("Int64")
    curve_frame = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame()
    return table, curve_frame, correct


def read_predictions(path: Path, summary: dict[str, Any], summary_path: Path,
                     rerun_command: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(labels, correct per image) of one run's val_predictions.csv, checked (a diverged run's
    predictions come from non-finite weights: their accuracy is not its val_acc)."""
    frame = read_checked_csv(path, PREDICTION_COLUMNS)
    if frame.empty:
        raise DataError(path, "no predictions")
    for column in ("index", "label", "predicted"):
        if not pd.api.types.is_integer_dtype(frame[column]):
            raise DataError(path, f"column {column} holds non-integer values")
    if not np.array_equal(frame["index"].to_numpy(), np.arange(len(frame))):
        raise DataError(path, "index is not 0, 1, ..., n-1 in order")
    labels = frame["label"].to_numpy()
    hits = labels == frame["predicted"].to_numpy()
    val_acc = summary.get("val_acc")
    if summary.get("diverged_epoch") is None and val_acc is not None and not math.isclose(
            hits.mean(), val_acc, rel_tol=0, abs_tol=1e-9):
        raise DataError(path, f"accuracy {int(hits.sum())}/{len(hits)} = {hits.mean():.6f} "
                              f"differs from val_acc {val_acc} in {summary_path.name}; "
                              f"{rebuild_hint(summary_path, rerun_command)}")
    return labels, hits


def check_summary(summary: dict[str, Any], run: Mapping[str, Any],
                  rerun_command: str | None = None) -> None:
    """The summary as training wrote it (its seal: an edited or unsealed one is refused), of
    `run`, and each of the run's files as it was then (the digests the summary recorded)."""
    path = Path(run["summary"])
    hint = rebuild_hint(path, rerun_command)
    if summary.get(SEAL_KEY) != summary_seal(summary):
        why = ("changed after training (its seal does not match)" if SEAL_KEY in summary
               else "not sealed (written before summaries were sealed)")
        raise DataError(path, f"{why}; {hint}")
    if summary["model"] != run["model"] or int(summary["seed"]) != int(run["seed"]):
        raise DataError(path, f"holds {summary['model']}/seed{summary['seed']}, "
                              f"expected {run['model']}/seed{run['seed']}")
    recorded = summary.get("files")
    if recorded is None:
        return  # none recorded, yet sealed: nothing to check against
    for file in [Path(run[key]) for key in ("metrics", "predictions", "model_pt") if key in run]:
        expected = recorded.get(file.name)
        if expected is None:
            raise DataError(path, f"records no digest for {file.name}; {hint}")
        if (actual := "sha256:" + file_digest(file)) != expected:
            raise DataError(file, f"changed since it was trained ({actual}, recorded "
                                  f"{expected} in {path.name}); {hint}")


def run_files(inputs: Mapping[str, str | os.PathLike], models: Sequence[str],
              seeds: Sequence[int]) -> list[dict[str, Any]]:
    """The report's run entries, per model then seed, from inputs named `<model>/seed<k>/<file>`."""
    return [{"model": m, "seed": int(s),  # its TRAINED files, model.pt as "model_pt"
             **{"model_pt" if key == "model" else key: Path(inputs[f"{run_name(m, s)}/{name}"])
                for key, name in TRAINED.items()}}
            for m in models for s in seeds]
