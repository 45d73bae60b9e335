"""The classifier as a LightningModule around an injected network, with per-split torchmetrics."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
import torchmetrics
from torch import nn

from visionops.config import AugmentParams
from visionops.data.batches import DeviceBatches
from visionops.data.prepare import Prepared


class ClassifierModule(pl.LightningModule):
    def __init__(
        self,
        network: nn.Module,
        num_classes: int,
        lr: float,
        weight_decay: float,
        label_smoothing: float = 0.0,
        channels_last: bool = False,
        compile_network: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["network"])
        self.network = network
        # kept out of the module tree so checkpoints hold the plain network's weights
        self._forward = [torch.compile(network) if compile_network else network]
        self.loss = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
        metric = torchmetrics.classification.MulticlassAccuracy
        self.train_acc = metric(num_classes)
        self.val_acc = metric(num_classes)
        self.test_acc = metric(num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.hparams.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self._forward[0](x)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        loss = self.loss(logits, y)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"training loss is {loss.item()} at step {self.global_step}")
        self.train_acc(logits, y)
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True)
        self.log("train/acc", self.train_acc, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        logits = self(x)
        self.val_acc(logits, y)
        self.log("val/loss", self.loss(logits, y), on_epoch=True, sync_dist=True)
        self.log("val/acc", self.val_acc, on_epoch=True, prog_bar=True)

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        self.test_acc(self(x), y)
        self.log("test/acc", self.test_acc, on_epoch=True)

    def configure_optimizers(self) -> dict:
        optimizer = torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=self.hparams.lr, total_steps=int(self.trainer.estimated_stepping_batches)
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


class DeviceDataModule(pl.LightningDataModule):
    """Moves the prepared uint8 tensors to the training device once; batches are slices of them."""

    def __init__(self, data: Prepared, batch_size: int, augment: AugmentParams, seed: int, eval_batch_size: int = 1000) -> None:
        super().__init__()
        self.data, self.batch_size, self.augment, self.seed = data, batch_size, augment, seed
        self.eval_batch_size = eval_batch_size
        self.on_device: dict[str, torch.Tensor] = {}

    def setup(self, stage: str) -> None:
        device = self.trainer.strategy.root_device if self.trainer else torch.device("cpu")
        for split in ("train", "val", "test"):
            for part in ("x", "y"):
                key = f"{split}_{part}"
                if key not in self.on_device:
                    self.on_device[key] = getattr(self.data, key).to(device, non_blocking=True)

    def _batches(self, split: str, batch_size: int, train: bool) -> DeviceBatches:
        rank, world = (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)
        return DeviceBatches(
            self.on_device[f"{split}_x"],
            self.on_device[f"{split}_y"],
            batch_size,
            shuffle=train,
            augment_params=self.augment if train else None,
            seed=self.seed,
            rank=rank,
            world_size=world,
        )

    def train_dataloader(self) -> DeviceBatches:
        batches = self._batches("train", self.batch_size, train=True)
        batches.epoch = self.trainer.current_epoch if self.trainer else 0  # a resumed run continues the sequence
        return batches

    def val_dataloader(self) -> DeviceBatches:
        return self._batches("val", self.eval_batch_size, train=False)

    def test_dataloader(self) -> DeviceBatches:
        return self._batches("test", self.eval_batch_size, train=False)
