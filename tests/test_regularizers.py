"""The book's other regularizers on real CIFAR-2 images: the optimizer's weight_decay and L1."""

import pytest
import torch
import torch.nn.functional as F

from dlwpt.config import check_model_entry
from dlwpt.engine import TrainSettings, make_trainer
from dlwpt.engine.trainer import make_loss_fn
from dlwpt.models import build_model
from tests.helpers.data import load_cifar2

NET = {"arch": "Net", "epochs": 1, "batch_size": 64, "optimizer": "sgd", "lr": 1e-2,
       "momentum": 0.0, "l2": 0.0, "loss": "cross_entropy"}


def real_subset(n_train: int) -> dict[str, torch.Tensor]:
    data = load_cifar2()
    return {"train_images": data["train_images"][:n_train],
            "train_labels": data["train_labels"][:n_train],
            "val_images": data["val_images"][:64], "val_labels": data["val_labels"][:64]}


def trained_state(cfg: dict, data: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    trainer = make_trainer("book", build_model(cfg), data, TrainSettings.from_config(cfg), "cpu",
                           seed=0)
    trainer.train_epoch()
    return trainer.model.state_dict()


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_weight_decay_twice_l2_is_the_explicit_l2_update(momentum):
    """d/dp (l2 * p^2) = 2 * l2 * p, which SGD's weight_decay adds to the gradient: five steps
    on real images end at the same weights, up to float rounding (and move away from plain SGD
    by far more than that)."""
    data, l2 = real_subset(320), 0.01
    base = {**NET, "momentum": momentum}
    explicit = trained_state({**base, "l2": l2}, data)
    decayed = trained_state({**base, "weight_decay": 2 * l2}, data)
    plain = trained_state(base, data)
    for key, value in explicit.items():
        torch.testing.assert_close(decayed[key], value, rtol=1e-5, atol=1e-6, msg=key)
    moved = max((explicit[k] - plain[k]).abs().max().item() for k in explicit)
    assert moved > 1e-4


def test_l1_adds_exactly_l1_times_the_sum_of_absolute_parameters():
    data, l1 = real_subset(64), 0.003
    torch.manual_seed(0)
    model = build_model(NET)
    images, labels = data["train_images"], data["train_labels"]
    outputs = model(images)
    criterion = F.cross_entropy(outputs, labels)
    abs_sum = sum(p.abs().sum() for p in model.parameters())
    loss = make_loss_fn(model, TrainSettings.from_config({**NET, "l1": l1}))(outputs, labels)
    assert torch.equal(loss, criterion + l1 * abs_sum)
    assert (loss - criterion).item() == pytest.approx(l1 * abs_sum.item(), rel=1e-5)
    assert (loss - criterion).item() > 0.01  # large enough to matter against ~0.69
    # Its gradient is l1 * sign(p) on top of the criterion's.
    grads = torch.autograd.grad(loss, list(model.parameters()), retain_graph=True)
    bare = torch.autograd.grad(criterion, list(model.parameters()))
    for p, g, g0 in zip(model.parameters(), grads, bare, strict=True):
        torch.testing.assert_close(g - g0, l1 * p.sign(), rtol=1e-4, atol=1e-6)


def test_the_first_training_step_reports_the_l1_term():
    """Through the resident loop's step: same initial weights, the loss it reports with l1
    exceeds the one without by l1 * sum|p| of those weights."""
    data, l1 = real_subset(64), 0.003
    losses = []
    for cfg in (NET, {**NET, "l1": l1}):
        torch.manual_seed(0)
        trainer = make_trainer("resident", build_model(cfg), data,
                               TrainSettings.from_config(cfg), "cpu", seed=0)
        initial = sum(p.detach().abs().sum().double() for p in trainer.model.parameters())
        losses.append(trainer.train_step(torch.arange(64))[0].item())
    assert losses[1] - losses[0] == pytest.approx(l1 * initial.item(), rel=1e-4)


def test_the_new_settings_are_training_keys_with_book_defaults():
    assert TrainSettings().l1 == 0.0 and TrainSettings().weight_decay == 0.0
    check_model_entry("net", {"arch": "Net", "l1": 0.001, "weight_decay": 0.01})
    with pytest.raises(ValueError, match="weight_decy"):
        check_model_entry("net", {"arch": "Net", "weight_decy": 0.01})
