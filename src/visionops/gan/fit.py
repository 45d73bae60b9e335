"""Fit a GAN from params on prepared data: checkpoints that resume, a clear stop on a NaN loss or a collapsed D."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from visionops.core.errors import UserError
from visionops.core.lightning import (
    FINGERPRINT_FILE,
    epoch_report,
    fingerprint,
    random_state_in_checkpoints,
    resumable_checkpoint,
)
from visionops.core.sections import AugmentParams
from visionops.data.prepare import Prepared
from visionops.gan.params import GANParams


@dataclass(frozen=True)
class FitResult:
    spec: dict[str, Any]
    state_dict: dict[str, torch.Tensor]  # the EMA generator's
    metrics: dict[str, float]
    samples: torch.Tensor  # the EMA generator's images of the fixed noise, after training
    resumed_from: str | None


def fit_gan(
    params: GANParams, data: Prepared, *, ckpt_dir: Path, data_digest: str, section: str, logger: Any = None
) -> FitResult:
    """Train G and D; keep `last.ckpt` after each epoch, resuming from it when params and data match.

    A NaN loss or a collapsed D stops training with a UserError; the last good checkpoint stays, unfinished,
    so the next run resumes from it.
    """
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import ModelCheckpoint

    from visionops.core.batches import DeviceDataModule
    from visionops.core.io import atomic_write_json
    from visionops.gan.module import GANModule, TrainingCollapsed
    from visionops.gan.networks import build_discriminator, build_generator, gan_spec

    pl.seed_everything(params.seed, workers=True, verbose=False)
    spec = gan_spec(params, len(data.classes), int(data.train_x.shape[1]))
    generator = build_generator(spec)
    discriminator = build_discriminator(spec, params)
    module = GANModule(
        generator, discriminator, params, grid_size=8 * (len(data.classes) if params.conditional else 10)
    )
    datamodule = DeviceDataModule(
        data.splits(), batch_size=params.batch_size, augment=AugmentParams(flip=False), seed=params.seed
    )

    ckpt_dir.mkdir(parents=True, exist_ok=True)
    expected = fingerprint(params, data_digest, family="gan")
    resume = resumable_checkpoint(ckpt_dir, expected)
    atomic_write_json(ckpt_dir / FINGERPRINT_FILE, {"fingerprint": expected})
    checkpoint = ModelCheckpoint(
        dirpath=ckpt_dir, filename="last", save_last=False, save_top_k=1, enable_version_counter=False
    )
    trainer = pl.Trainer(
        max_epochs=params.epochs,
        accelerator=params.accelerator,
        devices=1,
        precision=params.precision,
        limit_train_batches=params.limit_train_batches,
        limit_val_batches=0,
        logger=logger if logger is not None else False,
        callbacks=[
            checkpoint,
            epoch_report(["train/d_loss_epoch", "train/g_loss_epoch", "train/d_grad_norm_epoch"]),
            random_state_in_checkpoints(),
        ],
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=params.log_every_n_steps,
        default_root_dir=str(ckpt_dir),
    )
    started = time.perf_counter()
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=str(resume) if resume else None, weights_only=True)
    except TrainingCollapsed as exc:
        kept = (
            "the last good checkpoint is kept and the next run resumes from it"
            if (ckpt_dir / "last.ckpt").is_file()
            else "no epoch had finished"
        )
        raise UserError(
            f"GAN training stopped: {exc}; lower {section}.lr_d / {section}.lr_g or set {section}.d_grad_clip ({kept})"
        ) from None
    metrics = {
        "fit_seconds": time.perf_counter() - started,
        "epochs": trainer.current_epoch,
        "g_steps": int(module.ema.n_averaged.item()),
        "g_parameters": sum(p.numel() for p in generator.parameters()),
        "d_parameters": sum(p.numel() for p in discriminator.parameters()),
    }
    for key in ("train/d_loss_epoch", "train/g_loss_epoch"):
        if key in trainer.callback_metrics:
            metrics[key.removeprefix("train/").removesuffix("_epoch") + "_last_epoch"] = float(
                trainer.callback_metrics[key]
            )
    atomic_write_json(ckpt_dir / FINGERPRINT_FILE, {"fingerprint": expected, "finished": True})
    samples = module.sample(module.grid_z, module.grid_labels if module.num_classes else None).cpu()
    return FitResult(spec, module.state_dict_for_export(), metrics, samples, str(resume) if resume else None)
