"""A segmenter as a LightningModule: per-pixel cross-entropy plus a soft Dice term over the item classes, mIoU over
the item classes on validation."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
import torchmetrics
from torch import nn
from torch.nn import functional as F


def cross_entropy_and_dice(scores: torch.Tensor, target: torch.Tensor, dice_weight: float) -> torch.Tensor:
    """Per-pixel cross-entropy plus `dice_weight` times (1 - the soft Dice of each item class over the batch, averaged).

    Cross-entropy alone is dominated by the background (most of every scene) and by the large items; the Dice term
    weighs each item class equally, as mIoU does (Milletari et al. 2016). Class 0 is the background."""
    log_probs = scores.float().log_softmax(1)
    loss = F.nll_loss(log_probs, target)
    if dice_weight == 0:
        return loss
    probs = log_probs.exp()[:, 1:]
    truth = F.one_hot(target, scores.shape[1]).permute(0, 3, 1, 2)[:, 1:].to(probs.dtype)
    overlap = (probs * truth).sum((0, 2, 3))
    sizes = probs.sum((0, 2, 3)) + truth.sum((0, 2, 3))
    dice = (2 * overlap + 1) / (sizes + 1)  # +1: a class absent from the batch and from the prediction scores 1
    return loss + dice_weight * (1 - dice.mean())


class SegmenterModule(pl.LightningModule):
    def __init__(
        self,
        network: nn.Module,
        num_classes: int,
        lr: float,
        weight_decay: float,
        *,
        flip: bool = True,
        dice_weight: float = 0.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["network"])
        self.network = network
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
        loss = cross_entropy_and_dice(self(x), target.long(), self.hparams.dice_weight)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"training loss is {loss.item()} at step {self.global_step}")
        self.log("train/loss", loss, on_step=True, on_epoch=True)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, target = batch
        scores = self(x)
        self.log("val/loss", cross_entropy_and_dice(scores, target.long(), self.hparams.dice_weight), on_epoch=True)
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
