"""Sweeps, the config side (dlwpt.runs, dlwpt.config): point names and settings, and every bad sweep
refused while the workflow is parsed, in one `config:` line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dlwpt import runs
from dlwpt.config import check_sweeps, config_problem, load_schema
from tests.helpers.workflow import QUICK, error_lines, job_counts, parse, planned_jobs, snakemake

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "schemas/config.schema.yaml"


@pytest.fixture
def config():
    return yaml.safe_load((REPO / "config.yaml").read_text())


def test_points_are_named_as_paramspace_names_them_with_the_values_as_given(config):
    config["sweeps"] = {"l2": {"base": "l2", "settings": {"l2": [0, 1.0e-4, 0.1]}},
                        "depth": {"base": "res_deep",
                                  "settings": {"n_blocks": [1, 5], "shared_blocks": [True, False]}}}
    l2, depth = runs.configured_sweeps(config)
    assert [p.run for p in l2.points] == ["sweeps/l2/l2~0", "sweeps/l2/l2~0.0001",
                                         "sweeps/l2/l2~0.1"]
    assert [p.values for p in l2.points] == [{"l2": 0}, {"l2": 1.0e-4}, {"l2": 0.1}]
    # the grid, first setting outermost
    assert [p.run for p in depth.points] == [
        "sweeps/depth/n_blocks~1/shared_blocks~True", "sweeps/depth/n_blocks~1/shared_blocks~False",
        "sweeps/depth/n_blocks~5/shared_blocks~True", "sweeps/depth/n_blocks~5/shared_blocks~False"]
    assert runs.sweep_runs([l2, depth])[-1] == "sweeps/depth/n_blocks~5/shared_blocks~False"


def test_a_points_settings_are_its_base_entry_with_the_points_values(config):
    config["sweeps"] = {"depth": {"base": "res_deep",
                                  "settings": {"n_blocks": [5], "shared_blocks": [False]}}}
    settings = runs.run_settings(config, "sweeps/depth/n_blocks~5/shared_blocks~False")
    assert settings == {**config["train"]["defaults"], "arch": "NetResDeep", "n_chans1": 32,
                        "n_blocks": 5, "shared_blocks": False, "lr": 3.0e-3}
    # a zoo model: its entry over the defaults, as before
    assert runs.run_settings(config, "width") == {**config["train"]["defaults"],
                                                    "arch": "NetWidth", "n_chans1": 32}
    with pytest.raises(KeyError, match="no sweep point 'sweeps/depth/n_blocks~6"):
        runs.run_settings(config, "sweeps/depth/n_blocks~6/shared_blocks~False")


def test_the_report_gets_each_sweeps_settings_points_and_the_base_models_own_values(config):
    config["sweeps"] = {"l2": {"base": "l2", "settings": {"l2": [0.0, 1.0e-3]}},
                        "off": None}  # null leaves out what an earlier config file set
    spec = runs.report_spec(runs.configured_sweeps(config))
    assert spec == {"l2": {"base": "l2", "arch": "Net", "settings": ["l2"],
                           "values": {"l2": [0.0, 1.0e-3]}, "book": {"l2": 1.0e-3},
                           "points": [{"run": "sweeps/l2/l2~0.0", "values": {"l2": 0.0}},
                                      {"run": "sweeps/l2/l2~0.001", "values": {"l2": 1.0e-3}}]}}
    config["sweeps"] = None
    assert runs.configured_sweeps(config) == []


def test_the_shipped_sweeps_pass_the_checks(config):
    """config/sweeps.yaml over config.yaml passes the whole config check: its sweeps have names
    of their own, no model's."""
    config["sweeps"] = yaml.safe_load((REPO / "config/sweeps.yaml").read_text())["sweeps"]
    assert config_problem(config, SCHEMA) is None
    assert [(s.name, len(s.points)) for s in runs.configured_sweeps(config)] == [
        ("channels", 5), ("l2_penalty", 5), ("dropout_p", 5), ("blocks", 14)]
    assert not set(config["sweeps"]) & set(config["models"])


@pytest.mark.parametrize(("sweep", "line"), [
    ({"base": "widht", "settings": {"n_chans1": [8]}},
     "config: sweeps.w.base: unknown model 'widht' (models: fc_512, fc_deep, net, width, l2, "
     "dropout, batch_norm, depth, res, res_deep)"),
    ({"base": "width", "settings": {"p": [0.1]}},
     "config: sweeps.w.settings: NetWidth (base width) takes no setting 'p' (accepted: "
     "batch_size, epochs, l1, l2, loss, lr, momentum, n_chans1, optimizer, weight_decay)"),
    ({"base": "width", "settings": {"arch": ["Net"]}},
     "config: sweeps.w.settings: arch cannot be swept (a sweep varies one model's settings; "
     "make one sweep per architecture)"),
    ({"base": "width", "settings": {"n_chans1": []}},
     "config: sweeps.w.settings.n_chans1: [] should be non-empty"),
    ({"base": "width", "settings": {"n_chans1": [8, 16, 8]}},
     "config: sweeps.w.settings.n_chans1: [8, 16, 8] has non-unique elements"),
    ({"base": "l2", "settings": {"l2": [0, 0.0]}},  # the same number, however it is written
     "config: sweeps.w.settings.l2: [0, 0.0] has non-unique elements"),
    ({"base": "width", "settings": {"n_chans1": [1]}},
     "config: sweeps.w.settings.n_chans1: 1 is less than the minimum of 2"),
    ({"base": "width", "settings": {"lr": [0.1, -1]}},
     "config: sweeps.w.settings.lr: -1 is less than or equal to the minimum of 0"),
    ({"base": "width", "settings": {"n_chans1": [8], "lr": [0.1], "epochs": [2]}},
     "config: sweeps.w.settings: {'n_chans1': [8], 'lr': [0.1], 'epochs': [2]} has too many "
     "properties"),
    ({"base": "width"}, "config: sweeps.w: 'settings' is a required property"),
])
def test_a_bad_sweep_is_refused_while_parsing_in_one_line(tmp_path, sweep, line):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"sweeps": {"w": sweep}}, sort_keys=False))
    assert error_lines(parse(tmp_path, QUICK, str(bad))) == [line]
    assert not (tmp_path / "results").exists()


def test_the_shipped_sweeps_plan_one_training_job_per_point_and_seed(tmp_path):
    """config/sweeps.yaml over the default config: 29 points x 3 seeds besides the zoo's 30."""
    result = snakemake(tmp_path, "-n", "--configfile", str(REPO / "config/sweeps.yaml"),
                       "--cores", "4")
    assert job_counts(result.stdout)["train_model"] == 30 + 29 * 3
    points = {j["wildcards"] for j in planned_jobs(result.stdout)
              if j["wildcards"].startswith("model=sweeps/")}
    assert len(points) == 87
    assert "model=sweeps/blocks/n_blocks~100/shared_blocks~False, seed=2" in points
    assert "model=sweeps/l2_penalty/l2~0.0001, seed=0" in points


def test_null_leaves_out_a_sweep_an_earlier_config_file_set(tmp_path):
    off = tmp_path / "no-sweeps.yaml"
    off.write_text("sweeps: null\n")
    result = snakemake(tmp_path, "-n", "--configfile", QUICK, str(off), "--cores", "2")
    # config/quick.yaml's two channels points are left out: the zoo's 10 runs remain
    assert job_counts(result.stdout)["train_model"] == 10


def test_a_base_outside_train_models_is_checked_as_a_model_entry(config):
    """The zoo's checks cover the models train.models selects; a sweep's base gets the same."""
    config["train"]["models"] = ["net"]
    config["models"]["width"]["p"] = 0.3  # NetDropout's setting, not NetWidth's
    config["sweeps"] = {"w": {"base": "width", "settings": {"n_chans1": [8]}}}
    with pytest.raises(ValueError, match=r"^models\.width: unknown key 'p' for NetWidth"):
        check_sweeps(config, load_schema(SCHEMA))
