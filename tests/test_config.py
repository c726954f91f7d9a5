"""Strict config: what cannot work is refused when the workflow is parsed, in one line."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import yaml

from dlwpt.config import (
    check_config,
    config_problem,
    in_listed_order,
    schema_problem,
    selected_models,
)
from dlwpt.plan import Plan
from dlwpt.runs import configured_sweeps, model_config, run_settings, sweep_runs
from tests.helpers.config import default_config, quick_config
from tests.helpers.workflow import (
    QUICK,
    SNAKEMAKE_NOTICES,
    error_lines,
    parse,
    planned_jobs,
    snakemake,
)

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "schemas/config.schema.yaml"
TAKEN = ("is taken by the results layout (results/train/sweeps/<sweep>/, <run>/seed<k>/): "
         "rename it")


@pytest.fixture
def config():
    return default_config()


def refused(config, match):
    with pytest.raises(ValueError, match=match) as caught:
        check_config(config)
    assert "\n" not in str(caught.value)
    return str(caught.value)


def test_the_defaults_and_the_quick_config_pass(config):
    """config.yaml alone, and with config/quick.yaml merged over it, pass every check; the quick
    config changes what its header says and nothing else, and every run trains 2 epochs."""
    assert config_problem(config, SCHEMA) is None
    quick = quick_config()
    assert config_problem(quick, SCHEMA) is None
    expected = copy.deepcopy(config)
    expected["train"].update(device="cpu", seeds=[0], subsample=1000)
    expected["train"]["defaults"]["epochs"] = 2
    expected["models"]["res_deep"]["n_blocks"] = 4
    expected["sweeps"] = {"channels": {"base": "width", "settings": {"n_chans1": [8, 16]}}}
    for name in ("autograd_sgd", "autograd_adam", "split_sgd", "nn_linear", "nn_seq_tanh13",
                 "nn_named_tanh8"):
        expected["thermometer"]["experiments"][name]["epochs"] = 500
    assert quick == expected and list(quick["models"]) == list(config["models"])
    points = sweep_runs(configured_sweeps(quick))
    assert points == ["sweeps/channels/n_chans1~8", "sweeps/channels/n_chans1~16"]
    assert [run_settings(quick, run)["n_chans1"] for run in points] == [8, 16]
    assert {run_settings(quick, run)["epochs"] for run in [*quick["models"], *points]} == {2}
    assert model_config(quick, "res_deep")["n_blocks"] == 4


def test_a_typo_inside_a_model_entry_names_the_model_and_the_key(config):
    config["models"]["width"]["lrr"] = 0.5
    message = refused(config, r"^models\.width: unknown key 'lrr' for NetWidth")
    assert "n_chans1" in message and "lr" in message


def test_a_key_of_another_architecture_is_refused(config):
    config["models"]["net"]["n_chans1"] = 16  # Net has fixed widths in the book
    refused(config, r"^models\.net: unknown key 'n_chans1' for Net ")


def test_a_typo_in_the_training_defaults_is_refused(config):
    config["train"]["defaults"]["epoch"] = 3
    assert config_problem(config, SCHEMA) == "unknown key 'epoch' in train.defaults"


def test_unknown_architecture(config):
    config["models"]["net"]["arch"] = "LeNet"
    refused(config, r"^models\.net\.arch: unknown architecture 'LeNet'")


def test_models_or_seeds_listed_twice(config):
    config["train"]["seeds"] = [0, 1, 0]
    refused(config, r"^train\.seeds lists 0 more than once$")
    config["train"]["seeds"] = [0]
    config["train"]["models"] = ["net", "width", "net"]
    refused(config, r"^train\.models lists net more than once$")


def test_an_empty_model_list_is_refused_not_read_as_all(config):
    assert selected_models(config) == list(config["models"])  # absent: all
    config["train"]["models"] = None
    assert selected_models(config) == list(config["models"])  # null: all
    config["train"]["models"] = []
    assert selected_models(config) == []
    refused(config, r"^train\.models is empty: list the models to train, or leave it out ")


def test_a_list_or_number_where_a_mapping_belongs_is_left_for_the_schema_check(config):
    """The steps before the schema check never fail on a wrong type: the check names it."""
    for key, value in (("models", ["net"]), ("thermometer", [1]), ("ingest", 7)):
        bad = copy.deepcopy(config)
        bad[key] = value
        in_listed_order(bad, config)
        assert bad[key] == value and config_problem(bad, SCHEMA).startswith(f"{key}: ")


def test_three_classes_for_two_output_models(config):
    config["ingest"]["cifar2"]["classes"] = ["airplane", "bird", "cat"]
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


def test_classes_are_a_list_in_label_order_and_the_old_mapping_gets_a_hint(config):
    """A list, which Snakemake's merge of config files replaces whole (a mapping merged key by
    key: {cat: 0, dog: 1} over the default gave four classes)."""
    assert config["ingest"]["cifar2"]["classes"] == ["airplane", "bird"]
    cats = copy.deepcopy(config)
    cats["datasets"], cats["ingest"]["cifar2"]["classes"] = [], ["cat", "dog"]  # no data checks
    assert Plan(cats, config).ingest("cifar2")["options"]["classes"] == {"cat": 0, "dog": 1}
    assert config_problem(config, SCHEMA) is None
    config["ingest"]["cifar2"]["classes"] = {"dog": 1, "cat": 0}
    assert config_problem(config, SCHEMA) == (
        "ingest.cifar2.classes: give the classes as a list in label order, [cat, dog] (a "
        "mapping of class to label is the old form)")


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
    classes.write_text(yaml.safe_dump({"ingest": {"cifar2": {"classes": ["cat", "dog"]}}}))
    result = snakemake(quick_pipeline, "-n", "--configfile", QUICK, str(classes), "--cores", "2")
    (ingest,) = [j for j in planned_jobs(result.stdout) if j["rule"] == "ingest_dataset"]
    assert ingest["wildcards"] == "dataset=cifar2" and "Params have changed" in ingest["reason"]


@pytest.mark.parametrize(("setting", "line"), [
    ("models: {width: {lrr: 0.5}}", "config: unknown key 'lrr' in models.width"),
    ("train: {models: []}", "config: train.models is empty: list the models to train, or leave "
                            "it out (or null) to train every entry of models"),
    ("models: {net: {lr: -1}}", "config: models.net.lr: -1 is less than or equal to the minimum "
                                "of 0"),
    ("train: {seeds: [0, 0]}", "config: train.seeds lists 0 more than once"),
    ("models: [net]", "config: models: ['net'] is not of type 'object'"),
    ("ingest: {cifar2: {classes: {cat: 0, dog: 1}}}",
     "config: ingest.cifar2.classes: give the classes as a list in label order, [cat, dog] (a "
     "mapping of class to label is the old form)"),
    ("ingest: {cifar2: {classes: [cat, cat]}}",
     "config: ingest.cifar2.classes: ['cat', 'cat'] has non-unique elements"),
    ("ingest: {cifar2: {classes: [airplane, brid]}}",
     "config: ingest.cifar2.classes: 'brid' is not a CIFAR-10 class (choices: airplane, "
     "automobile, bird, cat, deer, dog, frog, horse, ship, truck)"),
    ("ingest: {wine: {threshold_column: sulfur}}",
     "config: ingest.wine.threshold_column: 'sulfur' is not one of ['fixed acidity', 'volatile "
     "acidity', 'citric acid', 'residual sugar', 'chlorides', 'free sulfur dioxide', 'total "
     "sulfur dioxide', 'density', 'pH', 'sulphates', 'alcohol']"),
    # YAML 1.1 reads a number without a dot in its mantissa, or a sign in its exponent, as text
    ("models: {l2: {l2: 1e-3}}", "config: models.l2.l2: '1e-3' is text in YAML: write 1.0e-3"),
    ("train: {defaults: {lr: 1E-2}}",
     "config: train.defaults.lr: '1E-2' is text in YAML: write 1.0e-2"),
    ("sweeps: {w: {base: l2, settings: {l2: [0.001, 1e-3]}}}",
     "config: sweeps.w.settings.l2: '1e-3' is text in YAML: write 1.0e-3"),
    ("thermometer: {t_c: [1.0e1, 2.0]}",
     "config: thermometer.t_c.0: '1.0e1' is text in YAML: write 1.0e+1"),
    ("models: {net: {epochs: '3'}}", "config: models.net.epochs: '3' is text in YAML: write 3 "
                                     "without quotes"),
    # names the results layout takes: results/train/sweeps/, <run>/seed<k>/
    ("models: {sweeps: {arch: Net}}", f"config: models.sweeps: the name 'sweeps' {TAKEN}"),
    ("models: {seed0: {arch: Net}}", f"config: models.seed0: the name 'seed0' {TAKEN}"),
    ("sweeps: {seed1: {base: width, settings: {n_chans1: [8]}}}",
     f"config: sweeps.seed1: the name 'seed1' {TAKEN}"),
    # a sweep named like a model would read as that model on the page
    ("sweeps: {width: {base: width, settings: {n_chans1: [8]}}}",
     "config: sweeps.width: the name 'width' is also a model's (models.width): a sweep needs a "
     "name of its own, rename it"),
    ("sweeps: {l2: {base: net, settings: {l2: [0.0]}}}",
     "config: sweeps.l2: the name 'l2' is also a model's (models.l2): a sweep needs a name of "
     "its own, rename it"),
])
def test_a_refused_config_prints_one_line_and_no_traceback(tmp_path, setting, line):
    bad = tmp_path / "bad.yaml"
    bad.write_text(setting + "\n")
    assert error_lines(parse(tmp_path, QUICK, str(bad))) == [line]
    assert not (tmp_path / "results").exists()


def test_the_suggested_numbers_are_numbers_in_yaml():
    assert yaml.safe_load("[1.0e-3, 1.0e-2, 1.0e+1, 3]") == [1.0e-3, 1.0e-2, 10.0, 3]


def test_a_bad_class_stops_the_run_before_the_ingest_and_keeps_cifar2_pt(tmp_path):
    """Not a dry run: the run Snakemake would start deletes cifar2.pt before its ingest."""
    kept = tmp_path / "results/data/cifar2.pt"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"a good cifar2.pt")
    bad = tmp_path / "bad.yaml"
    bad.write_text("ingest: {cifar2: {classes: [airplane, brid]}}\n")
    result = snakemake(tmp_path, "--configfile", QUICK, str(bad), "--cores", "1",
                       "results/data/cifar2.pt", check=False)
    assert result.returncode == 1
    assert error_lines(result.stdout + result.stderr)[-1].startswith(
        "config: ingest.cifar2.classes: 'brid' is not a CIFAR-10 class")
    assert kept.read_bytes() == b"a good cifar2.pt"
    assert sorted(p.name for p in kept.parent.iterdir()) == ["cifar2.pt"]


def test_the_schemas_wine_columns_are_the_ingests():
    from dlwpt.ingest.wine import COLUMNS

    schema = yaml.safe_load(SCHEMA.read_text())
    wine = schema["properties"]["ingest"]["properties"]["wine"]["properties"]
    assert wine["threshold_column"]["enum"] == COLUMNS[:-1]


README = (REPO / "README.md").read_text()


def test_a_yaml_syntax_error_is_snakemakes_message_which_the_readme_explains(tmp_path):
    """Snakemake reads --configfile files before the workflow starts (no `Config file ...
    is extended` notice, printed once the Snakefile runs) and names neither file nor line."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  seeds: [0\n  device: cpu\n")
    out = parse(tmp_path, str(bad))
    message = ("Config file is not valid JSON or YAML. In case of YAML, make sure to not mix "
               "whitespace and tab indentation.")
    assert [s for s in out.splitlines() if s and not SNAKEMAKE_NOTICES.fullmatch(s)] == [
        "WorkflowError:", message], out
    assert "is extended by" not in out
    assert f"`WorkflowError:` then `{message}`" in README


def test_an_empty_configfile_is_snakemakes_message_which_the_readme_explains(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    out = parse(tmp_path, str(empty))
    message = "Config file must be given as JSON or YAML with keys at top level."
    assert message in out.splitlines() and "is extended by" not in out, out
    assert f"`WorkflowError:` then `{message}`" in README


def test_a_missing_configfile_is_snakemakes_traceback_which_the_readme_explains(tmp_path):
    missing = tmp_path / "no-such.yaml"
    out = parse(tmp_path, str(missing))
    last = [s for s in out.splitlines() if s and not SNAKEMAKE_NOTICES.fullmatch(s)][-1]
    assert last == f"FileNotFoundError: [Errno 2] No such file or directory: '{missing}'", out
    assert "is extended by" not in out
    assert "ending in `FileNotFoundError: [Errno 2] No such file or directory: '<file>'`" in README
