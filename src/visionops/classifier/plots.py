"""Figures written by the evaluate stage (PNG, for DVC plots and MLflow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from visionops.core.figures import pyplot


def confusion_figure(matrix: np.ndarray, classes: list[str], path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    limit = matrix.max() / 2
    for (i, j), n in np.ndenumerate(matrix):
        ax.text(j, i, str(n), ha="center", va="center", fontsize=7, color="white" if n > limit else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def mistakes_figure(
    images: np.ndarray, labels: np.ndarray, probs: np.ndarray, classes: list[str], *, path: Path
) -> None:
    """Grid of images [N, H, W] with 'true -> predicted (p)' titles."""
    plt = pyplot()
    n = max(len(images), 1)
    cols = min(8, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(1.7 * cols, 2.3 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, label, p in zip(axes.flat, images, labels, probs, strict=False):
        pred = int(p.argmax())
        ax.imshow(img, cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"true {classes[label]}\npred {classes[pred]} {p[pred]:.2f}", fontsize=7)
    fig.suptitle("most confident mistakes (true → predicted)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# how each method's map reads, and its colours: occlusion can be negative (hiding a patch raised the logit)
EXPLANATION_SCALES = {
    "occlusion": ("logit drop, patch hidden", "RdBu_r"),
    "saliency": ("|d logit / d pixel|", "inferno"),
    "grad_cam": ("class evidence", "inferno"),
}


def explanations_figure(images: np.ndarray, maps: dict[str, np.ndarray], titles: list[str], path: Path) -> None:
    """One row per image: the image, then each attribution map overlaid, on one colour scale per method (shared by
    every row, so rows compare) with its colour bar."""
    plt = pyplot()
    n, cols = max(len(images), 1), 1 + len(maps)
    fig, axes = plt.subplots(n, cols, figsize=(1.8 * cols, 1.8 * n + 0.9), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for r in range(len(images)):
        axes[r, 0].imshow(images[r], cmap="gray", vmin=0, vmax=1)
        axes[r, 0].set_title(titles[r], fontsize=7)
    for c, (name, values) in enumerate(maps.items(), start=1):
        label, cmap = EXPLANATION_SCALES.get(name, (name, "inferno"))
        top = float(np.abs(values).max()) or 1.0
        low = -top if cmap == "RdBu_r" else 0.0
        shown = None
        for r in range(len(images)):
            axes[r, c].imshow(images[r], cmap="gray", vmin=0, vmax=1)
            shown = axes[r, c].imshow(values[r], cmap=cmap, vmin=low, vmax=top, alpha=0.6)
        axes[0, c].set_title(name.replace("_", "-"), fontsize=8)
        if shown is not None:
            bar = fig.colorbar(shown, ax=axes[:, c], orientation="horizontal", fraction=0.03, pad=0.01, aspect=12)
            bar.set_label(label, fontsize=6)
            bar.ax.tick_params(labelsize=6)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
