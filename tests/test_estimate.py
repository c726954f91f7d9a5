"""The run's time estimate: the cost model, earlier runs' figures, the plan's layout and its
lines with known inputs; Snakemake's DAG read from a real workflow; the line a dry run of a big
plan prints; and nothing an estimate reads can fail it."""

from __future__ import annotations

import ast
import json
import math
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from dlwpt import costs, progress
from dlwpt import estimate as est
from dlwpt.models import build_model
from tests.helpers.data import REPO
from tests.helpers.workflow import QUICK, snakemake

# --- the cost model: one image's forward pass, counted by hand -----------------------------------

# Net: conv1 3->16 (3x3) on 32x32, conv2 16->8 on 16x16, fc1 512->32, fc2 32->2.
NET_MACS = 16 * 32 * 32 * (3 * 9) + 8 * 16 * 16 * (16 * 9) + 32 * 512 + 2 * 32
# NetWidth(32): conv1 3->32 on 32x32, conv2 32->16 on 16x16, fc1 1024->32, fc2 32->2.
WIDTH_MACS = 32 * 32 * 32 * (3 * 9) + 16 * 16 * 16 * (32 * 9) + 32 * 1024 + 2 * 32
# NetResDeep(32, 10 blocks): conv1 3->32 on 32x32, ten 32->32 convs on 16x16, fc1 2048->32.
RESDEEP10_MACS = 32 * 32 * 32 * (3 * 9) + 10 * 32 * 16 * 16 * (32 * 9) + 32 * 2048 + 2 * 32


def test_hand_counted_multiply_accumulates():
    assert NET_MACS == 753_728
    assert WIDTH_MACS == 2_097_216
    assert RESDEEP10_MACS == 24_543_296


@pytest.mark.parametrize(("cfg", "macs", "elements", "pooled"), [
    # tanh after each layer but the last; max pooling reads each conv's activations
    ({"arch": "Net"}, NET_MACS, 16 * 32 * 32 + 8 * 16 * 16 + 32, 16 * 32 * 32 + 8 * 16 * 16),
    ({"arch": "NetWidth", "n_chans1": 32}, WIDTH_MACS, 32 * 32 * 32 + 16 * 16 * 16 + 32,
     32 * 32 * 32 + 16 * 16 * 16),
    # relu(conv1); per block batch norm, relu and the skip's sum; relu(fc1)
    ({"arch": "NetResDeep", "n_chans1": 32, "n_blocks": 10}, RESDEEP10_MACS,
     32 * 32 * 32 + 10 * 3 * 32 * 16 * 16 + 32, 32 * 32 * 32 + 32 * 16 * 16),
    # Linear 3072->512, tanh, Linear 512->2, log_softmax (flatten is a view: nothing)
    ({"arch": "FullyConnected", "hidden": [512], "log_softmax": True}, 3072 * 512 + 512 * 2,
     512 + 2, 0),
])
def test_forward_cost_counts_each_layer(cfg, macs, elements, pooled):
    model = build_model(cfg)
    cost = costs.forward_cost(model)
    assert (cost.macs, cost.elements, cost.pooled) == (macs, elements, pooled)
    assert cost.params == sum(p.numel() for p in model.parameters())
    assert model.training  # put back as it was


def test_shared_blocks_cost_what_independent_ones_do():
    """A shared block runs n_blocks times: the work is the same, the parameters are not."""
    shared = costs.forward_cost(build_model({"arch": "NetResDeep", "n_blocks": 10}))
    independent = costs.forward_cost(build_model({"arch": "NetResDeep", "n_blocks": 10,
                                                "shared_blocks": False}))
    assert (shared.macs, shared.elements) == (independent.macs, independent.elements)
    assert shared.params < independent.params


RATE = costs.Throughput(mac_rate=1e9, element_rate=1e8, pool_rate=1e8, step_s=0.001,
                      startup_s=2.0, device_name="cpu (2 threads)")
COST = costs.ForwardCost(macs=1_000_000, elements=10_000, pooled=10_000, params=1000)


def test_epoch_and_job_seconds_from_the_cost_model():
    per_image = 1e6 / 1e9 + 1e4 / 1e8 + 1e4 / 1e8  # 1.2 ms
    # 1000 training images x 3 forward passes, 10 steps of (0.001 s + an update of 1000
    # parameters: 2 x 1000 at the multiply-accumulate rate), 500 validation images x an
    # evaluation's share of a forward pass
    epoch = (3 * 1000 * per_image + 10 * (0.001 + 2 * 1000 / 1e9)
             + costs.EVAL_FORWARD * 500 * per_image)
    one_epoch = costs.modeled_training_seconds(COST, RATE, epochs=1, n_train=1000, n_val=500,
                                               batch_size=100)
    # start-up, fixed costs, the epochs, a closing evaluation of both sets
    job = 2.0 + costs.IN_JOB_FIXED_S + 2 * epoch + costs.EVAL_FORWARD * 1500 * per_image
    two_epochs = costs.modeled_training_seconds(COST, RATE, epochs=2, n_train=1000, n_val=500,
                                                batch_size=100)
    assert two_epochs == pytest.approx(job) and two_epochs - one_epoch == pytest.approx(epoch)
    book = costs.modeled_training_seconds(COST, RATE, epochs=2, n_train=1000, n_val=500,
                                        batch_size=100, loop="book")
    assert book == pytest.approx(job + 2 * epoch * (costs.BOOK_LOOP_FACTOR - 1))


def test_probe_measures_this_machine():
    """The real probe, in a fresh process: positive rates, the imports timed as start-up, and
    each config's forward pass counted there."""
    rate, found = costs.probe("cpu", 1, [{"arch": "Net"}], timeout_s=120)
    assert rate.mac_rate > 1e7 and rate.element_rate > 1e5 and rate.pool_rate > 1e5
    assert 0 < rate.step_s < 1 and 0.1 < rate.startup_s < 60
    assert rate.device_name == "cpu (1 threads)"
    assert found[0].macs == NET_MACS



# --- earlier runs --------------------------------------------------------------------------------

SETTINGS = {"arch": "Net", "batch_size": 64, "epochs": 2, "n_train": 1000, "loop": "resident"}


def summary(settings=SETTINGS, **changes):
    return {"model": "net", "epochs": 2, "seconds_per_epoch": 1.0, "total_seconds": 5.0,
            "device": "cpu (2 threads)", "loop": "resident",
            "hyperparameters": {**{k: v for k, v in settings.items() if k != "loop"},
                                "subsample": 1000}, **changes}


def test_measured_seconds_take_the_earlier_job_to_the_planned_epochs():
    run = costs.MeasuredRun(epochs=2, seconds_per_epoch=1.0, total_seconds=5.0,
                            job_seconds=8.0, n_train=1000)
    # the same epochs: the earlier job's whole time
    assert costs.measured_training_seconds(run, 2, startup_s=99, n_val=2000) == pytest.approx(8.0)
    # 8 more epochs, each a training pass and a validation pass of 2000 images
    assert costs.measured_training_seconds(run, 10, startup_s=99, n_val=2000) == pytest.approx(
        8.0 + 8 * 1.0 * (1 + costs.EVAL_FORWARD * 2000 / (3 * 1000)))
    # without its benchmark file, the start-up outside train_model's clock is the given one
    no_bench = replace(run, job_seconds=None)
    assert costs.measured_training_seconds(no_bench, 2, startup_s=1.5, n_val=2000) == (
        pytest.approx(6.5))


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def history_entry(root: Path, summary_obj, digest="ab" + "0" * 62):
    write(root / "results/history/objects" / digest[:2] / digest, json.dumps(summary_obj))
    write(root / "results/history/runs/20261201T000000Z-00000000.json",
          json.dumps({"models": {"m": {"seeds": {"0": {"summary": f"sha256:{digest}"}}}}}))


def test_measured_runs_reads_results_then_history(tmp_path):
    write(tmp_path / "results/train/net/seed0/summary.json", json.dumps(summary()))
    write(tmp_path / "benchmarks/train_model/net/seed0.tsv", "s\th:m:s\tmax_rss\n7.5\t0:00:07\t1\n")
    width = {**SETTINGS, "arch": "NetWidth", "n_chans1": 32}
    history_entry(tmp_path, summary(width, seconds_per_epoch=3.0))
    found = costs.measured_runs(tmp_path)
    net = found[costs.cost_key(SETTINGS, 1000, "cpu (2 threads)", "resident")]
    assert (net.epochs, net.seconds_per_epoch, net.job_seconds) == (2, 1.0, 7.5)
    width_key = costs.cost_key(width, 1000, "cpu (2 threads)", "resident")
    assert found[width_key].seconds_per_epoch == 3.0 and found[width_key].job_seconds is None
    # another image count, thread count or loop is another cost
    assert costs.cost_key(SETTINGS, 2000, "cpu (2 threads)", "resident") not in found
    assert costs.cost_key(SETTINGS, 1000, "cpu (4 threads)", "resident") not in found
    assert costs.cost_key(SETTINGS, 1000, "cpu (2 threads)", "book") not in found


GARBAGE = ["", "{", "[]", "null", "NaN", '"text"', "{}", '{"models": 3}', '{"models": []}',
           '{"models": {"m": {"seeds": [1]}}}', '{"models": {"m": {"seeds": {"0": 7}}}}',
           '{"models": {"m": {"seeds": {"0": {"summary": null}}}}}', "\x00\xff"]
BAD_SUMMARIES = [
    summary(seconds_per_epoch=float("nan")), summary(total_seconds=float("inf")),
    summary(seconds_per_epoch=-1.0), summary(seconds_per_epoch=0), summary(epochs=float("inf")),
    summary(epochs="two"), summary(hyperparameters=[1, 2]), summary(hyperparameters=None),
    {**summary(), "hyperparameters": {"arch": "Net"}},
    {k: v for k, v in summary().items() if k != "device"}, summary(seconds_per_epoch=True),
    summary(seconds_per_epoch="1.0x")]


@pytest.mark.parametrize("junk", GARBAGE)
def test_nothing_the_estimate_reads_fails_it(tmp_path, junk):
    """Truncated, wrong-shaped, NaN or a directory: each is skipped, the good one is kept."""
    write(tmp_path / "results/train/net/seed0/summary.json", json.dumps(summary()))
    write(tmp_path / "results/train/bad/seed0/summary.json", junk)
    (tmp_path / "results/train/dir/seed0/summary.json").mkdir(parents=True)
    for i, bad in enumerate(BAD_SUMMARIES):
        write(tmp_path / f"results/train/b{i}/seed0/summary.json", json.dumps(bad))
    write(tmp_path / "benchmarks/train_model/net/seed0.tsv", junk)
    write(tmp_path / "benchmarks/train_model/b0/seed0.tsv", "s\nnan\n")
    (tmp_path / "benchmarks/train_model/b1/seed0.tsv").mkdir(parents=True)
    write(tmp_path / "results/history/runs/20261201T000000Z-00000000.json", junk)
    (tmp_path / "results/history/runs/20261202T000000Z-00000000.json").mkdir(parents=True)
    history_entry(tmp_path, BAD_SUMMARIES[0], digest="cd" + "1" * 62)
    found = costs.measured_runs(tmp_path)
    assert list(found) == [costs.cost_key(SETTINGS, 1000, "cpu (2 threads)", "resident")]
    assert found[list(found)[0]].job_seconds is None  # its benchmark file was junk
    for text in (junk, "s\nnan\n", "s\n-3\n", "x\n1\n", "s\n"):
        assert costs.benchmark_seconds(write(tmp_path / "b.tsv", text)) is None
    assert costs.benchmark_seconds(tmp_path / "results") is None  # a directory
    # the probe's earlier figures and cifar2's counts
    write(tmp_path / "rates" / costs.RATES_NAME, junk)
    assert costs.usual_mac_rate(tmp_path / "rates", RATE) is None
    costs.record_rate(tmp_path / "rates", RATE)  # over junk: a list again
    assert len(json.loads((tmp_path / "rates" / costs.RATES_NAME).read_text())) == 1
    write(tmp_path / "results/data/cifar2.json", junk)
    assert est.cifar2_counts({}, tmp_path) == (10000, 2000)


def test_damaged_records_of_the_probe_are_skipped(tmp_path):
    write(tmp_path / costs.RATES_NAME, json.dumps(
        [1, None, {"device_name": RATE.device_name}, {"device_name": RATE.device_name,
         "mac_rate": "NaN"}, {"device_name": RATE.device_name, "mac_rate": float("nan")},
         {"device_name": RATE.device_name, "mac_rate": 4e9}]))
    assert costs.usual_mac_rate(tmp_path, RATE) == 4e9  # the one good figure


def test_a_busier_machine_than_usual_is_named(tmp_path):
    for mac_rate in (25e9, 24e9, 26e9):
        costs.record_rate(tmp_path, replace(RATE, mac_rate=mac_rate))
    assert costs.usual_mac_rate(tmp_path, replace(RATE, mac_rate=20e9)) is None  # as usual
    assert costs.usual_mac_rate(tmp_path, replace(RATE, mac_rate=10.5e9)) == 25e9
    # another device's figures say nothing about this one
    assert costs.usual_mac_rate(tmp_path, replace(RATE, mac_rate=1e9, device_name="x")) is None
    estimate = estimate_for([0], epochs=2)
    estimate.usual_mac_rate = 2.5e9
    assert any(line.startswith("  This machine is busier than usual: 1.0 G/s now against 2.5 G/s")
               for line in est.estimate_lines(estimate, [0]))


# --- the plan ------------------------------------------------------------------------------------

def train_job(run, seed=0, threads=2, deps=(), **settings):
    return est.PlannedJob(id=f"train_model/{run}/seed{seed}", rule="train_model",
                          threads=threads, deps=list(deps), run=run, seed=seed,
                          settings={**SETTINGS, **settings})


def other_job(job_id, seconds=0.0, threads=1, deps=()):
    return est.PlannedJob(id=job_id, rule=job_id.split("/")[0], threads=threads,
                          deps=list(deps), seconds=seconds)


def timed(job_id, seconds, threads=1, gpu=0, deps=()):
    return est.PlannedJob(id=job_id, rule="x", threads=threads, gpu=gpu, deps=list(deps),
                          seconds=seconds)


@pytest.mark.parametrize(("cores", "wall"), [(1, 40), (2, 40), (4, 20), (8, 10)])
def test_wall_time_with_cores_and_threads(cores, wall):
    """Four 10 s jobs of 2 threads: one at a time on 2 cores (or 1: scaled down), two on 4."""
    assert est.simulate([timed(f"t{i}", 10, threads=2) for i in range(4)], cores) == wall


def test_wall_time_follows_dependencies_and_gpus():
    # ingest (5 s) before two 10 s trainings, which run side by side on 4 cores; report last
    jobs = [timed("ingest", 5), timed("a", 10, 2, deps=["ingest"]),
            timed("b", 10, 2, deps=["ingest"]), timed("report", 3, deps=["a", "b"])]
    assert est.simulate(jobs, 4) == 18
    assert [(j.start, j.end) for j in jobs] == [(0, 5), (5, 15), (5, 15), (15, 18)]
    # --resources gpu=1: GPU jobs one at a time, whatever the cores
    gpu_jobs = [timed(f"g{i}", 10, 1, gpu=1) for i in range(4)]
    assert est.simulate(gpu_jobs, 8, gpus=1) == 40
    assert est.simulate(gpu_jobs, 8, gpus=2) == 20
    assert est.simulate(gpu_jobs, 8) == 10


def test_measured_figures_come_before_the_model():
    """net was trained before with the same cost: its figures; width was not: the cost model,
    with one probe for the configs that need it."""
    measured = {costs.cost_key(SETTINGS, 1000, "cpu (2 threads)", "resident"):
                costs.MeasuredRun(2, 1.0, 5.0, 8.0, 1000)}
    calls = []

    def probe_fn(configs):
        calls.append(configs)
        return RATE, [COST] * len(configs)

    width = {**SETTINGS, "arch": "NetWidth", "n_chans1": 32}
    found, rate = costs.training_seconds([(SETTINGS, 2), (width, 2), (width, 2)], measured,
                                         "cpu", 2000, probe_fn)
    assert rate is RATE
    assert calls == [[{"arch": "NetWidth", "n_chans1": 32, "batch_size": 64, "epochs": 2}]]
    assert found[0] == (pytest.approx(8.0), costs.MEASURED)
    assert found[1] == found[2] == (pytest.approx(costs.modeled_training_seconds(
        COST, RATE, epochs=2, n_train=1000, n_val=2000, batch_size=64)), costs.MODELED)
    # everything measured: no probe at all
    calls.clear()
    assert costs.training_seconds([(SETTINGS, 2)], measured, "cpu", 2000, probe_fn)[1] is None
    assert calls == []


def test_plan_estimate_adds_snakemake_overhead_and_lays_out_the_jobs():
    jobs = [other_job("ingest_dataset/cifar2", threads=2),
            train_job("net", deps=["ingest_dataset/cifar2"]),
            train_job("width", deps=["ingest_dataset/cifar2"], arch="NetWidth"),
            other_job("make_report", deps=["train_model/net/seed0", "train_model/width/seed0"])]
    estimate = est.plan_estimate(jobs, {}, device="cpu", n_val=2000, cores=2,
                                 probe_fn=lambda configs: (RATE, [COST] * len(configs)))
    by_id = {job.id: job for job in estimate.jobs}
    scale = RATE.startup_s / costs.REFERENCE_STARTUP_S  # the constants follow the start-up
    ingest = by_id["ingest_dataset/cifar2"]
    assert ingest.source == "constant"
    assert ingest.seconds == pytest.approx(
        est.OTHER_JOB_SECONDS["ingest_dataset/cifar2"] * scale + est.JOB_OVERHEAD_S)
    trained = by_id["train_model/net/seed0"].seconds
    # one after the other on 2 cores: ingest, the two trainings, the report
    assert estimate.wall_s == pytest.approx(ingest.seconds + 2 * trained
                                            + by_id["make_report"].seconds)
    assert by_id["make_report"].start == pytest.approx(ingest.seconds + 2 * trained)


def estimate_for(seeds, epochs, cores=2, asked=None):
    jobs = [other_job("ingest_dataset/cifar2", threads=2)]
    for seed in seeds:
        jobs += [train_job("net", seed, deps=["ingest_dataset/cifar2"], epochs=epochs),
                 train_job("res_deep", seed, deps=["ingest_dataset/cifar2"], epochs=epochs,
                           arch="NetResDeep", n_blocks=100),
                 train_job("sweeps/width/n_chans1~8", seed, deps=["ingest_dataset/cifar2"],
                           epochs=epochs, arch="NetWidth", n_chans1=8)]
    by_arch = {"Net": COST, "NetWidth": COST, "NetResDeep": replace(COST, macs=100 * COST.macs)}
    return est.plan_estimate(jobs, {}, device="cpu", n_val=2000, cores=cores, asked=asked,
                             probe_fn=lambda cfgs: (RATE, [by_arch[c["arch"]] for c in cfgs]))


def test_the_block_of_a_short_run():
    lines = est.estimate_lines(estimate_for([0], epochs=2), [0])
    assert lines[0].startswith("Estimate: 3 training runs (2 models and 1 sweep point x 1 seed)"
                               " and 1 other job: about ")
    assert "on this machine (--cores 2, 2 threads per training job); the longest job, " \
           "res_deep/seed0, about " in lines[0]
    assert lines[1].startswith("  From the cost model (throughput measured just now: 1.0 G "
                               "multiply-accumulates/s; 2.0 s start-up per job)")
    assert len(lines) == 2  # under an hour, as busy as usual: nothing more


def test_more_cores_than_cpus_are_laid_out_on_the_cpus():
    """--cores 64 on 2 CPUs: the jobs share 2 CPUs, and the block says so."""
    on_cpus, as_asked = estimate_for([0, 1], 2, cores=2, asked=64), estimate_for([0, 1], 2, 64)
    assert on_cpus.wall_s > 2 * as_asked.wall_s
    assert "(--cores 64 laid out on this machine's 2 CPUs, 2 threads" in est.estimate_lines(
        on_cpus, [0, 1])[0]


def test_the_block_of_a_long_run_names_what_shortens_it():
    estimate = estimate_for([0, 1, 2], epochs=100)
    assert estimate.wall_s > est.LONG_RUN_S
    lines = est.estimate_lines(estimate, [0, 1, 2])
    assert "(2 models and 1 sweep point x 3 seeds)" in lines[0]
    assert lines[-1].startswith("  Over an hour, res_deep the longest. Shorter, in a "
                                "--configfile: train: {seeds: [0]} (about ")
    # the plan's wall time with one seed: the ingest and a third of the trainings
    ingest = estimate.jobs[0].seconds
    assert progress.duration(ingest + (estimate.wall_s - ingest) / 3) in lines[-1]
    assert "without res_deep" in lines[-1] and "config/quick.yaml" in lines[-1]


def test_a_measured_plan_says_so():
    measured = {costs.cost_key(SETTINGS, 1000, "cpu (2 threads)", "resident"):
                costs.MeasuredRun(2, 1.0, 5.0, 8.0, 1000)}
    estimate = est.plan_estimate([train_job("net")], measured, device="cpu", n_val=2000,
                                 cores=2, probe_fn=None)
    assert est.estimate_lines(estimate, [0])[1] == (
        "  From the seconds per epoch measured by earlier runs on this machine.")


# --- Snakemake's side ----------------------------------------------------------------------------

def test_no_private_attribute_is_read():
    """The estimate reads Snakemake's objects by public names only (torch's `_is_view`, on a
    tensor, is the one private name it uses), so an upgrade breaks at most `planned_jobs`."""
    for module, allowed in (("estimate", set()), ("costs", {"_is_view"})):
        tree = ast.parse((REPO / "dlwpt" / f"{module}.py").read_text())
        private = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
                   and node.attr.startswith("_") and not node.attr.startswith("__")}
        names = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
                 and isinstance(node.value, str) and node.value.startswith("_")
                 and not node.value.startswith("__")}  # getattr(x, "_name") is no way round
        assert private <= allowed and not names, (module, private, names)
    assert "workflow._" not in (REPO / "Snakefile").read_text()
    planner = ast.parse(Path(est.__file__).read_text())
    adapter = next(node for node in ast.walk(planner)
                   if isinstance(node, ast.FunctionDef) and node.name == "planned_jobs")
    assert adapter.end_lineno - adapter.lineno + 1 <= 40
    # no other function names the DAG
    for node in ast.walk(planner):
        if isinstance(node, ast.FunctionDef) and node.name != "planned_jobs":
            assert "dag" not in {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}


SMALL_WORKFLOW = '''
import json, sys
from dataclasses import asdict
from pathlib import Path
sys.path.insert(0, {repo!r})
from snakemake.logging import logger
from dlwpt import estimate
from dlwpt.costs import ForwardCost, Throughput

RATE = Throughput(1e9, 1e8, 1e8, 0.001, 2.0, "cpu (2 threads)")

rule all:
    input:
        expand("out/{{model}}/seed{{seed}}.txt", model=["net", "sweeps/width/n_chans1~8"],
               seed=[0, 1])

rule ingest_dataset:
    output: "data/{{dataset}}.txt"
    threads: 2
    benchmark: "benchmarks/ingest_dataset/{{dataset}}.tsv"
    shell: "touch {{output}}"

rule train_model:
    input: "data/cifar2.txt"
    output: "out/{{model}}/seed{{seed}}.txt"
    threads: 2
    resources: gpu=0
    benchmark: "benchmarks/train_model/{{model}}/seed{{seed}}.tsv"
    shell: "touch {{output}}"

onstart:
    jobs = estimate.planned_jobs(workflow, config)
    estimate.announce(workflow, config, logger, progress_dir="progress",
                      probe_fn=lambda c: (RATE, [ForwardCost(10**6, 10**4, 10**4, 1000)] * len(c)))
    Path("seen.json").write_text(json.dumps({{"jobs": [asdict(job) for job in jobs],
                                             "layout": estimate.layout(workflow)}}))
'''
SMALL_CONFIG = {
    "train": {"seeds": [0, 1], "subsample": 1000, "device": "cpu", "threads": 2,
              "loop": "resident", "defaults": {"epochs": 2, "batch_size": 64}},
    "models": {"net": {"arch": "Net"}, "width": {"arch": "NetWidth", "n_chans1": 32}},
    "sweeps": {"width": {"base": "width", "settings": {"n_chans1": [8]}}}}


def run_small_workflow(tmp_path, *args):
    (tmp_path / "Snakefile").write_text(SMALL_WORKFLOW.format(repo=str(REPO)))
    (tmp_path / "config.json").write_text(json.dumps(SMALL_CONFIG))
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(tmp_path / "Snakefile"), "-d",
         str(tmp_path), "--configfile", str(tmp_path / "config.json"), *args],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((tmp_path / "seen.json").read_text()), result.stderr


@pytest.mark.parametrize(("cores", "gpus"), [(["--cores", "64", "--resources", "gpu=1"], 1.0),
                                             (["-j", "3"], math.inf)])
def test_the_dag_of_a_real_workflow(tmp_path, cores, gpus):
    """planned_jobs on Snakemake's own DAG: every job that runs (not `all`), its threads,
    dependencies, benchmark and a training run's settings; --cores or -j as asked, laid out on
    no more than this machine's CPUs; the block and plan.json."""
    seen, stderr = run_small_workflow(tmp_path, *cores)
    jobs = {job["id"]: job for job in seen["jobs"]}
    assert sorted(jobs) == ["ingest_dataset/cifar2", "train_model/net/seed0",
                            "train_model/net/seed1", "train_model/sweeps/width/n_chans1~8/seed0",
                            "train_model/sweeps/width/n_chans1~8/seed1"]
    point = jobs["train_model/sweeps/width/n_chans1~8/seed1"]
    assert (point["run"], point["seed"], point["threads"]) == ("sweeps/width/n_chans1~8", 1, 2)
    assert point["deps"] == ["ingest_dataset/cifar2"]
    assert jobs["ingest_dataset/cifar2"]["deps"] == []
    assert point["benchmark"] == "benchmarks/train_model/sweeps/width/n_chans1~8/seed1.tsv"
    assert point["settings"] == {"arch": "NetWidth", "n_chans1": 8, "epochs": 2, "batch_size": 64,
                                 "n_train": 1000, "loop": "resident"}
    asked = int(cores[1])
    assert seen["layout"] == [asked, min(asked, len(os.sched_getaffinity(0))), gpus]
    assert "Estimate: 4 training runs (1 model and 1 sweep point x 2 seeds) and 1 other job" \
        in stderr
    plan = json.loads((tmp_path / "progress" / progress.PLAN_NAME).read_text())
    assert len(plan["jobs"]) == 5 and plan["cores"] == seen["layout"][1]
    assert json.loads((tmp_path / "progress" / costs.RATES_NAME).read_text())[0]["mac_rate"] == 1e9


def test_announce_never_stops_a_run(tmp_path):
    class Logger:
        warnings: list[str] = []
        info = print

        def warning(self, message):
            self.warnings.append(message)

    logger = Logger()
    assert est.announce(SimpleNamespace(), {}, logger, progress_dir=tmp_path) is None
    assert logger.warnings == [
        "no time estimate for this run (AttributeError: 'types.SimpleNamespace' object has no "
        "attribute 'dag')"]
    assert not list(tmp_path.iterdir())


def test_a_dry_run_of_a_normal_plan_prints_no_estimate(tmp_path):
    """Snakemake calls onstart only when jobs run: -n prints no block, writes no plan, starts
    no probe, and a plan under MANY_RUNS training runs prints nothing about its size."""
    result = snakemake(tmp_path, "-n", "--configfile", QUICK, "--cores", "2")
    assert "Estimate:" not in result.stdout + result.stderr
    assert ") planned; fewer with " not in result.stdout + result.stderr
    assert not (tmp_path / "results/.progress").exists()


def test_a_dry_run_of_a_big_plan_names_its_size_and_time(tmp_path):
    """A 15 x 15 sweep grid: one line, before the job table, with the count, the settings
    that shrink it and the time laid out on this machine (the cost model: nothing measured)."""
    values = {"n_chans1": list(range(2, 32, 2)), "lr": [i / 1000 for i in range(1, 16)]}
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"sweeps": {"grid": {"base": "width", "settings": values}}}))
    result = snakemake(tmp_path, "-n", "--configfile", QUICK, str(grid), "--cores", "2")
    lines = [line for line in (result.stdout + result.stderr).splitlines()
             if ") planned; fewer with " in line]
    assert len(lines) == 1, result.stdout[-2000:]
    assert lines[0].startswith("237 training runs (10 models and 227 sweep points x 1 seed) "
                               "planned; fewer with sweeps: {grid: null} (225 points) or train: "
                               "{seeds: [0]} in a --configfile; about ")
    assert lines[0].endswith(" on this machine (cost model)")


def test_the_big_plan_line_never_stops_a_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = {"train": {"seeds": [0, 1, 2], "threads": 2, "device": "cpu", "subsample": None,
                        "loop": "resident", "defaults": {"epochs": 2}},
              "models": {f"m{i}": {"arch": "Net"} for i in range(67)}}
    workflow = SimpleNamespace(is_main_process=True,
                               resource_settings=SimpleNamespace(cores=2, resources={}))
    infos = []
    logger = SimpleNamespace(info=infos.append)

    def broken(configs):
        raise RuntimeError("no torch here")

    models = list(config["models"])
    assert est.many_runs(workflow, config, logger, models[:66], [], probe_fn=broken) is None
    line = est.many_runs(workflow, config, logger, models, [], probe_fn=broken)
    assert infos == [line] == ["201 training runs (67 models x 3 seeds) planned; fewer with "
                               "train: {seeds: [0]} in a --configfile (no time estimate: "
                               "RuntimeError: no torch here)"]
    # a job's own process (Slurm's) parses the Snakefile again: nothing there
    workflow.is_main_process = False
    assert est.many_runs(workflow, config, logger, models, [], probe_fn=broken) is None
