"""The VQA network's model file (`vqa.pt`): its spec (vocabulary and answers included) and weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from visionops.core.model_file import rebuild
from visionops.vqa.networks import build_vqa

FILENAME = "vqa.pt"


def load_vqa(path: Path) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a VQA network in eval mode; return (network, spec)."""
    return rebuild(path, stage="vqa_train", network="vqa", filename=FILENAME, build=build_vqa)
