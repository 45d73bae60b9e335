"""A detector as a LightningModule: torchvision's summed losses; box mAP@0.5 on validation."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from torch import nn

from visionops.detection.targets import SceneTargets


class DetectorModule(pl.LightningModule):
    def __init__(
        self,
        network: nn.Module,
        targets: dict[str, SceneTargets],
        lr: float,
        weight_decay: float,
        *,
        masks: bool = True,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["network", "targets"])
        self.network = network
        self.targets = targets
        self.val_map = None

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, index = batch
        losses = self.network(list(x), self.targets["train"].of(index, masks=self.hparams.masks))
        loss = sum(losses.values())
        if not torch.isfinite(loss):
            raise FloatingPointError(f"training loss is {loss.item()} at step {self.global_step}")
        self.log("train/loss", loss, on_step=True, on_epoch=True, batch_size=len(x))
        for name, value in losses.items():
            self.log(f"train/{name}", value, on_step=False, on_epoch=True, batch_size=len(x))
        return loss

    def on_validation_epoch_start(self) -> None:
        from torchmetrics.detection import MeanAveragePrecision

        self.val_map = MeanAveragePrecision(iou_type="bbox", iou_thresholds=[0.5], backend="faster_coco_eval")

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, index = batch
        found = self.network(list(x))
        self.val_map.update(
            [{k: d[k] for k in ("boxes", "scores", "labels")} for d in found],
            self.targets["val"].of(index, masks=False),
        )

    def on_validation_epoch_end(self) -> None:
        self.log("val/map50", self.val_map.compute()["map_50"].float())
        self.val_map = None

    def configure_optimizers(self) -> dict:
        trained = [p for p in self.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(trained, lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=self.hparams.lr, total_steps=int(self.trainer.estimated_stepping_batches)
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
