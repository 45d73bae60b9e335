"""Figures of the robustness stage: accuracy against eps, and adversarial examples."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from visionops.core.figures import pyplot
from visionops.robustness.evaluate import RobustnessCurve


def curves_figure(curves: dict[str, RobustnessCurve], path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for (name, curve), color in zip(curves.items(), ("tab:blue", "tab:red", "tab:green", "tab:purple")):
        ax.plot(curve.eps, curve.pgd, "-o", color=color, label=f"{name}: PGD")
        ax.plot(curve.eps, curve.fgsm, "--", color=color, alpha=0.6, label=f"{name}: FGSM")
    ax.set_xlabel("eps (L-infinity, pixels in [0, 1])")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def adversarial_examples_figure(
    clean: np.ndarray,
    adversarial: np.ndarray,
    *,
    labels: np.ndarray,
    predicted: np.ndarray,
    classes: list[str],
    eps: float,
    title: str,
    path: Path,
) -> None:
    """One row per image [N, H, W]: clean, perturbation amplified to the full grey range, adversarial; `title` names
    the model and the attack."""
    plt = pyplot()
    n = max(len(clean), 1)
    fig, axes = plt.subplots(n, 3, figsize=(5.4, 1.9 * n), squeeze=False)
    for i in range(len(clean)):
        delta = adversarial[i] - clean[i]
        panels = [
            (clean[i], f"clean: {classes[labels[i]]}", dict(cmap="gray", vmin=0, vmax=1)),
            (delta, f"perturbation (±{eps} stretched)", dict(cmap="seismic", vmin=-(eps or 1), vmax=eps or 1)),
            (adversarial[i], f"adversarial: {classes[predicted[i]]}", dict(cmap="gray", vmin=0, vmax=1)),
        ]
        for ax, (image, label, style) in zip(axes[i], panels):
            ax.imshow(image, **style)
            ax.set_title(
                label, fontsize=8, color="red" if "adversarial" in label and predicted[i] != labels[i] else "black"
            )
            ax.axis("off")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
