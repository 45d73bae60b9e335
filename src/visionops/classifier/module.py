"""The classifier as a LightningModule around an injected network, with per-split torchmetrics."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
import torchmetrics
from torch import nn

from visionops.classifier.params import AdversarialParams


class ClassifierModule(pl.LightningModule):
    def __init__(
        self,
        network: nn.Module,
        num_classes: int,
        lr: float,
        weight_decay: float,
        *,
        label_smoothing: float = 0.0,
        channels_last: bool = False,
        compile_network: bool = False,
        adversarial: AdversarialParams | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["network", "adversarial"])
        self.adversarial = adversarial if adversarial is not None and adversarial.method != "none" else None
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

    def current_eps(self) -> float:
        """The adversarial-training eps now: ramped up linearly over the warm-up share of the steps."""
        assert self.adversarial is not None
        warmup = self.adversarial.warmup_fraction * float(self.trainer.estimated_stepping_batches)
        return self.adversarial.eps * min(1.0, (self.global_step + 1) / warmup) if warmup >= 1 else self.adversarial.eps

    def adversarial_batch(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        from visionops.robustness.attacks import fgsm_random_start, pgd

        adv, eps = self.adversarial, self.current_eps()
        assert adv is not None
        step = adv.step_size * eps / adv.eps  # the step scales with the ramped eps
        if adv.method == "fgsm_rs":
            return fgsm_random_start(self, x, y, eps, step_size=step)
        return pgd(self, x, y, eps, steps=adv.steps, step_size=step, restarts=1, stop_when_fooled=False)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        if self.adversarial is not None:
            x = self.adversarial_batch(x, y)
            self.log("train/eps", self.current_eps(), on_step=True, on_epoch=False)
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
        if self.adversarial is not None and batch_idx == 0:
            self.log(
                "val/pgd_acc",
                self.pgd_check(x, y),
                on_epoch=True,
                batch_size=self.adversarial.check_images,
                sync_dist=True,
            )

    def pgd_check(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """PGD accuracy at the full eps on the first held-out images: fast adversarial training can collapse
        to FGSM-only robustness within an epoch ("catastrophic overfitting"); this is what catches it."""
        from visionops.robustness.attacks import pgd

        adv = self.adversarial
        assert adv is not None
        x, y = x[: adv.check_images], y[: adv.check_images]
        generator = torch.Generator(device=x.device)
        generator.manual_seed(0)
        x_adv = pgd(
            self, x, y, adv.eps, steps=adv.check_steps, step_size=2.5 * adv.eps / adv.check_steps, generator=generator
        )
        with torch.no_grad():
            return (self(x_adv).argmax(1) == y).float().mean().item()

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
