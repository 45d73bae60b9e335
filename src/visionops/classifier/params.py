"""The classifiers' params sections: `classifier`, its variant `robust_classifier`, and `evaluation`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from visionops.core.config import Section
from visionops.core.sections import Accelerator, AugmentParams, BatchLimit, Seed, Strategy

VARIANTS = {"robust_classifier": "classifier"}  # variant section -> the base it takes unset keys from


class AdversarialParams(Section):
    """Adversarial training: each training batch is replaced by adversarial examples of itself."""

    method: Literal["none", "fgsm_rs", "pgd"] = "none"
    eps: float = Field(0.1, ge=0.0, le=1.0)
    step_size: float = Field(0.125, gt=0.0, le=1.0)  # fgsm_rs: 1.25 * eps (Wong et al. 2020); pgd: per step
    steps: int = Field(7, ge=1)  # pgd only
    warmup_fraction: float = Field(0.3, ge=0.0, le=1.0)  # eps ramps up linearly over this share of the steps
    check_images: int = Field(512, ge=1)  # held-out val images attacked with PGD after each epoch
    check_steps: int = Field(10, ge=1)

    @model_validator(mode="after")
    def _eps_when_training(self) -> AdversarialParams:
        if self.method != "none" and self.eps <= 0:
            raise ValueError(f"eps must be > 0 for adversarial training with method {self.method}")
        return self


class ClassifierParams(Section):
    network: Literal["lenet5", "resnet"] = "resnet"
    resnet_widths: tuple[int, int, int] = (32, 64, 128)
    resnet_blocks: int = Field(1, ge=1, le=8)
    resnet_stem_pool: bool = True
    epochs: int = Field(5, ge=1)
    batch_size: int = Field(128, ge=1)
    lr: float = Field(0.004, gt=0.0, le=10.0)
    weight_decay: float = Field(0.0005, ge=0.0)
    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0)
    augment: AugmentParams = AugmentParams()
    limit_train_batches: BatchLimit = 1.0
    limit_val_batches: BatchLimit = 1.0
    accelerator: Accelerator = "auto"
    devices: int | str = "auto"
    strategy: Strategy = "auto"
    num_nodes: int = Field(1, ge=1)
    precision: Literal["auto", "32-true", "bf16-mixed", "16-mixed"] = "auto"
    channels_last: Literal["auto", True, False] = "auto"
    compile: bool = False
    seed: Seed = 0
    adversarial: AdversarialParams = AdversarialParams()

    @field_validator("resnet_widths")
    @classmethod
    def _positive_widths(cls, widths: tuple[int, int, int]) -> tuple[int, int, int]:
        if any(w < 1 for w in widths):
            raise ValueError("every width must be >= 1")
        return widths


class EvaluationParams(Section):
    batch_size: int = Field(1000, ge=1)
    mistakes: int = Field(16, ge=0, le=100)
    explain_images: int = Field(8, ge=0, le=32)
    occlusion_window: int = Field(6, ge=1, le=28)
    occlusion_stride: int = Field(2, ge=1, le=28)
    ort_threads: int = Field(0, ge=0)
    ood_images: int = Field(500, ge=1)  # generated inputs of each unlike kind the out-of-distribution flag is tried on
