"""Fit a VQA network from params on the questions: the trunk's frozen layers run once per scene, checkpoints that
resume, a clear stop on a non-finite loss."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from visionops.core.errors import UserError
from visionops.core.lightning import (
    FINGERPRINT_FILE,
    epoch_report,
    fingerprint,
    random_state_in_checkpoints,
    resolve_precision,
    resumable_checkpoint,
)
from visionops.core.training import FitResult
from visionops.vqa.params import VQAParams


@dataclass(frozen=True)
class QuestionSplit:
    """One split's scenes (uint8 pixels [S, C, H, W]) and its questions (records of the questions stage)."""

    images: np.ndarray
    questions: list[dict]


def vqa_spec(
    params: VQAParams,
    *,
    vocab: list[str],
    answers: list[str],
    image_shape: tuple[int, ...],
    mean: float,
    std: float,
    classifier_spec: dict[str, Any] | None,
    feature_dim: int,
    grid: int,
) -> dict[str, Any]:
    """Everything needed to rebuild the network and read its inputs, saved beside its weights."""
    return {
        "network": "vqa",
        "model": params.model,
        "encoder": params.encoder,
        "classifier_spec": classifier_spec,
        "image_shape": list(image_shape),
        "mean": mean,
        "std": std,
        "feature_dim": feature_dim,
        "grid": grid,
        "vocab": vocab,
        "answers": answers,
        "embed_dim": params.embed_dim,
        "hidden_dim": params.hidden_dim,
        "film_channels": params.film_channels,
        "film_blocks": params.film_blocks,
        "film_pool": params.film_pool,
        "scratch_width": params.scratch_width,
    }


def fit_vqa(
    params: VQAParams,
    splits: dict[str, QuestionSplit],
    answers: list[str],
    *,
    classifier: tuple[nn.Module, dict[str, Any]] | None,
    ckpt_dir: Path,
    data_digest: str,
    section: str,
    logger: Any = None,
) -> FitResult:
    """Train on `splits["train"]`, validate on `splits["val"]`; keep `last.ckpt` after each epoch and resume from it
    when params, data and code match. `classifier` (network, spec) gives the trunk for encoder: classifier."""
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import ModelCheckpoint

    from visionops.classifier.trunk import run_frozen, trunk_shape
    from visionops.core.io import atomic_write_json
    from visionops.vqa.encoding import answer_ids, build_vocab, encode
    from visionops.vqa.module import QuestionBatches, VQAModule
    from visionops.vqa.networks import VQANet, build_head

    pl.seed_everything(params.seed, workers=True, verbose=False)
    train = splits["train"]
    image_shape = tuple(int(s) for s in train.images.shape[1:])
    sample = train.images[:2000].astype(np.float64) / 255.0
    mean, std = float(sample.mean()), float(sample.std())
    vocab = build_vocab([q["question"] for q in train.questions])
    trunk, classifier_spec = _trunk(params, classifier, section, image_shape[0], mean, std)
    feature_dim, cells = trunk_shape(trunk, image_shape) if trunk is not None else (0, 0)
    spec = vqa_spec(
        params,
        vocab=vocab,
        answers=answers,
        image_shape=image_shape,
        mean=mean,
        std=std,
        classifier_spec=classifier_spec,
        feature_dim=feature_dim,
        grid=int(round(cells**0.5)),
    )
    network = VQANet(trunk.to(memory_format=torch.channels_last) if trunk is not None else None, build_head(spec))
    frozen = _frozen_layers(params, trunk, section)

    on_gpu = params.accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()
    device = torch.device("cuda" if on_gpu else "cpu")
    precision = resolve_precision(params.precision, on_gpu=on_gpu)

    def batches(split: QuestionSplit, shuffle: bool) -> QuestionBatches:
        images = torch.from_numpy(split.images).to(device) if trunk is not None else None
        if frozen:
            images = run_frozen(trunk[:frozen].to(device), images, bf16=precision == "bf16-mixed")
        return QuestionBatches(
            images,
            torch.tensor([q["scene"] for q in split.questions], device=device),
            torch.from_numpy(encode([q["question"] for q in split.questions], vocab)).to(device),
            torch.from_numpy(answer_ids([q["answer"] for q in split.questions], answers)).to(device),
            batch_size=params.batch_size,
            shuffle=shuffle,
            seed=params.seed,
        )

    started = time.perf_counter()
    train_batches, val_batches = batches(train, True), batches(splits["val"], False)
    feature_seconds = time.perf_counter() - started

    ckpt_dir.mkdir(parents=True, exist_ok=True)
    expected = fingerprint(params, data_digest, family="vqa")
    resume = resumable_checkpoint(ckpt_dir, expected)
    atomic_write_json(ckpt_dir / FINGERPRINT_FILE, {"fingerprint": expected})
    checkpoint = ModelCheckpoint(
        dirpath=ckpt_dir, filename="last", save_last=False, save_top_k=1, enable_version_counter=False
    )
    module = VQAModule(network.train(), frozen=frozen, lr=params.lr, weight_decay=params.weight_decay)
    limit = params.limit_train_batches
    per_epoch = len(train_batches) if isinstance(limit, float) else min(int(limit), len(train_batches))
    trainer = pl.Trainer(
        max_epochs=params.epochs,
        accelerator=params.accelerator,
        devices=1,
        precision=precision,
        limit_train_batches=limit,
        gradient_clip_val=params.grad_clip or None,
        logger=logger if logger is not None else False,
        callbacks=[
            checkpoint,
            epoch_report(["train/loss_epoch", "val/loss", "val/acc"]),
            random_state_in_checkpoints(),
        ],
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        log_every_n_steps=max(1, min(25, per_epoch)),
        default_root_dir=str(ckpt_dir),
    )
    train_batches.epoch_of = lambda: trainer.current_epoch
    try:
        trainer.fit(
            module,
            train_dataloaders=train_batches,
            val_dataloaders=val_batches,
            ckpt_path=str(resume) if resume else None,
            weights_only=True,
        )
    except FloatingPointError as exc:
        kept = "the last good checkpoint is kept" if (ckpt_dir / "last.ckpt").is_file() else "no epoch had finished"
        raise UserError(
            f"VQA training stopped: {exc}; lower {section}.lr or set {section}.grad_clip ({kept})"
        ) from None
    m = trainer.callback_metrics
    metrics = {
        "fit_seconds": time.perf_counter() - started,
        "feature_seconds": feature_seconds,
        "epochs": trainer.current_epoch,
        "vocab_size": len(vocab),
        "head_parameters": sum(p.numel() for p in network.head.parameters()),
        **{k.replace("/", "_"): float(m[k]) for k in ("val/loss", "val/acc", "train/loss_epoch") if k in m},
    }
    atomic_write_json(ckpt_dir / FINGERPRINT_FILE, {"fingerprint": expected, "finished": True})
    state = {k: v.detach().cpu().contiguous() for k, v in network.state_dict().items()}
    return FitResult(spec, state, metrics, str(resume) if resume else None)


def _trunk(
    params: VQAParams,
    classifier: tuple[nn.Module, dict[str, Any]] | None,
    section: str,
    channels: int,
    mean: float,
    std: float,
) -> tuple[nn.Module | None, dict[str, Any] | None]:
    """(the image trunk, the classifier spec it came from): none for the blind model."""
    from visionops.classifier.trunk import classifier_trunk, scratch_trunk

    if params.model == "blind":
        return None, None
    if params.encoder == "scratch":
        return scratch_trunk(channels, mean, std, params.scratch_width), None
    if classifier is None:
        raise UserError(f"{section}.encoder classifier needs the standard classifier's model file (--classifier)")
    try:
        return classifier_trunk(classifier[0]), classifier[1]
    except TypeError as exc:
        raise UserError(f"{exc}, or set {section}.encoder: scratch") from None


def _frozen_layers(params: VQAParams, trunk: nn.Sequential | None, section: str) -> int:
    """How many leading trunk layers stay frozen: all but the last `finetune_blocks` of the classifier's; none of a
    scratch CNN."""
    if trunk is None or params.encoder == "scratch":
        return 0
    blocks = len(trunk) - 2  # after normalize and stem
    if params.finetune_blocks > blocks:
        raise UserError(
            f"{section}.finetune_blocks {params.finetune_blocks} > the classifier's {blocks} residual blocks"
        )
    return len(trunk) - params.finetune_blocks
