"""The cost of a PGD-k evaluation against k x one forward+backward pass on the same images.

A PGD step is a forward and a backward pass and nothing else worth timing, so the ratio should be close to 1;
the restart bookkeeping, projections and worst-case tracking are the overhead measured here.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch


def forward_backward_seconds(network, x: torch.Tensor, y: torch.Tensor) -> float:
    start = time.perf_counter()
    with torch.enable_grad():
        images = x.detach().requires_grad_(True)
        loss = torch.nn.functional.cross_entropy(network(images), y, reduction="none").sum()
        torch.autograd.grad(loss, images)
    return time.perf_counter() - start


def pgd_seconds(network, x: torch.Tensor, y: torch.Tensor, eps: float, steps: int, stop_when_fooled: bool) -> float:
    from visionops.robustness.attacks import pgd

    start = time.perf_counter()
    generator = torch.Generator().manual_seed(0)
    pgd(
        network,
        x,
        y,
        eps,
        steps=steps,
        step_size=2.5 * eps / steps,
        loss="ce",
        generator=generator,
        stop_when_fooled=stop_when_fooled,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prepared", type=Path, default=Path("data/prepared"))
    parser.add_argument("--model", type=Path, default=Path("data/models/robust/classifier.pt"))
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--eps", type=float, default=0.1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from visionops.classifier.model_file import load_classifier
    from visionops.data.prepare import load_prepared

    data = load_prepared(args.prepared)
    network, _ = load_classifier(args.model)
    network.eval()
    x = data.test_x[: args.images].float() / 255.0
    y = data.test_y[: args.images]
    forward_backward_seconds(network, x, y)  # warm-up
    single, every_step, early_stop = [], [], []
    for _ in range(args.repeats):  # interleaved, so drifts in machine speed hit every side
        single.append(statistics.median(forward_backward_seconds(network, x, y) for _ in range(5)))
        every_step.append(pgd_seconds(network, x, y, args.eps, args.steps, stop_when_fooled=False))
        early_stop.append(pgd_seconds(network, x, y, args.eps, args.steps, stop_when_fooled=True))
    one = statistics.median(single)
    budget = args.steps * one
    print(f"forward+backward on {args.images} images: {one * 1e3:.1f} ms")
    # every image attacked for all k steps: the bookkeeping overhead of the attack itself
    print(
        f"ratio PGD-{args.steps} / ({args.steps} x forward+backward): "
        f"{statistics.median(every_step) / budget:.3f} (target <= 1.3)"
    )
    # as the robustness stage runs it: an image leaves the batch once fooled
    print(f"same, fooled images leaving the batch (the stage's setting): {statistics.median(early_stop) / budget:.3f}")


if __name__ == "__main__":
    main()
