"""The VQA LightningModule and its batches: a batch is a set of scenes with every question asked of them, so the
trunk layers that train run once per scene, not once per question."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import pytorch_lightning as pl
import torch
from torch import nn

from visionops.vqa.encoding import PAD
from visionops.vqa.networks import VQANet

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


class QuestionBatches:
    """(scene inputs, each question's scene in them, token ids, answer ids) batches of about `batch_size` questions.

    `inputs` [S, ...] holds one entry per scene: uint8 pixels, or the output of the trunk's frozen layers (None for
    the blind model). Each epoch shuffles the scenes (seeded by seed and epoch); token ids are cut after the batch's
    longest question. `epoch_of`, when set, says which epoch an iteration is (a resumed run continues the sequence).
    """

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
        self.inputs, self.tokens, self.answers = inputs, tokens, answers
        self.shuffle, self.seed = shuffle, seed
        self.by_scene = torch.argsort(scenes, stable=True)  # questions grouped by scene
        self.asked, counts = torch.unique(scenes, return_counts=True)
        self.counts = counts
        self.starts = torch.cumsum(counts, 0) - counts
        self.scenes_per_batch = max(1, round(batch_size * len(self.asked) / max(len(scenes), 1)))
        self.epoch = 0
        self.epoch_of: Callable[[], int] | None = None

    def __len__(self) -> int:
        return math.ceil(len(self.asked) / self.scenes_per_batch)

    def __iter__(self) -> Iterator[Batch]:
        if self.epoch_of is not None:
            self.epoch = self.epoch_of()
        gen = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)
        n = len(self.asked)
        order = (torch.randperm(n, generator=gen) if self.shuffle else torch.arange(n)).to(self.asked.device)
        self.epoch += 1
        for i in range(0, n, self.scenes_per_batch):
            chosen = order[i : i + self.scenes_per_batch]
            counts = self.counts[chosen]
            local = torch.repeat_interleave(torch.arange(len(chosen), device=counts.device), counts)
            offsets = torch.arange(len(local), device=counts.device) - (torch.cumsum(counts, 0) - counts)[local]
            questions = self.by_scene[self.starts[chosen][local] + offsets]
            seq = self.tokens[questions]
            seq = seq[:, : int((seq != PAD).sum(1).max())]
            scenes = self.asked[chosen]
            inputs = self.inputs[scenes] if self.inputs is not None else torch.zeros(0, device=seq.device)
            yield inputs, local, seq, self.answers[questions]


class VQAModule(pl.LightningModule):
    def __init__(self, network: VQANet, *, frozen: int, lr: float, weight_decay: float) -> None:
        """`frozen`: how many leading trunk layers do not train; the batches then hold their output, computed once."""
        super().__init__()
        self.network, self.frozen, self.lr, self.weight_decay = network, frozen, lr, weight_decay
        if network.trunk is not None:
            network.trunk[:frozen].requires_grad_(False)

    def forward(self, inputs: torch.Tensor, local: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        trunk = self.network.trunk
        if trunk is None:
            return self.network.head(None, tokens)
        if not self.frozen:
            inputs = inputs.float() / 255.0
        features = trunk[self.frozen :](inputs.contiguous(memory_format=torch.channels_last))
        return self.network.head(features, tokens, local)

    def _step(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        inputs, local, tokens, answers = batch
        logits = self(inputs, local, tokens)
        loss = nn.functional.cross_entropy(logits.float(), answers)
        return loss, (logits.argmax(1) == answers).float().mean()

    def on_train_epoch_start(self) -> None:
        if self.network.trunk is not None:
            self.network.trunk[: self.frozen].eval()  # the classifier's batch-norm statistics stay its own

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        loss, accuracy = self._step(batch)
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"the loss is {loss.item()} in epoch {self.current_epoch + 1}, batch {batch_idx + 1}"
            )
        n = len(batch[3])  # questions, not the first tensor's length (scenes; empty for the blind model)
        self.log("train/loss", loss, on_step=True, on_epoch=True, batch_size=n)
        self.log("train/acc", accuracy, on_step=False, on_epoch=True, batch_size=n)
        return loss

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        loss, accuracy = self._step(batch)
        n = len(batch[3])
        self.log("val/loss", loss, on_epoch=True, batch_size=n)
        self.log("val/acc", accuracy, on_epoch=True, batch_size=n)

    def configure_optimizers(self) -> dict:
        trainable = [p for p in self.network.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(trainable, lr=self.lr, weight_decay=self.weight_decay)
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=self.lr, total_steps=max(int(self.trainer.estimated_stepping_batches), 1)
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
