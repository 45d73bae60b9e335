"""The project's Lightning training step vs a plain PyTorch loop: same network, batch, optimiser and schedule."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch


def plain_loop(network, data, batch_size: int, steps: int, warmup: int, lr: float) -> float:
    from visionops.core.batches import DeviceBatches

    optimizer = torch.optim.AdamW(network.parameters(), lr=lr, weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps + warmup)
    loss_fn = torch.nn.CrossEntropyLoss()
    batches = iter(DeviceBatches(data.train_x, data.train_y, batch_size, shuffle=True))
    network.train()
    for step in range(steps + warmup):
        if step == warmup:
            start = time.perf_counter()
        x, y = next(batches)
        loss = loss_fn(network(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
    return steps * batch_size / (time.perf_counter() - start)


def lightning_loop(network, data, params, steps: int, warmup: int) -> float:
    import pytorch_lightning as pl

    from visionops.classifier.module import ClassifierModule
    from visionops.core.batches import DeviceDataModule

    class Clock(pl.Callback):
        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            if batch_idx == warmup:
                self.start = time.perf_counter()

        def on_train_end(self, trainer, module):
            self.seconds = time.perf_counter() - self.start

    clock = Clock()
    module = ClassifierModule(network, len(data.classes), params.lr, params.weight_decay)
    no_augment = params.augment.model_copy(update={"flip": False, "translate": 0, "erase_prob": 0.0})
    trainer = pl.Trainer(
        max_steps=steps + warmup,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[clock],
        accelerator="cpu",
        devices=1,
    )
    trainer.fit(
        module, datamodule=DeviceDataModule(data.splits(), batch_size=params.batch_size, augment=no_augment, seed=0)
    )
    return steps * params.batch_size / clock.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prepared", type=Path, default=Path("data/prepared"))
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()

    from visionops.classifier.networks import build_network, network_spec
    from visionops.core import config
    from visionops.data.prepare import load_prepared

    params = config.load().classifier
    data = load_prepared(args.prepared)
    spec = network_spec(params, num_classes=len(data.classes), in_channels=1, mean=data.mean, std=data.std)
    torch.manual_seed(0)
    plain = plain_loop(build_network(spec), data, params.batch_size, args.steps, args.warmup, params.lr)
    torch.manual_seed(0)
    ours = lightning_loop(build_network(spec), data, params, args.steps, args.warmup)
    torch.manual_seed(0)
    plain_again = plain_loop(build_network(spec), data, params.batch_size, args.steps, args.warmup, params.lr)
    baseline = (plain + plain_again) / 2  # before and after, to cancel drift
    print(f"network: {params.network}, batch {params.batch_size}, {args.steps} timed steps")
    print(f"plain PyTorch loop: {baseline:,.0f} images/s ({plain:,.0f} before, {plain_again:,.0f} after)")
    print(f"Lightning module:   {ours:,.0f} images/s")
    print(f"ratio: {ours / baseline:.2f}x (target >= 0.9x)")


if __name__ == "__main__":
    main()
