"""A model file: a network's spec and weights, enough to rebuild it without params.yaml. Each family's model_file
names its kind and builder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from visionops.core.errors import UserError


def save_model(path: Path, spec: dict[str, Any], state_dict: dict[str, torch.Tensor]) -> None:
    torch.save({"spec": spec, "state_dict": state_dict}, path)


def load_blob(path: Path, stage: str) -> dict[str, Any]:
    """The saved {'spec', 'state_dict'} of `path`, written by `stage`; a missing or damaged file is a UserError."""
    if not path.is_file():
        raise UserError(f"{path} is missing; run the {stage} stage first (dvc repro {stage})")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a damaged file
        raise UserError(f"{path} cannot be read ({type(exc).__name__}); run dvc repro {stage} -f") from None


def rebuild(
    path: Path, *, stage: str, network: str | None, filename: str, build: Any
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a saved network from its file in eval mode; return (module, spec).

    `network` is the spec's kind that the file must hold (None: any); `build` turns the spec into the module.
    """
    blob = load_blob(path, stage)
    if network is not None and blob.get("spec", {}).get("network") != network:
        raise UserError(f"{path} is not a {Path(filename).stem}; give the {stage} stage's {filename}")
    module = build(blob["spec"])
    module.load_state_dict(blob["state_dict"])
    return module.eval(), blob["spec"]
