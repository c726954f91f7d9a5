"""The estimate before a run's first job: `announce` (onstart) logs it and writes plan.json
(dlwpt.progress); `many_runs` (at parse time: onstart never runs in a dry run) names a plan of
over MANY_RUNS training runs. No job imports this module: editing it reruns nothing."""

import heapq
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from dlwpt import costs
from dlwpt.costs import MEASURED, MODELED, MeasuredRun, ProbeFn, Throughput
from dlwpt.io import read_json, write_json
from dlwpt.progress import PLAN_NAME, PROGRESS_DIR, duration
from dlwpt.runs import SWEEPS_ROOT, TRAIN_RULE, Sweep, configured_sweeps, run_name, run_settings

LONG_RUN_S = 3600.0  # over this, the block names the settings that shorten the run
MANY_RUNS = 200  # over this many training runs, the plan says so while it is parsed
# Seconds of jobs no earlier run has measured here (others: 5 s), from a quick run on the 2-core
# Intel Xeon of BENCHMARKS.md (mostly start-up), scaled by this machine's start-up (0.5x-2x).
OTHER_JOB_SECONDS = {"ingest_dataset": 3.5, "ingest_dataset/cifar2": 11.0, "fit_thermometer": 5.0,
                     "make_report": 9.0, "publish_report": 1.0, "fetch_raw_file": 2.0,
                     "fetch_cifar10": 60.0}
JOB_OVERHEAD_S = 0.5  # Snakemake's own time per job, outside the job's process


@dataclass
class PlannedJob:
    id: str  # train_model/res_deep/seed0, ingest_dataset/cifar2, make_report
    rule: str
    threads: int = 1
    gpu: int = 0
    deps: list[str] = field(default_factory=list)  # ids of planned jobs it waits for
    benchmark: str | None = None
    run: str | None = None
    seed: int | None = None
    settings: dict[str, Any] | None = None  # training: the run's settings, n_train and loop
    seconds: float = 0.0
    source: str = ""  # MEASURED or MODELED; "benchmark" or "constant" for other jobs
    start: float = 0.0  # on the plan's timeline (`simulate`)
    end: float = 0.0


def simulate(jobs: Sequence[PlannedJob], cores: int, gpus: float = math.inf) -> float:
    """The wall time of the jobs laid out greedily, training first, each once its dependencies
    are done and its threads (capped at `cores`, as Snakemake does) and gpu are free."""
    cores, pending = max(1, cores), sorted(jobs, key=lambda job: (job.rule != TRAIN_RULE, job.id))
    ids, finished, running = {job.id for job in jobs}, set(), []
    free_cores, free_gpus, now = cores, gpus, 0.0
    while pending or running:
        for job in list(pending):
            if all(d in finished or d not in ids for d in job.deps) and (not running or (
                    min(job.threads, cores) <= free_cores and job.gpu <= free_gpus)):
                pending.remove(job)
                job.start, job.end = now, now + job.seconds
                free_cores, free_gpus = free_cores - min(job.threads, cores), free_gpus - job.gpu
                heapq.heappush(running, (job.end, len(ids) - len(pending), job))
        if not running:
            break  # jobs waiting for something that never runs
        now, _, done = heapq.heappop(running)
        finished.add(done.id)
        free_cores, free_gpus = free_cores + min(done.threads, cores), free_gpus + done.gpu
    return max((job.end for job in jobs), default=0.0)


@dataclass
class Estimate:
    jobs: list[PlannedJob]  # with their seconds, start and end
    wall_s: float
    cores: int  # what the jobs are laid out on: min(asked, CPUs)
    asked: int  # --cores (or -j)
    gpus: float
    rate: Throughput | None  # what the probe measured, if it ran
    usual_mac_rate: float | None = None  # this machine's usual figure, when now is busier


def plan_estimate(jobs: Sequence[PlannedJob], measured: Mapping[str, MeasuredRun], *,
                  device: str, n_val: int, cores: int, asked: int | None = None,
                  gpus: float = math.inf, probe_fn: ProbeFn | None = None) -> Estimate:
    """Every job's seconds (dlwpt.costs; a benchmark file; OTHER_JOB_SECONDS), laid out."""
    jobs = [replace(job) for job in jobs]
    training = [job for job in jobs if job.rule == TRAIN_RULE]
    found, rate = costs.training_seconds([(job.settings, job.threads) for job in training],
                                         measured, device, n_val, probe_fn)
    for job, (seconds, source) in zip(training, found, strict=True):
        job.seconds, job.source = seconds, source
    scale = min(max(rate.startup_s / costs.REFERENCE_STARTUP_S, 0.5), 2.0) if rate else 1.0
    for job in jobs:
        if job.rule != TRAIN_RULE:
            bench = costs.benchmark_seconds(job.benchmark) if job.benchmark else None
            job.seconds, job.source = (bench, "benchmark") if bench is not None else (
                scale * OTHER_JOB_SECONDS.get(job.id, OTHER_JOB_SECONDS.get(
                    job.rule, 5.0)), "constant")
        job.seconds += JOB_OVERHEAD_S
    return Estimate(jobs, simulate(jobs, cores, gpus), cores, asked or cores, gpus, rate)


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def counted(n: int, runs: Sequence[str] | set[str], seeds: Sequence[int]) -> str:
    """`12 training runs (10 models and 2 sweep points x 1 seed)`."""
    points = sum(run.startswith(SWEEPS_ROOT + "/") for run in runs)
    return (f"{plural(n, 'training run')} ({plural(len(runs) - points, 'model')}"
            + (f" and {plural(points, 'sweep point')}" if points else "")
            + f" x {plural(len(seeds), 'seed')})")


def estimate_lines(estimate: Estimate, seeds: Sequence[int]) -> list[str]:
    """What runs, for how long, on what, from which figures; over an hour, what shortens it."""
    training = [job for job in estimate.jobs if job.rule == TRAIN_RULE]
    runs = {job.run for job in training if job.run}
    where = f"--cores {estimate.asked}" + (
        f" laid out on this machine's {estimate.cores} CPUs" if estimate.asked > estimate.cores
        else "")
    if training:
        where += f", {plural(training[0].threads, 'thread')} per training job"
    if math.isfinite(estimate.gpus) and any(job.gpu for job in estimate.jobs):
        where += f", --resources gpu={int(estimate.gpus)}"
    what = f"{counted(len(training), runs, seeds)} and " if training else ""
    first = (f"Estimate: {what}{plural(len(estimate.jobs) - len(training), 'other job')}: "
             f"about {duration(estimate.wall_s)} on this machine ({where})")
    longest = max(estimate.jobs, key=lambda job: job.seconds)
    if len(estimate.jobs) > 1:
        first += (f"; the longest job, {longest.id.removeprefix(TRAIN_RULE + '/')}, about "
                  f"{duration(longest.seconds)}")
    lines, rate, usual = [first + "."], estimate.rate, estimate.usual_mac_rate
    measured = sum(job.source == MEASURED for job in training)
    model = MODELED + (f" (throughput measured just now: {rate.mac_rate / 1e9:.1f} G "
                       f"multiply-accumulates/s; {rate.startup_s:.1f} s start-up per job)"
                       if rate else "")
    if training:
        lines.append(f"  From the seconds per epoch {MEASURED}." if measured == len(training)
                     else f"  From the seconds per epoch {MEASURED} ({measured} of "
                     f"{len(training)} training runs) and the {model}." if measured
                     else f"  From the {model}; no earlier run here had the same settings.")
    if rate and usual:
        lines.append(f"  This machine is busier than usual: {rate.mac_rate / 1e9:.1f} G/s now "
                     f"against {usual / 1e9:.1f} G/s in its earlier runs; the modeled figures "
                     "are as much longer while it stays so.")
    if estimate.wall_s > LONG_RUN_S and training:  # README: "How long the default run takes"
        top = max(runs, key=lambda run: sum(job.seconds for job in training if job.run == run))
        one_seed = [replace(job) for job in estimate.jobs if job.seed in (None, seeds[0])]
        lines.append(f"  Over an hour, {top} the longest. Shorter, in a --configfile: " + (
            f"train: {{seeds: [{seeds[0]}]}} (about "
            f"{duration(simulate(one_seed, estimate.cores, estimate.gpus))}), " if len(seeds) > 1
            else "") + f"sweeps: {{<sweep>: null}}, train: {{models: [...]}} without {top}, "
            "fewer images or epochs (train: {subsample: 2000}, train: {defaults: {epochs: 20}}), "
            "or --configfile config/quick.yaml.")
    return lines


def training_settings(config: Mapping[str, Any], run: str, points: list[Sweep],
                      n_train: int) -> dict[str, Any]:
    """A training run's settings (dlwpt.runs.run_settings), with its images and loop."""
    subsample = config["train"].get("subsample")
    return {"epochs": 100, **run_settings(dict(config), run, points),
            "n_train": min(subsample, n_train) if subsample else n_train,
            "loop": config["train"].get("loop") or "resident"}


def planned_jobs(workflow: Any, config: Mapping[str, Any]) -> list[PlannedJob]:
    """The jobs Snakemake will run, less those that run nothing (`all`). The one reader of
    Snakemake's DAG, which is no documented API."""
    dag = workflow.dag
    jobs = [job for job in dag.needrun_jobs() if not job.is_norun]
    ids = {job: job_id(job.rule.name, dict(job.wildcards_dict)) for job in jobs}
    points, n_train = configured_sweeps(dict(config)), cifar2_counts(config)[0]
    planned = []
    for job in jobs:
        gpu = job.resources.get("gpu", 0)
        item = PlannedJob(
            ids[job], job.rule.name, int(job.threads or 1), int(getattr(gpu, "value", gpu) or 0),
            deps=sorted(ids[dep] for dep in dag.dependencies.get(job, {}) if dep in ids),
            benchmark=str(job.benchmark) if job.benchmark else None)
        if item.rule == TRAIN_RULE:
            item.run, item.seed = job.wildcards_dict["model"], int(job.wildcards_dict["seed"])
            item.settings = training_settings(config, item.run, points, n_train)
        planned.append(item)
    return planned


def job_id(rule: str, wildcards: Mapping[str, Any]) -> str:  # as PlannedJob.id
    if rule == TRAIN_RULE:
        return f"{rule}/{run_name(wildcards['model'], int(wildcards['seed']))}"
    return "/".join([rule, *(str(v) for v in wildcards.values())])


def cifar2_counts(config: Mapping[str, Any], root: str | os.PathLike = ".") -> tuple[int, int]:
    """Training and validation images of cifar2.pt (its summary's, else CIFAR-10's)."""
    classes = len((config.get("ingest", {}).get("cifar2") or {}).get("classes") or []) or 2
    try:
        counts = read_json(Path(root) / "results/data/cifar2.json", or_none=True)["counts"]
        train, val = (int(sum(counts[part].values())) for part in ("train", "val"))
        return (train, val) if min(train, val) > 0 else (5000 * classes, 1000 * classes)
    except (LookupError, TypeError, ValueError, AttributeError, OverflowError):
        return 5000 * classes, 1000 * classes  # CIFAR-10's per class


def layout(workflow: Any) -> tuple[int, int, float]:
    """--cores (or -j), the cores the jobs are laid out on (at most the CPUs), --resources gpu."""
    settings = workflow.resource_settings
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    asked = int(settings.cores or cpus or 1)
    gpus = getattr(settings.resources.get("gpu"), "value", settings.resources.get("gpu"))
    return asked, min(asked, cpus or 1), float(gpus) if isinstance(gpus, int | float) else math.inf


def estimate_plan(jobs: list[PlannedJob], config: Mapping[str, Any], workflow: Any,
                  train_gpus: int, progress_dir: str | os.PathLike,
                  probe_fn: ProbeFn | None) -> Estimate:
    """The plan's estimate here (cuda where train.device says so, or auto with a GPU asked)."""
    device = str(config["train"]["device"]).replace("auto", "cuda" if train_gpus else "cpu")
    device, n_val = "cuda" if device.startswith("cuda") else "cpu", cifar2_counts(config)[1]
    asked, cores, gpus = layout(workflow)
    threads = next((job.threads for job in jobs if job.rule == TRAIN_RULE), 1)
    estimate = plan_estimate(
        jobs, costs.measured_runs(), device=device, n_val=n_val, cores=cores, asked=asked,
        gpus=gpus, probe_fn=probe_fn or (lambda configs: costs.probe(device, threads, configs)))
    if estimate.rate:
        estimate.usual_mac_rate = costs.usual_mac_rate(progress_dir, estimate.rate)
    return estimate


def announce(workflow: Any, config: Mapping[str, Any], logger: Any, train_gpus: int = 0,
             progress_dir: str | os.PathLike = PROGRESS_DIR,
             probe_fn: ProbeFn | None = None) -> Estimate | None:
    """The onstart handler: log the block, write plan.json, record the probe's figures; a
    failure is one warning: an estimate is never worth a failed run."""
    started = time.time()
    try:
        if not (jobs := planned_jobs(workflow, config)):
            return None
        estimate = estimate_plan(jobs, config, workflow, train_gpus, progress_dir, probe_fn)
        logger.info("\n".join(estimate_lines(estimate, list(config["train"]["seeds"]))))
        write_json(Path(progress_dir) / PLAN_NAME, {  # for dlwpt.progress
            "started": started, "wall_s": estimate.wall_s, "cores": estimate.cores,
            "estimate_took_s": round(time.time() - started, 2),
            "throughput": asdict(estimate.rate) if estimate.rate else None,
            "jobs": [{k: v for k, v in asdict(job).items() if k not in ("deps", "settings", "gpu")}
                     for job in estimate.jobs]})
        if estimate.rate:
            costs.record_rate(progress_dir, estimate.rate)
        return estimate
    except Exception as e:  # noqa: BLE001
        logger.warning(f"no time estimate for this run ({type(e).__name__}: {e})")
        return None


def many_runs(workflow: Any, config: Mapping[str, Any], logger: Any, runs: Sequence[str],
              points: list[Sweep], train_gpus: int = 0,
              probe_fn: ProbeFn | None = None) -> str | None:
    """Over MANY_RUNS training runs, one line (also in a dry run): how many, how to shrink it."""
    seeds = list(config["train"]["seeds"])
    if len(runs) * len(seeds) <= MANY_RUNS or not getattr(workflow, "is_main_process", True):
        return None
    top = max(points, key=lambda sweep: len(sweep.points), default=None)
    line = (f"{counted(len(runs) * len(seeds), runs, seeds)} planned; fewer with " + (
        f"sweeps: {{{top.name}: null}} ({len(top.points)} points) or " if top else "")
        + f"train: {{seeds: [{seeds[0]}]}} in a --configfile")
    try:
        threads = min(config["train"]["threads"], layout(workflow)[0])
        n_train = cifar2_counts(config)[0]
        estimate = estimate_plan([PlannedJob(
            job_id(TRAIN_RULE, {"model": run, "seed": seed}), TRAIN_RULE, threads, run=run,
            seed=seed, settings=training_settings(config, run, points, n_train))
            for run in runs for seed in seeds], config, workflow, train_gpus, PROGRESS_DIR,
            probe_fn)
        line += (f"; about {duration(estimate.wall_s)} on this machine "
                 f"({MODELED if estimate.rate else MEASURED})")
    except Exception as e:  # noqa: BLE001
        line += f" (no time estimate: {type(e).__name__}: {e})"
    logger.info(line)
    return line
