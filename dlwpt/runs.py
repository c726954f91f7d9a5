"""A training run's vocabulary: its id (a model entry, or a sweep point's `sweeps/<sweep>/<point>`),
its name and folders at a seed, its settings, the files it writes."""

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from itertools import product
from pathlib import Path
from typing import Any, Self

# A sweep point's run id, and so its paths under results/train/, start with it.
SWEEPS_ROOT = "sweeps"
TRAIN_ROOT = "results/train"
# The run history (dlwpt.history), appended to by publish_report: no rule declares it, so
# Snakemake never deletes it (`snakemake --delete-all-output` included).
HISTORY_ROOT = "results/history"
TRAIN_RULE = "train_model"  # the training jobs' rule: benchmarks/<rule>/, progress lines
# What one training job writes into its run folder, and the report reads: RunFiles' fields.
TRAINED = {"summary": "summary.json", "metrics": "metrics.csv", "model": "model.pt",
           "predictions": "val_predictions.csv"}
TRAINED_FILES = tuple(TRAINED.values())
# train_model's settings besides the run's own entry (rules/train.smk's params): changing one
# retrains every run, so the history counts them among each model's settings.
TRAIN_KEYS = ("device", "gpus", "loop", "cuda_graphs", "subsample", "checkpoint_every")


def run_name(run: str, seed: int) -> str:
    """`res_deep/seed1`, `sweeps/channels/n_chans1~64/seed0`: the run's name everywhere."""
    return f"{run}/seed{seed}"


def run_dir(run: str, seed: int, root: str | Path = TRAIN_ROOT) -> Path:
    """The run's folder under `root` (results/train; or .resume, .progress, tensorboard)."""
    return Path(root) / run_name(run, seed)


@dataclass(frozen=True)
class RunFiles:
    """Where one run's TRAINED files are: in its folder (`in_folder`), or a training job's."""

    summary: Path
    metrics: Path
    predictions: Path
    model: Path

    @classmethod
    def in_folder(cls, folder: str | Path) -> Self:
        return cls(**{field: Path(folder) / name for field, name in TRAINED.items()})


def blob_path(history_dir: str | Path, digest: str) -> Path:
    """Where the run history keeps a file: under its sha256, stored once."""
    return Path(history_dir) / "objects" / digest[:2] / digest


def model_config(config: Mapping[str, Any], model: str) -> dict[str, Any]:
    """One model entry's full settings: its entry of `models` over `train.defaults`."""
    return {**config["train"]["defaults"], **config["models"][model]}


def job_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    train = config.get("train") or {}
    return {key: train.get(key) for key in TRAIN_KEYS}


@dataclass(frozen=True)
class Point:
    """One point of a sweep: its run id (train_model's {model} wildcard) and setting values."""

    run: str
    values: dict[str, Any]


@dataclass(frozen=True)
class Sweep:
    """A config sweep: its base entry and architecture, the swept settings' values in config
    order (the first is the x axis; a second gives one series per value), the base's own
    values (the book's point) and the grid's points, first setting outermost."""

    name: str
    base: str
    arch: str
    settings: list[str]
    values: dict[str, list[Any]]
    book: dict[str, Any]
    points: list[Point]

    @classmethod
    def of(cls, name: str, spec: Mapping[str, Any]) -> Self:  # from report_spec's entry
        return cls(name, **{**spec, "points": [Point(**point) for point in spec["points"]]})

    @property
    def x(self) -> str:
        return self.settings[0]

    @property
    def series_setting(self) -> str | None:
        return self.settings[1] if len(self.settings) > 1 else None

    def series(self) -> list[Any]:
        """The values of the second setting (one series each), or [None] for one setting."""
        return list(self.values[self.series_setting]) if self.series_setting else [None]

    def label(self, values: Mapping[str, Any]) -> str:
        return ", ".join(f"{s} = {value_text(values[s])}" for s in self.settings)

    def is_book(self, point: Point) -> bool:
        return bool(self.book) and all(
            s in self.book and same(point.values[s], self.book[s]) for s in self.settings)

    def scale(self) -> Any:
        """The x axis' scale; None when the values are not numbers (no trend is tested)."""
        from dlwpt.statistics import trend_scale

        xs = self.values[self.x]
        return trend_scale([float(v) for v in xs]) if xs and all(map(numeric, xs)) else None

    @property
    def boolean(self) -> bool:
        return all(isinstance(v, bool) for v in self.values[self.x])


def value_text(value: Any) -> str:
    """A setting's value as the page writes it: 8, 0.0001, 0.4, True."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def numeric(value: Any) -> bool:
    return isinstance(value, bool | int | float) and math.isfinite(float(value))


def same(a: Any, b: Any) -> bool:
    """Config values compared as the config means them (1 and 1.0 alike, True not 1)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if numeric(a) and numeric(b):
        return float(a) == float(b)
    return a == b


def given_sweeps(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The config's sweeps by name, in config order; null (the section, or one sweep) leaves
    out what an earlier config file set (Snakemake merges config files key by key)."""
    return {name: sweep for name, sweep in (config.get("sweeps") or {}).items() if sweep}


def configured_sweeps(config: Mapping[str, Any]) -> list[Sweep]:
    """The config's sweeps, their points named as `Paramspace` names them (`n_chans1~64`) under
    `sweeps/<sweep>/`; a point with the base's own values is still its own run."""
    if not given_sweeps(config):
        return []  # without sweeps, the plan does not import pandas for them
    import pandas as pd
    from snakemake.utils import Paramspace

    sweeps = []
    for name, sweep in given_sweeps(config).items():
        values = dict(sweep["settings"])
        grid = list(product(*values.values()))
        # object columns: each value is written as the config gives it (0 stays "0", not "0.0")
        paths = Paramspace(pd.DataFrame(grid, columns=list(values), dtype=object))
        points = [Point(f"{SWEEPS_ROOT}/{name}/{path}", dict(zip(values, row, strict=True)))
                  for path, row in zip(paths.instance_patterns, grid, strict=True)]
        base = model_config(config, sweep["base"])
        sweeps.append(Sweep(name, sweep["base"], base["arch"], list(values), values,
                            {key: base.get(key) for key in values}, points))
    return sweeps


def sweep_runs(sweeps: list[Sweep]) -> list[str]:
    return [point.run for sweep in sweeps for point in sweep.points]


def report_spec(sweeps: list[Sweep]) -> dict[str, Any]:
    """What the report needs of each sweep (its param: plain data; Sweep.of reads it back)."""
    return {s.name: {k: v for k, v in asdict(s).items() if k != "name"} for s in sweeps}


def run_settings(config: Mapping[str, Any], run: str,
                 sweeps: list[Sweep] | None = None) -> dict[str, Any]:
    """The settings a run trains with: a model's entry over train.defaults, or a sweep point's
    base entry with the point's values (`sweeps`: the config's, when already built)."""
    if not run.startswith(f"{SWEEPS_ROOT}/"):
        return model_config(config, run)
    for sweep in configured_sweeps(config) if sweeps is None else sweeps:
        for point in sweep.points:
            if point.run == run:
                return {**model_config(config, sweep.base), **point.values}
    raise KeyError(f"no sweep point {run!r} in the config")
