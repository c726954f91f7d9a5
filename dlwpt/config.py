"""Config checks the JSON schema cannot express, and per-model settings as training sees them."""

import inspect
import math
import re
from collections.abc import Iterable
from functools import reduce
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from dlwpt.cifar10 import CIFAR10_CLASSES
from dlwpt.runs import SWEEPS_ROOT, given_sweeps, model_config

N_OUTPUTS = 2  # every chapter 7-8 model ends in a two-way output layer


def selected_models(config: dict[str, Any]) -> list[str]:
    """The models to train: `train.models`, else (absent or null) every entry of `models`."""
    chosen = config["train"].get("models")
    return list(config["models"] if chosen is None else chosen)


def schema_problem(config: dict[str, Any], schema: dict[str, Any] | str | Path) -> str | None:
    """The first violation of the schema (a dict, or its file) as one line, or None:
    Snakemake's `validate` prints it all."""
    schema = schema if isinstance(schema, dict) else load_schema(schema)
    if (error := best_error(jsonschema.Draft202012Validator(schema).iter_errors(config))) is None:
        return None
    where = ".".join(map(str, error.absolute_path)) or "the top level"
    if error.validator in ("additionalProperties", "unevaluatedProperties"):
        # "... are not allowed ('lrr' was unexpected)" or "('a', 'b' were unexpected)"
        unexpected = re.search(r"\((.*) (?:was|were) unexpected\)", error.message)
        keys = re.findall(r"'([^']+)'", unexpected.group(1)) if unexpected else []
        return f"unknown key {keys[0]!r} in {where}" if keys else f"{where}: {error.message}"
    return f"{where}: {error_text(error)}"


# A number as text: YAML 1.1 (PyYAML's) reads 1e-3 as a string; it wants 1.0e-3.
NUMBER_TEXT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def error_text(error: Any) -> str:
    """A jsonschema error's message, or, for a number YAML read as text, how to write it."""
    wanted = error.validator_value if error.validator == "type" else ()
    wanted = {wanted} if isinstance(wanted, str) else set(wanted)
    text = error.instance
    if wanted & {"number", "integer"} and isinstance(text, str) and NUMBER_TEXT.fullmatch(text):
        mantissa, _, exponent = text.lower().partition("e")
        if not exponent:
            return f"{text!r} is text in YAML: write {text} without quotes"
        if "number" in wanted:  # YAML 1.1 wants a dot in the mantissa, a sign in the exponent
            mantissa += "" if "." in mantissa else ".0"
            exponent = exponent if exponent[0] in "+-" else f"+{exponent}"
            return f"{text!r} is text in YAML: write {mantissa}e{exponent}"
    return error.message


def best_error(errors: Iterable[Any]) -> Any:
    """The error to report: a key failing its own rule, not the same key as "unevaluated"."""
    errors = list(errors)
    specific = [e for e in errors
                if e.validator not in ("additionalProperties", "unevaluatedProperties")]
    return jsonschema.exceptions.best_match(specific or errors)


def check_config(config: dict[str, Any]) -> None:
    """Refuse, before any job, settings that could only fail (or mislead) inside a job. Expects a
    config the schema accepts: train.defaults' keys, for one, are the schema's to check."""
    train, models = config["train"], selected_models(config)
    check_names(config)
    if train.get("models") == []:
        raise ValueError("train.models is empty: list the models to train, or leave it out "
                         "(or null) to train every entry of models")
    if unknown := [m for m in models if m not in config["models"]]:
        raise ValueError(f"train.models names unknown models: {', '.join(unknown)}")
    for where in ("models", "seeds"):
        values = train.get(where) or []
        if twice := sorted({str(v) for v in values if values.count(v) > 1}):
            raise ValueError(f"train.{where} lists {', '.join(twice)} more than once")
    check_hyperparameters("train.defaults", train["defaults"])
    for name in models:
        check_model_entry(name, model_config(config, name))
    thermo = config["thermometer"]
    if len(thermo["t_c"]) != len(thermo["t_u"]):
        raise ValueError("thermometer.t_c and thermometer.t_u differ in length")
    for name, experiment in thermo["experiments"].items():
        check_hyperparameters(f"thermometer.experiments.{name}", experiment)
    cifar = config["ingest"].get("cifar2", {})
    if (cifar.get("mean") is None) != (cifar.get("std") is None):
        raise ValueError("ingest.cifar2.mean and ingest.cifar2.std must be given together")
    classes = cifar.get("classes") or []
    if unknown := [name for name in classes if name not in CIFAR10_CLASSES]:
        raise ValueError(f"ingest.cifar2.classes: {unknown[0]!r} is not a CIFAR-10 class "
                         f"(choices: {', '.join(CIFAR10_CLASSES)})")
    if classes and models and len(classes) != N_OUTPUTS:
        raise ValueError(f"ingest.cifar2.classes has {len(classes)} classes but the models "
                         f"have {N_OUTPUTS} outputs (the book's classifiers are two-way)")


def check_hyperparameters(where: str, settings: dict[str, Any]) -> None:
    """A finite positive lr (any size: a huge one is how users watch divergence), epochs >= 1."""
    lr = settings.get("lr")
    if lr is not None and not (isinstance(lr, int | float) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"{where}.lr must be a finite positive number, got {lr!r}")
    epochs = settings.get("epochs")
    if epochs is not None and not (isinstance(epochs, int) and epochs >= 1):
        raise ValueError(f"{where}.epochs must be a whole number >= 1, got {epochs!r}")


def check_model_entry(name: str, settings: dict[str, Any]) -> set[str]:
    """The keys the entry's architecture (its constructor) and training accept: a typo stops
    the run before Snakemake deletes outputs for a job that would die on it."""
    from dlwpt.models import ARCHITECTURES, TRAINING_KEYS

    arch = settings.get("arch")
    if arch not in ARCHITECTURES:
        raise ValueError(f"models.{name}.arch: unknown architecture {arch!r}; "
                         f"known: {', '.join(ARCHITECTURES)}")
    parameters = inspect.signature(ARCHITECTURES[arch].__init__).parameters
    accepted = TRAINING_KEYS | {
        k for k, p in parameters.items() if k != "self" and p.kind is p.POSITIONAL_OR_KEYWORD}
    if unknown := sorted(set(settings) - accepted - {"arch"}):
        raise ValueError(f"models.{name}: unknown key {unknown[0]!r} for {arch} "
                         f"(accepted: {', '.join(sorted(accepted))})")
    check_hyperparameters(f"models.{name}", settings)
    return accepted


def in_listed_order(config: dict[str, Any], defaults: dict[str, Any]) -> None:
    """Models and thermometer experiments in config.yaml's order, then any others: Snakemake
    merges config.yaml into the --configfile files, which would put theirs first."""
    for path in (("models",), ("thermometer", "experiments")):
        merged, listed = reduce(_entry, path, config), reduce(_entry, path, defaults)
        if not isinstance(merged, dict):
            continue  # absent, or not a mapping: the schema check that follows names it
        listed = listed if isinstance(listed, dict) else {}
        items = {k: merged[k] for k in listed if k in merged} | merged  # then the others
        merged.clear()
        merged.update(items)


def config_problem(config: dict[str, Any], schema_path: str | Path) -> str | None:
    """The config's first problem as one line, or None: old forms, the schema, then the rest."""
    classes = reduce(_entry, ("ingest", "cifar2", "classes"), config)
    if isinstance(classes, dict):  # an earlier version's form
        order = sorted(classes, key=lambda name: classes[name])
        return (f"ingest.cifar2.classes: give the classes as a list in label order, "
                f"[{', '.join(map(str, order))}] (a mapping of class to label is the old form)")
    schema = load_schema(schema_path)
    if problem := schema_problem(config, schema):
        return problem
    try:
        check_config(config)
        check_sweeps(config, schema)
    except ValueError as e:
        return str(e)
    return None


def load_schema(path: str | Path) -> dict[str, Any]:
    return yaml.safe_load(Path(path).read_text())


def check_names(config: dict[str, Any]) -> None:
    """Names the results layout takes (results/train/sweeps/, a run's seed<k>/ folders) would share
    its folders; a sweep named like a model would read as that model on the page."""
    for where, names in (("models", config["models"]), ("sweeps", given_sweeps(config))):
        for name in names:
            if re.fullmatch(r"seed\d+", name) or (where == "models" and name == SWEEPS_ROOT):
                raise ValueError(f"{where}.{name}: the name {name!r} is taken by the results "
                                 f"layout (results/train/{SWEEPS_ROOT}/<sweep>/, "
                                 f"<run>/seed<k>/): rename it")
            if where == "sweeps" and name in config["models"]:
                raise ValueError(f"sweeps.{name}: the name {name!r} is also a model's "
                                 f"(models.{name}): a sweep needs a name of its own, rename it")


def check_sweeps(config: dict[str, Any], schema: dict[str, Any]) -> None:
    """Refuse a sweep of an unknown base, of `arch` or a setting the base does not take, or with
    a value the base's entry could not hold."""
    # the schema of one models entry: a point's settings must be an entry the schema accepts
    validator = jsonschema.Draft202012Validator(
        {"$defs": schema["$defs"], **schema["properties"]["models"]["additionalProperties"]})
    for name, sweep in given_sweeps(config).items():
        where, base = f"sweeps.{name}", sweep["base"]
        if base not in config["models"]:
            raise ValueError(f"{where}.base: unknown model {base!r} "
                             f"(models: {', '.join(config['models'])})")
        if "arch" in sweep["settings"]:
            raise ValueError(f"{where}.settings: arch cannot be swept (a sweep varies one "
                             "model's settings; make one sweep per architecture)")
        settings = model_config(config, base)
        accepted = check_model_entry(base, settings)  # a base outside train.models, too
        for key, values in sweep["settings"].items():
            if key not in accepted:
                raise ValueError(f"{where}.settings: {settings['arch']} (base {base}) takes no "
                                 f"setting {key!r} (accepted: {', '.join(sorted(accepted))})")
            for value in values:
                error = best_error(validator.iter_errors({**settings, key: value}))
                if error is not None:
                    raise ValueError(f"{where}.settings.{key}: {error_text(error)}")
                check_hyperparameters(f"{where}.settings", {key: value})


def _entry(node: Any, key: str) -> Any:
    """node[key], or None: an unchecked config's wrong shape must reach the schema check."""
    return node.get(key) if isinstance(node, dict) else None
