"""The captioners' LightningModule: teacher forcing on one reference caption per scene, drawn afresh each epoch."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import pytorch_lightning as pl
import torch
from torch import nn

from visionops.captioning.params import CaptionerParams


class NonFiniteLoss(RuntimeError):
    pass


class CaptionBatches:
    """(inputs, token ids) batches sliced from device tensors; inputs are images (uint8) or precomputed features.

    Each epoch shuffles the scenes and picks one of each scene's references (seeded by seed and epoch), and cuts
    the batch's token ids after its longest caption. `epoch_of`, when set, says which epoch an iteration is (the
    trainer's own count, so a resumed run continues the sequence exactly); else iterations are counted.
    """

    def __init__(
        self, inputs: torch.Tensor, tokens: torch.Tensor, *, pad: int, batch_size: int, shuffle: bool, seed: int
    ) -> None:
        self.inputs, self.tokens, self.pad = inputs, tokens, pad
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.epoch = 0
        self.epoch_of: Callable[[], int] | None = None

    def __len__(self) -> int:
        return math.ceil(len(self.inputs) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if self.epoch_of is not None:
            self.epoch = self.epoch_of()
        gen = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)
        n, refs = self.tokens.shape[:2]
        order = torch.randperm(n, generator=gen) if self.shuffle else torch.arange(n)
        pick = torch.randint(0, refs, (n,), generator=gen) if self.shuffle else torch.zeros(n, dtype=torch.long)
        device = self.inputs.device
        order, pick = order.to(device), pick.to(device)
        self.epoch += 1
        for i in range(0, n, self.batch_size):
            idx = order[i : i + self.batch_size]
            seq = self.tokens[idx, pick[i : i + self.batch_size]]
            longest = int((seq != self.pad).sum(1).max())
            yield self.inputs[idx], seq[:, :longest]


def as_pixels(inputs: torch.Tensor) -> torch.Tensor:
    pixels = inputs.float() / 255.0 if inputs.dtype == torch.uint8 else inputs
    return pixels.contiguous(memory_format=torch.channels_last)


class CaptionModule(pl.LightningModule):
    def __init__(self, captioner: nn.Module, params: CaptionerParams, pad: int, frozen: int) -> None:
        """`frozen`: how many leading trunk layers are frozen; the batches then hold their output, computed once."""
        super().__init__()
        self.captioner, self.params, self.pad, self.frozen = captioner, params, pad, frozen
        self.captioner.trunk[:frozen].requires_grad_(False)

    def features(self, inputs: torch.Tensor) -> torch.Tensor:
        if not self.frozen:
            return self.captioner.features(as_pixels(inputs))
        return self.captioner.trunk[self.frozen :](inputs).flatten(2).transpose(1, 2)

    def _loss(self, inputs: torch.Tensor, seq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.features(inputs)
        logits, alpha = self.captioner.decoder(features, seq[:, :-1])
        target = seq[:, 1:]
        loss = nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=self.pad
        )
        words = target != self.pad
        accuracy = ((logits.argmax(-1) == target) & words).sum() / words.sum()
        if alpha is not None and self.params.attention_reg > 0:
            # each cell's attention, summed over the words actually spoken, should be near 1 (Xu et al. 2015, eq. 14)
            spoken = (alpha * words[:, :, None]).sum(1)
            loss = loss + self.params.attention_reg * ((1.0 - spoken) ** 2).mean()
        return loss, accuracy

    def on_train_epoch_start(self) -> None:
        self.captioner.trunk[: self.frozen].eval()  # the frozen layers keep the classifier's batch-norm statistics

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss, accuracy = self._loss(*batch)
        if not torch.isfinite(loss):
            raise NonFiniteLoss(f"the loss is {loss.item()} in epoch {self.current_epoch + 1}, batch {batch_idx + 1}")
        self.log("train/loss", loss, on_step=True, on_epoch=True)
        self.log("train/word_acc", accuracy, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        loss, accuracy = self._loss(*batch)
        self.log("val/loss", loss, on_epoch=True, prog_bar=False)
        self.log("val/word_acc", accuracy, on_epoch=True)

    def configure_optimizers(self) -> dict:
        trainable = [p for p in self.captioner.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(trainable, lr=self.params.lr, weight_decay=self.params.weight_decay)
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=self.params.lr, total_steps=max(int(self.trainer.estimated_stepping_batches), 1)
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
