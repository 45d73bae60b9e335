"""The segmenter's model file (`segmenter.pt`): its spec and weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from visionops.core.model_file import rebuild
from visionops.segmentation.networks import build_segmenter

FILENAME = "segmenter.pt"


def load_segmenter(path: Path) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a segmenter in eval mode; return (network, spec)."""
    return rebuild(path, stage="segment_train", network="segmenter", filename=FILENAME, build=build_segmenter)
