"""The estimate before a run's first job: how many training runs, how long the whole plan and its
longest job take on this machine, and where the figures come from.

`announce` is the Snakefile's `onstart:` handler (Snakemake calls it once the DAG is built, never
in a dry run). Each planned job's seconds:

- a training run: from earlier runs on this machine with the same cost where there are any
  (`measured_runs`: results/train/**/summary.json with the job's benchmark file, then the run
  history's summaries; the same architecture settings, batch size, training images, device and
  loop), else from a cost model: the model's per-image work (`forward_cost`: the
  multiply-accumulates of its convolutions and linear layers, the elements its pointwise
  operations write, the elements its pooling reads) x images x epochs, at throughputs measured
  at start-up in a fresh process (`probe`: a second or two besides the imports, which are timed
  as each job's start-up), plus each job's fixed costs;
- any other job: its last benchmark file, else a figure measured on the development machine
  (`OTHER_JOB_SECONDS`).

The jobs are then laid out on --cores, their threads and --resources gpu=N in dependency order
(`simulate`), which gives the wall time; the block is logged through Snakemake's logger and the
plan (each job's expected seconds, start and end) written to results/.progress/plan.json, which
the training jobs' whole-run lines read (dlwpt.progress). No job imports this module, so editing
it reruns nothing.
"""

from __future__ import annotations

import heapq
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from dlwpt.progress import (
    PLAN_NAME,
    PROGRESS_DIR,
    TRAIN_RULE,
    duration,
    read_json,
    run_name,
    write_json_atomic,
)

# Over this much wall time, the estimate names the settings that shorten a run.
LONG_RUN_S = 3600.0
# Seconds of jobs no earlier run has measured here, from a quick run on the 2-core Intel Xeon
# of BENCHMARKS.md (mostly Python and torch start-up); scaled by this machine's start-up.
OTHER_JOB_SECONDS = {
    "ingest_dataset": 3.5, "ingest_dataset/cifar2": 11.0, "fit_thermometer": 5.0,
    "make_report": 9.0, "publish_report": 1.0, "fetch_raw_file": 2.0, "fetch_cifar10": 60.0,
}
OTHER_JOB_DEFAULT_S = 5.0
# The probe's start-up that goes with those figures (so a slower start-up here scales them up);
# also a training job's start-up when nothing was measured.
REFERENCE_STARTUP_S = 2.5
# Inside a training job, besides its epochs: loading cifar2.pt, building the model and the
# trainer, the TensorBoard writer, writing the outputs (about 1-2 s on that machine).
IN_JOB_FIXED_S = 1.5
# A Snakemake script job reads its pickled `snakemake` object before the script runs.
SCRIPT_PREAMBLE_S = 0.3
# Snakemake's own time per job, outside the job's process (choosing, starting, finishing it).
JOB_OVERHEAD_S = 0.5
# An evaluation pass (batches of 256, no autograd) costs about half a training forward pass per
# image: measured here, the validation pass of 2,000 images took 0.07-0.26 (mostly 0.15) of a
# training pass over 2,000 images for the zoo's models, a training step being 3 forward passes.
EVAL_FORWARD = 0.5
BOOK_LOOP_FACTOR = 1.4  # train.loop: book against resident (BENCHMARKS.md: 1.06x-1.53x)
# The settings that decide what a training run costs (besides images, device and loop).
COST_KEYS = ("arch", "n_chans1", "n_blocks", "hidden", "batch_size")
CIFAR2_PER_CLASS = {"train": 5000, "val": 1000}
MEASURED = "measured by earlier runs on this machine"
MODELED = "cost model"


# --- the cost model ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ForwardCost:
    """One image's forward pass: multiply-accumulates of its convolutions and linear layers,
    the elements its pointwise operations write (activations, norms, sums), the
    elements its pooling layers read, and the model's parameters (what each optimizer step
    updates)."""

    macs: int
    elements: int
    pooled: int
    params: int


POOLING = ("max_pool2d", "avg_pool2d", "max_pool2d_with_indices", "adaptive_avg_pool2d")


def forward_cost(model: Any) -> ForwardCost:
    """Count a built model's forward pass on one 1x3x32x32 image, in eval mode, call by call
    as torch's function API sees them (F.conv2d, F.linear, torch.tanh, ...). A call whose result
    is a view of an input or the input itself (reshape, flatten, eval-mode dropout) writes
    nothing; creating the input is not counted. It runs on a copy on the meta device: shapes
    only, no arithmetic (a 100-block NetResDeep takes milliseconds)."""
    import copy

    import torch
    from torch.overrides import TorchFunctionMode

    class Counter(TorchFunctionMode):
        macs = elements = pooled = 0

        def __torch_function__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            name = getattr(func, "__name__", "")
            inputs = [a for a in args if isinstance(a, torch.Tensor)]
            if not isinstance(out, torch.Tensor) or not inputs:
                return out
            if name == "conv2d":
                self.macs += out.numel() * math.prod(args[1].shape[1:])
            elif name == "linear":
                self.macs += out.numel() * args[1].shape[1]
            elif name in POOLING:
                self.pooled += inputs[0].numel()
            elif not out._is_view() and all(out is not a for a in inputs):
                self.elements += out.numel()
            return out

    params = sum(p.numel() for p in model.parameters())
    meta = copy.deepcopy(model).to("meta").eval()
    counter = Counter()
    with torch.no_grad(), counter:
        meta(torch.zeros(1, 3, 32, 32, device="meta"))
    return ForwardCost(counter.macs, counter.elements, counter.pooled, params)


@dataclass(frozen=True)
class Throughput:
    """What `probe` measured on the training device, per second and counted as forward passes
    (a training step's forward and backward counts as three): multiply-accumulates, pointwise
    elements, pooled elements; the fixed cost of one optimizer step; and a fresh process's
    start-up (the imports a training job pays)."""

    mac_rate: float
    element_rate: float
    pool_rate: float
    step_s: float
    startup_s: float
    device_name: str = ""

    def per_image(self, cost: ForwardCost) -> float:
        return (cost.macs / self.mac_rate + cost.elements / self.element_rate
                + cost.pooled / self.pool_rate)


def epoch_seconds(cost: ForwardCost, rate: Throughput, n_train: int, n_val: int,
                  batch_size: int) -> float:
    """One epoch: a training step (forward + backward, three forward passes' work) over every
    training image, the optimizer's steps, and the validation pass (EVAL_FORWARD per image)."""
    per_image = rate.per_image(cost)
    steps = math.ceil(n_train / batch_size)
    # each step also updates every parameter from its gradient: a vectorized multiply-add per
    # parameter (at the pointwise rate it came out 2-3x too slow for fc_512's 1.6 M parameters)
    step = rate.step_s + 2 * cost.params / rate.mac_rate
    return 3 * n_train * per_image + steps * step + EVAL_FORWARD * n_val * per_image


def modeled_training_seconds(cost: ForwardCost, rate: Throughput, *, epochs: int, n_train: int,
                             n_val: int, batch_size: int, loop: str = "resident") -> float:
    """A training job: start-up, the fixed work inside it, its epochs, and the closing eval
    pass over both sets (the summary's train accuracy, the validation predictions)."""
    epochs_s = epochs * epoch_seconds(cost, rate, n_train, n_val, batch_size)
    if loop == "book":
        epochs_s *= BOOK_LOOP_FACTOR
    closing = EVAL_FORWARD * (n_train + n_val) * rate.per_image(cost)
    return rate.startup_s + IN_JOB_FIXED_S + epochs_s + closing


# Long: one measurement; its four kernels are closures over the same device, tensors and
# timer, which split into functions would pass around.
def probe_device(device: str, threads: int, configs: Sequence[Mapping[str, Any]],
                 budget_s: float = 0.1) -> dict[str, Any]:
    """Measure this process's throughput on `device` (each kernel for about `budget_s`) and
    count every config's forward pass. First, timed as the start-up every training job pays:
    importing torch and the training code, and building an optimizer (torch.optim loads
    torch._dynamo then, about as long as torch itself)."""
    started = time.perf_counter()
    import torch

    import dlwpt.train  # noqa: F401  (what a training job imports)
    from dlwpt.models import build_model

    tiny = torch.nn.Linear(4, 2)
    optimizer = torch.optim.SGD(tiny.parameters(), lr=0.01)
    imported, imported_at = time.perf_counter() - started, time.time()
    torch.set_num_threads(threads)
    dev = torch.device(device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)

    def timed(step) -> float:
        """The median of the step's times: on a machine shared with other work, single
        steps are delayed now and then, and a mean would follow those delays."""
        for _ in range(3):  # warm-up: kernel selection, allocation, the optimizer's first steps
            step()
        sync()
        times, spent = [], 0.0
        while spent < budget_s and len(times) < 100:
            tick = time.perf_counter()
            step()
            sync()
            times.append(time.perf_counter() - tick)
            spent += times[-1]
        return sorted(times)[len(times) // 2]

    # as the resident loop runs conv nets: channels_last on the CPU
    fmt = torch.channels_last if dev.type == "cpu" else torch.contiguous_format

    def batch(*shape):
        return torch.randn(*shape, device=dev).contiguous(memory_format=fmt).requires_grad_()

    # multiply-accumulates: a ResBlock's convolution, batch 64, forward and backward
    conv = torch.nn.Conv2d(32, 32, 3, padding=1, bias=False).to(dev, memory_format=fmt)
    x = batch(64, 32, 16, 16)
    conv_macs = 64 * 32 * 16 * 16 * 32 * 9

    def conv_step():
        conv.weight.grad = x.grad = None
        conv(x).sum().backward()

    # pointwise: tanh (Net's activations) and relu + add (a ResBlock's), three writes
    y = batch(64, 32, 16, 16)

    def pointwise_step():
        y.grad = None
        t = torch.tanh(y)
        (torch.relu(t) + t).sum().backward()

    # pooling: max_pool2d over Net's first activation, elements read
    z = batch(64, 16, 32, 32)

    def pool_step():
        z.grad = None
        torch.nn.functional.max_pool2d(z, 2).sum().backward()

    # one optimizer step of a model too small to cost anything else
    tiny.to(dev)
    xs, ys = torch.randn(64, 4, device=dev), torch.zeros(64, dtype=torch.long, device=dev)

    def optimizer_step():
        loss = torch.nn.functional.cross_entropy(tiny(xs), ys)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    conv_s, pointwise_s = timed(conv_step), timed(pointwise_step)
    pool_s, step_s = timed(pool_step), timed(optimizer_step)
    costs = [asdict(forward_cost(build_model(dict(cfg)))) for cfg in configs]
    name = (torch.cuda.get_device_name(dev) if dev.type == "cuda"
            else f"cpu ({torch.get_num_threads()} threads)")
    return {"mac_rate": 3 * conv_macs / conv_s,
            "element_rate": 3 * 3 * y.numel() / pointwise_s,
            "pool_rate": 3 * z.numel() / pool_s, "step_s": step_s, "imported_s": imported,
            "imported_at": imported_at,
            "measured_s": time.perf_counter() - started - imported,
            "device_name": name, "costs": costs}


def probe(device: str, threads: int, configs: Sequence[Mapping[str, Any]],
          timeout_s: float = 60.0) -> tuple[Throughput, list[ForwardCost]]:
    """`probe_device` in a fresh process: the measurement leaves Snakemake's process without
    torch, threads or GPU memory, and the process's start-up is a training job's start-up."""
    root = str(Path(__file__).resolve().parent.parent)
    spawned = time.time()
    result = subprocess.run(
        [sys.executable, "-m", "dlwpt.estimate", "probe"],
        input=json.dumps({"device": device, "threads": threads, "configs": list(configs)}),
        capture_output=True, text=True, timeout=timeout_s, cwd=root,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(
            [root, *filter(None, [os.environ.get("PYTHONPATH")])])})
    if result.returncode != 0:  # e.g. train.device cuda where this machine has none
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"the throughput probe on {device} failed: {last}")
    found = json.loads(result.stdout.strip().splitlines()[-1])
    # from the spawn to the imports done, as in a job, which also reads its Snakemake object
    startup = max(found["imported_at"] - spawned, found["imported_s"]) + SCRIPT_PREAMBLE_S
    rate = Throughput(found["mac_rate"], found["element_rate"], found["pool_rate"],
                      found["step_s"], startup, found["device_name"])
    return rate, [ForwardCost(**c) for c in found["costs"]]


# --- earlier runs --------------------------------------------------------------------------------

def cost_key(settings: Mapping[str, Any], n_train: int, device: str, loop: str) -> str:
    """What decides a training run's seconds per epoch: these settings, the number of training
    images, the device (as summary.json names it, threads included) and the loop."""
    return json.dumps([{k: settings.get(k) for k in COST_KEYS}, n_train, device, loop],
                      sort_keys=True)


@dataclass(frozen=True)
class MeasuredRun:
    epochs: int
    seconds_per_epoch: float  # the training pass of an epoch after the first
    total_seconds: float  # inside the job (train_model's clock)
    job_seconds: float | None  # the whole job (its benchmark file), when known
    n_train: int
    n_val: int


def summary_cost_key(summary: Mapping[str, Any]) -> str | None:
    hyper = summary.get("hyperparameters") or {}
    if not isinstance(hyper, dict) or not hyper.get("n_train") or not summary.get("device"):
        return None
    return cost_key(hyper, hyper["n_train"], summary["device"], summary.get("loop", "resident"))


def benchmark_seconds(path: str | os.PathLike) -> float | None:
    """The wall seconds (column `s`) of a Snakemake benchmark file, or None."""
    try:
        lines = Path(path).read_text().splitlines()
        header, row = lines[0].split("\t"), lines[1].split("\t")
        return float(row[header.index("s")])
    except (OSError, IndexError, ValueError):
        return None


def measured_runs(root: str | os.PathLike = ".", n_val: int = 2000,
                  history_entries: int = 20) -> dict[str, MeasuredRun]:
    """The newest earlier run per cost key: results/train/**/summary.json (with the job's
    benchmark file), then the run history's summaries (results/history, newest entries first,
    at most `history_entries`) for keys those lack."""
    root = Path(root)
    found: dict[str, tuple[float, MeasuredRun]] = {}

    def add(summary: Any, when: float, job_seconds: float | None) -> None:
        if not isinstance(summary, dict):
            return
        key = summary_cost_key(summary)
        try:
            run = MeasuredRun(int(summary["epochs"]), float(summary["seconds_per_epoch"]),
                              float(summary["total_seconds"]), job_seconds,
                              int(summary["hyperparameters"]["n_train"]), n_val)
        except (KeyError, TypeError, ValueError):
            return
        if key and run.seconds_per_epoch > 0 and (key not in found or found[key][0] < when):
            found[key] = (when, run)

    train = root / "results" / "train"
    for path in sorted(train.glob("**/summary.json")) if train.is_dir() else []:
        relative = path.parent.relative_to(train)  # <run>/seed<k>
        bench = root / "benchmarks" / TRAIN_RULE / relative.parent / f"{relative.name}.tsv"
        try:
            when = path.stat().st_mtime
        except OSError:
            continue
        add(read_json(path), when + 1e9, benchmark_seconds(bench))  # results first
    history = root / "results" / "history" / "runs"
    entries = sorted(history.glob("*.json"), reverse=True)[:history_entries] \
        if history.is_dir() else []
    for order, entry_path in enumerate(entries):
        entry = read_json(entry_path)
        if not isinstance(entry, dict):
            continue
        for model in (entry.get("models") or {}).values():
            for blobs in ((model or {}).get("seeds") or {}).values():
                digest = (blobs or {}).get("summary", "")
                digest = digest.split(":", 1)[-1]
                blob = root / "results" / "history" / "objects" / digest[:2] / digest
                add(read_json(blob) if digest else None, -order, None)
    return {key: run for key, (_, run) in found.items()}


def measured_training_seconds(run: MeasuredRun, epochs: int, startup_s: float) -> float:
    """A run with the same cost measured before, taken to `epochs`: the earlier job's whole
    time, plus or minus the epochs it did not have (each a training pass and a validation
    pass, an image's evaluation costing EVAL_FORWARD of the three forward passes of its
    training step)."""
    per_epoch = run.seconds_per_epoch * (
        1 + EVAL_FORWARD * run.n_val / (3 * max(run.n_train, 1)))
    outside = (run.job_seconds - run.total_seconds
               if run.job_seconds is not None and run.job_seconds >= run.total_seconds
               else startup_s)
    return max(outside + run.total_seconds + (epochs - run.epochs) * per_epoch,
               outside + epochs * run.seconds_per_epoch)


# --- the plan ------------------------------------------------------------------------------------

@dataclass
class PlannedJob:
    """One job of the plan. A training job's `settings` (its model entry over train.defaults,
    with `n_train` and `loop` added) decide its seconds; any other job's come from its
    benchmark file or `OTHER_JOB_SECONDS`."""

    id: str  # rule/wildcards: train_model/res_deep/seed0, ingest_dataset/cifar2, make_report
    rule: str
    threads: int = 1
    gpu: int = 0
    deps: list[str] = field(default_factory=list)  # ids of planned jobs it waits for
    benchmark: str | None = None
    run: str | None = None
    seed: int | None = None
    settings: dict[str, Any] | None = None
    seconds: float | None = None
    source: str = ""  # MEASURED or MODELED; "benchmark" or "constant" for other jobs
    start: float = 0.0  # on the plan's timeline (`simulate`)
    end: float = 0.0


def dependency_order(jobs: Sequence[PlannedJob]) -> list[PlannedJob]:
    """Each job after its dependencies; among the jobs ready together, training jobs first,
    then by id: the order in which `simulate` offers them to the cores."""
    remaining = sorted(jobs, key=lambda job: (job.rule != TRAIN_RULE, job.id))
    ids = {job.id for job in jobs}
    placed: set[str] = set()
    ordered: list[PlannedJob] = []
    while remaining:
        ready = [job for job in remaining if all(d in placed or d not in ids for d in job.deps)]
        if not ready:  # not a DAG: keep the rest as they are
            return ordered + remaining
        for job in ready:
            remaining.remove(job)
            placed.add(job.id)
        ordered += ready
    return ordered


def simulate(jobs: Sequence[PlannedJob], cores: int, gpus: float = math.inf) -> float:
    """Lay the jobs out as a greedy scheduler would: in list order, each as soon as its
    dependencies are done and its threads (and gpu) are free. Sets each job's start and end;
    returns the wall time. A job asking more threads than `cores` gets them all, as Snakemake
    scales it down."""
    cores = max(1, int(cores))
    by_id = {job.id: job for job in jobs}
    pending = list(jobs)
    finished: set[str] = set()
    running: list[tuple[float, int, str]] = []
    free_cores, free_gpus, now, order = cores, gpus, 0.0, 0
    while pending or running:
        for job in list(pending):
            if any(dep in by_id and dep not in finished for dep in job.deps):
                continue
            threads = min(job.threads, cores)
            if (threads <= free_cores and job.gpu <= free_gpus) or not running:
                pending.remove(job)
                job.start, job.end = now, now + (job.seconds or 0.0)
                free_cores -= threads
                free_gpus -= job.gpu
                heapq.heappush(running, (job.end, order, job.id))
                order += 1
        if not running:
            break  # only jobs waiting for something that never runs: nothing more to lay out
        now, _, done = heapq.heappop(running)
        finished.add(done)
        free_cores += min(by_id[done].threads, cores)
        free_gpus += by_id[done].gpu
    return max((job.end for job in jobs), default=0.0)


def wall_bound(jobs: Sequence[PlannedJob], cores: int) -> float:
    """The rough bound `simulate` never goes below: job seconds x threads / cores, and the
    longest job."""
    cores = max(1, int(cores))
    work = sum((job.seconds or 0.0) * min(job.threads, cores) for job in jobs)
    return max(work / cores, max((job.seconds or 0.0 for job in jobs), default=0.0))


def other_job_seconds(job: PlannedJob, startup_s: float | None = None) -> tuple[float, str]:
    """A job other than training: its last benchmark file, else the development machine's
    figure, scaled by this machine's start-up against that machine's when the probe ran
    (those jobs are mostly start-up), within 0.5x-2x."""
    if job.benchmark:
        measured = benchmark_seconds(job.benchmark)
        if measured is not None:
            return measured, "benchmark"
    wildcard = job.id.split("/", 1)[1] if "/" in job.id else ""
    base = OTHER_JOB_SECONDS.get(f"{job.rule}/{wildcard}",
                                 OTHER_JOB_SECONDS.get(job.rule, OTHER_JOB_DEFAULT_S))
    scale = startup_s / REFERENCE_STARTUP_S if startup_s else 1.0
    return base * min(max(scale, 0.5), 2.0), "constant"


ProbeFn = Callable[[list[dict[str, Any]]], tuple[Throughput, list[ForwardCost]]]


def estimate_training(jobs: Sequence[PlannedJob], measured: Mapping[str, MeasuredRun],
                      device: str, n_val: int, probe_fn: ProbeFn | None) -> Throughput | None:
    """Fill in each training job's seconds: from `measured` where its cost key is there, else
    from the cost model at what `probe_fn(configs)` measures (once, only when a job needs it;
    it returns the throughput and each config's ForwardCost). A CUDA job is looked up once the
    probe has named the GPU. Returns the throughput, None when there was no probe."""
    pending = []
    for job in (job for job in jobs if job.rule == TRAIN_RULE):
        s = job.settings or {}
        run = measured.get(cost_key(s, s["n_train"], f"cpu ({job.threads} threads)",
                                    s.get("loop", "resident"))) if device == "cpu" else None
        if run is not None:
            job.seconds = measured_training_seconds(run, s["epochs"], REFERENCE_STARTUP_S)
            job.source = MEASURED
        else:
            pending.append(job)
    if not pending or probe_fn is None:
        return None
    configs: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for job in pending:
        name = json.dumps(model_entry(job.settings or {}), sort_keys=True)
        if name not in index:
            index[name] = len(configs)
            configs.append(model_entry(job.settings or {}))
    rate, costs = probe_fn(configs)
    for job in pending:
        s = job.settings or {}
        label = rate.device_name if device != "cpu" else f"cpu ({job.threads} threads)"
        run = measured.get(cost_key(s, s["n_train"], label, s.get("loop", "resident")))
        if run is not None:  # a GPU run measured before, now that the GPU has a name
            job.seconds = measured_training_seconds(run, s["epochs"], rate.startup_s)
            job.source = MEASURED
            continue
        cost = costs[index[json.dumps(model_entry(s), sort_keys=True)]]
        job.seconds = modeled_training_seconds(
            cost, rate, epochs=s["epochs"], n_train=s["n_train"], n_val=n_val,
            batch_size=s.get("batch_size", 64), loop=s.get("loop", "resident"))
        job.source = MODELED
    return rate


def model_entry(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The architecture half of a run's settings: what build_model and the probe need."""
    from dlwpt.models import TRAINING_KEYS

    return {k: v for k, v in settings.items()
            if k not in TRAINING_KEYS and k not in ("n_train", "loop", "subsample")}


@dataclass
class Estimate:
    jobs: list[PlannedJob]  # with their seconds, start and end
    wall_s: float
    cores: int
    gpus: float
    rate: Throughput | None  # what the probe measured, if it ran

    @property
    def training(self) -> list[PlannedJob]:
        return [job for job in self.jobs if job.rule == TRAIN_RULE]


def plan_estimate(jobs: Sequence[PlannedJob], measured: Mapping[str, MeasuredRun], *,
                  device: str, n_val: int, cores: int, gpus: float = math.inf,
                  probe_fn: ProbeFn | None = None) -> Estimate:
    """Every job's expected seconds (training: `estimate_training`; others:
    `other_job_seconds`; each plus Snakemake's own JOB_OVERHEAD_S), laid out by `simulate`."""
    jobs = dependency_order(jobs)
    rate = estimate_training(jobs, measured, device, n_val, probe_fn)
    for job in jobs:
        if job.rule != TRAIN_RULE:
            job.seconds, job.source = other_job_seconds(job, rate.startup_s if rate else None)
        job.seconds = (job.seconds or 0.0) + JOB_OVERHEAD_S
    return Estimate(jobs, simulate(jobs, cores, gpus), cores, gpus, rate)


def without(estimate: Estimate, keep: Callable[[PlannedJob], bool]) -> float:
    """The wall time of the plan with only the jobs `keep` accepts (its jobs left as they are)."""
    kept = [replace(job) for job in estimate.jobs if keep(job)]
    return simulate(kept, estimate.cores, estimate.gpus)


# --- the block -----------------------------------------------------------------------------------

def estimate_lines(estimate: Estimate, seeds: Sequence[int]) -> list[str]:
    """The block printed before the first job: what runs and for how long, where the figures
    come from, and over an hour what shortens it."""
    training = estimate.training
    others = len(estimate.jobs) - len(training)
    runs = sorted({job.run for job in training if job.run})
    points = sum(run.startswith("sweeps/") for run in runs)
    where = f"--cores {estimate.cores}"
    if training:
        where += f", {training[0].threads} threads per training job"
    if math.isfinite(estimate.gpus) and any(job.gpu for job in estimate.jobs):
        where += f", --resources gpu={int(estimate.gpus)}"
    what = (f"{plural(len(training), 'training run')} "
            f"({plural(len(runs) - points, 'model')}"
            + (f" and {plural(points, 'sweep point')}" if points else "")
            + f" x {plural(len(seeds), 'seed')}) and " if training else "")
    first = (f"Estimate: {what}{plural(others, 'other job')}: about "
             f"{duration(estimate.wall_s)} on this machine ({where})")
    longest = max(estimate.jobs, key=lambda job: job.seconds or 0.0, default=None)
    if longest is not None and len(estimate.jobs) > 1:
        first += (f"; the longest job, {longest.id.removeprefix(TRAIN_RULE + '/')}, about "
                  f"{duration(longest.seconds or 0.0)}")
    lines = [first + "."]
    if training:
        measured = sum(job.source == MEASURED for job in training)
        rate = estimate.rate
        model = MODELED + (f" (throughput measured just now: {rate.mac_rate / 1e9:.1f} G "
                           f"multiply-accumulates/s; {rate.startup_s:.1f} s start-up per job)"
                           if rate else "")
        if measured == len(training):
            lines.append(f"  From the seconds per epoch {MEASURED}.")
        elif measured:
            lines.append(f"  From the seconds per epoch {MEASURED} ({measured} of "
                         f"{len(training)} training runs) and the {model}.")
        else:
            lines.append(f"  From the {model}; no earlier run on this machine had the same "
                         "settings.")
    if estimate.wall_s > LONG_RUN_S and training:
        lines += shortening_lines(estimate, seeds)
    return lines


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def shortening_lines(estimate: Estimate, seeds: Sequence[int]) -> list[str]:
    """Over an hour: which run takes the time, and the README's settings that shorten the
    run, with the plan's wall time under the first two."""
    per_run: dict[str, float] = {}
    for job in estimate.training:
        per_run[job.run or ""] = per_run.get(job.run or "", 0.0) + (job.seconds or 0.0)
    total = sum(per_run.values()) or 1.0
    biggest = max(per_run, key=per_run.__getitem__)
    lines = [f"  Over an hour: {biggest} is {per_run[biggest] / total:.0%} of the training. "
             "Shorter, in a --configfile (README: \"How long the default run takes\"):"]
    if len(seeds) > 1:
        one = without(estimate, lambda job: job.rule != TRAIN_RULE or job.seed == seeds[0])
        lines.append(f"    train: {{seeds: [{seeds[0]}]}}  about {duration(one)}")
    if len(per_run) > 1 and biggest.startswith("sweeps/"):
        # a sweep point: train.models does not choose sweeps; leaving out the sweep does
        sweep = biggest.split("/")[1]
        rest = without(estimate, lambda job: not (job.run or "").startswith(f"sweeps/{sweep}/"))
        lines.append(f"    sweeps: {{{sweep}: null}}, or fewer values  about {duration(rest)} "
                     "without it")
    elif len(per_run) > 1:
        rest = without(estimate, lambda job: job.run != biggest)
        lines.append(f"    train: {{models: [...]}} without {biggest}  about {duration(rest)}")
    lines.append("    fewer images or epochs (train: {subsample: 2000}, train: {defaults: "
                 "{epochs: 20}}): time scales with both")
    lines.append("    --configfile config/quick.yaml: every model, 2 epochs on 1,000 images")
    return lines


def write_plan(progress_dir: str | os.PathLike, estimate: Estimate, started: float,
               took_s: float = 0.0) -> Path:
    """plan.json: when the run started, its expected wall time, and each job's expected
    seconds, start and end on the plan's timeline (what dlwpt.progress reads)."""
    path = Path(progress_dir) / PLAN_NAME
    write_json_atomic(path, {
        "started": started, "wall_s": estimate.wall_s, "cores": estimate.cores,
        "estimate_took_s": round(took_s, 2),
        "throughput": asdict(estimate.rate) if estimate.rate else None,
        "jobs": [{"id": job.id, "rule": job.rule, "run": job.run, "seed": job.seed,
                  "seconds": job.seconds or 0.0, "threads": job.threads,
                  "start": job.start, "end": job.end, "benchmark": job.benchmark,
                  "source": job.source} for job in estimate.jobs]})
    return path


# --- Snakemake's side: the onstart handler -------------------------------------------------------

def planned_jobs(workflow: Any, config: Mapping[str, Any]) -> list[PlannedJob]:
    """The jobs Snakemake will run (its DAG's needrun jobs, less those that run nothing, such
    as `all`), as PlannedJobs."""
    dag = workflow.dag
    jobs = [job for job in dag.needrun_jobs() if not job.is_norun]
    ids = {job: job_id(job.rule.name, dict(job.wildcards_dict)) for job in jobs}
    n_train_full = cifar2_counts(config)[0]
    subsample = config["train"].get("subsample")
    planned = []
    for job in jobs:
        wildcards = dict(job.wildcards_dict)
        item = PlannedJob(
            id=ids[job], rule=job.rule.name, threads=int(job.threads or 1),
            gpu=int(_resource_value(job.resources.get("gpu", 0)) or 0),
            deps=sorted(ids[d] for d in dag.dependencies.get(job, {}) if d in ids),
            benchmark=str(job.benchmark) if job.benchmark else None)
        if job.rule.name == TRAIN_RULE:
            item.run, item.seed = wildcards["model"], int(wildcards["seed"])
            settings = dict(job.params.hyperparameters)
            settings.setdefault("epochs", config["train"]["defaults"].get("epochs", 100))
            settings["n_train"] = min(subsample, n_train_full) if subsample else n_train_full
            settings["loop"] = job.params.loop
            item.settings = settings
        planned.append(item)
    return planned


def job_id(rule: str, wildcards: Mapping[str, Any]) -> str:
    """`train_model/res_deep/seed0`, `ingest_dataset/cifar2`, `make_report`."""
    if rule == TRAIN_RULE and {"model", "seed"} <= set(wildcards):
        return f"{rule}/{run_name(wildcards['model'], int(wildcards['seed']))}"
    return "/".join([rule, *(str(v) for v in wildcards.values())])


def cifar2_counts(config: Mapping[str, Any], root: str | os.PathLike = ".") -> tuple[int, int]:
    """Training and validation images of cifar2.pt: as its summary records them, else 5000
    and 1000 per configured class (CIFAR-10's)."""
    summary = read_json(Path(root) / "results" / "data" / "cifar2.json")
    try:
        counts = summary["counts"]
        return sum(counts["train"].values()), sum(counts["val"].values())
    except (KeyError, TypeError, AttributeError):
        classes = len((config.get("ingest", {}).get("cifar2") or {}).get("classes") or []) or 2
        return CIFAR2_PER_CLASS["train"] * classes, CIFAR2_PER_CLASS["val"] * classes


def training_device(config: Mapping[str, Any], train_gpus: int) -> str:
    """cpu or cuda, as the jobs will decide it: train.device, where auto is cuda when the
    Snakefile has the training jobs ask for a GPU (it looked for CUDA on this machine)."""
    device = str(config["train"]["device"])
    if device == "auto":
        return "cuda" if train_gpus else "cpu"
    return "cuda" if device.startswith("cuda") else "cpu"


def announce(workflow: Any, config: Mapping[str, Any], logger: Any, train_gpus: int = 0,
             progress_dir: str | os.PathLike = PROGRESS_DIR,
             probe_fn: ProbeFn | None = None) -> Estimate | None:
    """The onstart handler: estimate the plan, log the block, write plan.json. A failure is
    one warning line: an estimate is never worth a failed run."""
    started = time.time()
    try:
        jobs = planned_jobs(workflow, config)
        if not jobs:
            return None
        device = training_device(config, train_gpus)
        n_val = cifar2_counts(config)[1]
        threads = next((job.threads for job in jobs if job.rule == TRAIN_RULE), 1)
        gpu_limit = _resource_value(workflow.global_resources.get("gpu"))
        estimate = plan_estimate(
            jobs, measured_runs(".", n_val=n_val), device=device, n_val=n_val,
            cores=int(workflow.resource_settings.cores or os.cpu_count() or 1),
            gpus=float(gpu_limit) if isinstance(gpu_limit, int | float) else math.inf,
            probe_fn=probe_fn or (lambda configs: probe(device, threads, configs)))
        logger.info("\n".join(estimate_lines(estimate, list(config["train"]["seeds"]))))
        write_plan(progress_dir, estimate, started, time.time() - started)
        return estimate
    except Exception as e:  # noqa: BLE001
        logger.warning(f"no time estimate for this run ({type(e).__name__}: {e})")
        return None


def _resource_value(value: Any) -> Any:
    """A Snakemake resource's value (global resources are Resource objects)."""
    return getattr(value, "value", value)


def main(argv: Sequence[str]) -> int:
    if argv[:1] == ["probe"]:
        request = json.loads(sys.stdin.read())
        print(json.dumps(probe_device(request["device"], request["threads"],
                                      request["configs"])))
        return 0
    print("usage: python -m dlwpt.estimate probe < request.json  (JSON: device, threads, "
          "configs)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
