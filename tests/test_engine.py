"""Training loops and train_model on real CIFAR-2 subsets: learning, determinism, resume."""

import csv
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from dlwpt.engine import BookTrainer, ResidentTrainer, TrainSettings, make_trainer
from dlwpt.engine.cuda_graphs import preserved_training_state
from dlwpt.engine.trainer import make_optimizer
from dlwpt.io import DataError, file_digest, summary_seal
from dlwpt.models import build_model
from dlwpt.runs import RunFiles
from dlwpt.train import Plumbing, RunSettings, load_training_data, train_model
from tests.helpers.data import load_cifar2, subset_file

ROOT = Path(__file__).resolve().parents[1]
NET = {"arch": "Net", "epochs": 3, "batch_size": 64, "optimizer": "sgd", "lr": 1e-2,
       "momentum": 0.0, "l2": 0.0, "loss": "cross_entropy"}


@pytest.fixture(scope="module")
def small_data(tmp_path_factory) -> Path:
    """600 training images (the last batch holds 24, as the book's loader keeps it), 200 val."""
    return subset_file(tmp_path_factory.mktemp("cifar2"), n_train=600, n_val=200)


def subset(n_train: int, n_val: int) -> dict[str, torch.Tensor]:
    data = load_cifar2()
    return {"train_images": data["train_images"][:n_train],
            "train_labels": data["train_labels"][:n_train],
            "val_images": data["val_images"][:n_val], "val_labels": data["val_labels"][:n_val]}


def train(data_pt: Path, out: Path, model_cfg: dict, resume_dir: Path | None = None,
          **settings) -> tuple[list[dict], dict]:
    """Run train_model into `out`; return (metrics rows without timings, state_dict)."""
    train_model(RunFiles.in_folder(out),
                RunSettings(model_name="test", model_cfg=model_cfg, seed=0, device="cpu",
                            **settings), data=data_pt, resume=resume_dir)
    return read_metrics(out / "metrics.csv"), torch.load(out / "model.pt", weights_only=True)


def read_metrics(path: Path) -> list[dict]:
    with open(path) as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


def assert_identical(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_resident_loop_learns_on_real_images():
    torch.manual_seed(0)
    trainer = make_trainer("resident", build_model(NET), subset(1000, 200),
                           TrainSettings.from_config(NET), "cpu", seed=0)
    losses = [trainer.train_epoch()[0] for _ in range(3)]
    train_acc, val_acc = trainer.accuracy("train"), trainer.accuracy("val")
    assert losses[0] > losses[1] > losses[2]
    assert val_acc > 0.6 and train_acc > 0.6  # chance: 0.5


@pytest.mark.parametrize("overrides", [
    {},
    {"arch": "NetBatchNorm", "n_chans1": 16},
    {"l2": 0.001, "momentum": 0.9},
    {"arch": "FullyConnected", "hidden": [64], "log_softmax": True, "loss": "nll",
     "optimizer": "adam", "lr": 1e-3},
], ids=["net", "batchnorm", "l2-momentum", "fc-adam-nll"])
def test_book_and_resident_loops_agree(overrides):
    """Same seed, same batch orders: the two loops differ only by float rounding (incl. the
    resident loop's channels_last convolutions). Batch norm with momentum is left out: it
    amplifies rounding differences chaotically (measured 4e-3 relative after 48 steps)."""
    cfg = {**NET, **overrides}
    data, settings = subset(600, 100), TrainSettings.from_config(cfg)
    runs = []
    for trainer_class in (BookTrainer, ResidentTrainer):
        torch.manual_seed(0)
        trainer = trainer_class(build_model(cfg), data, settings, "cpu", seed=0)
        epochs = [trainer.train_epoch() for _ in range(3)]
        runs.append((epochs, trainer.model.state_dict(), trainer.accuracy("val")))
    (book_epochs, book_state, book_acc), (resident_epochs, resident_state, resident_acc) = runs
    for (book_loss, book_running_acc), (resident_loss, resident_running_acc) in zip(
            book_epochs, resident_epochs, strict=True):
        assert resident_loss == pytest.approx(book_loss, rel=1e-4)
        assert resident_running_acc == pytest.approx(book_running_acc, abs=0.01)
    for key, value in book_state.items():
        torch.testing.assert_close(resident_state[key], value, rtol=1e-3, atol=1e-4, msg=key)
    assert resident_acc == pytest.approx(book_acc, abs=0.01)


def test_loop_settings_choose_the_trainer():
    """train.loop picks the class; the memory format is a constructor choice of the loop
    (channels_last for convolutions on the CPU, resident loop only); bad settings are named."""
    data, settings = subset(64, 16), TrainSettings.from_config(NET)
    fc = {**NET, "arch": "FullyConnected", "hidden": [8]}
    for loop, cfg, trainer_class, memory_format in [
            ("book", NET, BookTrainer, torch.contiguous_format),
            ("resident", NET, ResidentTrainer, torch.channels_last),
            ("resident", fc, ResidentTrainer, torch.contiguous_format)]:
        trainer = make_trainer(loop, build_model(cfg), data, settings, "cpu", seed=0)
        assert type(trainer) is trainer_class and trainer.memory_format == memory_format
        assert not trainer.capturable and trainer.graphs_status == "not used"
    with pytest.raises(ValueError, match="unknown loop 'fast'; known: book, resident"):
        make_trainer("fast", build_model(NET), data, settings, "cpu", seed=0)
    with pytest.raises(ValueError, match="unknown cuda_graphs setting 'on'; known: auto, off"):
        make_trainer("resident", build_model(NET), data, settings, "cpu", seed=0,
                     cuda_graphs="on")
    with pytest.raises(ValueError, match="unknown optimizer 'adamw'; known: sgd, adam"):
        TrainSettings.from_config({**NET, "optimizer": "adamw"})
    with pytest.raises(ValueError, match="unknown loss 'mse'; known: cross_entropy, nll"):
        TrainSettings.from_config({**NET, "loss": "mse"})


def test_same_seed_gives_identical_runs(small_data, tmp_path):
    cfg = {**NET, "arch": "NetDropout", "n_chans1": 16, "epochs": 2}  # dropout: the global RNG
    first, first_state = train(small_data, tmp_path / "a", cfg)
    second, second_state = train(small_data, tmp_path / "b", cfg)
    assert first == second
    assert_identical(first_state, second_state)


def test_outputs_follow_the_contract(small_data, tmp_path):
    cfg = {**NET, "epochs": 2}
    # cuda_graphs=False: a bare `off` in YAML; on the CPU graphs are not tried either way.
    rows, state = train(small_data, tmp_path, cfg, subsample=320, cuda_graphs=False)
    assert [r["epoch"] for r in rows] == ["1", "2"]
    header = (tmp_path / "metrics.csv").read_text().splitlines()[0]
    assert header == "epoch,train_loss,train_acc,val_acc,seconds"
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert list(summary) == [
        "model", "arch", "seed", "epochs", "train_acc", "val_acc", "diverged_epoch", "n_params",
        "device", "gpu", "seconds_per_epoch", "total_seconds", "resdeep_blocks", "engine", "loop",
        "cuda_graphs", "hyperparameters", "load_average", "files", "summary_sha256"]
    assert summary["summary_sha256"] == summary_seal(summary)  # sealed as written
    assert summary["diverged_epoch"] is None
    assert summary["load_average"] is None  # no plumbing reads it
    assert summary["files"] == {name: "sha256:" + file_digest(tmp_path / name)
                                for name in ("model.pt", "metrics.csv", "val_predictions.csv")}
    assert summary["engine"] == "resident loop" and summary["loop"] == "resident"
    assert summary["cuda_graphs"] == "not used"  # CUDA graphs are tried on CUDA only
    assert summary["hyperparameters"]["n_train"] == 320
    assert summary["val_acc"] == float(rows[-1]["val_acc"])
    model = build_model(cfg)
    model.load_state_dict(state, strict=True)
    # train_acc is an eval-mode pass over the (subsampled) training set, as the book's validate;
    # recomputed here independently of the engine, batch by batch.
    data = load_training_data(small_data, 320)
    model.eval()
    with torch.no_grad():
        correct = sum(int((model(images).argmax(dim=1) == labels).sum()) for images, labels in
                      zip(data["train_images"].split(100), data["train_labels"].split(100),
                          strict=True))
    assert summary["train_acc"] == pytest.approx(correct / 320, abs=1e-12)


def test_a_run_diverging_in_its_first_epoch_stops_with_null_figures(small_data, tmp_path):
    import json
    import math

    rows, _ = train(small_data, tmp_path, {**NET, "epochs": 6, "lr": 3.0e38})
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["diverged_epoch"] == 1 and len(rows) == 1  # stopped there, row kept
    assert not math.isfinite(float(rows[0]["train_loss"]))
    assert summary["val_acc"] is None and summary["train_acc"] is None
    # Predictions from the final weights as they are: every image still has its row.
    predictions = read_predictions(tmp_path / "val_predictions.csv")
    assert len(predictions) == 200 and predictions["prob"].isna().all()
    assert not list(tmp_path.glob(".*.tmp"))


def read_predictions(path: Path):
    import pandas as pd

    frame = pd.read_csv(path)
    assert list(frame.columns) == ["index", "label", "predicted", "prob"]
    return frame


@pytest.mark.parametrize("overrides", [
    {},
    {"arch": "FullyConnected", "hidden": [32], "log_softmax": True, "loss": "nll"},
], ids=["net-logits", "fc-logsoftmax"])
def test_val_predictions_match_the_summary_on_the_full_validation_set(tmp_path, overrides):
    """2,000 rows in validation order; their accuracy is val_acc exactly; prob is P(class 1)
    recomputed from model.pt (log-probabilities exp'ed for the LogSoftmax model)."""
    import json

    data_pt = subset_file(tmp_path, n_train=320, n_val=2000)
    cfg = {**NET, "epochs": 1, **overrides}
    train(data_pt, tmp_path / "run", cfg)
    summary = json.loads((tmp_path / "run/summary.json").read_text())
    frame = read_predictions(tmp_path / "run/val_predictions.csv")
    val = load_training_data(data_pt, None)
    assert frame["index"].tolist() == list(range(2000))
    assert frame["label"].tolist() == val["val_labels"].tolist()
    correct = int((frame["predicted"] == frame["label"]).sum())
    assert 0 < correct < 2000 and correct / 2000 == summary["val_acc"]
    model = build_model(cfg)
    model.load_state_dict(torch.load(tmp_path / "run/model.pt", weights_only=True))
    model.eval()
    with torch.no_grad():
        outputs = torch.cat([model(x) for x in val["val_images"].split(500)])
    expected = (outputs.exp() if overrides else torch.softmax(outputs, dim=1))[:, 1]
    assert expected.sum(dim=0).item() > 0  # not a constant zero column
    torch.testing.assert_close(torch.tensor(frame["prob"].to_numpy(), dtype=torch.float32),
                               expected, rtol=1e-4, atol=1e-5)
    confident = (expected - 0.5).abs() > 1e-3  # away from a tie, argmax is prob > 0.5
    assert torch.equal(torch.tensor(frame["predicted"].to_numpy())[confident],
                       (expected > 0.5).long()[confident])


def test_a_later_divergence_keeps_the_last_finite_epochs_figures(small_data, tmp_path,
                                                                 monkeypatch):
    """The loss turns NaN in epoch 3 of 5: stop there; the summary holds epoch 2's figures."""
    import json

    from dlwpt.engine import ResidentTrainer

    real_epoch = ResidentTrainer.train_epoch
    calls = []

    def nan_in_epoch_3(self):
        calls.append(1)
        loss, acc = real_epoch(self)
        return (float("nan"), acc) if len(calls) == 3 else (loss, acc)

    monkeypatch.setattr(ResidentTrainer, "train_epoch", nan_in_epoch_3)
    rows, _ = train(small_data, tmp_path, {**NET, "epochs": 5})
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["diverged_epoch"] == 3 and len(calls) == 3 and len(rows) == 3
    assert rows[2]["train_loss"] == "nan"
    assert summary["val_acc"] == float(rows[1]["val_acc"])
    assert summary["train_acc"] == float(rows[1]["train_acc"])  # running, not an eval pass


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_is_one_line_at_the_start_of_the_job(small_data, tmp_path):
    script = (
        "from dlwpt.devices import claimed_device\n"
        "from dlwpt.io import script_errors\n"
        "from dlwpt.runs import RunFiles\n"
        "from dlwpt.train import RunSettings, train_model\n"
        f"with script_errors({str(tmp_path / 'job.log')!r}) as log, "
        "claimed_device('cuda', None, log) as (device, gpu):\n"
        f"    train_model(RunFiles.in_folder({str(tmp_path)!r}),\n"
        f"                RunSettings(model_name='net', model_cfg={NET!r}, seed=0),\n"
        f"                data={str(small_data)!r}, device=device)\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].endswith(
        "error: train.device is cuda but this machine has no usable CUDA device "
        "(torch.cuda.is_available() is False); set train.device: auto or cpu")
    assert list(tmp_path.iterdir()) == [tmp_path / "job.log"]


def test_a_failing_cuda_job_releases_its_gpu_claim(tmp_path, monkeypatch):
    """The claim is held in a `with`: a job that fails after claiming (here on a bad cifar2.pt,
    on a machine made to look like it has one GPU) frees the device for the next job."""
    import functools

    from dlwpt import devices, train

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(devices, "claim_gpu", functools.partial(
        devices.claim_gpu, lock_dir=tmp_path / "locks", env={}, wait_s=0))
    bad = tmp_path / "cifar2.pt"
    bad.write_text("not a tensor file")
    log = logging.getLogger("claim-test")
    with pytest.raises(DataError, match="cannot load"), devices.claimed_device(
            "cuda", None, log) as (device, _):
        assert device == torch.device("cuda", 0)
        train.load_training_data(bad, None)
    free = devices.try_claim(devices.Candidate("0", 0), tmp_path / "locks")
    assert free is not None
    free.release()


def test_bad_input_is_a_one_line_data_error(tmp_path):
    bad = tmp_path / "cifar2.pt"
    torch.save({"train_images": torch.zeros(4, 3, 28, 28)}, bad)
    with pytest.raises(DataError, match=r"cifar2\.pt: missing train_images"):
        train(bad, tmp_path, NET)
    bad.write_text("not a tensor file")
    with pytest.raises(DataError, match="cannot load"):
        train(bad, tmp_path, NET)


def test_the_machine_load_is_recorded_beside_the_seconds_and_changes_nothing(small_data,
                                                                             tmp_path):
    cfg = {**NET, "epochs": 1}
    (tmp_path / "plain").mkdir()
    _, plain = train(small_data, tmp_path / "plain", cfg, subsample=320)
    out = tmp_path / "loaded"
    train_model(RunFiles.in_folder(out),
                RunSettings(model_name="test", model_cfg=cfg, seed=0, device="cpu",
                            subsample=320), data=small_data,
                plumbing=Plumbing(load=iter([1.5, 2.25]).__next__))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["load_average"] == {"start": 1.5, "end": 2.25, "cpus": os.cpu_count()}
    assert_identical(torch.load(out / "model.pt", weights_only=True), plain)
    assert ((out / "val_predictions.csv").read_bytes()
            == (tmp_path / "plain/val_predictions.csv").read_bytes())


CHILD = """
import logging, sys, time
from dlwpt.progress import JobProgress
from dlwpt.runs import RunFiles
from dlwpt.train import Plumbing, RunSettings, train_model

class SlowEpochs(logging.Handler):
    def emit(self, record):
        print(record.getMessage(), file=sys.stderr, flush=True)
        time.sleep(float(sys.argv[3]))

log = logging.getLogger("resume-test")
log.setLevel(logging.INFO)
log.addHandler(SlowEpochs())
out = sys.argv[2]
cfg = dict(arch="NetDropout", n_chans1=16, epochs=4, batch_size=64, lr=1e-2, optimizer="sgd",
           momentum=0.9, l2=0.0, loss="cross_entropy")
train_model(RunFiles.in_folder(out),
            RunSettings(model_name="resume", model_cfg=cfg, seed=3, device="cpu", threads=2),
            data=sys.argv[1], resume=out + "/resume", log=log,
            plumbing=Plumbing(on_epoch=JobProgress("resume", 3, log, None)))
"""


def run_child(data_pt: Path, out: Path, sleep: float) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", CHILD, str(data_pt), str(out), str(sleep)],
                            cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)


def checkpoint_epoch(path: Path) -> int:
    if not path.exists():
        return 0
    return torch.load(path, weights_only=True)["epoch"]  # written atomically: never partial


def test_resume_after_sigkill_is_bit_identical(small_data, tmp_path):
    """SIGKILL a run once its epoch-2 checkpoint exists; the restarted run must end exactly
    where an uninterrupted run ends (momentum buffers, dropout RNG and batch order restored)."""
    killed = tmp_path / "killed"
    child = run_child(small_data, killed, sleep=0.5)
    deadline = time.monotonic() + 120
    while checkpoint_epoch(killed / "resume/checkpoint.pt") < 2:
        assert child.poll() is None, child.stderr.read()
        assert time.monotonic() < deadline, "no epoch-2 checkpoint within 120 s"
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert not (killed / "metrics.csv").exists()

    restarted = run_child(small_data, killed, sleep=0.0)
    _, log_text = restarted.communicate(timeout=300)
    assert restarted.returncode == 0, log_text
    assert "resuming resume seed 3 after epoch" in log_text
    assert not (killed / "resume/checkpoint.pt").exists()

    uninterrupted = tmp_path / "uninterrupted"
    reference = run_child(small_data, uninterrupted, sleep=0.0)
    _, log_text = reference.communicate(timeout=300)
    assert reference.returncode == 0, log_text
    assert read_metrics(killed / "metrics.csv") == read_metrics(uninterrupted / "metrics.csv")
    assert_identical(torch.load(killed / "model.pt", weights_only=True),
                     torch.load(uninterrupted / "model.pt", weights_only=True))


def test_checkpoint_of_another_configuration_is_ignored(small_data, tmp_path):
    cfg = {**NET, "epochs": 2}
    resume = tmp_path / "resume"
    train(small_data, tmp_path / "a", cfg, subsample=320, resume_dir=resume, checkpoint_every=1)
    assert not (resume / "checkpoint.pt").exists()  # removed after the outputs are written
    torch.save({"config_hash": "another run", "epoch": 1}, resume / "checkpoint.pt")
    rows, _ = train(small_data, tmp_path / "b", cfg, subsample=320, resume_dir=resume)
    assert len(rows) == 2


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_undoing_warm_up_steps_leaves_a_fresh_start(optimizer):
    """The CUDA-graph warm-up undo, checked on the CPU: after warm-up steps are undone (weights
    restored, new optimizer state zeroed in place), training proceeds as from a fresh start."""
    cfg = {**NET, "optimizer": optimizer, "momentum": 0.9}
    settings = TrainSettings.from_config(cfg)
    data = subset(256, 64)

    def one_step(model, opt):
        loss = torch.nn.functional.cross_entropy(model(data["train_images"][:64]),
                                                 data["train_labels"][:64])
        opt.zero_grad()
        loss.backward()
        opt.step()

    torch.manual_seed(0)
    fresh = build_model(cfg)
    warmed = build_model(cfg)
    warmed.load_state_dict(fresh.state_dict())
    fresh_opt, warmed_opt = make_optimizer(fresh, settings), make_optimizer(warmed, settings)
    state_tensors_before = None
    with preserved_training_state(warmed, warmed_opt):
        for _ in range(3):
            one_step(warmed, warmed_opt)
        state_tensors_before = [t for s in warmed_opt.state.values() for t in s.values()]
    assert [t for s in warmed_opt.state.values() for t in s.values()] == state_tensors_before
    assert_identical(warmed.state_dict(), fresh.state_dict())
    for _ in range(2):
        one_step(fresh, fresh_opt)
        one_step(warmed, warmed_opt)
    assert_identical(warmed.state_dict(), fresh.state_dict())


def recorded_step_trainer(*args, recorder, **kwargs) -> ResidentTrainer:
    """A ResidentTrainer on the CPU whose steps are "recorded" by `recorder(trainer, size)`, a
    stand-in for the CUDA-only capture, so the check that decides whether recorded steps may be
    used runs on the CPU."""
    trainer = ResidentTrainer(
        *args, record_steps=lambda t, sizes: {size: recorder(t, size) for size in sizes},
        **kwargs)
    trainer.use_graphs = True  # "auto" tries graphs on CUDA devices only
    return trainer


def faithful(trainer, size):
    return trainer.train_step


def stale_input(trainer, size):  # the classic capture bug: the batch baked in at record time
    recorded = torch.arange(size)
    return lambda index: trainer.train_step(recorded)


def no_update(trainer, size):  # right loss, but the update lands nowhere the model sees
    def step(index):
        state = {k: v.clone() for k, v in trainer.model.state_dict().items()}
        totals = trainer.train_step(index)
        trainer.model.load_state_dict(state)
        return totals
    return step


def stale_momentum(trainer, size):  # right losses, but momentum buffers never move on
    def step(index):
        buffers = [(state, state["momentum_buffer"].clone())
                   for state in trainer.optimizer.state.values() if "momentum_buffer" in state]
        totals = trainer.train_step(index)
        for state, buffer in buffers:
            state["momentum_buffer"].copy_(buffer)
        return totals
    return step


def capture_fails(trainer, size):
    raise RuntimeError("operation not permitted when stream is capturing")


@pytest.mark.parametrize(("recorder", "status"), [
    (faithful, "on"),
    (stale_input, "off (GraphCheckError: batch size 24: losses"),
    (no_update, "off (GraphCheckError: batch size 24: losses"),
    (stale_momentum, "off (GraphCheckError: batch size 24: parameter update differs"),
    (capture_fails, "off (RuntimeError: operation not permitted when stream is capturing)"),
])
def test_recorded_steps_are_used_only_when_they_match_eager_steps(recorder, status, caplog):
    """Whatever the check decides, the run equals a plain eager run bit for bit: the check's trial
    steps are undone, dropout's RNG included (NetDropout, momentum state, last batch of 24)."""
    cfg = {**NET, "arch": "NetDropout", "momentum": 0.9}
    data, settings = subset(280, 64), TrainSettings.from_config(cfg)
    runs = []
    for make, kwargs in ((ResidentTrainer, {}), (recorded_step_trainer, {"recorder": recorder})):
        torch.manual_seed(0)
        trainer = make(build_model(cfg), data, settings, "cpu", seed=0, **kwargs)
        runs.append(([trainer.train_epoch() for _ in range(2)], trainer.model.state_dict()))
    assert runs[1][0] == runs[0][0]
    assert_identical(runs[1][1], runs[0][1])
    assert trainer.graphs_status.startswith(status)
    assert sorted(trainer.captured_steps) == ([24, 64] if status == "on" else [])
    if status != "on":
        assert f"CUDA graphs {trainer.graphs_status}; training eagerly" in caplog.text


def test_a_real_capture_that_fails_falls_back_to_eager():
    """The CUDA recorder itself, made to run on a CPU device where it cannot capture: the
    failure is caught and reported, and the run equals an eager run bit for bit."""
    cfg = {**NET, "momentum": 0.9}
    data, settings = subset(200, 32), TrainSettings.from_config(cfg)
    runs = []
    for force_graphs in (False, True):
        torch.manual_seed(0)
        trainer = ResidentTrainer(build_model(cfg), data, settings, "cpu", seed=0)
        trainer.use_graphs = force_graphs
        runs.append((trainer.train_epoch(), trainer.model.state_dict()))
    assert runs[1][0] == runs[0][0]
    assert_identical(runs[1][1], runs[0][1])
    assert trainer.graphs_status.startswith("off (") and not trainer.captured_steps


def test_steps_are_recorded_again_after_loading_a_checkpoint():
    """Loading replaces the optimizer's state tensors: steps recorded before would update the old
    ones. Also: a training set smaller than one batch records one step of its own size."""
    recorded_sizes = []

    def counting(trainer, size):
        recorded_sizes.append(size)
        return trainer.train_step

    cfg = {**NET, "momentum": 0.9}
    trainer = recorded_step_trainer(build_model(cfg), subset(40, 16),
                                    TrainSettings.from_config(cfg), "cpu", seed=0,
                                    recorder=counting)
    trainer.train_epoch()
    state = trainer.state_dict()
    trainer.train_epoch()
    assert recorded_sizes == [40]
    trainer.load_state_dict(state)
    assert not trainer.captured_steps
    trainer.train_epoch()
    assert recorded_sizes == [40, 40] and trainer.graphs_status == "on"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("overrides", [
    {"arch": "NetBatchNorm", "momentum": 0.9},
    {"arch": "NetDropout", "optimizer": "adam", "lr": 1e-3},  # RNG and capturable Adam in graphs
])
def test_cuda_graphs_match_eager_on_the_gpu(overrides):
    cfg = {**NET, **overrides}
    data, settings = subset(1000, 200), TrainSettings.from_config(cfg)
    runs = []
    for graphs in ("off", "auto"):
        torch.manual_seed(0)
        trainer = ResidentTrainer(build_model(cfg), data, settings, "cuda", seed=0,
                                  cuda_graphs=graphs)
        losses = [trainer.train_epoch()[0] for _ in range(3)]
        runs.append((losses, trainer.accuracy("val")))
        assert bool(trainer.captured_steps) == (graphs == "auto")
        assert trainer.graphs_status == ("on" if graphs == "auto" else
                                         "off (train.cuda_graphs: off)")
    (eager_losses, eager_acc), (graph_losses, graph_acc) = runs
    assert graph_losses == pytest.approx(eager_losses, rel=1e-3)
    assert graph_acc == pytest.approx(eager_acc, abs=0.01)
