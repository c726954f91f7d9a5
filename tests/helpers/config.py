"""The repository's configuration as the workflow sees it: config.yaml alone, or with
config/quick.yaml given as --configfile."""

from __future__ import annotations

from typing import Any

import yaml

from tests.helpers.data import REPO

QUICK_YAML = REPO / "config/quick.yaml"


def default_config() -> dict[str, Any]:
    """config.yaml as loaded, a fresh copy each call."""
    return yaml.safe_load((REPO / "config.yaml").read_text())


def quick_config() -> dict[str, Any]:
    """config/quick.yaml merged over config.yaml by Snakemake's own merge (mappings key by key,
    anything else replaced), models and experiments in config.yaml's order, as the workflow
    orders them."""
    from snakemake.utils import update_config

    from dlwpt.config import in_listed_order

    config = default_config()
    update_config(config, yaml.safe_load(QUICK_YAML.read_text()))
    in_listed_order(config, default_config())
    return config
