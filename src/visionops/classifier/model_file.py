"""The classifier's model file (`classifier.pt`): its network spec and weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from visionops.classifier.networks import build_network
from visionops.core.model_file import rebuild

FILENAME = "classifier.pt"


def load_classifier(path: Path) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the classifier in eval mode; return (network, spec)."""
    return rebuild(path, stage="train", network=None, filename=FILENAME, build=build_network)
