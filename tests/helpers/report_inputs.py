"""Small synthetic inputs for the report, written into a temporary folder in well under a second.

Every file has the layout the real pipeline writes (summary.json + metrics.csv per run,
thermometer JSONs, Snakemake benchmark TSVs, dataset .pt + .json), with values chosen so a test
can predict each number the page shows. `report_inputs` assembles all of them into build_report's
keyword arguments.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from dlwpt.ingest.common import write_outputs
from dlwpt.io import file_digest, save_tensors, sealed, write_json

# model: (arch, train_acc, val_acc, n_params, seconds_per_epoch), in config order; seed 0's
RUNS = {
    "net": ("Net", 0.900, 0.850, 18090, 0.5),
    "width": ("NetWidth", 0.950, 0.875, 38386, 1.5),
    "res_deep": ("NetResDeep", 0.800, 0.700, 75810, 4.0),
}
# (train_acc, val_acc) of seeds 1 and 2 (seed 1: seed 0's + 0.01; seed 2 breaks the pattern, so
# differences between models vary over seeds)
LATER_SEEDS = {
    "net": [(0.910, 0.860), (0.920, 0.865)],
    "width": [(0.960, 0.885), (0.955, 0.880)],
    "res_deep": [(0.810, 0.710), (0.790, 0.690)],
}
N_VAL = 2000
BOOK_ACCURACY = {"net": [0.93, 0.89], "width": [0.96, 0.90], "res_deep": [0.97, 0.86]}
EPOCHS = 2
T_U = [35.7, 55.9, 58.2, 81.9, 56.3]
T_C = [0.5, 14.0, 15.0, 28.0, 11.0]
DATASETS = ["image_dog", "image_cats", "ct", "wine", "bikes", "text", "cifar2"]
TEXT_LINE = "“Impossible, <Mr.> Bennet & co"
CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                 "truck"]


def write_run(folder: Path, model: str, seed: int, *, arch: str, train_acc: float | None,
              val_acc: float | None, n_params: int, seconds_per_epoch: float, epochs: int = EPOCHS,
              device: str = "cpu (2 threads)", gpu: str | None = None,
              cuda_graphs: str = "not used",
              resdeep_blocks: str | None = None, n_blocks: int | None = None,
              diverged_epoch: int | None = None, correct: Any = None,
              curve: list[float] | None = None,
              load_average: dict[str, float] | None = None) -> dict[str, Any]:
    """A training run's summary.json, metrics.csv, val_predictions.csv and model.pt (a stand-in
    state_dict, with the digests and the seal the summary records as training does); returns
    build_report's run entry. A run that diverged at epoch k has k rows, the last with an
    infinite loss.

    Predictions: N_VAL images, labels alternating 0, 1; `correct` (booleans) says which are
    right, by default the first round(val_acc * N_VAL); the summary's val_acc is their accuracy
    (a diverged run predicts class 0 with prob nan everywhere). `curve`: the per-epoch running
    train accuracies (default: rising by 0.05 an epoch to train_acc). `load_average`: the
    machine's load the summary records (none: a summary written before it was recorded)."""
    out = folder / "train" / model / f"seed{seed}"
    labels = np.arange(N_VAL) % 2
    if correct is None:
        correct = np.arange(N_VAL) < round((val_acc or 0) * N_VAL)
    correct = np.asarray(correct, dtype=bool)
    if diverged_epoch is None:
        predicted, prob = np.where(correct, labels, 1 - labels), np.where(correct, 0.9, 0.1)
        val_acc = float(correct.sum() / len(correct))
    else:
        predicted, prob = np.zeros(len(correct), dtype=int), np.full(len(correct), np.nan)
    hyperparameters = {"epochs": epochs, "lr": 0.01, **({"n_blocks": n_blocks} if n_blocks
                                                        else {})}
    lines = ["epoch,train_loss,train_acc,val_acc,seconds"]
    curve_train, curve_val = train_acc or 0.5, val_acc or 0.5  # null: diverged at epoch 1
    curve = curve or [curve_train - 0.05 * (epochs - e) for e in range(1, epochs + 1)]
    lines += [f"{e},{0.7 / e if e != diverged_epoch else float('inf'):.4f},"
              f"{curve[e - 1]:.4f},"
              f"{curve_val - 0.05 * (epochs - e):.4f},{seconds_per_epoch}"
              for e in range(1, (diverged_epoch or epochs) + 1)]
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.csv").write_text("\n".join(lines) + "\n")
    (out / "val_predictions.csv").write_text("index,label,predicted,prob\n" + "".join(
        f"{i},{a},{b},{c!r}\n" for i, (a, b, c) in enumerate(
            zip(labels.tolist(), predicted.tolist(), prob.tolist(), strict=True))))
    save_tensors(out / "model.pt", {"fc.weight": torch.full((2, 3), float(seed))})
    write_json(out / "summary.json", sealed({
        "model": model, "arch": arch, "seed": seed, "epochs": epochs, "train_acc": train_acc,
        "val_acc": val_acc, "diverged_epoch": diverged_epoch, "n_params": n_params,
        "device": device, "gpu": gpu, "seconds_per_epoch": seconds_per_epoch,
        "total_seconds": seconds_per_epoch * epochs + 1, "resdeep_blocks": resdeep_blocks,
        "engine": "resident loop", "cuda_graphs": cuda_graphs,
        "hyperparameters": hyperparameters,
        **({"load_average": load_average} if load_average else {}),
        "files": {name: "sha256:" + file_digest(out / name)
                  for name in ("model.pt", "metrics.csv", "val_predictions.csv")}}))
    return {"model": model, "seed": seed, "summary": out / "summary.json",
            "metrics": out / "metrics.csv", "model_pt": out / "model.pt",
            "predictions": out / "val_predictions.csv"}


def write_runs(folder: Path, seeds: tuple[int, ...] = (0,)) -> list[dict[str, Any]]:
    """Every model of RUNS for seeds among 0, 1, 2 (LATER_SEEDS)."""
    runs = []
    for model, (arch, train_acc, val_acc, n_params, spe) in RUNS.items():
        for seed in seeds:
            train, val = LATER_SEEDS[model][seed - 1] if seed else (train_acc, val_acc)
            deep = {"resdeep_blocks": "shared", "n_blocks": 4} if model == "res_deep" else {}
            runs.append(write_run(folder, model, seed, arch=arch, train_acc=train, val_acc=val,
                                  n_params=n_params,
                                  seconds_per_epoch=spe, **deep))
    return runs


def write_fit(folder: Path, name: str, *, diverged: bool = False,
              description: str | None = None) -> Path:
    """A thermometer fit: w=5, b=-17 and a falling loss, or a loss that blows up at epoch 3."""
    loss = [100.0, 1e10, float("inf"), None] if diverged else [100.0, 40.0, 29.5]
    fit = {"experiment": name, "kind": "hand_gradient", "description": description,
           "params": {"kind": "hand_gradient", "lr": 0.01, "epochs": len(loss),
                      "input_scale": 1.0},
           "t_u": T_U, "t_c": T_C, "loss": loss, "diverged": diverged,
           "diverged_epoch": 3 if diverged else None,
           "final": {"w": 3e17, "b": 5e15, "loss": None} if diverged
           else {"w": 5.0, "b": -17.0, "loss": 29.5},
           "curve": {"x": [] if diverged else [20.0, 80.0],
                     "y": [] if diverged else [-7.0, 23.0]}}
    path = folder / "thermometer" / f"{name}.json"
    write_json(path, fit)
    return path


def write_benchmark(folder: Path, rule: str, job: str, seconds: float,
                    max_rss: float = 100.0) -> Path:
    """A Snakemake benchmark file, benchmarks/<rule>/<job>.tsv."""
    path = folder / "benchmarks" / rule / f"{job}.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"s\th:m:s\tmax_rss\tmax_vms\n{seconds}\t0:00:01\t{max_rss}\t-\n")
    return path


def _dataset_tensors(name: str, rng: np.random.Generator) -> tuple[dict[str, Any], dict]:
    """Tiny tensors and JSON extras in the layout of each ingest step (docs/ARCHITECTURE.md)."""
    def pixels(*shape: int) -> torch.Tensor:
        return torch.from_numpy(rng.integers(0, 256, shape, dtype=np.uint8))

    if name == "image_dog":
        return {"image": pixels(3, 24, 32)}, {}
    if name == "image_cats":
        raw = pixels(2, 3, 16, 16)
        return ({"raw": raw, "normalized": raw.float() / 255,
                 "mean": torch.tensor([0.5, 0.4, 0.3]), "std": torch.tensor([0.2, 0.25, 0.3])},
                {"files": ["cat1.png", "cat2.png"]})
    if name == "ct":
        volume = torch.linspace(-1000, 400, 4 * 8 * 8).reshape(1, 1, 4, 8, 8)
        return ({"volume": volume, "positions": torch.tensor([-10.0, -7.5, -5.0, -2.5],
                                                            dtype=torch.float64),
                 "spacing": torch.tensor([2.5, 0.7, 0.7], dtype=torch.float64)},
                {"series": {"uid": "1.2.3", "modality": "CT", "slices": 4}})
    if name == "wine":
        columns = [f"c{i}" for i in range(10)] + ["total sulfur dioxide", "quality"]
        table = torch.from_numpy(rng.uniform(0, 200, (40, 12)).astype(np.float32))
        table[:, -1] = torch.arange(40) % 7 + 3
        groups = {g: {c: float(i + j) for j, c in enumerate(columns)}
                  for i, g in enumerate(("bad", "mid", "good"))}
        threshold = {"column": "total sulfur dioxide", "threshold": 141.83, "n_predicted": 20,
                     "n_actual": 17, "n_matches": 9, "matches_over_predicted": 0.45,
                     "matches_over_actual": 9 / 17}
        return ({"table": table, "columns": columns},
                {"analysis": {"group_means": groups, "counts": {"bad": 5, "mid": 30, "good": 5},
                              "threshold": threshold}})
    if name == "bikes":
        daily = torch.from_numpy(rng.uniform(0, 50, (6, 17, 24)).astype(np.float32))
        daily[:, 9, :] = torch.from_numpy(rng.integers(1, 5, (6, 24))).float()
        return {"daily": daily}, {"filled_hours": 3}
    if name == "text":
        codes = [ord(c) if ord(c) < 128 else 0 for c in TEXT_LINE.lower()]
        onehot = torch.zeros(len(codes), 128)
        onehot[torch.arange(len(codes)), torch.tensor(codes)] = 1
        return ({"line_onehot": onehot, "line_words_onehot": torch.zeros(5, 50)},
                {"line_index": 7, "line": TEXT_LINE, "vocab_size": 7261, "n_words": 124592})
    if name == "cifar2":
        return ({"samples": pixels(10, 2, 3, 32, 32), "mean": torch.tensor([0.49, 0.48, 0.45]),
                 "std": torch.tensor([0.25, 0.24, 0.26])},
                {"classes": {"airplane": 0, "bird": 1}, "source_classes": CIFAR_CLASSES,
                 "normalization": "computed",
                 "counts": {"train": {"airplane": 5000, "bird": 5000}}})
    raise ValueError(f"no synthetic dataset {name!r}")


def write_dataset(folder: Path, name: str) -> dict[str, Path]:
    """One dataset's .pt and .json (its source: a small file named raw-<name>.bin)."""
    tensors, extra = _dataset_tensors(name, np.random.default_rng(DATASETS.index(name)))
    source = folder / "raw" / f"raw-{name}.bin"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(name.encode())
    pt, js = folder / "data" / f"{name}.pt", folder / "data" / f"{name}.json"
    write_outputs(name, pt, js, tensors, [source], **extra)
    return {"pt": pt, "json": js}


def report_inputs(folder: Path, *, datasets: list[str] = DATASETS,
                  seeds: tuple[int, ...] = (0,)) -> dict[str, Any]:
    """build_report's keyword arguments (all but the outputs) for a run of RUNS, two fits
    (one diverged), a few benchmarks and `datasets`, with a config that names all of them."""
    fits = [write_fit(folder, "hand_lr1e-4"), write_fit(folder, "hand_lr1e-2", diverged=True)]
    benchmarks = [write_benchmark(folder, "ingest_wine", "all", 2.0, 150.0),
                  *(write_benchmark(folder, "train_model", f"{m}/seed{s}", 3.0 + i, 400.0 + i)
                    for i, m in enumerate(RUNS) for s in seeds),
                  write_benchmark(folder, "fit_thermometer", "hand_lr1e-4", 0.5)]
    config = {"datasets": DATASETS, "models": {m: {"arch": a[0]} for m, a in RUNS.items()},
              "book_accuracy": BOOK_ACCURACY}
    return {
        "data": {name: write_dataset(folder, name) for name in datasets},
        "runs": write_runs(folder, seeds),
        "thermometer": fits,
        "benchmarks": benchmarks,
        "provenance": {"config": config, "git_commit": "0123456789abcdef0123",
                       "device": "CPU: test, 2 cores", "date": "2026-01-01T00:00:00+00:00",
                       "packages": {"torch": "2.14.1", "python": "3.11.9"}},
        "configured_models": list(RUNS),
        "datasets": DATASETS,
        "experiments": ["hand_lr1e-4", "hand_lr1e-2"],
        "book_accuracy": BOOK_ACCURACY,
        "ingest_options": {"wine": {"actual_good_above": 5}},
    }


def zoo_runs(folder: Path, config: dict[str, Any], seeds: tuple[int, ...] = (0, 1, 2),
             epochs: int = 100) -> list[dict[str, Any]]:
    """Runs of every model in `config` (the default zoo: 10 models) over `seeds`, with
    `epochs`-long curves: near the book's accuracies, each seed's training accuracy and its
    correct validation images drawn at random (a fixed generator), as large as the page will
    ever have to show."""
    runs = []
    rng = np.random.default_rng(8)
    for i, (model, entry) in enumerate(config["models"].items()):
        train, val = config["book_accuracy"].get(model, (0.9, 0.85))
        for seed in seeds:
            jitter = rng.normal(0, 0.004)
            correct = rng.random(N_VAL) < val + rng.normal(0, 0.004)
            runs.append(write_run(folder, model, seed, arch=entry["arch"],
                                  train_acc=min(1.0, train + jitter), val_acc=None,
                                  correct=correct,
                                  n_params=1000 * (i + 1), seconds_per_epoch=1.0 + i,
                                  epochs=epochs,
                                  curve=[min(1.0, 0.5 + (train - 0.5) * e / epochs + jitter)
                                         for e in range(1, epochs + 1)]))
    return runs
