"""Train one chapter 7-8 model on cifar2.pt and write its model, metrics and summary files.

Runs resume: a checkpoint (model, optimizer, every RNG, metrics so far) is written atomically
every `checkpoint_every` epochs, so a killed job continues where it stopped and, on the CPU,
ends bit-identical to an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import hashlib
import io
import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import torch

from dlwpt.devices import claim_gpu, resolve_device, scheduler_gpus
from dlwpt.engine import TrainSettings, make_trainer
from dlwpt.io import (
    DataError,
    SettingError,
    atomic_path,
    file_digest,
    load_tensors,
    save_tensors,
    write_json,
    write_text,
)
from dlwpt.live import EpochLog
from dlwpt.models import build_model, count_parameters, resdeep_variant
from dlwpt.orphan import ParentWatch

METRIC_COLUMNS = ["epoch", "train_loss", "train_acc", "val_acc", "seconds"]
PREDICTION_COLUMNS = ["index", "label", "predicted", "prob"]
PREDICTIONS_NAME = "val_predictions.csv"
CHECKPOINT_NAME = "checkpoint.pt"


def load_training_data(path: str | os.PathLike, subsample: int | None) -> dict[str, torch.Tensor]:
    """cifar2.pt's image/label tensors, checked; `subsample` keeps N training images."""
    try:
        data = load_tensors(path)
    except Exception as e:  # a truncated or foreign file: one line naming it
        raise DataError(path, f"cannot load as a tensor file ({type(e).__name__}: {e})") from None
    for split in ("train", "val"):
        images, labels = data.get(f"{split}_images"), data.get(f"{split}_labels")
        if not isinstance(images, torch.Tensor) or not isinstance(labels, torch.Tensor):
            raise DataError(path, f"missing {split}_images or {split}_labels tensor")
        if images.dim() != 4 or images.shape[1:] != (3, 32, 32) or not images.is_floating_point():
            raise DataError(path, f"{split}_images must be float Nx3x32x32, got "
                                  f"{images.dtype} {tuple(images.shape)}")
        if labels.dtype != torch.int64 or labels.shape != (len(images),):
            raise DataError(path, f"{split}_labels must be int64 of length {len(images)}, got "
                                  f"{labels.dtype} {tuple(labels.shape)}")
    if subsample is not None:
        if subsample < 1:
            raise ValueError(f"subsample must be a positive number of images, got {subsample}")
        # cifar2 keeps the source's order (from an image tree: all airplanes, then all birds),
        # so a head slice could hold one class only. A fixed random subset, independent of the
        # run's seed, holds both classes (in proportion on average) and is the same for every
        # model.
        keep = torch.randperm(len(data["train_labels"]),
                              generator=torch.Generator().manual_seed(0))[:subsample]
        keep = keep.sort().values
        data["train_images"] = data["train_images"][keep]
        data["train_labels"] = data["train_labels"][keep]
    return {k: data[k] for k in ("train_images", "train_labels", "val_images", "val_labels")}


def config_hash(model_cfg: dict[str, Any], seed: int, loop: str, cuda_graphs: str,
                subsample: int | None, device: str, data_pt: str | os.PathLike) -> str:
    """Identity of a run: a checkpoint with another hash belongs to another run."""
    identity = {
        "model_cfg": model_cfg, "seed": seed, "loop": loop, "cuda_graphs": cuda_graphs,
        "subsample": subsample, "device": torch.device(device).type,
        "data_sha256": file_digest(data_pt),
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"


def format_duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def portable_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The state_dict on the CPU in the default memory format; shared blocks stay shared."""
    return copy.deepcopy(model).to("cpu", memory_format=torch.contiguous_format).state_dict()


def metrics_csv(rows: list[dict[str, float]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=METRIC_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def predictions_csv(labels: torch.Tensor, predicted: torch.Tensor, prob: torch.Tensor) -> str:
    """One row per validation image, in order; prob (of class 1) at full float precision
    ("nan" for a diverged run), for paired tests between models (dlwpt.statistics)."""
    lines = [",".join(PREDICTION_COLUMNS)]
    lines += [f"{i},{label},{pred},{p!r}" for i, (label, pred, p) in enumerate(
        zip(labels.tolist(), predicted.tolist(), prob.tolist(), strict=True))]
    return "\n".join(lines) + "\n"


def load_checkpoint(path: Path, expected_hash: str, log: logging.Logger) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # e.g. written by another torch version: start over, don't fail
        log.warning("ignoring unreadable checkpoint %s (%s)", path, e)
        return None
    if state.get("config_hash") != expected_hash:
        log.info("ignoring checkpoint %s: it belongs to another configuration", path)
        return None
    return state


def train_model(data_pt: str | os.PathLike, out_model: str | os.PathLike,
                out_metrics: str | os.PathLike, out_summary: str | os.PathLike, *,
                model_name: str, model_cfg: dict[str, Any], seed: int, device: str = "auto",
                gpus: list[int] | None = None, loop: str = "resident",
                cuda_graphs: str | bool = "auto", threads: int = 2,
                subsample: int | None = None, resume_dir: str | os.PathLike | None = None,
                checkpoint_every: int = 1, log: logging.Logger | None = None,
                out_predictions: str | os.PathLike | None = None,
                tensorboard_dir: str | os.PathLike | None = None,
                watch: ParentWatch | None = None) -> dict[str, Any]:
    """Train `model_cfg` (a models entry merged over train.defaults); return the summary.

    out_predictions: the per-image validation predictions (default: val_predictions.csv beside
    the summary), from the final weights in eval mode; for a run that did not diverge their
    accuracy is the summary's val_acc exactly.

    tensorboard_dir: where each epoch's metrics.csv row is also written, and flushed, as
    TensorBoard scalars (dlwpt.live); a resumed run rewrites the checkpointed epochs there first.

    loop, cuda_graphs: config `train.loop` ("resident" | "book") and `train.cuda_graphs`
    ("auto" | "off"; YAML reads a bare off as False), see dlwpt.engine. device: "auto" is
    decided here, in the job; a CUDA job claims one free GPU among `gpus` (config
    `train.gpus`, within CUDA_VISIBLE_DEVICES) and holds it until it returns or its process ends.

    watch: the Snakemake job's `ParentWatch` (dlwpt.orphan), which ends the process when
    Snakemake dies; the checkpoint and the final outputs are written under its `writing()`, so
    it never ends the process halfway through them.
    """
    cuda_graphs = "off" if cuda_graphs is False else cuda_graphs
    writing = watch.writing if watch else contextlib.nullcontext
    log = log or logging.getLogger("dlwpt")
    started = time.perf_counter()
    requested = device
    device = torch.device(resolve_device(device))
    granted = scheduler_gpus()
    if requested == "auto" and device.type == "cpu" and granted:
        # A cluster job given a GPU whose torch sees none (a CPU-only torch build, a missing
        # driver) would otherwise train on the CPU for hours without a word.
        log.warning("the scheduler gave this job a GPU (%s) but torch sees no CUDA device: "
                    "training on the CPU", granted)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SettingError("train.device is cuda but this machine has no usable CUDA device "
                           "(torch.cuda.is_available() is False); set train.device: auto or cpu")
    claim = None
    if device.type == "cuda" and device.index is None:
        try:
            claim = claim_gpu(torch.cuda.device_count(), gpus, log=log)
        except RuntimeError as e:  # none usable under these settings: one line
            raise SettingError(str(e)) from None
        device = torch.device("cuda", claim.index)
        log.info("claimed GPU %s (cuda:%d) for this run", claim.device_id, claim.index)
    torch.set_num_threads(threads)
    settings = TrainSettings.from_config(model_cfg)
    data = load_training_data(data_pt, subsample)

    torch.manual_seed(seed)
    model = build_model(model_cfg)
    n_params = count_parameters(model)
    trainer = make_trainer(loop, model, data, settings, device, seed, cuda_graphs=cuda_graphs)

    checkpoint_path = Path(resume_dir) / CHECKPOINT_NAME if resume_dir else None
    run_hash = config_hash(model_cfg, seed, loop, cuda_graphs, subsample, str(device), data_pt)
    rows: list[dict[str, float]] = []
    walltimes: list[float] = []  # when each epoch was written to TensorBoard
    previous_seconds = 0.0
    state = load_checkpoint(checkpoint_path, run_hash, log) if checkpoint_path else None
    if state:
        trainer.load_state_dict(state["trainer"])
        rows, previous_seconds = state["metrics"], state["elapsed_seconds"]
        walltimes = state.get("walltimes", [])
        log.info("resuming %s seed %d after epoch %d", model_name, seed, len(rows))
        if watch:
            watch.progress = f"the next run resumes after epoch {len(rows)}"
    epoch_log = EpochLog(tensorboard_dir, rows, walltimes) if tensorboard_dir else None

    log.info("training %s (%s, %d parameters) on %s, %d images, %s loop, CUDA graphs %s",
             model_name, model_cfg["arch"], n_params, device_name(device), trainer.n_train, loop,
             cuda_graphs)
    first_epoch, loop_started = len(rows) + 1, time.perf_counter()
    diverged_epoch = None
    for epoch in range(first_epoch, settings.epochs + 1):
        tick = time.perf_counter()
        train_loss, train_acc = trainer.train_epoch()
        seconds = time.perf_counter() - tick
        val_acc = trainer.accuracy("val")
        rows.append({"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
                     "val_acc": val_acc, "seconds": seconds})
        if epoch_log:
            epoch_log.add(rows[-1])
        if not math.isfinite(train_loss):
            # The weights are no longer numbers: more epochs cannot bring them back. Stop, keep
            # the epoch's row (its loss marks it in metrics.csv), and let the zoo go on.
            diverged_epoch = epoch
            log.warning("epoch %d/%d: the training loss is %s; the run diverged, stopping here",
                        epoch, settings.epochs, train_loss)
            break
        if checkpoint_path and epoch % checkpoint_every == 0 and epoch < settings.epochs:
            with writing(), atomic_path(checkpoint_path) as tmp:
                torch.save({
                    "config_hash": run_hash, "epoch": epoch, "metrics": rows,
                    "elapsed_seconds": previous_seconds + time.perf_counter() - started,
                    "trainer": trainer.state_dict(),
                    "walltimes": epoch_log.walltimes if epoch_log else [],
                }, tmp)
                if watch:
                    watch.progress = f"the next run resumes after epoch {epoch}"
        per_epoch = (time.perf_counter() - loop_started) / (epoch - first_epoch + 1)
        log.info("epoch %d/%d loss %.4f train_acc %.4f val_acc %.4f %.2f s ETA %s", epoch,
                 settings.epochs, train_loss, train_acc, val_acc, seconds,
                 format_duration(per_epoch * (settings.epochs - epoch)))

    if epoch_log:
        epoch_log.close()
    timed = [r["seconds"] for r in rows[1:]] or [r["seconds"] for r in rows]
    finite = [r for r in rows if math.isfinite(r["train_loss"])]
    summary = {
        "model": model_name,
        "arch": model_cfg["arch"],
        "seed": seed,
        "epochs": settings.epochs,
        # Eval mode, as the book's validate; for a diverged run, the last finite epoch's figures
        # (its running train accuracy), or null when not even the first epoch was finite.
        "train_acc": (trainer.accuracy("train") if diverged_epoch is None
                      else finite[-1]["train_acc"] if finite else None),
        "val_acc": rows[-1]["val_acc"] if diverged_epoch is None else (
            finite[-1]["val_acc"] if finite else None),
        "diverged_epoch": diverged_epoch,
        "n_params": n_params,
        "device": device_name(device),
        "gpu": claim.device_id if claim else None,  # the machine's name for the GPU used
        "seconds_per_epoch": sum(timed) / len(timed),
        "total_seconds": previous_seconds + time.perf_counter() - started,
        "resdeep_blocks": resdeep_variant(model_cfg),
        "engine": f"{loop} loop",  # human-readable; the report appends cuda_graphs if tried
        "loop": loop,
        "cuda_graphs": trainer.graphs_status,  # "on", "off (why)" or "not used"
        "hyperparameters": {**model_cfg, "subsample": subsample, "n_train": trainer.n_train},
    }
    if out_predictions is None:
        out_predictions = Path(out_summary).with_name(PREDICTIONS_NAME)
    weights, predicted = portable_state_dict(trainer.model), trainer.predictions("val")
    with writing():  # all of them, or the job is incomplete and its checkpoint stays
        save_tensors(out_model, weights)
        write_text(out_metrics, metrics_csv(rows))
        write_text(out_predictions, predictions_csv(*predicted))
        # Written last, with the digests of its siblings: the report refuses a run whose files
        # changed after training (a truncated model.pt, an edited metrics.csv).
        summary["files"] = {Path(out).name: "sha256:" + file_digest(out)
                            for out in (out_model, out_metrics, out_predictions)}
        write_json(out_summary, summary)
        if checkpoint_path:
            checkpoint_path.unlink(missing_ok=True)
        if watch:
            watch.done()
    if claim:
        claim.release()
    return summary
