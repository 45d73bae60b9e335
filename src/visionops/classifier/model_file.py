"""The classifier's model file (`classifier.pt`): its network spec and weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from visionops.classifier.networks import build_network
from visionops.core.errors import UserError
from visionops.core.model_file import rebuild

FILENAME = "classifier.pt"


def load_classifier(path: Path) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the classifier in eval mode; return (network, spec)."""
    return rebuild(path, stage="train", network=None, filename=FILENAME, build=build_network)


def load_trunk_source(path: Path, section: str) -> tuple[nn.Module, dict[str, Any]]:
    """The standard classifier (network, spec, in training mode) whose trunk a segmenter or detector starts from;
    refused unless it is the resnet with a pooled stem. `section` is the params section that asked for it."""
    network, spec = load_classifier(path)
    if spec["network"] != "resnet" or not spec.get("resnet_stem_pool"):
        raise UserError(
            f"{section} starts from the classifier's trunk, which needs the resnet classifier with a pooled stem "
            f"(classifier.network resnet, classifier.resnet_stem_pool true); {path} holds a {spec['network']}. "
            f"Give {section} a scratch encoder/backbone instead"
        )
    return network.train(), spec
