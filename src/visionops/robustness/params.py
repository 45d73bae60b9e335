"""The robustness stage's params section: which images, which eps, which attacks, which sanity bounds."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from visionops.core.config import Section
from visionops.core.sections import Seed


class RobustnessParams(Section):
    images: int = Field(1000, ge=1)  # a fixed, seeded subset of the test set
    seed: Seed = 0
    eps: tuple[float, ...] = (0.0, 0.025, 0.05, 0.1, 0.15, 0.2)
    headline_eps: float = 0.1
    pgd_steps: int = Field(10, ge=1)
    pgd_restarts: int = Field(1, ge=1)
    pgd_step_scale: float = Field(2.5, gt=0.0)  # step size = scale * eps / steps
    losses: tuple[Literal["ce", "margin"], ...] = ("ce", "margin")
    large_eps: float = Field(0.5, gt=0.0, le=1.0)
    large_eps_max_accuracy: float = Field(0.05, ge=0.0, le=1.0)
    sanity_tolerance: float = Field(0.005, ge=0.0, le=0.1)
    transfer_max_gap: float = Field(0.002, ge=0.0, le=1.0)
    batch_size: int = Field(500, ge=1)
    examples: int = Field(8, ge=0, le=32)

    @field_validator("eps")
    @classmethod
    def _eps_in_unit_interval(cls, eps: tuple[float, ...]) -> tuple[float, ...]:
        if not eps:
            raise ValueError("the eps list must not be empty")
        if any(e < 0 or e > 1 for e in eps):
            raise ValueError("every eps must lie in [0, 1] (pixels are in [0, 1])")
        if list(eps) != sorted(set(eps)):
            raise ValueError("eps must be listed in increasing order, each once")
        return eps

    @field_validator("losses")
    @classmethod
    def _some_loss(cls, losses: tuple[str, ...]) -> tuple[str, ...]:
        if not losses:
            raise ValueError("name at least one PGD loss (ce, margin)")
        return losses

    @model_validator(mode="after")
    def _headline_listed(self) -> RobustnessParams:
        if self.headline_eps not in self.eps:
            raise ValueError(f"headline_eps {self.headline_eps} must be one of eps {list(self.eps)}")
        return self
