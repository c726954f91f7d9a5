"""The conda env file mirrors the pip pins, and the config validates against its schema."""

from __future__ import annotations

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from dlwpt.config import check_config, model_config
from dlwpt.engine import TrainSettings
from tests.helpers.config import default_config
from tests.helpers.data import REPO


def pins(lines):
    return sorted(line.strip() for line in lines if "==" in line and not line.startswith("#"))


def test_conda_env_pins_the_same_versions_as_requirements():
    env = yaml.safe_load((REPO / "envs/dlwpt.yaml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pins(pip_section) == pins((REPO / "requirements.txt").read_text().splitlines())
    assert any(p.startswith("torch==2.14.1") for p in pip_section)
    assert "tensorboard==2.21.0" in pip_section  # the live view's event files (dlwpt.live)


@pytest.fixture()
def config():
    return default_config()


def test_default_config_is_valid_and_book_faithful(config):
    validate(config, str(REPO / "schemas/config.schema.yaml"))
    check_config(config)
    res_deep = model_config(config, "res_deep")
    assert (res_deep["lr"], res_deep["n_blocks"], res_deep["shared_blocks"]) == (3e-3, 100, True)
    assert model_config(config, "net")["lr"] == 1e-2
    assert model_config(config, "net")["batch_size"] == 64
    assert model_config(config, "net")["epochs"] == 100
    # The regularizers beyond the book's l2 are off unless a model turns them on: absent from
    # the config (runs trained before they existed keep their params), 0.0 in TrainSettings.
    assert model_config(config, "l2")["l2"] == 0.001
    assert not {"l1", "weight_decay"} & set(model_config(config, "l2"))
    settings = TrainSettings.from_config(model_config(config, "l2"))
    assert (settings.l2, settings.l1, settings.weight_decay) == (0.001, 0.0, 0.0)
    assert config["ingest"]["text"]["line_index"] == 200
    # three runs per model by default, for spreads and intervals over seeds
    assert config["train"]["seeds"] == [0, 1, 2]


def test_the_schema_default_seeds_match_the_config(config):
    """A config file without train.seeds trains the same three runs per model."""
    del config["train"]["seeds"]
    validate(config, str(REPO / "schemas/config.schema.yaml"))
    assert config["train"]["seeds"] == [0, 1, 2]


@pytest.mark.parametrize("path, value, where", [
    (("train", "device"), "tpu", "['train']['device']"),
    (("models", "net", "arch"), "NoSuchNet", "['models']['net']"),  # no model entry matches
    (("models", "net", "lr"), -1, "['models']['net']"),
    (("models", "net", "l1"), -0.001, "['models']['net']"),
    (("train", "defaults", "weight_decay"), -0.01, "['train']['defaults']['weight_decay']"),
    (("data", "download", "cifar10_checksum"), "crc:1",
     "['data']['download']['cifar10_checksum']"),
])
def test_schema_rejects_bad_settings(config, path, value, where):
    """Snakemake's own check, which the workflow runs after its one-line one, names the place."""
    node = config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(WorkflowError) as caught:
        validate(config, str(REPO / "schemas/config.schema.yaml"))
    assert f"On instance{where}:" in str(caught.value).splitlines()


def test_unknown_model_in_selection_is_named(config):
    config["train"]["models"] = ["net", "nope"]
    with pytest.raises(ValueError, match="nope"):
        check_config(config)
