"""The params sections every family shares (augmentation, ONNX export, tracking, schedule and promotion) and the
value types every family's training keys use (seeds, batch limits, Lightning's accelerator and strategy)."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator

from visionops.core.config import Section

Seed = Annotated[int, Field(ge=0, lt=2**32)]  # what numpy and Lightning's seed_everything accept
Accelerator = Literal["auto", "cpu", "gpu", "cuda", "mps"]
Strategy = Literal["auto", "ddp", "ddp_spawn", "ddp_fork", "ddp_find_unused_parameters_true", "fsdp"]


def _batch_limit(value: float | int) -> float | int:
    if isinstance(value, float) and not 0.0 < value <= 1.0:
        raise ValueError("must be a fraction of an epoch in (0, 1] or a whole number of batches")
    if isinstance(value, int) and value < 1:
        raise ValueError("must be a fraction of an epoch in (0, 1] or a whole number of batches >= 1")
    return value


BatchLimit = Annotated[int | float, AfterValidator(_batch_limit)]  # Lightning's limit_*_batches


class AugmentParams(Section):
    flip: bool = True
    translate: int = Field(0, ge=0, le=8)
    erase_prob: float = Field(0.0, ge=0.0, le=1.0)


class ExportParams(Section):
    opset: int = Field(18, ge=13, le=23)
    parity_batch_sizes: tuple[int, ...] = (1, 37)
    parity_atol: float = Field(1e-4, gt=0.0)
    quantize: bool = True
    calibration_images: int = Field(512, ge=1)
    # classifiers: the share of validation images below the out-of-distribution threshold stored in the model
    ood_false_alarm: float = Field(0.04, gt=0.0, lt=0.5)


class RegistryParams(Section):
    """What a run may do to the model registry (params.yaml `registry`)."""

    promote: bool = True  # false: versions are registered under the alias `label`, never challenger or champion
    # where the versions come from (the budget): tagged `budget` on each; the alias of its versions when promote is
    # false, so a name MLflow takes as an alias
    label: str = Field("cpu", pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")

    @field_validator("label")
    @classmethod
    def _not_a_reserved_alias(cls, label: str) -> str:
        if label.lower() in ("latest", "champion", "challenger") or re.fullmatch(r"[vV]\d+", label):
            raise ValueError("must not be 'latest', 'champion', 'challenger' or a version such as 'v2'")
        return label


class TrackingParams(Section):
    uri: str = "sqlite:///mlflow.db"
    artifact_location: str = "mlartifacts"
    experiment: str = Field("visionops", min_length=1)


class ScheduleParams(Section):
    deployment: str = Field("visionops-retrain", min_length=1)
    cron: str = "0 3 * * 1"
    timezone: str = "UTC"
    stage_retries: dict[str, int] = {}
    retry_delay_seconds: float = Field(10, ge=0)
    workers: Literal["auto"] | int = "auto"  # stages the flow runs side by side, each on its share of the cores

    @field_validator("workers")
    @classmethod
    def _at_least_one(cls, workers: str | int) -> str | int:
        if workers != "auto" and workers < 1:
            raise ValueError("must be 'auto' or a number of worker processes >= 1")
        return workers

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, cron: str) -> str:
        if len(cron.split()) != 5:
            raise ValueError("must be a cron expression of five fields, e.g. '0 3 * * 1'")
        return cron

    @field_validator("stage_retries")
    @classmethod
    def _non_negative(cls, retries: dict[str, int]) -> dict[str, int]:
        if any(n < 0 for n in retries.values()):
            raise ValueError("retries must be >= 0")
        return retries


class PromotionRule(Section):
    """How one pipeline model earns the registry's `champion` alias (params.yaml `promotion.<model>`).

    A candidate becomes champion when every floor holds (metric >= floor) and its `score` beats the champion's
    by at least `margin` in the rule's direction.
    """

    registered_model: str = Field(min_length=1)
    score: str = Field(min_length=1)  # the metric compared with the champion's
    higher_is_better: bool = True
    margin: float = Field(0.0, ge=0.0)
    floors: dict[str, float] = {}

    @field_validator("floors")
    @classmethod
    def _finite_floors(cls, floors: dict[str, Any]) -> dict[str, Any]:
        if any(not isinstance(v, int | float) or math.isnan(v) for v in floors.values()):
            raise ValueError("every floor must be a number")
        return floors
