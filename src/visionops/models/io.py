"""A model file: the network's spec and weights, enough to rebuild it without params.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from visionops.errors import UserError


def save_model(path: Path, spec: dict[str, Any], state_dict: dict[str, torch.Tensor]) -> None:
    torch.save({"spec": spec, "state_dict": state_dict}, path)


def load_model(path: Path) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the network in eval mode; return (network, spec)."""
    from visionops.models import build_network

    if not path.is_file():
        raise UserError(f"{path} is missing; run the train stage first (dvc repro train)")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a damaged file
        raise UserError(f"{path} cannot be read ({type(exc).__name__}); run dvc repro train -f") from None
    network = build_network(blob["spec"])
    network.load_state_dict(blob["state_dict"])
    return network.eval(), blob["spec"]
