"""Device-resident batches vs torchvision's FashionMNIST + DataLoader, iterating one epoch with a random flip."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch


def images_per_second(batches, limit: int) -> float:
    seen, start = 0, time.perf_counter()
    for x, _ in batches:
        seen += len(x)
        if seen >= limit:
            break
    return seen / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--raw", type=Path, default=Path("data/raw"))
    parser.add_argument("--prepared", type=Path, default=Path("data/prepared"))
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()

    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    from visionops.core.batches import DeviceBatches
    from visionops.core.sections import AugmentParams
    from visionops.data.prepare import load_prepared

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "FashionMNIST").mkdir()
        (Path(tmp) / "FashionMNIST" / "raw").symlink_to(args.raw.resolve())
        dataset = datasets.FashionMNIST(
            tmp,
            train=True,
            download=False,
            transform=transforms.Compose([transforms.RandomHorizontalFlip(), transforms.ToTensor()]),
        )
        baseline = images_per_second(DataLoader(dataset, batch_size=args.batch_size, shuffle=True), args.images)

    data = load_prepared(args.prepared)
    flip_only = AugmentParams(flip=True, translate=0, erase_prob=0.0)
    device = DeviceBatches(data.train_x, data.train_y, args.batch_size, shuffle=True, augment_params=flip_only)
    ours = images_per_second(device, args.images)
    print(f"torchvision DataLoader: {baseline:,.0f} images/s")
    print(f"device batches:         {ours:,.0f} images/s")
    print(f"ratio: {ours / baseline:.1f}x (target >= 10x)")


if __name__ == "__main__":
    torch.set_num_threads(torch.get_num_threads())
    main()
