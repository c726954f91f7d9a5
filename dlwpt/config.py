"""Config checks the JSON schema cannot express, and per-model settings as training sees them."""

from __future__ import annotations

from typing import Any


def selected_models(config: dict[str, Any]) -> list[str]:
    """The models to train: `train.models` if given, else every entry of `models`."""
    return list(config["train"].get("models") or config["models"])


def model_config(config: dict[str, Any], model: str) -> dict[str, Any]:
    """One model's full settings: its entry of `models` over `train.defaults`."""
    return {**config["train"]["defaults"], **config["models"][model]}


def check_config(config: dict[str, Any]) -> None:
    unknown = [m for m in selected_models(config) if m not in config["models"]]
    if unknown:
        raise ValueError(f"train.models names unknown models: {', '.join(unknown)}")
    thermo = config["thermometer"]
    if len(thermo["t_c"]) != len(thermo["t_u"]):
        raise ValueError("thermometer.t_c and thermometer.t_u differ in length")
    cifar = config["ingest"].get("cifar2", {})
    if (cifar.get("mean") is None) != (cifar.get("std") is None):
        raise ValueError("ingest.cifar2.mean and ingest.cifar2.std must be given together")
    labels = sorted((cifar.get("classes") or {}).values())
    if labels and labels != list(range(len(labels))):
        raise ValueError("ingest.cifar2.classes must map to labels 0..N-1")


def resolve_device(device: str) -> str:
    """`auto` means CUDA when this machine has it; decided once so rules and jobs agree."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
