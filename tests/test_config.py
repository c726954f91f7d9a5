"""Strict config: what cannot work is refused when the workflow is parsed, in one line."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import yaml

from dlwpt.config import check_config, replace_class_sets

REPO = Path(__file__).resolve().parents[1]


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
