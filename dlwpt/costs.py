"""A training job's seconds on this machine: an earlier run's with the same cost, else a cost
model (the model's work per image x images x epochs at the throughputs `probe` measures in a
fresh process). Each probe's figures are kept, so a later run tells a busier machine. Whatever is
unreadable, wrong-shaped or not finite is skipped: an estimate never fails a run.
"""

import contextlib
import copy
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dlwpt.io import read_json, write_json
from dlwpt.runs import HISTORY_ROOT, TRAIN_ROOT, TRAIN_RULE, blob_path

REFERENCE_STARTUP_S = 2.5  # the probe's start-up on the development machine
IN_JOB_FIXED_S = 1.5  # in a job besides its epochs: data, model, TensorBoard writer, outputs
SCRIPT_PREAMBLE_S = 0.3  # a script job reads its pickled `snakemake` object first
# An eval pass (batches of 256, no autograd) per image, in training forward passes (measured:
# 0.07-0.26 of a training pass, a training step being 3 forward passes).
EVAL_FORWARD = 0.5
BOOK_LOOP_FACTOR = 1.4  # train.loop: book against resident (BENCHMARKS.md: 1.06x-1.53x)
COST_KEYS = ("arch", "n_chans1", "n_blocks", "hidden", "batch_size")  # and images, device, loop
MEASURED, MODELED = "measured by earlier runs on this machine", "cost model"
RATES_NAME, RATES_KEPT = "throughput.json", 20  # the probe's figures, newest last
BUSIER = 1.5  # a probe this many times slower than the usual figure: a busy machine
POOLING = ("max_pool2d", "avg_pool2d", "max_pool2d_with_indices", "adaptive_avg_pool2d")


@dataclass(frozen=True)
class ForwardCost:
    """One image's forward pass, and the parameters each optimizer step updates."""

    macs: int
    elements: int
    pooled: int
    params: int


def forward_cost(model: Any) -> ForwardCost:
    """Count a model's eval-mode forward pass on one 32x32 image, call by call, on a meta-device
    copy (shapes only: milliseconds). A view or an input (reshape, dropout) writes nothing."""
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

    meta = copy.deepcopy(model).to("meta").eval()
    counter = Counter()
    with torch.no_grad(), counter:
        meta(torch.zeros(1, 3, 32, 32, device="meta"))
    return ForwardCost(counter.macs, counter.elements, counter.pooled,
                       sum(p.numel() for p in model.parameters()))


@dataclass(frozen=True)
class Throughput:
    """What `probe` measured: rates per second counted as forward passes (a training step is
    three), an optimizer step's fixed cost and a fresh process's start-up (a job's imports)."""

    mac_rate: float
    element_rate: float
    pool_rate: float
    step_s: float
    startup_s: float
    device_name: str = ""


def modeled_training_seconds(cost: ForwardCost, rate: Throughput, *, epochs: int, n_train: int,
                             n_val: int, batch_size: int, loop: str = "resident") -> float:
    """Start-up, the job's fixed work, its epochs (training steps: three forward passes, plus a
    multiply-add per parameter; validation) and the closing evaluation of both sets."""
    per_image = (cost.macs / rate.mac_rate + cost.elements / rate.element_rate
                 + cost.pooled / rate.pool_rate)
    step = rate.step_s + 2 * cost.params / rate.mac_rate
    epoch = (3 * n_train * per_image + math.ceil(n_train / batch_size) * step
             + EVAL_FORWARD * n_val * per_image)
    loop_factor = BOOK_LOOP_FACTOR if loop == "book" else 1.0
    closing = EVAL_FORWARD * (n_train + n_val) * per_image
    return rate.startup_s + IN_JOB_FIXED_S + epochs * epoch * loop_factor + closing


# Long: one measurement; its kernels are closures over the same device, tensors and timer.
def probe_device(device: str, threads: int, configs: Sequence[Mapping[str, Any]],
                 spawned: float, budget_s: float = 0.1) -> dict[str, Any]:
    """This process's throughput on `device` (each kernel's median step over about `budget_s`: a
    shared machine delays single steps), start-up since `spawned` (imports), the configs' costs."""
    started = time.perf_counter()
    import torch

    from dlwpt.models import build_model
    from dlwpt.train import device_name  # and all a training job imports

    tiny = torch.nn.Linear(4, 2)
    optimizer = torch.optim.SGD(tiny.parameters(), lr=0.01)
    imported, imported_at = time.perf_counter() - started, time.time()
    torch.set_num_threads(threads)
    dev = torch.device(device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)

    def timed(step) -> float:
        for _ in range(3):  # warm-up: kernel selection, allocation
            step()
        sync()
        times: list[float] = []
        while sum(times) < budget_s and len(times) < 100:
            tick = time.perf_counter()
            step()
            sync()
            times.append(time.perf_counter() - tick)
        return sorted(times)[len(times) // 2]

    fmt = torch.channels_last if dev.type == "cpu" else torch.contiguous_format  # as trained

    def batch(*shape):
        return torch.randn(*shape, device=dev).contiguous(memory_format=fmt).requires_grad_()

    conv = torch.nn.Conv2d(32, 32, 3, padding=1, bias=False).to(dev, memory_format=fmt)
    x, y, z = batch(64, 32, 16, 16), batch(64, 32, 16, 16), batch(64, 16, 32, 32)
    tiny.to(dev)
    xs, ys = torch.randn(64, 4, device=dev), torch.zeros(64, dtype=torch.long, device=dev)

    def conv_step():  # a ResBlock's convolution, forward and backward
        conv.weight.grad = x.grad = None
        conv(x).sum().backward()

    def pointwise_step():  # tanh (Net's), relu + add (a ResBlock's): three writes
        y.grad = None
        t = torch.tanh(y)
        (torch.relu(t) + t).sum().backward()

    def pool_step():  # max_pool2d over Net's first activation
        z.grad = None
        torch.nn.functional.max_pool2d(z, 2).sum().backward()

    def optimizer_step():  # a model too small to cost anything else
        loss = torch.nn.functional.cross_entropy(tiny(xs), ys)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    conv_s, pointwise_s = timed(conv_step), timed(pointwise_step)
    pool_s, step_s = timed(pool_step), timed(optimizer_step)
    # from the spawn to the imports done, as in a job, which also reads its Snakemake object
    startup = max(imported_at - spawned, imported) + SCRIPT_PREAMBLE_S
    rate = Throughput(3 * 64 * 32 * 16 * 16 * 32 * 9 / conv_s, 3 * 3 * y.numel() / pointwise_s,
                      3 * z.numel() / pool_s, step_s, startup, device_name(dev))
    return {"rate": asdict(rate),
            "costs": [asdict(forward_cost(build_model(dict(cfg)))) for cfg in configs]}


def probe(device: str, threads: int, configs: Sequence[Mapping[str, Any]],
          timeout_s: float = 60.0) -> tuple[Throughput, list[ForwardCost]]:
    """`probe_device` in a fresh process, so the start-up it measures is a job's."""
    root = str(Path(__file__).resolve().parent.parent)
    request = {"device": device, "threads": threads, "configs": list(configs),
               "spawned": time.time()}
    result = subprocess.run(
        [sys.executable, "-m", "dlwpt.costs", "probe"], input=json.dumps(request),
        capture_output=True, text=True, timeout=timeout_s, cwd=root)  # -m: imports from cwd
    if result.returncode != 0:  # e.g. train.device cuda where this machine has none
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"the throughput probe on {device} failed: {last}")
    found = json.loads(result.stdout.strip().splitlines()[-1])
    return Throughput(**found["rate"]), [ForwardCost(**c) for c in found["costs"]]


def cost_key(settings: Mapping[str, Any], n_train: int, device: str, loop: str) -> str:
    return json.dumps([{k: settings.get(k) for k in COST_KEYS}, n_train, device, loop],
                      sort_keys=True)


def finite(value: Any) -> float:
    """`value` as a finite number >= 0; ValueError otherwise (NaN, inf, negative, bool)."""
    if isinstance(value, bool) or not math.isfinite(number := float(value)) or number < 0:
        raise ValueError(f"not a duration: {value!r}")
    return number


@dataclass(frozen=True)
class MeasuredRun:
    epochs: int
    seconds_per_epoch: float  # the training pass of an epoch after the first
    total_seconds: float  # inside the job (train_model's clock)
    job_seconds: float | None  # the whole job (its benchmark file), when known
    n_train: int


def benchmark_seconds(path: str | os.PathLike) -> float | None:
    """The wall seconds (column `s`) of a Snakemake benchmark file, or None."""
    try:
        header, row, *_ = (line.split("\t") for line in Path(path).read_text().splitlines())
        return finite(row[header.index("s")])
    except (OSError, IndexError, ValueError):
        return None


def measured_runs(root: str | os.PathLike = ".",
                  history_entries: int = 20) -> dict[str, MeasuredRun]:
    """An earlier run per cost key: results/train, else the run history's last entries."""
    root, found = Path(root), {}
    history, train = root / HISTORY_ROOT, root / TRAIN_ROOT

    def add(summary: Any, job_seconds: float | None) -> None:  # the last of a key wins
        with contextlib.suppress(LookupError, TypeError, ValueError, AttributeError, OverflowError):
            hyper = summary["hyperparameters"]
            n_train, epochs = int(hyper["n_train"]), int(summary["epochs"])
            run = MeasuredRun(epochs, finite(summary["seconds_per_epoch"]),
                              finite(summary["total_seconds"]), job_seconds, n_train)
            if n_train > 0 and epochs > 0 and run.seconds_per_epoch > 0:
                found[cost_key(hyper, n_train, str(summary["device"]),
                               summary.get("loop", "resident"))] = run

    for entry_path in sorted(history.glob("runs/*.json"))[-history_entries:]:
        with contextlib.suppress(LookupError, TypeError, AttributeError):
            for model in read_json(entry_path, or_none=True)["models"].values():
                for blobs in model["seeds"].values():
                    digest = str(blobs["summary"]).split(":", 1)[-1]
                    add(read_json(blob_path(history, digest), or_none=True), None)
    for path in sorted(train.glob("**/summary.json")):
        bench = root / "benchmarks" / TRAIN_RULE / path.parent.relative_to(train)
        add(read_json(path, or_none=True), benchmark_seconds(bench.with_suffix(".tsv")))
    return found


def measured_training_seconds(run: MeasuredRun, epochs: int, startup_s: float, n_val: int) -> float:
    """An earlier run's whole job time, plus or minus the epochs it did not have."""
    per_epoch = run.seconds_per_epoch * (1 + EVAL_FORWARD * n_val / (3 * max(run.n_train, 1)))
    outside = (run.job_seconds - run.total_seconds
               if run.job_seconds is not None and run.job_seconds >= run.total_seconds
               else startup_s)
    return max(outside + run.total_seconds + (epochs - run.epochs) * per_epoch,
               outside + epochs * run.seconds_per_epoch)


ProbeFn = Callable[[list[dict[str, Any]]], tuple[Throughput, list[ForwardCost]]]


def training_seconds(jobs: Sequence[tuple[Mapping[str, Any], int]],
                     measured: Mapping[str, MeasuredRun], device: str, n_val: int,
                     probe_fn: ProbeFn | None) -> tuple[list[tuple[float, str]], Throughput | None]:
    """Each (settings, threads) job's seconds and source: an earlier run's with its cost key (a
    CUDA job's once the one probe names its GPU), else the cost model; the probe's throughput."""

    def earlier(s: Mapping[str, Any], threads: int, rate: Throughput | None):
        label = f"cpu ({threads} threads)" if device == "cpu" else rate and rate.device_name
        run = measured.get(cost_key(s, s["n_train"], label, s["loop"]))
        startup_s = rate.startup_s if rate else REFERENCE_STARTUP_S
        return run and (measured_training_seconds(run, s["epochs"], startup_s, n_val), MEASURED)

    found = [device == "cpu" and earlier(s, threads, None) for s, threads in jobs]
    pending = [i for i, seconds in enumerate(found) if not seconds]
    if not pending or probe_fn is None:
        return [seconds or (0.0, "") for seconds in found], None
    # a run's settings as the probe builds its model (build_model ignores training keys)
    entries = {i: json.dumps({k: v for k, v in jobs[i][0].items() if k not in ("n_train", "loop")},
                             sort_keys=True) for i in pending}
    names = sorted(set(entries.values()))
    rate, cost_list = probe_fn([json.loads(name) for name in names])
    cost_of = dict(zip(names, cost_list, strict=True))
    for i in pending:
        s, threads = jobs[i]
        found[i] = earlier(s, threads, rate) or (modeled_training_seconds(
            cost_of[entries[i]], rate, epochs=s["epochs"], n_train=s["n_train"],
            n_val=n_val, batch_size=s.get("batch_size", 64), loop=s["loop"]), MODELED)
    return found, rate


def usual_mac_rate(folder: str | os.PathLike, rate: Throughput) -> float | None:
    """The median rate of the earlier probes on this device, when `rate` is BUSIER times slower."""
    earlier, records = [], read_json(Path(folder) / RATES_NAME, or_none=True)
    for entry in records if isinstance(records, list) else []:
        with contextlib.suppress(LookupError, TypeError, ValueError, OverflowError):  # damaged
            if entry["device_name"] == rate.device_name:
                earlier.append(finite(entry["mac_rate"]))
    usual = statistics.median(earlier) if earlier else 0.0
    return usual if usual > BUSIER * rate.mac_rate else None


def record_rate(folder: str | os.PathLike, rate: Throughput) -> None:
    earlier = read_json(Path(folder) / RATES_NAME, or_none=True)
    write_json(Path(folder) / RATES_NAME, [*(earlier if isinstance(earlier, list) else []),
                                           {**asdict(rate), "time": time.time()}][-RATES_KEPT:])


if __name__ == "__main__":  # the probe's process (`probe`)
    print(json.dumps(probe_device(**json.loads(sys.stdin.read()))))
