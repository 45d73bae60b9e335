"""The VQA LightningModule and its batches: questions sliced from device tensors, each with its scene's input."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import pytorch_lightning as pl
import torch
from torch import nn

from visionops.vqa.encoding import PAD
from visionops.vqa.networks import VQANet


class QuestionBatches:
    """(scene inputs, token ids, answer ids) batches. `inputs` [S, ...] holds one entry per scene (uint8 pixels or
    features of a frozen trunk; None for the blind model) and each question names its scene, so a scene asked ten
    questions is stored once. Token ids are cut after the batch's longest question. `epoch_of`, when set, says which
    epoch an iteration is (a resumed run continues the shuffling sequence)."""

    def __init__(
        self,
        inputs: torch.Tensor | None,
        scenes: torch.Tensor,
        tokens: torch.Tensor,
        answers: torch.Tensor,
        *,
        batch_size: int,
        shuffle: bool,
        seed: int,
    ) -> None:
        self.inputs, self.scenes, self.tokens, self.answers = inputs, scenes, tokens, answers
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.epoch = 0
        self.epoch_of: Callable[[], int] | None = None

    def __len__(self) -> int:
        return math.ceil(len(self.answers) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        if self.epoch_of is not None:
            self.epoch = self.epoch_of()
        n = len(self.answers)
        gen = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)
        order = (torch.randperm(n, generator=gen) if self.shuffle else torch.arange(n)).to(self.answers.device)
        self.epoch += 1
        for i in range(0, n, self.batch_size):
            idx = order[i : i + self.batch_size]
            seq = self.tokens[idx]
            seq = seq[:, : int((seq != PAD).sum(1).max())]
            inputs = self.inputs[self.scenes[idx]] if self.inputs is not None else torch.zeros(0, device=seq.device)
            yield inputs, seq, self.answers[idx]


class VQAModule(pl.LightningModule):
    def __init__(self, network: VQANet, *, frozen: bool, lr: float, weight_decay: float) -> None:
        """`frozen`: the trunk does not train, and the batches hold its output, computed once per scene."""
        super().__init__()
        self.network, self.frozen, self.lr, self.weight_decay = network, frozen, lr, weight_decay
        if frozen and network.trunk is not None:
            network.trunk.requires_grad_(False)

    def forward(self, inputs: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        if self.network.trunk is None:
            return self.network.head(None, tokens)
        if self.frozen:
            return self.network.head(inputs, tokens)
        pixels = (inputs.float() / 255.0).contiguous(memory_format=torch.channels_last)
        return self.network(pixels, tokens)

    def _step(self, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        inputs, tokens, answers = batch
        logits = self(inputs, tokens)
        loss = nn.functional.cross_entropy(logits.float(), answers)
        return loss, (logits.argmax(1) == answers).float().mean()

    def on_train_epoch_start(self) -> None:
        if self.frozen and self.network.trunk is not None:
            self.network.trunk.eval()  # the classifier's batch-norm statistics stay its own

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        loss, accuracy = self._step(batch)
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"the loss is {loss.item()} in epoch {self.current_epoch + 1}, batch {batch_idx + 1}"
            )
        n = len(batch[2])  # not the first tensor's length: the blind model's inputs are empty
        self.log("train/loss", loss, on_step=True, on_epoch=True, batch_size=n)
        self.log("train/acc", accuracy, on_step=False, on_epoch=True, batch_size=n)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        loss, accuracy = self._step(batch)
        n = len(batch[2])
        self.log("val/loss", loss, on_epoch=True, batch_size=n)
        self.log("val/acc", accuracy, on_epoch=True, batch_size=n)

    def configure_optimizers(self) -> dict:
        trainable = [p for p in self.network.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(trainable, lr=self.lr, weight_decay=self.weight_decay)
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=self.lr, total_steps=max(int(self.trainer.estimated_stepping_batches), 1)
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
