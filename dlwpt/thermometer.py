"""Chapters 5-6: fitting Celsius readings t_c to unknown-unit readings t_u.

Kinds (config.yaml `thermometer.experiments`; `describe` words each): the line w * t_u + b with
the hand-written gradients (a divergence, as from too large a learning rate on unscaled inputs,
is recorded, not raised), by autograd, or on a seeded train/validation split; chapter 6's nn
modules. Every result carries the fitted curve over t_u = 20..89 for the report."""

import math
from collections import OrderedDict
from typing import Any

import torch
from torch import nn

from dlwpt.io import write_json

CURVE_T_U = torch.arange(20.0, 90.0)  # the book's t_range


def mse(t_p: torch.Tensor, t_c: torch.Tensor) -> torch.Tensor:
    return ((t_p - t_c) ** 2).mean()


def hand_gradient(t_u: torch.Tensor, t_c: torch.Tensor, t_p: torch.Tensor) -> torch.Tensor:
    """d loss / d (w, b) by the chain rule, as chapter 5 writes it out."""
    dloss_dtp = 2 * (t_p - t_c) / t_p.size(0)
    dmodel_dw, dmodel_db = t_u, 1.0
    return torch.stack([(dloss_dtp * dmodel_dw).sum(), (dloss_dtp * dmodel_db).sum()])


def finite_or_none(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def build_nn(cfg: dict[str, Any]) -> nn.Module:
    hidden = cfg.get("hidden")
    if hidden is None:
        return nn.Linear(1, 1)
    layers = OrderedDict(hidden_linear=nn.Linear(1, hidden), hidden_activation=nn.Tanh(),
                         output_linear=nn.Linear(hidden, 1))
    return nn.Sequential(layers) if cfg.get("named") else nn.Sequential(*layers.values())


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


# Long: the four kinds share one body; split, its parts would pass the same nine locals.
def run_experiment(name: str, exp_cfg: dict[str, Any], t_c: list[float], t_u: list[float],
                   out_json: str | None) -> dict[str, Any]:
    """Run one thermometer experiment; write and return its result (docs/ARCHITECTURE.md). The
    kinds share the book's loop: each epoch the losses, then the update, to the first NaN/inf
    training loss."""
    kind, scale, seed = exp_cfg["kind"], exp_cfg.get("input_scale", 1.0), exp_cfg.get("seed", 0)
    x, y, curve_x = scale * torch.tensor(t_u), torch.tensor(t_c), scale * CURVE_T_U
    torch.manual_seed(seed)
    if kind == "nn":
        model = build_nn(exp_cfg)
        predict, loss_fn, params = model, nn.MSELoss(), list(model.parameters())
        x, y, curve_x = x.unsqueeze(1), y.unsqueeze(1), curve_x.unsqueeze(1)
    else:
        line = torch.tensor([1.0, 0.0], requires_grad=kind != "hand_gradient")
        predict, loss_fn, params = (lambda inputs: line[0] * inputs + line[1]), mse, [line]
    train, val = (x, y), None
    if kind in ("split", "nn"):  # the book's split: the last int(fraction * n) of a permutation
        n_val = int(exp_cfg.get("val_fraction", 0.2) * len(t_u))
        shuffled = torch.randperm(len(t_u), generator=torch.Generator().manual_seed(seed))
        train = (x[shuffled[:-n_val]], y[shuffled[:-n_val]])
        val = (x[shuffled[-n_val:]], y[shuffled[-n_val:]])
    if kind != "hand_gradient":
        optimizer = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[
            exp_cfg.get("optimizer", "sgd")](params, lr=exp_cfg["lr"])
    train_loss, val_loss, diverged_epoch = [], [], None
    for epoch in range(1, exp_cfg["epochs"] + 1):
        predicted = predict(train[0])
        loss = loss_fn(predicted, train[1])
        train_loss.append(float(loss.detach()))
        if val is not None:
            with torch.no_grad():
                val_loss.append(float(loss_fn(predict(val[0]), val[1])))
        if not math.isfinite(train_loss[-1]):
            diverged_epoch = epoch
            break
        if kind == "hand_gradient":
            line.sub_(exp_cfg["lr"] * hand_gradient(x, y, predicted))
        else:
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        curve_y = predict(curve_x).reshape(-1)
    final = None
    if kind != "nn" or isinstance(model, nn.Linear):  # a line: w * t_u + b
        w, b = line.tolist() if kind != "nn" else (model.weight.item(), model.bias.item())
        final = {"w": finite_or_none(w), "b": finite_or_none(b), "input_scale": scale,
                 "loss": finite_or_none(train_loss[-1] if train_loss else None)}
    result = {
        "experiment": name, "kind": kind, "description": describe(kind, exp_cfg),
        "params": exp_cfg, "t_u": list(t_u), "t_c": list(t_c),
        "loss": [finite_or_none(v) for v in train_loss],
        "diverged": diverged_epoch is not None, "diverged_epoch": diverged_epoch, "final": final,
        "curve": {"x": CURVE_T_U.tolist(), "y": [finite_or_none(v) for v in curve_y.tolist()]},
    }
    if val_loss:
        result.update(train_loss=result["loss"], val_loss=[finite_or_none(v) for v in val_loss])
    if out_json is not None:
        write_json(out_json, result)
    return result
