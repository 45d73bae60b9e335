"""A segmenter as a LightningModule: per-pixel cross-entropy, mIoU over the item classes on validation."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
import torchmetrics
from torch import nn


class SegmenterModule(pl.LightningModule):
    def __init__(
        self, network: nn.Module, num_classes: int, lr: float, weight_decay: float, *, flip: bool = True, seed: int = 0
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["network"])
        self.network = network
        self.loss = nn.CrossEntropyLoss()
        # per class, background included; the headline mean leaves background out (it is most of every scene)
        self.val_iou = torchmetrics.classification.MulticlassJaccardIndex(num_classes, average="none")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x.contiguous(memory_format=torch.channels_last))

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, target = batch
        if self.hparams.flip:  # a random horizontal flip of each scene and its map together, on the device
            gen = torch.Generator(device=x.device)  # seeded by the step, so a resumed run flips the same scenes
            gen.manual_seed(self.hparams.seed * 1_000_003 + self.current_epoch * 10_007 + batch_idx)
            flip = torch.rand(len(x), device=x.device, generator=gen) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
            target = torch.where(flip[:, None, None], target.flip(-1), target)
        loss = self.loss(self(x), target.long())
        if not torch.isfinite(loss):
            raise FloatingPointError(f"training loss is {loss.item()} at step {self.global_step}")
        self.log("train/loss", loss, on_step=True, on_epoch=True)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, target = batch
        scores = self(x)
        self.log("val/loss", self.loss(scores, target.long()), on_epoch=True)
        self.val_iou.update(scores.argmax(1), target.long())

    def on_validation_epoch_end(self) -> None:
        self.log("val/miou", self.val_iou.compute()[1:].mean())
        self.val_iou.reset()

    def configure_optimizers(self) -> dict:
        optimizer = torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=self.hparams.lr, total_steps=int(self.trainer.estimated_stepping_batches)
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
