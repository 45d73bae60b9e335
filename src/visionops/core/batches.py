"""Device-resident batches: the dataset is one uint8 tensor on the training device, batches are index slices,
and augmentation runs on the device for the whole batch at once (no per-sample Python).

`DeviceDataModule` is the Lightning side of it, for any family that trains on labelled images."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import pytorch_lightning as pl
import torch

from visionops.core.sections import AugmentParams


def augment(images: torch.Tensor, params: AugmentParams, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random flip, translate and erase, applied per image to a float batch [B, C, H, W]."""
    b, _, h, w = images.shape
    dev = images.device

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, device=dev, generator=generator)

    if params.flip:
        flip = rand(b) < 0.5
        images = torch.where(flip[:, None, None, None], images.flip(-1), images)
    if params.translate > 0:
        t = params.translate
        padded = torch.nn.functional.pad(images, (t, t, t, t))
        dy = (rand(b) * (2 * t + 1)).long()
        dx = (rand(b) * (2 * t + 1)).long()
        rows = (torch.arange(h, device=dev)[None, :] + dy[:, None])[:, None, :, None]
        cols = (torch.arange(w, device=dev)[None, :] + dx[:, None])[:, None, None, :]
        batch = torch.arange(b, device=dev)[:, None, None, None]
        chans = torch.arange(images.shape[1], device=dev)[None, :, None, None]
        images = padded[batch, chans, rows, cols]
    if params.erase_prob > 0:
        # one rectangle of 2-33% of the area and aspect 0.3-3.3 per image, as in Zhong et al.'s random erasing
        area = (0.02 + rand(b) * 0.31) * h * w
        aspect = torch.exp(math.log(0.3) + rand(b) * (math.log(1 / 0.3) - math.log(0.3)))
        eh = (area * aspect).sqrt().clamp(1, h).long()
        ew = (area / aspect).sqrt().clamp(1, w).long()
        y0 = (rand(b) * (h - eh + 1)).long()
        x0 = (rand(b) * (w - ew + 1)).long()
        ys = torch.arange(h, device=dev)[None, :]
        xs = torch.arange(w, device=dev)[None, :]
        inside_y = (ys >= y0[:, None]) & (ys < (y0 + eh)[:, None])
        inside_x = (xs >= x0[:, None]) & (xs < (x0 + ew)[:, None])
        erase = (inside_y[:, :, None] & inside_x[:, None, :]) & (rand(b) < params.erase_prob)[:, None, None]
        images = images.masked_fill(erase[:, None, :, :], 0.0)
    return images


class DeviceBatches:
    """Iterates (float images in [0, 1], labels) over tensors that already live on one device.

    With world_size > 1 each rank takes its own shard of one shared permutation, as DistributedSampler does.
    Each epoch's order and augmentation are drawn from seed + epoch; `epoch_of`, when set, says which epoch an
    iteration is (a resumed run continues the sequence where it stopped).
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int,
        *,
        shuffle: bool,
        augment_params: AugmentParams | None = None,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.images, self.labels = images, labels
        self.batch_size, self.shuffle = batch_size, shuffle
        self.augment_params = augment_params
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.epoch = 0
        self.epoch_of: Callable[[], int] | None = None

    def _shard_size(self) -> int:
        return math.ceil(len(self.labels) / self.world_size)

    def __len__(self) -> int:
        return math.ceil(self._shard_size() / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if self.epoch_of is not None:
            self.epoch = self.epoch_of()
        dev = self.images.device
        n = len(self.labels)
        gen = torch.Generator(device=dev)
        gen.manual_seed(self.seed + self.epoch)
        order = torch.randperm(n, device=dev, generator=gen) if self.shuffle else torch.arange(n, device=dev)
        if self.world_size > 1:
            padded = self._shard_size() * self.world_size
            order = torch.cat([order, order[: padded - n]])[self.rank :: self.world_size]
        self.epoch += 1
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            x = self.images[idx].float().div_(255.0)
            if self.augment_params is not None:
                x = augment(x, self.augment_params, gen)
            yield x, self.labels[idx]


class DeviceDataModule(pl.LightningDataModule):
    """Moves uint8 images and labels of each split to the training device once; batches are slices of them.

    `splits` maps "train", "val" and "test" to (images [N, C, H, W] uint8, labels [N]).
    """

    def __init__(
        self,
        splits: dict[str, tuple[torch.Tensor, torch.Tensor]],
        *,
        batch_size: int,
        augment: AugmentParams,
        seed: int,
        eval_batch_size: int = 1000,
    ) -> None:
        super().__init__()
        self.splits, self.batch_size, self.augment, self.seed = splits, batch_size, augment, seed
        self.eval_batch_size = eval_batch_size
        self.on_device: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def setup(self, stage: str) -> None:
        device = self.trainer.strategy.root_device if self.trainer else torch.device("cpu")
        for split, (x, y) in self.splits.items():
            if split not in self.on_device:
                self.on_device[split] = (x.to(device, non_blocking=True), y.to(device, non_blocking=True))

    def batches(self, split: str, batch_size: int, train: bool) -> DeviceBatches:
        rank, world = (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)
        x, y = self.on_device[split]
        return DeviceBatches(
            x,
            y,
            batch_size,
            shuffle=train,
            augment_params=self.augment if train else None,
            seed=self.seed,
            rank=rank,
            world_size=world,
        )

    def train_dataloader(self) -> DeviceBatches:
        batches = self.batches("train", self.batch_size, train=True)
        if self.trainer:
            # read at each epoch's start: when Lightning asks for this loader on a resume, it has not yet counted
            # the epochs the checkpoint holds, and the resumed epochs drew the first epochs' orders again
            trainer = self.trainer
            batches.epoch_of = lambda: trainer.current_epoch
        return batches

    def val_dataloader(self) -> DeviceBatches:
        return self.batches("val", self.eval_batch_size, train=False)

    def test_dataloader(self) -> DeviceBatches:
        return self.batches("test", self.eval_batch_size, train=False)
