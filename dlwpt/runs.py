"""A training run's vocabulary: its id, its name and folders, its settings, the files it writes.

A run is a model entry or a sweep point (its run id: `sweeps/<sweep>/<point>`) at one seed. Every
layer (rules, training, estimate, progress, history, report) names and finds runs through this
module.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

# A sweep point's run id, and so its paths under results/train/, start with it.
SWEEPS_ROOT = "sweeps"
TRAIN_ROOT = "results/train"
# What one training job writes into its run folder, and the report reads.
TRAINED_FILES = ("summary.json", "metrics.csv", "model.pt", "val_predictions.csv")
# train_model's settings besides the run's own entry (rules/train.smk's params): changing one
# retrains every run, so the history counts them among each model's settings.
TRAIN_KEYS = ("device", "gpus", "loop", "cuda_graphs", "subsample", "checkpoint_every")


def run_name(run: str, seed: int) -> str:
    """`res_deep/seed1`, `sweeps/width/n_chans1~64/seed0`: the run's name everywhere."""
    return f"{run}/seed{seed}"


def run_dir(run: str, seed: int, root: str | Path = TRAIN_ROOT) -> Path:
    """The run's folder under `root` (results/train; or .resume, .progress, tensorboard)."""
    return Path(root) / run_name(run, seed)


def model_config(config: Mapping[str, Any], model: str) -> dict[str, Any]:
    """One model entry's full settings: its entry of `models` over `train.defaults`."""
    return {**config["train"]["defaults"], **config["models"][model]}


def job_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """train_model's settings besides the run's own entry (TRAIN_KEYS)."""
    train = config.get("train") or {}
    return {key: train.get(key) for key in TRAIN_KEYS}
