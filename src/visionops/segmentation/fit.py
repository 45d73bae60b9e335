"""Fit a segmenter from params on the cluttered scenes: device, precision, checkpoints that resume."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

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
from visionops.data.scenes.cluttered import ClutteredSplit
from visionops.segmentation.params import SegmenterParams


def fit_segmenter(
    params: SegmenterParams,
    scenes: dict[str, ClutteredSplit],
    classes: list[str],
    *,
    ckpt_dir: Path,
    data_digest: str,
    section: str,
    classifier: tuple[torch.nn.Module, dict[str, Any]] | None = None,
    logger: Any = None,
) -> FitResult:
    """Train on `scenes["train"]`, validate on `scenes["val"]`; keep `last.ckpt` after each epoch and resume from it
    when params, data and code match. `classifier` (network, spec) is the encoder's start for encoder: classifier;
    `data_digest` must then cover its weights."""
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import ModelCheckpoint

    from visionops.core.batches import DeviceDataModule
    from visionops.core.io import atomic_write_json
    from visionops.core.sections import AugmentParams
    from visionops.segmentation.module import SegmenterModule
    from visionops.segmentation.networks import build_segmenter, segmenter_spec

    pl.seed_everything(params.seed, workers=True, verbose=False)
    on_gpu = params.accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()
    train = scenes["train"]
    pixels = torch.from_numpy(train.images).float().div_(255.0)
    spec = segmenter_spec(
        params.network,
        channels=int(train.images.shape[1]),
        classes=classes,
        width=params.width,
        mean=float(pixels.mean()),
        std=float(pixels.std()),
        classifier_spec=classifier[1] if classifier else None,
    )
    network = build_segmenter(spec, classifier[0] if classifier else None).to(memory_format=torch.channels_last)
    module = SegmenterModule(
        network,
        len(classes) + 1,
        params.lr,
        params.weight_decay,
        flip=params.flip,
        dice_weight=params.dice_weight,
        seed=params.seed,
    )
    splits = {
        name: (torch.from_numpy(split.images), torch.from_numpy(split.class_map())) for name, split in scenes.items()
    }
    datamodule = DeviceDataModule(
        splits, batch_size=params.batch_size, augment=AugmentParams(flip=False), seed=params.seed, eval_batch_size=250
    )

    ckpt_dir.mkdir(parents=True, exist_ok=True)
    expected = fingerprint(params, data_digest, family="segmentation")
    resume = resumable_checkpoint(ckpt_dir, expected)
    atomic_write_json(ckpt_dir / FINGERPRINT_FILE, {"fingerprint": expected})
    checkpoint = ModelCheckpoint(
        dirpath=ckpt_dir, filename="last", save_last=False, save_top_k=1, enable_version_counter=False
    )
    trainer = pl.Trainer(
        max_epochs=params.epochs,
        accelerator=params.accelerator,
        devices=1,
        precision=resolve_precision(params.precision, on_gpu=on_gpu),
        limit_train_batches=params.limit_train_batches,
        logger=logger if logger is not None else False,
        callbacks=[
            checkpoint,
            epoch_report(["train/loss_epoch", "val/miou"]),
            random_state_in_checkpoints(),
        ],
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        log_every_n_steps=25,
        default_root_dir=str(ckpt_dir),
    )
    started = time.perf_counter()
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=str(resume) if resume else None, weights_only=True)
    except FloatingPointError as exc:
        raise UserError(f"training diverged: {exc}; lower {section}.lr (the last good checkpoint is kept)") from None
    metrics = {
        "fit_seconds": time.perf_counter() - started,
        "epochs": trainer.current_epoch,
        "val_miou": float(trainer.callback_metrics.get("val/miou", float("nan"))),
        "parameters": sum(p.numel() for p in network.parameters()),
    }
    atomic_write_json(ckpt_dir / FINGERPRINT_FILE, {"fingerprint": expected, "finished": True})
    weights = {k: v.detach().cpu().contiguous() for k, v in network.state_dict().items()}
    return FitResult(spec, weights, metrics, str(resume) if resume else None)
