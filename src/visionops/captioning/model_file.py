"""The captioner's model file (`captioner.pt`): trunk and decoder weights, with the spec and vocabulary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from visionops.captioning.networks import build_captioner
from visionops.core.model_file import rebuild

FILENAME = "captioner.pt"


def load_captioner(path: Path) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a captioner (trunk and decoder) in eval mode; return (captioner, spec)."""
    return rebuild(path, stage="caption_train", network="captioner", filename=FILENAME, build=build_captioner)
