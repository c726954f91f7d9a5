"""Strict config: what cannot work is refused when the workflow is parsed, in one line."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import yaml

from dlwpt.config import check_config, in_listed_order, replace_class_sets, schema_problem
from tests.helpers.workflow import QUICK, planned_jobs, snakemake

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "schemas/config.schema.yaml"


@pytest.fixture
def config():
    return yaml.safe_load((REPO / "config.yaml").read_text())


def refused(config, match):
    with pytest.raises(ValueError, match=match) as caught:
        check_config(config)
    assert "\n" not in str(caught.value)
    return str(caught.value)


def test_the_defaults_and_the_quick_config_pass(config):
    check_config(config)
    quick = copy.deepcopy(config)
    quick["models"]["res_deep"]["n_blocks"] = 4
    check_config(quick)


def test_a_typo_inside_a_model_entry_names_the_model_and_the_key(config):
    config["models"]["width"]["lrr"] = 0.5
    message = refused(config, r"^models\.width: unknown key 'lrr' for NetWidth")
    assert "n_chans1" in message and "lr" in message


def test_a_key_of_another_architecture_is_refused(config):
    config["models"]["net"]["n_chans1"] = 16  # Net has fixed widths in the book
    refused(config, r"^models\.net: unknown key 'n_chans1' for Net ")


def test_a_typo_in_the_training_defaults_is_refused(config):
    config["train"]["defaults"]["epoch"] = 3
    refused(config, r"^train\.defaults: unknown key 'epoch'")


def test_unknown_architecture(config):
    config["models"]["net"]["arch"] = "LeNet"
    refused(config, r"^models\.net\.arch: unknown architecture 'LeNet'")


def test_models_or_seeds_listed_twice(config):
    config["train"]["seeds"] = [0, 1, 0]
    refused(config, r"^train\.seeds lists 0 more than once$")
    config["train"]["seeds"] = [0]
    config["train"]["models"] = ["net", "width", "net"]
    refused(config, r"^train\.models lists net more than once$")


def test_three_classes_for_two_output_models(config):
    config["ingest"]["cifar2"]["classes"] = {"airplane": 0, "bird": 1, "cat": 2}
    refused(config, "has 3 classes but the models have 2 outputs")


@pytest.mark.parametrize("lr", [math.inf, math.nan, 0.0, -1e-3, "fast"])
def test_learning_rates_must_be_finite_and_positive(config, lr):
    config["models"]["net"]["lr"] = lr
    refused(config, r"^models\.net\.lr must be a finite positive number")


def test_a_huge_learning_rate_stays_allowed(config):
    config["models"]["net"]["lr"] = 3.0e38  # how users watch a run diverge
    config["thermometer"]["experiments"]["hand_lr1e-2"]["lr"] = 1.0e200
    check_config(config)


def test_epochs_below_one(config):
    config["train"]["defaults"]["epochs"] = 0
    refused(config, r"^train\.defaults\.epochs must be a whole number >= 1, got 0$")
    config["train"]["defaults"]["epochs"] = 2
    config["thermometer"]["experiments"]["nn_linear"]["epochs"] = 0
    refused(config, r"^thermometer\.experiments\.nn_linear\.epochs")


def test_models_and_experiments_keep_config_yamls_order(config):
    """As Snakemake merges: the command line's file first, config.yaml's keys after it."""
    merged = {"models": {"res_deep": {"n_blocks": 4}, "mine": {"arch": "Net"}},
              "thermometer": {"experiments": {"split_sgd": {"epochs": 5}}}}
    for name, entry in config["models"].items():
        merged["models"].setdefault(name, entry)
    for name, entry in config["thermometer"]["experiments"].items():
        merged["thermometer"]["experiments"].setdefault(name, entry)
    assert list(merged["models"])[:2] == ["res_deep", "mine"]
    in_listed_order(merged, config)
    assert list(merged["models"]) == [*config["models"], "mine"]
    assert list(merged["thermometer"]["experiments"]) == list(config["thermometer"]["experiments"])
    assert merged["models"]["res_deep"] == {"n_blocks": 4}
    assert merged["thermometer"]["experiments"]["split_sgd"] == {"epochs": 5}


def test_a_class_mapping_from_a_configfile_replaces_the_default_one(config):
    override = {"ingest": {"cifar2": {"classes": {"cat": 0, "dog": 1}}}}
    merged = copy.deepcopy(config)
    merged["ingest"]["cifar2"]["classes"].update(override["ingest"]["cifar2"]["classes"])
    assert len(merged["ingest"]["cifar2"]["classes"]) == 4  # what a recursive merge gives
    replace_class_sets(merged, [{"train": {"seeds": [1]}}, override])
    assert merged["ingest"]["cifar2"]["classes"] == {"cat": 0, "dog": 1}
    check_config(merged)
    untouched = copy.deepcopy(config)
    replace_class_sets(untouched, [{"ingest": {"wine": {"bad_max": 4}}}, None])
    assert untouched["ingest"]["cifar2"]["classes"] == {"airplane": 0, "bird": 1}


@pytest.mark.parametrize(("where", "value", "message"), [
    (("trian",), {"seeds": [1]}, "unknown key 'trian' in the top level"),
    (("train", "subsampel"), 10, "unknown key 'subsampel' in train"),
    (("models", "width", "lrr"), 0.5, "unknown key 'lrr' in models.width"),
    (("ingest", "cifar2", "subsampel"), 3, "unknown key 'subsampel' in ingest.cifar2"),
    (("train", "defaults", "epoch"), 3, "unknown key 'epoch' in train.defaults"),
    (("thermometer", "experiments", "nn_linear", "lrr"), 1,
     "unknown key 'lrr' in thermometer.experiments.nn_linear"),
    (("models", "net", "lr"), -1, "models.net.lr: -1 is less than or equal to the minimum of 0"),
    (("train", "device"), "gpu", "train.device: 'gpu' is not one of ['auto', 'cuda', 'cpu']"),
])
def test_schema_violations_are_one_line_naming_the_key_and_where(config, where, value, message):
    assert schema_problem(config, SCHEMA) is None
    node = config
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    assert schema_problem(config, SCHEMA) == message


@pytest.mark.pipeline
@pytest.mark.parametrize(("change", "message"), [
    ({"models": {"width": {"lrr": 0.5}}}, "config: unknown key 'lrr' in models.width"),
    ({"train": {"seeds": [0, 0]}}, "config: train.seeds lists 0 more than once"),
])
def test_a_refused_config_stops_before_any_job_and_deletes_nothing(quick_pipeline, tmp_path,
                                                                   change, message):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(change))
    outputs = sorted(p for p in (quick_pipeline / "results").rglob("*") if p.is_file())
    result = snakemake(quick_pipeline, "--configfile", QUICK, str(bad), "--cores", "2",
                       check=False)
    assert result.returncode != 0
    assert message in result.stderr.splitlines(), result.stderr[-2000:]
    assert sorted(p for p in (quick_pipeline / "results").rglob("*") if p.is_file()) == outputs


@pytest.mark.pipeline
def test_a_configfile_class_set_replaces_the_default_one(quick_pipeline, tmp_path):
    classes = tmp_path / "cats-dogs.yaml"
    classes.write_text(yaml.safe_dump({"ingest": {"cifar2": {"classes": {"cat": 0, "dog": 1}}}}))
    result = snakemake(quick_pipeline, "-n", "--configfile", QUICK, str(classes), "--cores", "2")
    (ingest,) = [j for j in planned_jobs(result.stdout) if j["rule"] == "ingest_dataset"]
    assert ingest["wildcards"] == "dataset=cifar2" and "Params have changed" in ingest["reason"]
