"""The GAN's model file (`generator.pt`): the EMA generator's spec and weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from visionops.core.model_file import rebuild
from visionops.gan.networks import build_generator

FILENAME = "generator.pt"


def load_generator(path: Path) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a GAN's (EMA) generator in eval mode; return (generator, spec)."""
    return rebuild(path, stage="gan_train", network="gan_generator", filename=FILENAME, build=build_generator)
