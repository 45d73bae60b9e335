"""The detector's model file (`detector.pt`): its spec and weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from visionops.core.model_file import rebuild
from visionops.detection.networks import build_detector

FILENAME = "detector.pt"


def load_detector(path: Path) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a detector in eval mode; return (network, spec)."""
    return rebuild(path, stage="detect_train", network="detector", filename=FILENAME, build=build_detector)
