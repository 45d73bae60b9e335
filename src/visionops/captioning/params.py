"""The captioners' params sections: `captioner` (Show and Tell), its variant `attention_captioner`, and
`caption_evaluation`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from visionops.core.config import Section
from visionops.core.sections import Accelerator, BatchLimit, Seed

VARIANTS = {"attention_captioner": "captioner"}


class CaptionerParams(Section):
    """One captioner: `captioner` is Show and Tell; `attention_captioner` lists what differs and takes the rest."""

    decoder: Literal["show_tell", "attention"] = "show_tell"
    encoder: Literal["classifier", "scratch"] = "classifier"  # the standard classifier's conv trunk, or a new CNN
    scratch_width: int = Field(32, ge=1, le=1024)  # scratch encoder: channels of its first block (then x2, x4)
    finetune_blocks: int = Field(1, ge=0)  # classifier trunk: its last N residual blocks train, the rest runs once
    embed_dim: int = Field(64, ge=1, le=4096)
    hidden_dim: int = Field(256, ge=1, le=4096)
    attention_dim: int = Field(128, ge=1, le=4096)
    dropout: float = Field(0.2, ge=0.0, lt=1.0)
    attention_reg: float = Field(1.0, ge=0.0)  # doubly stochastic attention (Xu et al. 2015, eq. 14)
    epochs: int = Field(4, ge=1)
    batch_size: int = Field(128, ge=2)
    lr: float = Field(0.003, gt=0.0, le=1.0)  # peak of the one-cycle schedule (AdamW)
    weight_decay: float = Field(0.0, ge=0.0)
    grad_clip: float = Field(5.0, ge=0.0)  # max gradient norm; 0: none
    limit_train_batches: BatchLimit = 1.0
    max_length: int = Field(24, ge=2, le=256)  # tokens a decoded caption may have, <eos> included
    beam_width: int = Field(3, ge=1, le=32)
    accelerator: Accelerator = "auto"  # a captioner trains on one device (cpu or one GPU)
    precision: Literal["auto", "32-true", "bf16-mixed", "16-mixed"] = "auto"
    seed: Seed = 0


class CaptionEvaluationParams(Section):
    examples: int = Field(8, ge=0, le=64)  # scenes in the example grid and attention figure
    batch_size: int = Field(500, ge=1)
