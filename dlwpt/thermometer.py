"""Chapters 5-6: fitting Celsius readings t_c to unknown-unit readings t_u.

Kinds of experiment (config.yaml `thermometer.experiments`):
- hand_gradient: t_p = w * t_u + b with the book's hand-written gradients; a learning rate too
  large for unscaled inputs diverges, which is recorded (`diverged`, `diverged_epoch`), not raised.
- autograd: the same model with requires_grad parameters and optim.SGD / optim.Adam.
- split: autograd SGD on a seeded 80/20 train/validation split, both losses per epoch.
- nn: chapter 6's nn.Linear(1, 1) or Linear-Tanh-Linear (plain or named) with nn.MSELoss.
Every result carries the fitted curve over t_u = 20..89 for the report.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from dlwpt.io import write_json

CURVE_T_U = torch.arange(20.0, 90.0)  # the book's t_range


def linear_model(t_u: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return w * t_u + b


def mse(t_p: torch.Tensor, t_c: torch.Tensor) -> torch.Tensor:
    return ((t_p - t_c) ** 2).mean()


def hand_gradient(t_u: torch.Tensor, t_c: torch.Tensor, t_p: torch.Tensor) -> torch.Tensor:
    """d loss / d (w, b) by the chain rule, as chapter 5 writes it out."""
    dloss_dtp = 2 * (t_p - t_c) / t_p.size(0)
    dmodel_dw, dmodel_db = t_u, 1.0
    return torch.stack([(dloss_dtp * dmodel_dw).sum(), (dloss_dtp * dmodel_db).sum()])


def split_indices(n_samples: int, val_fraction: float,
                  seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The book's shuffled split: the last int(val_fraction * n) of a permutation validate."""
    n_val = int(val_fraction * n_samples)
    shuffled = torch.randperm(n_samples, generator=torch.Generator().manual_seed(seed))
    return shuffled[:-n_val], shuffled[-n_val:]


def finite_or_none(x: float) -> float | None:
    return x if math.isfinite(x) else None


@dataclass
class Fit:
    """Per-epoch losses of one run; stops the run at the first non-finite training loss."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    diverged_epoch: int | None = None

    def record(self, epoch: int, train_loss: torch.Tensor,
               val_loss: torch.Tensor | None = None) -> bool:
        """Store the epoch's losses; False once training has diverged."""
        self.train_loss.append(float(train_loss.detach()))
        if val_loss is not None:
            self.val_loss.append(float(val_loss.detach()))
        if not math.isfinite(self.train_loss[-1]):
            self.diverged_epoch = epoch
            return False
        return True


def fit_hand_gradient(cfg: dict[str, Any], t_u: torch.Tensor, t_c: torch.Tensor,
                      fit: Fit) -> torch.Tensor:
    params = torch.tensor([1.0, 0.0])
    for epoch in range(1, cfg["epochs"] + 1):
        t_p = linear_model(t_u, *params)
        if not fit.record(epoch, mse(t_p, t_c)):
            break
        params = params - cfg["lr"] * hand_gradient(t_u, t_c, t_p)
    return params


def experiment_optimizer(cfg: dict[str, Any], params: Any) -> torch.optim.Optimizer:
    """The optimizer an experiment names (SGD by default) at its lr, as the book builds it."""
    optimizers = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}
    return optimizers[cfg.get("optimizer", "sgd")](params, lr=cfg["lr"])


def fit_autograd(cfg: dict[str, Any], predict: Callable[[torch.Tensor], torch.Tensor],
                 optimizer: torch.optim.Optimizer, loss_fn: Callable[..., torch.Tensor],
                 train: tuple[torch.Tensor, torch.Tensor],
                 val: tuple[torch.Tensor, torch.Tensor] | None, fit: Fit) -> None:
    """The book's autograd training loop (ch.5 and ch.6), with optional validation loss."""
    for epoch in range(1, cfg["epochs"] + 1):
        train_loss = loss_fn(predict(train[0]), train[1])
        val_loss = None
        if val is not None:
            with torch.no_grad():
                val_loss = loss_fn(predict(val[0]), val[1])
        if not fit.record(epoch, train_loss, val_loss):
            break
        optimizer.zero_grad()
        train_loss.backward()
        optimizer.step()


def build_nn(cfg: dict[str, Any]) -> nn.Module:
    hidden = cfg.get("hidden")
    if hidden is None:
        return nn.Linear(1, 1)
    if cfg.get("named"):
        return nn.Sequential(OrderedDict([
            ("hidden_linear", nn.Linear(1, hidden)),
            ("hidden_activation", nn.Tanh()),
            ("output_linear", nn.Linear(hidden, 1)),
        ]))
    return nn.Sequential(nn.Linear(1, hidden), nn.Tanh(), nn.Linear(hidden, 1))


def describe(kind: str, cfg: dict[str, Any]) -> str:
    what = {
        "hand_gradient": "w * t_u + b, hand-written gradients",
        "autograd": f"w * t_u + b, autograd + {cfg.get('optimizer', 'sgd')}",
        "split": f"w * t_u + b, autograd + {cfg.get('optimizer', 'sgd')}, "
                 f"{1 - cfg.get('val_fraction', 0.2):.0%}/{cfg.get('val_fraction', 0.2):.0%} split",
        "nn": ("nn.Linear(1, 1)" if cfg.get("hidden") is None else
               f"Linear(1, {cfg['hidden']}) + Tanh + Linear({cfg['hidden']}, 1)"
               + (" (named)" if cfg.get("named") else "")) + ", MSELoss, 80/20 split",
    }[kind]
    return (f"{what}; lr {cfg['lr']:g}, {cfg['epochs']} epochs, "
            f"inputs x{cfg.get('input_scale', 1.0):g}")


# Long: the four kinds of chapter 5-6 fit share their data preparation and their record.
def run_experiment(name: str, exp_cfg: dict[str, Any], t_c: list[float], t_u: list[float],
                   out_json: str | None) -> dict[str, Any]:
    """Run one thermometer experiment; write and return its result (docs/ARCHITECTURE.md)."""
    kind = exp_cfg["kind"]
    scale = exp_cfg.get("input_scale", 1.0)
    seed = exp_cfg.get("seed", 0)
    t_c_t, t_u_t = torch.tensor(t_c), torch.tensor(t_u)
    fit = Fit()
    torch.manual_seed(seed)

    if kind == "hand_gradient":
        params = fit_hand_gradient(exp_cfg, scale * t_u_t, t_c_t, fit)
        curve_y = linear_model(scale * CURVE_T_U, *params)
        w, b = params.tolist()
    elif kind in ("autograd", "split"):
        params = torch.tensor([1.0, 0.0], requires_grad=True)
        x = scale * t_u_t
        train, val = (x, t_c_t), None
        if kind == "split":
            train_idx, val_idx = split_indices(len(t_u), exp_cfg.get("val_fraction", 0.2), seed)
            train, val = (x[train_idx], t_c_t[train_idx]), (x[val_idx], t_c_t[val_idx])
        fit_autograd(exp_cfg, lambda inputs: linear_model(inputs, *params),
                     experiment_optimizer(exp_cfg, [params]), mse, train, val, fit)
        with torch.no_grad():
            curve_y = linear_model(scale * CURVE_T_U, *params)
        w, b = params.tolist()
    else:  # "nn" (the config schema allows no other kind)
        model = build_nn(exp_cfg)
        x, y = scale * t_u_t.unsqueeze(1), t_c_t.unsqueeze(1)
        train_idx, val_idx = split_indices(len(t_u), exp_cfg.get("val_fraction", 0.2), seed)
        fit_autograd(exp_cfg, model, experiment_optimizer(exp_cfg, model.parameters()),
                     nn.MSELoss(), (x[train_idx], y[train_idx]), (x[val_idx], y[val_idx]), fit)
        with torch.no_grad():
            curve_y = model(scale * CURVE_T_U.unsqueeze(1)).squeeze(1)
        w = b = None
        if isinstance(model, nn.Linear):
            w, b = model.weight.item(), model.bias.item()

    final_loss = fit.train_loss[-1] if fit.train_loss else None
    result = {
        "experiment": name,
        "kind": kind,
        "description": describe(kind, exp_cfg),
        "params": exp_cfg,
        "t_u": list(t_u),
        "t_c": list(t_c),
        "loss": [finite_or_none(v) for v in fit.train_loss],
        "diverged": fit.diverged_epoch is not None,
        "diverged_epoch": fit.diverged_epoch,
        "final": None if w is None else {
            "w": finite_or_none(w), "b": finite_or_none(b),
            "loss": finite_or_none(final_loss) if final_loss is not None else None,
            "input_scale": scale,
        },
        "curve": {"x": CURVE_T_U.tolist(), "y": [finite_or_none(v) for v in curve_y.tolist()]},
    }
    if fit.val_loss:
        result["train_loss"] = result["loss"]
        result["val_loss"] = [finite_or_none(v) for v in fit.val_loss]
    if out_json is not None:
        write_json(out_json, result)
    return result
