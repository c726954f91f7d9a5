"""Train one chapter 7-8 model on cifar2.pt and write its model, metrics and summary files.
Checkpoints let a killed job resume, on the CPU bit-identical to an uninterrupted run; the job's
plumbing is passed in (`Plumbing`), so an edit to it reruns no training job."""

import copy
import logging
import math
import os
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from dlwpt import io
from dlwpt.engine import TrainSettings, make_trainer
from dlwpt.models import build_model, count_parameters, resdeep_variant

METRIC_COLUMNS = ["epoch", "train_loss", "train_acc", "val_acc", "seconds"]


def load_training_data(path: str | os.PathLike, subsample: int | None) -> dict[str, torch.Tensor]:
    """cifar2.pt's image/label tensors, checked; `subsample` keeps N training images."""
    try:
        data = io.load_tensors(path)
    except Exception as e:  # a truncated or foreign file: one line naming it
        raise io.DataError(path, f"cannot load as a tensor file ({io.error_text(e)})") from None
    for split in ("train", "val"):
        images, labels = data.get(f"{split}_images"), data.get(f"{split}_labels")
        if not isinstance(images, torch.Tensor) or not isinstance(labels, torch.Tensor):
            raise io.DataError(path, f"missing {split}_images or {split}_labels tensor")
        if images.dim() != 4 or images.shape[1:] != (3, 32, 32) or not images.is_floating_point():
            raise io.DataError(path, f"{split}_images must be float Nx3x32x32, got "
                                     f"{images.dtype} {tuple(images.shape)}")
        if labels.dtype != torch.int64 or labels.shape != (len(images),):
            raise io.DataError(path, f"{split}_labels must be int64 of length {len(images)}, "
                                     f"got {labels.dtype} {tuple(labels.shape)}")
    if subsample is not None:
        # cifar2 keeps the source's order (all airplanes, then all birds): a head slice could
        # hold one class. A fixed random subset, independent of the seed, holds both classes
        # (in proportion on average) and is the same for every model.
        keep = torch.randperm(len(data["train_labels"]),
                              generator=torch.Generator().manual_seed(0))[:subsample].sort().values
        data["train_images"] = data["train_images"][keep]
        data["train_labels"] = data["train_labels"][keep]
    return {k: data[k] for k in ("train_images", "train_labels", "val_images", "val_labels")}


def device_name(device: torch.device) -> str:
    return (torch.cuda.get_device_name(device) if device.type == "cuda"
            else f"cpu ({torch.get_num_threads()} threads)")


def csv_text(columns: list[str], rows: Iterable[Iterable[Any]]) -> str:
    """Floats at full precision ("nan" for a diverged run), for paired tests (dlwpt.statistics)."""
    return "".join(",".join(map(str, row)) + "\n" for row in [columns, *rows])


@dataclass(frozen=True)
class RunSettings:
    """model_cfg: dlwpt.runs.run_settings; the rest config `train.*` (YAML's bare off: "off")."""

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


@dataclass(frozen=True)
class Plumbing:
    """What a job does around training that decides none of its outputs (defaults: nothing)."""

    # (resumed rows, walltimes) -> a context whose add(row) takes each epoch (dlwpt.live.EpochLog).
    epoch_log: Callable[[list[dict[str, float]], list[float]],
                        AbstractContextManager[Any]] = lambda *_: nullcontext()
    # (rows, epochs, elapsed, done) after each finite epoch and at the end (progress.JobProgress).
    on_epoch: Callable[[list[dict[str, float]], int, float, bool], None] = lambda *_: None
    # writing(), done() and progress: dlwpt.orphan.ParentWatch.
    watch: Any = None
    # The load average at start and end: a shared machine's seconds are not the model's cost.
    load: Callable[[], float] | None = None


class Training:
    """One run being trained: made, it has loaded the data, seeded, built its trainer and resumed
    from the checkpoint; then epochs, time (with the processes before a resume) and writes, each
    under the watch's `writing()`: a killed job leaves no half file."""

    def __init__(self, run: RunSettings, data: str | os.PathLike, resume: str | os.PathLike | None,
                 device: torch.device, plumbing: Plumbing, log: logging.Logger) -> None:
        self.run, self.plumbing, self.log = run, plumbing, log
        torch.set_num_threads(run.threads)
        settings = TrainSettings.from_config(run.model_cfg)
        tensors = load_training_data(data, run.subsample)
        torch.manual_seed(run.seed)
        self.trainer = make_trainer(run.loop, build_model(run.model_cfg), tensors, settings,
                                    device, run.seed, cuda_graphs=run.cuda_graphs)
        self.rows: list[dict[str, float]] = []  # metrics.csv's rows
        self.walltimes: list[float] = []  # when each epoch went to TensorBoard
        self.previous_seconds, self.started = 0.0, time.perf_counter()
        self.diverged_epoch: int | None = None
        self.checkpoint = Path(resume) / "checkpoint.pt" if resume else None
        # The run's identity: a checkpoint with another hash belongs to another run.
        self.run_hash = self.checkpoint and io.json_digest({
            "model_cfg": run.model_cfg, "seed": run.seed, "loop": run.loop,
            "cuda_graphs": run.cuda_graphs, "subsample": run.subsample,
            "device": self.trainer.device.type, "data_sha256": io.file_digest(data),
        })
        self.writing = plumbing.watch.writing if plumbing.watch else nullcontext
        self.resume()
        self.load_at_start = plumbing.load() if plumbing.load else None

    def elapsed(self) -> float:
        return self.previous_seconds + time.perf_counter() - self.started

    def resume(self) -> None:
        if self.checkpoint is None or not self.checkpoint.exists():
            return
        try:
            state = io.load_tensors(self.checkpoint)
        except Exception as e:  # e.g. written by another torch version: start over, don't fail
            self.log.warning("ignoring unreadable checkpoint %s (%s)", self.checkpoint, e)
            return
        if state.get("config_hash") != self.run_hash:
            self.log.info("ignoring checkpoint %s: it belongs to another configuration",
                          self.checkpoint)
            return
        self.trainer.load_state_dict(state["trainer"])
        self.rows, self.previous_seconds = state["metrics"], state["elapsed_seconds"]
        self.walltimes = state.get("walltimes", [])
        self.log.info("resuming %s seed %d after epoch %d", self.run.model_name, self.run.seed,
                      len(self.rows))
        self.resumes_after(len(self.rows))

    def fit(self, epoch_log: Any) -> None:
        """Train the epochs left, checkpointing when due (not after the last: the outputs follow);
        stop at the first non-finite loss."""
        run, trainer, epochs = self.run, self.trainer, self.trainer.settings.epochs
        self.log.info("training %s (%s, %d parameters) on %s, %d images, %s loop, CUDA graphs %s",
                      run.model_name, run.model_cfg["arch"], count_parameters(trainer.model),
                      device_name(trainer.device), trainer.n_train, run.loop, run.cuda_graphs)
        for epoch in range(len(self.rows) + 1, epochs + 1):
            tick = time.perf_counter()
            train_loss, train_acc = trainer.train_epoch()
            seconds = time.perf_counter() - tick
            self.rows.append({"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
                              "val_acc": trainer.accuracy("val"), "seconds": seconds})
            if epoch_log:
                epoch_log.add(self.rows[-1])
            if not math.isfinite(train_loss):
                # The weights are no longer numbers: more epochs cannot bring them back. Stop,
                # keep the epoch's row (its loss marks it in metrics.csv), let the zoo go on.
                self.diverged_epoch = epoch
                self.log.warning("%s seed %d epoch %d/%d: the training loss is %s; the run "
                                 "diverged, stopping here", run.model_name, run.seed, epoch,
                                 epochs, train_loss)
                return
            if self.checkpoint and epoch % run.checkpoint_every == 0 and epoch < epochs:
                with self.writing():
                    io.save_tensors(self.checkpoint, {
                        "config_hash": self.run_hash, "epoch": epoch, "metrics": self.rows,
                        "elapsed_seconds": self.elapsed(), "trainer": trainer.state_dict(),
                        "walltimes": epoch_log.walltimes if epoch_log else [],
                    })
                    self.resumes_after(epoch)
            self.plumbing.on_epoch(self.rows, epochs, self.elapsed(), False)

    def resumes_after(self, epoch: int) -> None:
        if self.plumbing.watch:  # the end of its line if Snakemake dies now
            self.plumbing.watch.progress = f"the next run resumes after epoch {epoch}"

    def summarize(self, gpu: str | None) -> dict[str, Any]:
        """summary.json's fields but digests and seal. A diverged run's accuracies are its last
        finite epoch's (running train accuracy) or None; else eval-mode, as the book's validate."""
        run, trainer, load = self.run, self.trainer, self.plumbing.load
        train_acc, val_acc = None, None
        if self.diverged_epoch is None:
            train_acc, val_acc = trainer.accuracy("train"), self.rows[-1]["val_acc"]
        elif finite := [r for r in self.rows if math.isfinite(r["train_loss"])]:
            train_acc, val_acc = finite[-1]["train_acc"], finite[-1]["val_acc"]
        timed = [r["seconds"] for r in self.rows[1:] or self.rows]
        return {
            "model": run.model_name, "arch": run.model_cfg["arch"], "seed": run.seed,
            "epochs": trainer.settings.epochs, "train_acc": train_acc, "val_acc": val_acc,
            "diverged_epoch": self.diverged_epoch, "n_params": count_parameters(trainer.model),
            "device": device_name(trainer.device), "gpu": gpu,  # gpu: the machine's name for it
            "seconds_per_epoch": sum(timed) / len(timed), "total_seconds": self.elapsed(),
            "resdeep_blocks": resdeep_variant(run.model_cfg),
            "engine": f"{run.loop} loop",  # human-readable; the report appends cuda_graphs if tried
            "loop": run.loop,
            "cuda_graphs": trainer.graphs_status,  # "on", "off (why)" or "not used"
            "hyperparameters": {**run.model_cfg, "subsample": run.subsample,
                                "n_train": trainer.n_train},
            "load_average": load and {
                "start": self.load_at_start, "end": load(), "cpus": os.cpu_count()},
        }

    def write(self, files: Any, gpu: str | None) -> dict[str, Any]:
        """model.pt (CPU, default memory format; shared blocks stay shared), metrics, eval-mode
        predictions, then the summary, returned; the last progress line."""
        summary = self.summarize(gpu)
        model = copy.deepcopy(self.trainer.model)
        weights = model.to("cpu", memory_format=torch.contiguous_format).state_dict()
        labels, predicted, prob = self.trainer.predictions("val")
        with self.writing():
            io.save_tensors(files.model, weights)
            io.write_text(files.metrics, csv_text(METRIC_COLUMNS, (
                [row[c] for c in METRIC_COLUMNS] for row in self.rows)))
            io.write_text(files.predictions, csv_text(["index", "label", "predicted", "prob"], zip(
                range(len(labels)), *(t.tolist() for t in (labels, predicted, prob)), strict=True)))
            # Last, with its siblings' digests, sealed: the report refuses a run whose files
            # changed after training (a truncated model.pt, an edited metrics.csv or summary).
            summary["files"] = {Path(out).name: "sha256:" + io.file_digest(out)
                                for out in (files.model, files.metrics, files.predictions)}
            summary = io.sealed(summary)
            io.write_json(files.summary, summary)
            if self.checkpoint:
                self.checkpoint.unlink(missing_ok=True)
            if self.plumbing.watch:
                self.plumbing.watch.done()
        self.plumbing.on_epoch(self.rows, self.trainer.settings.epochs, self.elapsed(), True)
        return summary


def train_model(files: Any, run: RunSettings, *, data: str | os.PathLike,
                resume: str | os.PathLike | None = None, device: torch.device | None = None,
                gpu: str | None = None, log: logging.Logger | None = None,
                plumbing: Plumbing = Plumbing()) -> dict[str, Any]:
    """Train `run` on `data` (cifar2.pt), write `files` (dlwpt.runs.RunFiles), return the summary.
    Checkpoints go to `resume`; `device` and `gpu` come from dlwpt.devices.claimed_device."""
    training = Training(run, data, resume, device or torch.device(run.device), plumbing,
                        log or logging.getLogger("dlwpt"))
    with plumbing.epoch_log(training.rows, training.walltimes) as epoch_log:
        training.fit(epoch_log)
    return training.write(files, gpu)
