"""Train one chapter 7-8 model on cifar2.pt and write its model, metrics and summary files.

A checkpoint every `checkpoint_every` epochs lets a killed job resume, on the CPU bit-identical
to an uninterrupted run. `train_model` (at the end) is the outline. The job's plumbing is passed
in (`Plumbing`), so an edit to it reruns no training job.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import io
import logging
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from dlwpt.engine import Trainer, TrainSettings, make_trainer
from dlwpt.io import (
    DataError,
    atomic_path,
    file_digest,
    json_digest,
    load_tensors,
    save_tensors,
    sealed,
    write_json,
    write_text,
)
from dlwpt.models import build_model, count_parameters, resdeep_variant

METRIC_COLUMNS = ["epoch", "train_loss", "train_acc", "val_acc", "seconds"]
PREDICTION_COLUMNS = ["index", "label", "predicted", "prob"]
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


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"


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


@dataclass(frozen=True)
class RunSettings:
    """What one (model, seed) run trains, and how: model_cfg is the run's settings
    (dlwpt.runs.run_settings), the rest config `train.*` (a bare YAML off, False, kept as "off")."""

    model_name: str
    model_cfg: dict[str, Any]
    seed: int
    device: str = "auto"
    gpus: list[int] | None = None
    loop: str = "resident"
    cuda_graphs: str | bool = "auto"
    threads: int = 2
    subsample: int | None = None
    checkpoint_every: int = 1

    def __post_init__(self) -> None:
        if self.cuda_graphs is False:
            object.__setattr__(self, "cuda_graphs", "off")


def config_hash(run: RunSettings, device: torch.device, data_pt: str | os.PathLike) -> str:
    """Identity of a run: a checkpoint with another hash belongs to another run."""
    return json_digest({
        "model_cfg": run.model_cfg, "seed": run.seed, "loop": run.loop,
        "cuda_graphs": run.cuda_graphs, "subsample": run.subsample, "device": device.type,
        "data_sha256": file_digest(data_pt),
    })


@dataclass
class EpochHistory:
    """The epochs a run has done (metrics.csv rows, and when each went to TensorBoard) and its
    time, counting the processes before a resume."""

    rows: list[dict[str, float]] = field(default_factory=list)
    walltimes: list[float] = field(default_factory=list)
    previous_seconds: float = 0.0
    started: float = field(default_factory=time.perf_counter)  # this process's start
    diverged_epoch: int | None = None

    def elapsed(self) -> float:
        return self.previous_seconds + time.perf_counter() - self.started


class Checkpoint:
    """The run's resume point: model, optimizer, every RNG and the progress so far.

    Written by rename under the watch's `writing()` (Plumbing), so a killed job never leaves
    half of one; `completing()` holds the final outputs and removes the checkpoint only
    once they are all written. Without a resume folder nothing is read or written.
    """

    def __init__(self, resume: str | os.PathLike | None, data: str | os.PathLike,
                 run: RunSettings, device: torch.device, watch: Any) -> None:
        self.path = Path(resume) / CHECKPOINT_NAME if resume else None
        self.run, self.watch = run, watch
        self.run_hash = config_hash(run, device, data) if self.path else None
        self.writing = watch.writing if watch else contextlib.nullcontext

    def load(self, log: logging.Logger) -> dict[str, Any] | None:
        if self.path is None or not self.path.exists():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as e:  # e.g. written by another torch version: start over, don't fail
            log.warning("ignoring unreadable checkpoint %s (%s)", self.path, e)
            return None
        if state.get("config_hash") != self.run_hash:
            log.info("ignoring checkpoint %s: it belongs to another configuration", self.path)
            return None
        return state

    def resume(self, trainer: Trainer, history: EpochHistory, log: logging.Logger) -> None:
        """Continue from the checkpoint, if there is one of this run."""
        state = self.load(log)
        if not state:
            return
        trainer.load_state_dict(state["trainer"])
        history.rows, history.previous_seconds = state["metrics"], state["elapsed_seconds"]
        history.walltimes = state.get("walltimes", [])
        log.info("resuming %s seed %d after epoch %d", self.run.model_name, self.run.seed,
                 len(history.rows))
        self._resumes_after(len(history.rows))

    def due(self, epoch: int, last_epoch: int) -> bool:
        """Whether to write one after `epoch` (not after the last: the outputs follow)."""
        return (self.path is not None and epoch % self.run.checkpoint_every == 0
                and epoch < last_epoch)

    def save(self, epoch: int, trainer: Trainer, history: EpochHistory,
             walltimes: list[float]) -> None:
        with self.writing(), atomic_path(self.path) as tmp:
            torch.save({
                "config_hash": self.run_hash, "epoch": epoch, "metrics": history.rows,
                "elapsed_seconds": history.elapsed(), "trainer": trainer.state_dict(),
                "walltimes": walltimes,
            }, tmp)
            self._resumes_after(epoch)

    @contextlib.contextmanager
    def completing(self) -> Iterator[None]:
        """Around the final outputs: all of them, or the job is incomplete and its checkpoint
        stays; once they are written the checkpoint goes and the watch stops."""
        with self.writing():
            yield
            if self.path:
                self.path.unlink(missing_ok=True)
            if self.watch:
                self.watch.done()

    def _resumes_after(self, epoch: int) -> None:
        if self.watch:  # the end of its line if Snakemake dies now
            self.watch.progress = f"the next run resumes after epoch {epoch}"


@dataclass(frozen=True)
class Plumbing:
    """What a job does around training that decides none of its outputs (defaults: nothing).

    epoch_log(rows, walltimes): open while training, given a resumed run's epochs first; its
    add(row) takes each epoch's row, its `walltimes` go into checkpoints (dlwpt.live.EpochLog).
    on_epoch(rows, epochs, elapsed, done): after each finite epoch, and done=True once the
    outputs are written (dlwpt.progress.JobProgress). watch: `writing()` around each checkpoint
    and the final outputs, `done()` inside the last write, `progress` ends its line where the
    next run resumes (dlwpt.orphan.ParentWatch). load: the machine's load average, read as
    training starts and ends into the summary's `load_average`: a shared machine's seconds are
    not the model's cost.
    """

    epoch_log: Callable[[list[dict[str, float]], list[float]],
                        contextlib.AbstractContextManager[Any]] | None = None
    on_epoch: Callable[[list[dict[str, float]], int, float, bool], None] | None = None
    watch: Any = None
    load: Callable[[], float] | None = None


def fit(trainer: Trainer, history: EpochHistory, checkpoint: Checkpoint, epoch_log: Any,
        log: logging.Logger, run: RunSettings, plumbing: Plumbing) -> None:
    """Train the epochs left: each one's row to `history` (and the epoch log), a checkpoint
    when due, then `on_epoch`; stop at the first non-finite loss."""
    epochs = trainer.settings.epochs
    for epoch in range(len(history.rows) + 1, epochs + 1):
        tick = time.perf_counter()
        train_loss, train_acc = trainer.train_epoch()
        seconds = time.perf_counter() - tick
        val_acc = trainer.accuracy("val")
        history.rows.append({"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
                              "val_acc": val_acc, "seconds": seconds})
        if epoch_log:
            epoch_log.add(history.rows[-1])
        if not math.isfinite(train_loss):
            # The weights are no longer numbers: more epochs cannot bring them back. Stop, keep
            # the epoch's row (its loss marks it in metrics.csv), and let the zoo go on.
            history.diverged_epoch = epoch
            log.warning("%s seed %d epoch %d/%d: the training loss is %s; the run diverged, "
                        "stopping here", run.model_name, run.seed, epoch, epochs, train_loss)
            return
        if checkpoint.due(epoch, epochs):
            checkpoint.save(epoch, trainer, history, epoch_log.walltimes if epoch_log else [])
        if plumbing.on_epoch:
            plumbing.on_epoch(history.rows, epochs, history.elapsed(), False)


def final_accuracies(trainer: Trainer, history: EpochHistory) -> tuple[float | None, float | None]:
    """(train_acc, val_acc) of the summary: in eval mode, as the book's validate; for a diverged
    run, the last finite epoch's figures (its running train accuracy), or None when not even
    the first epoch was finite."""
    if history.diverged_epoch is None:
        return trainer.accuracy("train"), history.rows[-1]["val_acc"]
    finite = [r for r in history.rows if math.isfinite(r["train_loss"])]
    return (finite[-1]["train_acc"], finite[-1]["val_acc"]) if finite else (None, None)


def summarize(run: RunSettings, trainer: Trainer, history: EpochHistory, device: torch.device,
              gpu: str | None) -> dict[str, Any]:
    """summary.json's fields, before write_outputs adds the file digests and the seal."""
    train_acc, val_acc = final_accuracies(trainer, history)
    timed = [r["seconds"] for r in history.rows[1:]] or [r["seconds"] for r in history.rows]
    return {
        "model": run.model_name,
        "arch": run.model_cfg["arch"],
        "seed": run.seed,
        "epochs": trainer.settings.epochs,
        "train_acc": train_acc,
        "val_acc": val_acc,
        "diverged_epoch": history.diverged_epoch,
        "n_params": count_parameters(trainer.model),
        "device": device_name(device),
        "gpu": gpu,  # the machine's name for the GPU used
        "seconds_per_epoch": sum(timed) / len(timed),
        "total_seconds": history.elapsed(),
        "resdeep_blocks": resdeep_variant(run.model_cfg),
        "engine": f"{run.loop} loop",  # human-readable; the report appends cuda_graphs if tried
        "loop": run.loop,
        "cuda_graphs": trainer.graphs_status,  # "on", "off (why)" or "not used"
        "hyperparameters": {**run.model_cfg, "subsample": run.subsample,
                            "n_train": trainer.n_train},
    }


def write_outputs(files: Any, summary: dict[str, Any], trainer: Trainer,
                  history: EpochHistory, checkpoint: Checkpoint) -> dict[str, Any]:
    """model.pt, metrics.csv and val_predictions.csv (from the final weights in eval mode), then
    summary.json, each by rename, all under `checkpoint.completing()`; return the summary."""
    weights, predicted = portable_state_dict(trainer.model), trainer.predictions("val")
    with checkpoint.completing():
        save_tensors(files.model, weights)
        write_text(files.metrics, metrics_csv(history.rows))
        write_text(files.predictions, predictions_csv(*predicted))
        # Written last, with the digests of its siblings, and sealed with that of its own
        # content: the report refuses a run whose files changed after training (a truncated
        # model.pt, an edited metrics.csv or summary.json).
        summary["files"] = {Path(out).name: "sha256:" + file_digest(out)
                            for out in (files.model, files.metrics, files.predictions)}
        summary = sealed(summary)
        write_json(files.summary, summary)
    return summary


def train_model(files: Any, run: RunSettings, *, data: str | os.PathLike,
                resume: str | os.PathLike | None = None, device: torch.device | None = None,
                gpu: str | None = None, log: logging.Logger | None = None,
                plumbing: Plumbing = Plumbing()) -> dict[str, Any]:
    """Train `run` on `data` (cifar2.pt), write its outputs to `files`; return the summary.

    files: the paths named model, metrics, predictions and summary (dlwpt.runs.RunFiles, or the
    job's outputs). resume: the run's checkpoint folder (None: no resume, no checkpoints).
    device: default `run.device` (a job resolves `auto` and claims a GPU with
    dlwpt.devices.claimed_device); gpu: the machine's name for a claimed GPU, for the summary.
    """
    log = log or logging.getLogger("dlwpt")
    device = device or torch.device(run.device)
    history = EpochHistory()
    torch.set_num_threads(run.threads)
    settings = TrainSettings.from_config(run.model_cfg)
    tensors = load_training_data(data, run.subsample)
    torch.manual_seed(run.seed)
    trainer = make_trainer(run.loop, build_model(run.model_cfg), tensors, settings, device,
                           run.seed, cuda_graphs=run.cuda_graphs)
    checkpoint = Checkpoint(resume, data, run, device, plumbing.watch)
    checkpoint.resume(trainer, history, log)
    epoch_log = (plumbing.epoch_log(history.rows, history.walltimes) if plumbing.epoch_log
                 else contextlib.nullcontext())
    load_at_start = plumbing.load() if plumbing.load else None
    with epoch_log as sink:
        log.info("training %s (%s, %d parameters) on %s, %d images, %s loop, CUDA graphs %s",
                 run.model_name, run.model_cfg["arch"], count_parameters(trainer.model),
                 device_name(device), trainer.n_train, run.loop, run.cuda_graphs)
        fit(trainer, history, checkpoint, sink, log, run, plumbing)
    summary = summarize(run, trainer, history, device, gpu)
    summary["load_average"] = plumbing.load and {
        "start": load_at_start, "end": plumbing.load(), "cpus": os.cpu_count()}
    summary = write_outputs(files, summary, trainer, history, checkpoint)
    if plumbing.on_epoch:
        plumbing.on_epoch(history.rows, settings.epochs, history.elapsed(), True)
    return summary
