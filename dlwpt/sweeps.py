"""Sweeps: one model entry's settings over lists of values (a grid for two settings).

Every point is a training run of its own, `train_model`'s `{model}` wildcard being the point's
run id: `sweeps/<sweep>/` and the point as Snakemake's `Paramspace` writes it
(`n_chans1~64`, `n_blocks~5/shared_blocks~False`). Its settings are the base model's entry
(over train.defaults) with the point's values; a point that repeats the base model's own values
is still its own run, so a sweep's curve never mixes in the zoo's runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

from dlwpt.config import (
    architecture_keys,
    best_error,
    check_hyperparameters,
    check_model_entry,
    model_config,
)

ROOT = "sweeps"  # run ids, and so paths under results/train/, start with it


@dataclass(frozen=True)
class Point:
    run: str  # the run id: train_model's {model} wildcard
    values: dict[str, Any]


@dataclass(frozen=True)
class Sweep:
    name: str
    base: str
    settings: dict[str, list[Any]]  # in config order: the first is the x axis of the figure
    points: list[Point]  # the grid, first setting outermost


def given(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The config's sweeps by name, in config order; null (the section, or one sweep) leaves
    out what an earlier config file set (Snakemake merges config files key by key)."""
    return {name: sweep for name, sweep in (config.get("sweeps") or {}).items() if sweep}


def configured(config: dict[str, Any]) -> list[Sweep]:
    """The config's sweeps, in config order, with their points named by Paramspace."""
    if not given(config):
        return []  # without sweeps, the plan does not import pandas for them
    import pandas as pd
    from snakemake.utils import Paramspace

    sweeps = []
    for name, sweep in given(config).items():
        settings = dict(sweep["settings"])
        # object columns: each value is written as the config gives it (0 stays "0", not "0.0")
        grid = pd.DataFrame(list(product(*settings.values())), columns=list(settings),
                            dtype=object)
        paths = Paramspace(grid).instance_patterns
        points = [Point(f"{ROOT}/{name}/{path}", dict(zip(settings, row, strict=True)))
                  for path, row in zip(paths, product(*settings.values()), strict=True)]
        sweeps.append(Sweep(name, sweep["base"], settings, points))
    return sweeps


def runs(sweeps: list[Sweep]) -> list[str]:
    return [point.run for sweep in sweeps for point in sweep.points]


def run_settings(config: dict[str, Any], run: str,
                 sweeps: list[Sweep] | None = None) -> dict[str, Any]:
    """The settings a run trains with: a zoo model's entry over train.defaults, or a sweep
    point's base entry with the point's values (`sweeps`: the config's, when already built)."""
    if not run.startswith(f"{ROOT}/"):
        return model_config(config, run)
    for sweep in configured(config) if sweeps is None else sweeps:
        for point in sweep.points:
            if point.run == run:
                return {**model_config(config, sweep.base), **point.values}
    raise KeyError(f"no sweep point {run!r} in the config")


def check(config: dict[str, Any], schema_path: str | Path) -> None:
    """Refuse, before any job, a sweep that names an unknown base, sweeps `arch` or a setting
    the base's architecture does not take, or has a value the base's entry could not hold
    (the schema's own rule for that key, then the config checks every model entry gets)."""
    import jsonschema
    import yaml

    from dlwpt.models import ARCHITECTURES, TRAINING_KEYS

    schema = yaml.safe_load(Path(schema_path).read_text())
    # the schema of one models entry: a point's settings must be an entry the schema accepts
    validator = jsonschema.Draft202012Validator(
        {"$defs": schema["$defs"], **schema["properties"]["models"]["additionalProperties"]})
    for name, sweep in given(config).items():
        where = f"sweeps.{name}"
        base = sweep["base"]
        if base not in config["models"]:
            raise ValueError(f"{where}.base: unknown model {base!r} "
                             f"(models: {', '.join(config['models'])})")
        if "arch" in sweep["settings"]:
            raise ValueError(f"{where}.settings: arch cannot be swept (a sweep varies one "
                             "model's settings; make one sweep per architecture)")
        settings = model_config(config, base)
        check_model_entry(base, settings)  # a base outside train.models is checked here
        arch = settings["arch"]
        accepted = architecture_keys(ARCHITECTURES[arch]) | TRAINING_KEYS
        for key, values in sweep["settings"].items():
            if key not in accepted:
                raise ValueError(f"{where}.settings: {arch} (base {base}) takes no setting "
                                 f"{key!r} (accepted: {', '.join(sorted(accepted))})")
            for value in values:
                error = best_error(validator.iter_errors({**settings, key: value}))
                if error is not None:
                    raise ValueError(f"{where}.settings.{key}: {error.message}")
                check_hyperparameters(f"{where}.settings", {key: value})


def report_spec(config: dict[str, Any], sweeps: list[Sweep]) -> dict[str, Any]:
    """What the report needs of each sweep (a param of the report: plain data only)."""
    spec = {}
    for sweep in sweeps:
        base = model_config(config, sweep.base)
        spec[sweep.name] = {
            "base": sweep.base, "arch": base["arch"], "settings": list(sweep.settings),
            "values": sweep.settings,
            # the base entry's own value of each swept setting: the book's point
            "book": {key: base.get(key) for key in sweep.settings},
            "points": [{"run": p.run, "values": p.values} for p in sweep.points],
        }
    return spec
