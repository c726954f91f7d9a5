"""Seconds per training epoch: the book's loop against the resident loop, same data and model.

Both loops train the same model (same seed, same config.yaml hyperparameters, same batch
orders) in one process; their epochs alternate so drifting machine load hits both alike. On
CUDA the resident loop runs twice, with CUDA graphs (`train.cuda_graphs: auto`) and without
(`off`). The first epoch of each is a warm-up (allocator, cuDNN autotuning, CUDA graph capture)
and is not timed. `eval s` is the resident loop's eval-mode pass over the training and
validation sets (what per-epoch eval-mode train accuracy would add to each epoch; train_model
evaluates only the validation set per epoch and the training set once, at the end).

    .venv/bin/python bench/bench_train.py --models net width --device cpu
    .venv/bin/python bench/bench_train.py --models res_deep --blocks 10 --epochs 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dlwpt.config import model_config  # noqa: E402
from dlwpt.engine import TrainSettings, make_trainer  # noqa: E402
from dlwpt.models import build_model  # noqa: E402
from dlwpt.provenance import cpu_model  # noqa: E402
from dlwpt.train import device_name, load_training_data  # noqa: E402

DEFAULT_MODELS = ["net", "width", "batch_norm", "res", "res_deep", "fc_512"]


def load_data(path: Path, subsample: int | None) -> dict[str, torch.Tensor]:
    """The ingest stage's cifar2.pt, or (before it exists) the test helper's copy of it."""
    if not path.exists():
        from tests.helpers.data import cifar2_file

        print(f"{path} not found: using the test helper's CIFAR-2 built from the JPEG tree")
        path = cifar2_file()
    return load_training_data(path, subsample)


# What is timed, by name: (train.loop, train.cuda_graphs).
VARIANTS = {"book": ("book", "auto"), "resident": ("resident", "auto"),
            "resident, no graphs": ("resident", "off")}


def bench_model(cfg: dict, data: dict, device: str, epochs: int,
                variants: list[str]) -> dict[str, list[float]]:
    """Per-variant epoch times (warm-up excluded), plus the last variant's evaluation time."""
    settings = TrainSettings.from_config({**cfg, "epochs": epochs})
    trainers = {}
    for variant in variants:
        loop, cuda_graphs = VARIANTS[variant]
        torch.manual_seed(0)
        trainers[variant] = make_trainer(loop, build_model(cfg), data, settings, device, seed=0,
                                         cuda_graphs=cuda_graphs)
    times: dict[str, list[float]] = {variant: [] for variant in [*variants, "eval"]}
    for epoch in range(epochs):
        for variant, trainer in trainers.items():
            tick = time.perf_counter()
            trainer.train_epoch()
            if epoch:
                times[variant].append(time.perf_counter() - tick)
        tick = time.perf_counter()
        trainers[variants[-1]].accuracy("train")
        trainers[variants[-1]].accuracy("val")
        if epoch:
            times["eval"].append(time.perf_counter() - tick)
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT / "results/data/cifar2.pt")
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS,
                        help="config.yaml model names (default: %(default)s)")
    parser.add_argument("--blocks", type=int, help="n_blocks for NetResDeep (config: 100)")
    parser.add_argument("--device", nargs="+", default=["auto"], help="cpu, cuda or auto")
    parser.add_argument("--epochs", type=int, default=3, help="1 warm-up + the rest timed")
    parser.add_argument("--subsample", type=int, help="N training images (a fixed random subset)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (config: 2)")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the first is a warm-up)")

    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    torch.set_num_threads(args.threads)
    data = load_data(args.data, args.subsample)
    devices = ["cuda" if torch.cuda.is_available() else "cpu" if d == "auto" else d
               for d in args.device]
    print(f"torch {torch.__version__}, {len(data['train_labels'])} training images, "
          f"{args.epochs - 1} timed epochs, {time.strftime('%Y-%m-%d')}")
    print("| device | model | book s/epoch | resident s/epoch | ratio | eval s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for device in devices:
        name = cpu_model() + f" ({args.threads} threads)" if device == "cpu" else \
            device_name(torch.device(device))
        variants = (["book", "resident, no graphs", "resident"] if device == "cuda"
                    else ["book", "resident"])
        for model in args.models:
            cfg = model_config(config, model)
            label = cfg["arch"]
            if cfg["arch"] == "NetResDeep":
                cfg["n_blocks"] = args.blocks or cfg["n_blocks"]
                label += f" ({cfg['n_blocks']} {'shared' if cfg['shared_blocks'] else ''} blocks)"
            times = bench_model(cfg, data, device, args.epochs, variants)
            mean = {variant: statistics.mean(t) for variant, t in times.items()}
            row = [name, label, f"{mean['book']:.3f}", f"{mean['resident']:.3f}",
                   f"{mean['book'] / mean['resident']:.2f}x", f"{mean['eval']:.3f}"]
            if device == "cuda":
                row[1] += f" (resident, no graphs: {mean['resident, no graphs']:.3f})"
            print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
