"""The VQA family's params sections: `vqa` (FiLM), its variants `cnn_lstm_vqa` and `blind_vqa`, `vqa_symbolic`
(the neuro-symbolic reader) and `vqa_evaluation`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from visionops.core.config import Section
from visionops.core.sections import Accelerator, BatchLimit, Seed

VARIANTS = {"cnn_lstm_vqa": "vqa", "blind_vqa": "vqa"}


class VQAParams(Section):
    """One VQA network: `vqa` is FiLM; `cnn_lstm_vqa` and `blind_vqa` list what differs and take the rest."""

    model: Literal["film", "cnn_lstm", "blind"] = "film"
    encoder: Literal["classifier", "scratch"] = "classifier"  # the standard classifier's trunk, or a new CNN
    finetune_blocks: int = Field(1, ge=0)  # classifier trunk: its last N residual blocks train; the rest runs once
    scratch_width: int = Field(16, ge=1, le=1024)  # scratch encoder: channels of its first block (then x2, x4)
    embed_dim: int = Field(64, ge=1, le=4096)
    hidden_dim: int = Field(64, ge=1, le=4096)  # the question LSTM's, and the answer MLP's
    film_channels: int = Field(64, ge=1, le=4096)
    film_blocks: int = Field(3, ge=1, le=16)
    film_pool: bool = True  # average-pool the trunk's 7x7 grid to 4x4 before the FiLM blocks
    epochs: int = Field(5, ge=1)
    batch_size: int = Field(128, ge=2)
    lr: float = Field(0.003, gt=0.0, le=1.0)  # peak of the one-cycle schedule (AdamW)
    weight_decay: float = Field(0.0001, ge=0.0)
    grad_clip: float = Field(5.0, ge=0.0)  # max gradient norm; 0: none
    limit_train_batches: BatchLimit = 1.0
    accelerator: Accelerator = "auto"  # one device
    precision: Literal["auto", "32-true", "bf16-mixed", "16-mixed"] = "auto"
    seed: Seed = 0


class SymbolicParams(Section):
    """The neuro-symbolic reader: the detector's items, then each question's program run over them."""

    score_thresh: float = Field(0.5, ge=0.0, le=1.0)  # detections at or above this are the scene's items


class VQAEvaluationParams(Section):
    examples: int = Field(8, ge=0, le=64)  # test questions in the figure of scenes with question, answer and truth
    batch_size: int = Field(1000, ge=1)
