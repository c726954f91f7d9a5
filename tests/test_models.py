"""Chapter 7-8 architectures: book layouts, parameter counts, the book's published weights."""

from pathlib import Path

import pytest
import torch
import yaml

from dlwpt.engine import accuracy_counts
from dlwpt.models import Net, NetResDeep, build_model, count_parameters, resdeep_variant
from tests.helpers.data import REFERENCE_NET, load_cifar2

CONFIG = yaml.safe_load((Path(__file__).parents[1] / "config.yaml").read_text())


def model_config(name: str) -> dict:
    return {**CONFIG["train"]["defaults"], **CONFIG["models"][name]}


def conv(c_in, c_out, bias=True):
    return c_in * c_out * 9 + (c_out if bias else 0)


def linear(n_in, n_out):
    return n_in * n_out + n_out


# Counted from the layer shapes (the book prints 1,574,402 / 3,737,474 / 18,090 / 38,386).
RESBLOCK_32 = conv(32, 32, bias=False) + 2 * 32
EXPECTED_PARAMETERS = {
    "fc_512": linear(3072, 512) + linear(512, 2),
    "fc_deep": linear(3072, 1024) + linear(1024, 512) + linear(512, 128) + linear(128, 2),
    "net": conv(3, 16) + conv(16, 8) + linear(512, 32) + linear(32, 2),
    "width": conv(3, 32) + conv(32, 16) + linear(1024, 32) + linear(32, 2),
    "l2": conv(3, 16) + conv(16, 8) + linear(512, 32) + linear(32, 2),
    "dropout": conv(3, 32) + conv(32, 16) + linear(1024, 32) + linear(32, 2),
    "batch_norm": conv(3, 32) + conv(32, 16) + 2 * (32 + 16) + linear(1024, 32) + linear(32, 2),
    "depth": conv(3, 32) + conv(32, 16) + conv(16, 16) + linear(256, 32) + linear(32, 2),
    "res": conv(3, 32) + conv(32, 16) + conv(16, 16) + linear(256, 32) + linear(32, 2),
    "res_deep": conv(3, 32) + RESBLOCK_32 + linear(2048, 32) + linear(32, 2),
}


@pytest.mark.parametrize("name", sorted(CONFIG["models"]))
def test_every_configured_model_has_the_book_parameter_count(name):
    model = build_model(model_config(name))
    assert count_parameters(model) == EXPECTED_PARAMETERS[name]
    assert model(torch.randn(3, 3, 32, 32)).shape == (3, 2)


def test_parameter_counts_match_the_book_text():
    assert [EXPECTED_PARAMETERS[m] for m in ("fc_512", "fc_deep", "net", "width")] == [
        1_574_402, 3_737_474, 18_090, 38_386]


def test_resdeep_shared_blocks_reproduce_the_book_list_multiplication():
    shared = NetResDeep(n_chans1=32, n_blocks=100, shared_blocks=True)
    independent = NetResDeep(n_chans1=32, n_blocks=100, shared_blocks=False)
    assert count_parameters(shared) == 75_810
    assert count_parameters(independent) == 994_530
    assert shared.resblocks[0] is shared.resblocks[99]
    assert shared.state_dict().keys() == independent.state_dict().keys()
    assert resdeep_variant(model_config("res_deep")) == "shared"
    assert resdeep_variant({"arch": "NetResDeep", "shared_blocks": False}) == "independent"
    assert resdeep_variant(model_config("net")) is None


def test_resblock_initialization_is_the_books():
    block = NetResDeep(n_blocks=1).resblocks[0]
    assert torch.all(block.batch_norm.weight == 0.5) and torch.all(block.batch_norm.bias == 0)
    assert block.conv.bias is None


def test_fully_connected_keeps_the_book_sequential_layout():
    fc = build_model(model_config("fc_512"))
    assert list(fc.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert isinstance(fc[3], torch.nn.LogSoftmax)
    out = fc(torch.randn(4, 3, 32, 32))
    assert torch.allclose(out.exp().sum(1), torch.ones(4))
    deep = build_model(model_config("fc_deep"))
    assert list(deep.state_dict())[-2:] == ["6.weight", "6.bias"] and len(deep) == 7


def test_build_model_ignores_training_settings_and_rejects_unknown_arch():
    assert isinstance(build_model({"arch": "Net", "lr": 0.1, "l2": 1e-3, "epochs": 1}), Net)
    with pytest.raises(ValueError, match="unknown arch"):
        build_model({"arch": "NetWider"})


def test_book_checkpoint_scores_on_the_airplane_bird_test_images():
    """The book's birds_vs_airplanes.pt loads unchanged and scores 1761/2000 on this tree."""
    model = Net()
    model.load_state_dict(torch.load(REFERENCE_NET, weights_only=True), strict=True)
    data = load_cifar2()
    correct = accuracy_counts(model, data["val_images"], data["val_labels"]).item()
    accuracy = correct / len(data["val_labels"])
    assert accuracy >= 0.87
    assert correct == 1761  # measured: 0.8805 (the book reports 0.89 on the official images)
    # The same weights in channels_last (the fast CPU engine's layout) predict the same.
    model_cl = model.to(memory_format=torch.channels_last)
    images_cl = data["val_images"].contiguous(memory_format=torch.channels_last)
    assert accuracy_counts(model_cl, images_cl, data["val_labels"]).item() == correct
