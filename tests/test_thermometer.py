"""Chapter 5-6 thermometer fits against closed-form least squares and the book's figures."""

import json

import pytest
import torch

from dlwpt.thermometer import run_experiment
from tests.helpers.config import default_config

CONFIG = default_config()["thermometer"]
T_C, T_U = CONFIG["t_c"], CONFIG["t_u"]
EXPERIMENTS = CONFIG["experiments"]


def run(name: str, **overrides) -> dict:
    return run_experiment(name, {**EXPERIMENTS[name], **overrides}, T_C, T_U, None)


def points(scale: float, which: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The design matrix [t_u * scale, 1] and t_c of the points `which` (all: None), float64."""
    x = torch.tensor(T_U, dtype=torch.float64) * scale
    t_c = torch.tensor(T_C, dtype=torch.float64)
    if which is not None:
        x, t_c = x[which], t_c[which]
    return torch.stack([x, torch.ones_like(x)], 1), t_c


def least_squares(scale: float, which: torch.Tensor | None = None) -> torch.Tensor:
    """(w, b) minimizing the mean squared error on t_u * scale."""
    design, t_c = points(scale, which)
    return torch.linalg.lstsq(design, t_c[:, None]).solution[:, 0]


def gradient_descent_bound(scale: float, lr: float, epochs: int,
                           which: torch.Tensor | None = None) -> float:
    """How far plain GD from (1, 0) can still be from the optimum after `epochs` steps.

    The loss is quadratic with Hessian H = 2 A^T A / n, so the error contracts by at least
    (1 - lr * lambda_min(H)) per step: |p_k - p*| <= (1 - lr lambda_min)^k |p_0 - p*|.
    """
    design, _ = points(scale, which)
    lambda_min = torch.linalg.eigvalsh(2 * design.T @ design / len(design))[0].item()
    start_error = torch.linalg.norm(torch.tensor([1.0, 0.0], dtype=torch.float64)
                                    - least_squares(scale, which)).item()
    return (1 - lr * lambda_min) ** epochs * start_error


def test_autograd_sgd_reaches_least_squares():
    result = run("autograd_sgd")
    w, b = result["final"]["w"], result["final"]["b"]
    assert (w, b) == pytest.approx((5.3671, -17.3012), abs=1e-4)  # the book's printout
    # Bound from the contraction rate (about 0.0036 here) plus float32 slack.
    tolerance = gradient_descent_bound(0.1, 1e-2, 5000) + 1e-3
    w_ls, b_ls = least_squares(0.1).tolist()
    assert abs(w - w_ls) < tolerance and abs(b - b_ls) < tolerance
    assert not result["diverged"]
    assert len(result["loss"]) == 5000 and result["loss"][-1] < result["loss"][0]


def test_adam_on_unscaled_inputs_reaches_least_squares():
    result = run("autograd_adam")
    w_ls, b_ls = least_squares(1.0).tolist()
    # Adam with a fixed lr of 0.1 hovers around the optimum; measured gap: 6e-6 (w), 0.003 (b).
    assert result["final"]["w"] == pytest.approx(w_ls, abs=1e-3)
    assert result["final"]["b"] == pytest.approx(b_ls, abs=0.02)


def test_hand_gradient_lr_1e2_diverges_without_crashing(tmp_path):
    out = tmp_path / "hand.json"
    result = run_experiment("hand_lr1e-2", EXPERIMENTS["hand_lr1e-2"], T_C, T_U, out)
    assert result["diverged"] and result["diverged_epoch"] == 11
    assert result["loss"][0] == pytest.approx(1763.8848, rel=1e-6)  # the book's first loss
    assert result["loss"][-1] is None and all(v is not None for v in result["loss"][:-1])
    written = json.loads(out.read_text())  # strict JSON: no NaN/Infinity tokens
    assert written["diverged"] is True and len(written["curve"]["x"]) == 70


def test_hand_gradient_small_lr_is_stable_but_far_from_optimum():
    result = run("hand_lr1e-4")
    assert not result["diverged"]
    assert result["loss"][-1] == pytest.approx(29.0227, abs=1e-3)  # the book's epoch 100
    w_ls = least_squares(1.0)[0].item()
    assert abs(result["final"]["w"] - w_ls) > 0.2


def test_scaled_hand_gradient_moves_toward_optimum():
    result = run("hand_scaled_lr1e-2")
    w_ls, b_ls = least_squares(0.1).tolist()
    assert not result["diverged"]
    assert (result["final"]["w"], result["final"]["b"]) == pytest.approx((2.7553, -2.5162),
                                                                           abs=1e-3)
    assert abs(result["final"]["w"] - w_ls) < abs(1.0 - w_ls)
    # The same fit, continued, lands where autograd SGD does: the hand gradients are right.
    long_run = run("hand_scaled_lr1e-2", epochs=5000)
    assert (long_run["final"]["w"], long_run["final"]["b"]) == pytest.approx(
        (5.3671, -17.3012), abs=1e-3)


def test_split_fits_the_training_points_and_reports_both_losses():
    """The book's split: the last 2 of the 11 points, in a permutation seeded 0, validate. The
    first losses are those of (w, b) = (1, 0) on each part, the fit heads for the least squares
    of the training part alone, and the last validation loss is the fit's on the other two."""
    result = run("split_sgd")
    order = torch.randperm(len(T_U), generator=torch.Generator().manual_seed(0))
    train, val = order[:-2], order[-2:]

    def mse(w: float, b: float, which: torch.Tensor) -> float:
        design, t_c = points(0.1, which)
        return ((design @ torch.tensor([w, b], dtype=torch.float64) - t_c) ** 2).mean().item()

    assert len(result["train_loss"]) == len(result["val_loss"]) == 3000
    assert result["train_loss"][0] == pytest.approx(mse(1.0, 0.0, train), rel=1e-6)
    assert result["val_loss"][0] == pytest.approx(mse(1.0, 0.0, val), rel=1e-6)
    w, b = result["final"]["w"], result["final"]["b"]
    distance = torch.linalg.norm(torch.tensor([w, b], dtype=torch.float64)
                                 - least_squares(0.1, train)).item()
    assert distance <= gradient_descent_bound(0.1, 1e-2, 3000, train) + 1e-3
    assert result["val_loss"][-1] == pytest.approx(mse(w, b, val), rel=1e-3)


@pytest.mark.parametrize("name", ["nn_linear", "nn_seq_tanh13", "nn_named_tanh8"])
def test_nn_models_learn_and_give_a_curve(name):
    """nn.Linear's curve is its fitted line; a hidden tanh layer bends the curve."""
    result = run(name, epochs=1000)
    assert result["train_loss"][-1] < 0.5 * result["train_loss"][0]
    x, y = (torch.tensor(result["curve"][k], dtype=torch.float64) for k in ("x", "y"))
    assert x.tolist() == [float(t) for t in range(20, 90)]
    bend = (y[2:] - 2 * y[1:-1] + y[:-2]).abs().max().item()
    if EXPERIMENTS[name]["hidden"] is None:
        fitted = result["final"]["w"] * 0.1 * x + result["final"]["b"]
        torch.testing.assert_close(y, fitted, rtol=0, atol=1e-4)
    else:
        assert result["final"] is None and bend > 1e-3, bend  # a line: float noise, 1e-5
