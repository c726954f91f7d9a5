"""Where a long run stands (issue 20): the cost model, the estimate's arithmetic, the whole-run
progress and the lines, with known inputs; and that a dry run estimates nothing."""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import replace
from types import SimpleNamespace

import pytest

from dlwpt import estimate as est
from dlwpt import progress
from dlwpt.models import build_model
from tests.helpers.workflow import QUICK, TERMINAL, snakemake

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
    cost = est.forward_cost(model)
    assert (cost.macs, cost.elements, cost.pooled) == (macs, elements, pooled)
    assert cost.params == sum(p.numel() for p in model.parameters())
    assert model.training  # put back as it was


def test_shared_blocks_cost_what_independent_ones_do():
    """A shared block runs n_blocks times: the work is the same, the parameters are not."""
    shared = est.forward_cost(build_model({"arch": "NetResDeep", "n_blocks": 10}))
    independent = est.forward_cost(build_model({"arch": "NetResDeep", "n_blocks": 10,
                                                "shared_blocks": False}))
    assert (shared.macs, shared.elements) == (independent.macs, independent.elements)
    assert shared.params < independent.params


RATE = est.Throughput(mac_rate=1e9, element_rate=1e8, pool_rate=1e8, step_s=0.001,
                      startup_s=2.0, device_name="cpu (2 threads)")
COST = est.ForwardCost(macs=1_000_000, elements=10_000, pooled=10_000, params=1000)


def test_epoch_and_job_seconds_from_the_cost_model():
    per_image = 1e6 / 1e9 + 1e4 / 1e8 + 1e4 / 1e8  # 1.2 ms
    # 1000 training images x 3 forward passes, 10 steps of (0.001 s + an update of 1000
    # parameters: 2 x 1000 at the multiply-accumulate rate), 500 validation images x an
    # evaluation's share of a forward pass
    epoch = (3 * 1000 * per_image + 10 * (0.001 + 2 * 1000 / 1e9)
             + est.EVAL_FORWARD * 500 * per_image)
    assert est.epoch_seconds(COST, RATE, 1000, 500, 100) == pytest.approx(epoch)
    # start-up, fixed costs, the epochs, a closing evaluation of both sets
    job = 2.0 + est.IN_JOB_FIXED_S + 2 * epoch + est.EVAL_FORWARD * 1500 * per_image
    assert est.modeled_training_seconds(COST, RATE, epochs=2, n_train=1000, n_val=500,
                                        batch_size=100) == pytest.approx(job)
    book = est.modeled_training_seconds(COST, RATE, epochs=2, n_train=1000, n_val=500,
                                        batch_size=100, loop="book")
    assert book == pytest.approx(job + 2 * epoch * (est.BOOK_LOOP_FACTOR - 1))


def test_probe_measures_this_machine(tmp_path):
    """The real probe, in a fresh process: positive rates, the imports timed as start-up, and
    each config's forward pass counted there."""
    rate, costs = est.probe("cpu", 1, [{"arch": "Net"}], timeout_s=120)
    assert rate.mac_rate > 1e7 and rate.element_rate > 1e5 and rate.pool_rate > 1e5
    assert 0 < rate.step_s < 1 and 0.1 < rate.startup_s < 60
    assert rate.device_name == "cpu (1 threads)"
    assert costs[0].macs == NET_MACS


# --- earlier runs --------------------------------------------------------------------------------

SETTINGS = {"arch": "Net", "batch_size": 64, "epochs": 2, "n_train": 1000, "loop": "resident"}


def summary(settings=SETTINGS, **changes):
    return {"model": "net", "epochs": 2, "seconds_per_epoch": 1.0, "total_seconds": 5.0,
            "device": "cpu (2 threads)", "loop": "resident",
            "hyperparameters": {**{k: v for k, v in settings.items() if k != "loop"},
                                "subsample": 1000}, **changes}


def test_measured_seconds_take_the_earlier_job_to_the_planned_epochs():
    run = est.MeasuredRun(epochs=2, seconds_per_epoch=1.0, total_seconds=5.0, job_seconds=8.0,
                          n_train=1000, n_val=2000)
    # the same epochs: the earlier job's whole time
    assert est.measured_training_seconds(run, 2, startup_s=99) == pytest.approx(8.0)
    # 8 more epochs, each a training pass and a validation pass of 2000 images, an image's
    # evaluation costing EVAL_FORWARD of the 3 forward passes of its training step
    assert est.measured_training_seconds(run, 10, startup_s=99) == pytest.approx(
        8.0 + 8 * 1.0 * (1 + est.EVAL_FORWARD * 2000 / (3 * 1000)))
    # without its benchmark file, the start-up outside train_model's clock is the given one
    no_bench = replace(run, job_seconds=None)
    assert est.measured_training_seconds(no_bench, 2, startup_s=1.5) == pytest.approx(6.5)


def test_measured_runs_reads_results_then_history(tmp_path):
    run_dir = tmp_path / "results/train/net/seed0"
    run_dir.mkdir(parents=True)
    (run_dir / "summary.json").write_text(json.dumps(summary()))
    bench = tmp_path / "benchmarks/train_model/net/seed0.tsv"
    bench.parent.mkdir(parents=True)
    bench.write_text("s\th:m:s\tmax_rss\n7.5\t0:00:07\t100\n")
    # a history entry holds another cost (NetWidth) as a blob
    width = summary({**SETTINGS, "arch": "NetWidth", "n_chans1": 32}, seconds_per_epoch=3.0)
    digest = "ab" + "0" * 62
    blob = tmp_path / "results/history/objects/ab" / digest
    blob.parent.mkdir(parents=True)
    blob.write_text(json.dumps(width))
    entry = tmp_path / "results/history/runs/20261201T000000Z-00000000.json"
    entry.parent.mkdir(parents=True)
    entry.write_text(json.dumps({"models": {"width": {"seeds": {"0": {"summary": digest}}}}}))

    found = est.measured_runs(tmp_path)
    net = found[est.cost_key(SETTINGS, 1000, "cpu (2 threads)", "resident")]
    assert (net.epochs, net.seconds_per_epoch, net.job_seconds) == (2, 1.0, 7.5)
    width_key = est.cost_key({**SETTINGS, "arch": "NetWidth", "n_chans1": 32}, 1000,
                             "cpu (2 threads)", "resident")
    assert found[width_key].seconds_per_epoch == 3.0 and found[width_key].job_seconds is None
    # another image count, thread count or loop is another cost
    assert est.cost_key(SETTINGS, 2000, "cpu (2 threads)", "resident") not in found
    assert est.cost_key(SETTINGS, 1000, "cpu (4 threads)", "resident") not in found
    assert est.cost_key(SETTINGS, 1000, "cpu (2 threads)", "book") not in found


def test_benchmark_seconds():
    assert est.benchmark_seconds("/nonexistent.tsv") is None


# --- the plan ------------------------------------------------------------------------------------

def train_job(run, seed=0, threads=2, deps=(), **settings):
    return est.PlannedJob(id=f"train_model/{run}/seed{seed}", rule="train_model",
                          threads=threads, deps=list(deps), run=run, seed=seed,
                          settings={**SETTINGS, **settings})


def other_job(job_id, seconds, threads=1, deps=()):
    return est.PlannedJob(id=job_id, rule=job_id.split("/")[0], threads=threads,
                          deps=list(deps), seconds=seconds)


def timed(job_id, seconds, threads=1, gpu=0, deps=()):
    return est.PlannedJob(id=job_id, rule="x", threads=threads, gpu=gpu, deps=list(deps),
                          seconds=seconds)


@pytest.mark.parametrize(("cores", "wall"), [(1, 40), (2, 40), (4, 20), (8, 10)])
def test_wall_time_with_cores_and_threads(cores, wall):
    """Four 10 s jobs of 2 threads: one at a time on 2 cores (or 1: scaled down), two on 4."""
    jobs = [timed(f"t{i}", 10, threads=2) for i in range(4)]
    assert est.simulate(jobs, cores) == wall
    assert est.wall_bound(jobs, cores) == pytest.approx(wall)


def test_wall_time_follows_dependencies_and_gpus():
    # ingest (5 s) before two 10 s trainings, which run side by side on 4 cores; report last
    jobs = [timed("ingest", 5), timed("a", 10, 2, deps=["ingest"]),
            timed("b", 10, 2, deps=["ingest"]), timed("report", 3, deps=["a", "b"])]
    assert est.simulate(jobs, 4) == 18
    assert [(j.start, j.end) for j in jobs] == [(0, 5), (5, 15), (5, 15), (15, 18)]
    assert est.wall_bound(jobs, 4) < 18  # the bound knows no dependencies
    # --resources gpu=1: GPU jobs one at a time, whatever the cores
    gpu_jobs = [timed(f"g{i}", 10, 1, gpu=1) for i in range(4)]
    assert est.simulate(gpu_jobs, 8, gpus=1) == 40
    assert est.simulate(gpu_jobs, 8, gpus=2) == 20
    assert est.simulate(gpu_jobs, 8) == 10


def test_measured_figures_come_before_the_model():
    """net was trained before with the same cost: its figures; width was not: the cost model,
    with one probe for the configs that need it."""
    measured = {est.cost_key(SETTINGS, 1000, "cpu (2 threads)", "resident"):
                est.MeasuredRun(2, 1.0, 5.0, 8.0, 1000, 2000)}
    calls = []

    def probe_fn(configs):
        calls.append(configs)
        return RATE, [COST] * len(configs)

    jobs = [train_job("net"), train_job("width", arch="NetWidth", n_chans1=32),
            train_job("width", seed=1, arch="NetWidth", n_chans1=32),
            other_job("make_report", 9.0)]
    rate = est.estimate_training(jobs, measured, "cpu", 2000, probe_fn)
    assert rate is RATE
    assert calls == [[{"arch": "NetWidth", "n_chans1": 32}]]  # one config, once
    net, width, width1, _ = jobs
    assert (net.source, net.seconds) == (est.MEASURED, pytest.approx(8.0))
    assert width.source == width1.source == est.MODELED
    assert width.seconds == pytest.approx(est.modeled_training_seconds(
        COST, RATE, epochs=2, n_train=1000, n_val=2000, batch_size=64))
    # everything measured: no probe at all
    calls.clear()
    assert est.estimate_training([train_job("net")], measured, "cpu", 2000, probe_fn) is None
    assert calls == []


def test_plan_estimate_adds_snakemake_overhead_and_lays_out_the_jobs():
    jobs = [other_job("ingest_dataset/cifar2", None, threads=2),
            train_job("net", deps=["ingest_dataset/cifar2"]),
            train_job("width", deps=["ingest_dataset/cifar2"], arch="NetWidth"),
            other_job("make_report", None, deps=["train_model/net/seed0",
                                                  "train_model/width/seed0"])]
    estimate = est.plan_estimate(jobs, {}, device="cpu", n_val=2000, cores=2,
                                 probe_fn=lambda configs: (RATE, [COST] * len(configs)))
    by_id = {job.id: job for job in estimate.jobs}
    scale = RATE.startup_s / est.REFERENCE_STARTUP_S  # the constants follow the start-up
    ingest = by_id["ingest_dataset/cifar2"]
    assert ingest.source == "constant"
    assert ingest.seconds == pytest.approx(
        est.OTHER_JOB_SECONDS["ingest_dataset/cifar2"] * scale + est.JOB_OVERHEAD_S)
    trained = by_id["train_model/net/seed0"].seconds
    # one after the other on 2 cores: ingest, the two trainings, the report
    assert estimate.wall_s == pytest.approx(ingest.seconds + 2 * trained
                                            + by_id["make_report"].seconds)
    assert by_id["make_report"].start == pytest.approx(ingest.seconds + 2 * trained)


def estimate_for(seeds, epochs, cores=2):
    jobs = [other_job("ingest_dataset/cifar2", None, threads=2)]
    for seed in seeds:
        jobs += [train_job("net", seed, deps=["ingest_dataset/cifar2"], epochs=epochs),
                 train_job("res_deep", seed, deps=["ingest_dataset/cifar2"], epochs=epochs,
                           arch="NetResDeep", n_blocks=100),
                 train_job("sweeps/width/n_chans1~8", seed, deps=["ingest_dataset/cifar2"],
                           epochs=epochs, arch="NetWidth", n_chans1=8)]
    costs = {"Net": COST, "NetWidth": COST, "NetResDeep": replace(COST, macs=100 * COST.macs)}
    return est.plan_estimate(jobs, {}, device="cpu", n_val=2000, cores=cores,
                             probe_fn=lambda cfgs: (RATE, [costs[c["arch"]] for c in cfgs]))


def test_the_block_of_a_short_run():
    lines = est.estimate_lines(estimate_for([0], epochs=2), [0])
    assert lines[0].startswith("Estimate: 3 training runs (2 models and 1 sweep point x 1 seed)"
                               " and 1 other job: about ")
    assert "on this machine (--cores 2, 2 threads per training job); the longest job, " \
           "res_deep/seed0, about " in lines[0]
    assert lines[1].startswith("  From the cost model (throughput measured just now: 1.0 G "
                               "multiply-accumulates/s; 2.0 s start-up per job)")
    assert len(lines) == 2  # under an hour: nothing about shortening it


def test_the_block_of_a_long_run_names_what_shortens_it():
    estimate = estimate_for([0, 1, 2], epochs=100)
    assert estimate.wall_s > est.LONG_RUN_S
    lines = est.estimate_lines(estimate, [0, 1, 2])
    text = "\n".join(lines)
    assert "(2 models and 1 sweep point x 3 seeds)" in lines[0]
    assert "Over an hour: res_deep is 9" in text  # most of the training
    one_seed = next(line for line in lines if "train: {seeds: [0]}" in line)
    without = next(line for line in lines if "without res_deep" in line)
    # each with the plan's wall time under that setting: the ingest and a third of the
    # trainings; most of it gone
    ingest = estimate.jobs[0].seconds
    assert progress.duration(ingest + (estimate.wall_s - ingest) / 3) in one_seed
    assert "config/quick.yaml" in text and "subsample" in text
    assert " about " in without


def test_a_measured_plan_says_so():
    measured = {est.cost_key({**SETTINGS, "epochs": 2}, 1000, "cpu (2 threads)", "resident"):
                est.MeasuredRun(2, 1.0, 5.0, 8.0, 1000, 2000)}
    estimate = est.plan_estimate([train_job("net")], measured, device="cpu", n_val=2000,
                                 cores=2, probe_fn=None)
    assert est.estimate_lines(estimate, [0])[1] == (
        "  From the seconds per epoch measured by earlier runs on this machine.")


# --- the onstart handler, on a stand-in for Snakemake's DAG --------------------------------------

class FakeJob:
    def __init__(self, rule, wildcards, threads=1, params=None, norun=False):
        self.rule = SimpleNamespace(name=rule)
        self.wildcards_dict = wildcards
        self.threads = threads
        self.resources = {"gpu": 0}
        self.params = SimpleNamespace(**(params or {}))
        self.is_norun = norun
        path = "/".join(str(v) for v in wildcards.values()) or "all"
        self.benchmark = f"benchmarks/{rule}/{path}.tsv"


def fake_workflow(jobs, deps, cores=2):
    dag = SimpleNamespace(needrun_jobs=lambda: iter(jobs), dependencies=deps)
    return SimpleNamespace(dag=dag, resource_settings=SimpleNamespace(cores=cores),
                           global_resources={})


def fake_config(seeds=(0,)):
    return {"train": {"seeds": list(seeds), "subsample": 1000, "device": "cpu",
                      "defaults": {"epochs": 2}},
            "ingest": {"cifar2": {"classes": {"airplane": 0, "bird": 1}}}}


class Logger:
    def __init__(self):
        self.infos, self.warnings = [], []

    def info(self, message):
        self.infos.append(message)

    def warning(self, message):
        self.warnings.append(message)


def test_announce_logs_one_block_and_writes_the_plan(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ingest = FakeJob("ingest_dataset", {"dataset": "cifar2"}, threads=2)
    train = FakeJob("train_model", {"model": "net", "seed": "0"}, threads=2,
                    params={"hyperparameters": {"arch": "Net", "epochs": 2, "batch_size": 64},
                            "loop": "resident"})
    everything = FakeJob("all", {}, norun=True)
    logger = Logger()
    estimate = est.announce(fake_workflow([everything, train, ingest], {train: {ingest: set()}}),
                            fake_config(), logger, progress_dir=tmp_path / "progress",
                            probe_fn=lambda cfgs: (RATE, [COST] * len(cfgs)))
    assert logger.warnings == [] and len(logger.infos) == 1
    assert logger.infos[0].startswith("Estimate: 1 training run (1 model x 1 seed) and 1 other")
    plan = json.loads((tmp_path / "progress/plan.json").read_text())
    assert [job["id"] for job in plan["jobs"]] == ["ingest_dataset/cifar2",
                                                  "train_model/net/seed0"]  # not `all`
    train_entry = plan["jobs"][1]
    assert train_entry["start"] == pytest.approx(plan["jobs"][0]["end"])
    assert train_entry["benchmark"] == "benchmarks/train_model/net/0.tsv"
    assert plan["wall_s"] == pytest.approx(estimate.wall_s)
    # 1000 of the 10,000 images (5000 per class, CIFAR-10's, without a cifar2.json)
    assert estimate.training[0].settings["n_train"] == 1000


def test_announce_never_stops_a_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    train = FakeJob("train_model", {"model": "net", "seed": "0"}, threads=2,
                    params={"hyperparameters": {"arch": "Net"}, "loop": "resident"})

    def broken(configs):
        raise RuntimeError("no torch here")

    logger = Logger()
    assert est.announce(fake_workflow([train], {}), fake_config(), logger,
                        progress_dir=tmp_path / "progress", probe_fn=broken) is None
    assert logger.warnings == ["no time estimate for this run (RuntimeError: no torch here)"]
    assert not (tmp_path / "progress").exists()


# --- progress during the run ---------------------------------------------------------------------

@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (7.4, "7s"), (59.4, "59s"), (61, "1m01s"), (3599.4, "59m59s"),
    (3600, "1h00m"), (4 * 3600 + 51 * 60 + 10, "4h51m"), (26 * 3600, "26h00m"), (-5, "0s")])
def test_duration(seconds, text):
    assert progress.duration(seconds) == text


def test_the_epoch_line_names_its_run():
    row = {"epoch": 3, "train_loss": 0.68021, "train_acc": 0.548, "val_acc": 0.65951,
           "seconds": 5.244}
    assert progress.format_epoch_line("res_deep", 1, 100, row, 4 * 3600 + 51 * 60) == (
        "res_deep/seed1 epoch 3/100 loss 0.6802 train_acc 0.5480 val_acc 0.6595 5.24 s "
        "ETA 4h51m")
    row = {"epoch": 1, "train_loss": 0.5, "train_acc": 0.5, "val_acc": 0.5, "seconds": 1.0}
    assert progress.format_epoch_line("sweeps/width/n_chans1~64", 0, 2, row, 7).startswith(
        "sweeps/width/n_chans1~64/seed0 epoch 1/2 ")


def test_the_whole_run_line():
    assert progress.whole_run_text(0.634, 6 * 3600 + 10 * 60) == (
        "run: 63% of the expected work, about 6h10m left")


def test_work_share_weighs_jobs_by_expected_seconds():
    assert progress.work_share([10, 30], [1, 0.5]) == pytest.approx(25 / 40)
    assert progress.work_share([], []) == 0


SEQUENTIAL = [{"seconds": 10, "start": 0, "end": 10}, {"seconds": 30, "start": 10, "end": 40}]


def test_planned_time_on_the_plans_timeline():
    assert progress.planned_time(0, SEQUENTIAL) == pytest.approx(0, abs=1e-9)
    assert progress.planned_time(0.25, SEQUENTIAL) == pytest.approx(10)
    assert progress.planned_time(25 / 40, SEQUENTIAL) == pytest.approx(25)  # half of the 2nd
    assert progress.planned_time(1, SEQUENTIAL) == pytest.approx(40)
    # two jobs side by side: half of the work is done at half of their time
    parallel = [{"seconds": 10, "start": 0, "end": 10}, {"seconds": 10, "start": 0, "end": 10}]
    assert progress.planned_time(0.5, parallel) == pytest.approx(5)


def test_remaining_time_follows_the_pace_so_far():
    # on the plan's pace: what the plan has left
    assert progress.remaining_seconds(25 / 40, 25, 25, 40) == pytest.approx(15)
    # twice as slow so far: more left, tempered by a prior of a tenth of the plan
    assert progress.remaining_seconds(25 / 40, 50, 25, 40) == pytest.approx(
        15 * (50 + 4) / (25 + 4))
    assert progress.remaining_seconds(1, 100, 40, 40) == 0


def test_job_fraction_reads_benchmarks_and_records(tmp_path):
    started = time.time() - 100
    work = tmp_path
    folder = work / "results/.progress"
    job = {"rule": "train_model", "run": "sweeps/width/n_chans1~8", "seed": 0,
           "benchmark": "benchmarks/train_model/sweeps/width/n_chans1~8/seed0.tsv"}
    assert progress.job_fraction(job, started, folder, work) == 0  # not started
    progress.record_epoch(folder, job["run"], 0, 3, 10, elapsed=30.0)
    assert progress.job_fraction(job, started, folder, work) == pytest.approx(0.3)
    assert json.loads((folder / "sweeps/width/n_chans1~8/seed0.json").read_text())["epoch"] == 3
    assert not list(folder.rglob("*.tmp"))
    progress.record_epoch(folder, job["run"], 0, 4, 10, elapsed=40.0, done=True)  # diverged
    assert progress.job_fraction(job, started, folder, work) == 1
    # a record from before this run's plan counts nothing
    progress.record_epoch(folder, job["run"], 0, 9, 10, elapsed=1.0, now=started - 50)
    assert progress.job_fraction(job, started, folder, work) == 0
    # a job's benchmark file written in this run: finished
    bench = work / job["benchmark"]
    bench.parent.mkdir(parents=True)
    bench.write_text("s\n1.0\n")
    assert progress.job_fraction(job, started, folder, work) == 1
    os.utime(bench, (started - 10, started - 10))  # from an earlier run
    assert progress.job_fraction(job, started, folder, work) == 0


def test_whole_run_line_from_the_plan_and_the_jobs_progress(tmp_path):
    folder = tmp_path / "results/.progress"
    assert progress.whole_run_line(folder) is None  # no plan: no line
    now = time.time()
    started = now - 25
    (tmp_path / "benchmarks/ingest_dataset").mkdir(parents=True)
    (tmp_path / "benchmarks/ingest_dataset/cifar2.tsv").write_text("s\n10\n")
    progress.write_json_atomic(folder / progress.PLAN_NAME, {
        "started": started, "wall_s": 40, "jobs": [
            {"id": "ingest_dataset/cifar2", "rule": "ingest_dataset", "seconds": 10,
             "start": 0, "end": 10, "benchmark": "benchmarks/ingest_dataset/cifar2.tsv"},
            {"id": "train_model/net/seed0", "rule": "train_model", "run": "net", "seed": 0,
             "seconds": 30, "start": 10, "end": 40,
             "benchmark": "benchmarks/train_model/net/seed0.tsv"}]})
    progress.record_epoch(folder, "net", 0, 50, 100, elapsed=15.0)
    # 10 + 15 of 40 s of work done, on the plan's pace: 15 s left
    assert progress.whole_run_line(folder, now=now) == (
        "run: 62% of the expected work, about 15s left")
    (folder / progress.PLAN_NAME).write_text("{not json")
    assert progress.whole_run_line(folder, now=now) is None


# --- progress never fails a training job ----------------------------------------------------------

GOOD_PLAN = {"started": 0.0, "wall_s": 40, "jobs": [
    {"id": "train_model/net/seed0", "rule": "train_model", "run": "net", "seed": 0,
     "seconds": 30, "start": 0, "end": 30, "benchmark": "benchmarks/train_model/net/seed0.tsv"}]}
GOOD_RECORD = {"run": "net", "seed": 0, "epoch": 1, "epochs": 2, "elapsed": 3.0, "done": False,
               "time": 1.0}
# A file as another version, a crash or a person may leave it: truncated, of the wrong shape,
# with numbers that are none.
BAD_TEXTS = [
    "", '{"jobs": [', "null", "[]", '"abc"', '{"jobs": "abc"}', '{"jobs": [1, 2]}',
    '{"jobs": [{}], "started": 0, "wall_s": 1}', '{"jobs": {"a": 1}, "started": 0}',
    json.dumps({**GOOD_PLAN, "started": "yesterday"}), json.dumps({**GOOD_PLAN, "wall_s": None}),
    json.dumps({**GOOD_PLAN, "wall_s": float("nan")}),
    json.dumps({**GOOD_PLAN, "wall_s": float("inf")}),
    json.dumps({**GOOD_PLAN, "jobs": [{**GOOD_PLAN["jobs"][0], "seconds": float("nan")}]}),
    json.dumps({**GOOD_PLAN, "jobs": [{**GOOD_PLAN["jobs"][0], "end": "x"}]}),
    json.dumps({**GOOD_PLAN, "jobs": [{**GOOD_PLAN["jobs"][0], "run": None, "seed": []}]}),
    json.dumps({**GOOD_RECORD, "epochs": 0}), json.dumps({**GOOD_RECORD, "epoch": "1"}),
    json.dumps({**GOOD_RECORD, "epoch": float("nan")}), json.dumps({**GOOD_RECORD, "time": "x"}),
    '\udcff\x00\xff',
]


def progress_files(folder):
    """Every file progress reads during training: the plan, and a job's progress record."""
    return [folder / progress.PLAN_NAME, progress.progress_path(folder, "net", 0)]


def bad_files(folder):
    """(file, writer) pairs: each file replaced by each bad text, and by a folder."""
    def write(text):
        return lambda path: path.write_bytes(text.encode("utf-8", "surrogateescape"))

    def folder_instead(path):
        (path / "inside").mkdir(parents=True)

    return [(path, make) for path in progress_files(folder)
            for make in [*map(write, BAD_TEXTS), folder_instead]]


def test_bad_progress_files_mean_no_whole_run_line_never_an_error(tmp_path, caplog):
    """Each file progress reads during training, replaced by something it cannot use: the job's
    hook (and whole_run_line) gives no line, or the line of the files that are good, and
    never raises; at most one warning."""
    import logging
    import shutil

    log = logging.getLogger("progress-fuzz")
    folder = tmp_path / "results/.progress"
    rows = [{"epoch": 1, "train_loss": 0.7, "train_acc": 0.5, "val_acc": 0.5, "seconds": 1.0}]
    for index, (path, make) in enumerate(bad_files(folder)):
        shutil.rmtree(folder, ignore_errors=True)
        progress.write_json_atomic(folder / progress.PLAN_NAME, GOOD_PLAN)
        progress.write_json_atomic(progress.progress_path(folder, "net", 0), GOOD_RECORD)
        if path.exists():
            path.unlink()
        make(path)
        line = progress.whole_run_line(folder, now=10.0)
        assert line is None or line.startswith("run: "), (index, line)
        hook = progress.JobProgress("net", 0, log, folder)
        with caplog.at_level(logging.INFO, logger="progress-fuzz"):
            caplog.clear()
            hook(rows, 2, 3.0)
            hook(rows, 2, 3.0, done=True)
        assert caplog.records and caplog.records[0].getMessage().startswith("net/seed0 epoch 1/2")
        assert len([r for r in caplog.records if r.levelname == "WARNING"]) <= 1, index


def test_the_job_hook_prints_the_epoch_line_then_the_whole_run_line(tmp_path, caplog):
    import logging

    folder = tmp_path / "results/.progress"
    now = time.time()
    progress.write_json_atomic(folder / progress.PLAN_NAME, {**GOOD_PLAN, "started": now - 1})
    hook = progress.JobProgress("net", 0, logging.getLogger("progress-hook"), folder)
    row = {"epoch": 1, "train_loss": 0.7, "train_acc": 0.5, "val_acc": 0.5, "seconds": 1.0}
    with caplog.at_level(logging.INFO, logger="progress-hook"):
        hook([row], 2, 4.0)  # 4 s for the first of 2 epochs: 4 s left
        hook([row, {**row, "epoch": 2}], 2, 8.0)  # the last: no whole-run line yet
        hook([row, {**row, "epoch": 2}], 2, 8.5, done=True)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == ("net/seed0 epoch 1/2 loss 0.7000 train_acc 0.5000 val_acc 0.5000 "
                        "1.00 s ETA 4s")
    assert lines[1].startswith("run: 50% of the expected work")
    assert lines[2].startswith("net/seed0 epoch 2/2 ") and lines[3].startswith("run: 100% ")
    assert len(lines) == 4
    assert progress.read_json(progress.progress_path(folder, "net", 0))["done"] is True


# --- a dry run estimates nothing -----------------------------------------------------------------

def test_a_dry_run_makes_no_estimate(tmp_path):
    """Snakemake calls onstart only when jobs run: -n prints no block, writes no plan, and
    starts no probe (the dry run's time is unchanged; BENCHMARKS.md has the measurement)."""
    result = snakemake(tmp_path, "-n", "--configfile", QUICK, "--cores", "2")
    assert "Estimate:" not in result.stdout + result.stderr
    assert not (tmp_path / "results/.progress").exists()


@pytest.mark.pipeline
def test_the_quick_runs_terminal_names_each_epochs_run_and_estimates_before_the_first_job(
        quick_pipeline):
    """Issue 20, on the shared quick run's terminal output: one estimate block before the first
    job, every epoch line names its `<model>/seed<k>`, and a whole-run line after (at least)
    each training job."""
    terminal = (quick_pipeline / TERMINAL).read_text().splitlines()
    estimates = [i for i, line in enumerate(terminal) if line.startswith("Estimate: ")]
    first_job = next(i for i, line in enumerate(terminal)
                     if re.match(r"(local)?rule \w+:$", line.strip()))
    assert len(estimates) == 1 and estimates[0] < first_job, terminal[:40]
    assert "12 training runs (10 models and 2 sweep points x 1 seed)" in terminal[estimates[0]]
    epochs = [line for line in terminal if re.search(r" epoch \d+/\d+ loss ", line)]
    runs = {re.search(r"(\S+)/seed(\d+) epoch \d+/\d+ loss ", line).group(1) for line in epochs
            if re.search(r"(\S+)/seed(\d+) epoch \d+/\d+ loss ", line)}
    assert len(epochs) == 12 * 2 and all(
        re.search(r"(^|\s)\S+/seed0 epoch [12]/2 loss ", line) for line in epochs), epochs[:3]
    assert "sweeps/width/n_chans1~8" in runs and "res_deep" in runs and len(runs) == 12
    whole_run = [line for line in terminal
                 if re.search(r"run: \d+% of the expected work, about \S+ left", line)]
    assert len(whole_run) >= 12, whole_run
