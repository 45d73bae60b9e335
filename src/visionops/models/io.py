"""A model file: the network's spec and weights, enough to rebuild it without params.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from visionops.errors import UserError


def save_model(path: Path, spec: dict[str, Any], state_dict: dict[str, torch.Tensor]) -> None:
    torch.save({"spec": spec, "state_dict": state_dict}, path)


def _load(path: Path, stage: str) -> dict[str, Any]:
    if not path.is_file():
        raise UserError(f"{path} is missing; run the {stage} stage first (dvc repro {stage})")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a damaged file
        raise UserError(f"{path} cannot be read ({type(exc).__name__}); run dvc repro {stage} -f") from None


def load_model(path: Path) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the classifier in eval mode; return (network, spec)."""
    from visionops.models import build_network

    blob = _load(path, "train")
    network = build_network(blob["spec"])
    network.load_state_dict(blob["state_dict"])
    return network.eval(), blob["spec"]


def _rebuild(path: Path, stage: str, network: str, filename: str, build: Any) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a saved `network` (the spec's kind) from its file in eval mode; return (module, spec)."""
    blob = _load(path, stage)
    if blob.get("spec", {}).get("network") != network:
        raise UserError(f"{path} is not a {Path(filename).stem}; give the {stage} stage's {filename}")
    module = build(blob["spec"])
    module.load_state_dict(blob["state_dict"])
    return module.eval(), blob["spec"]


def load_generator(path: Path) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a GAN's (EMA) generator in eval mode; return (generator, spec)."""
    from visionops.models.gan import build_generator

    return _rebuild(path, "gan_train", "gan_generator", "generator.pt", build_generator)


def load_captioner(path: Path) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a captioner (trunk and decoder) in eval mode; return (captioner, spec)."""
    from visionops.models.captioner import build_captioner

    return _rebuild(path, "caption_train", "captioner", "captioner.pt", build_captioner)
