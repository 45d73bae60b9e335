"""Figures: example scenes with generated and reference captions, and attention maps word by word."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from visionops.core.figures import pyplot


def examples_figure(
    images: np.ndarray,
    *,
    generated: list[str],
    errors: list[list[str]],
    references: list[list[str]],
    title: str,
    path: Path,
) -> None:
    """One panel per scene: the image, the generated caption (green if fully true, red with its errors if not)
    and two of its references."""
    plt = pyplot()
    n = len(images)
    cols = min(4, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 4.6 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i in range(n):
        ax = axes.flat[i]
        ax.imshow(images[i].transpose(1, 2, 0).squeeze(-1), cmap="gray", vmin=0, vmax=255)
        verdict = "true" if not errors[i] else ", ".join(errors[i])
        text = (
            "\n".join(textwrap.wrap(generated[i], 34))
            + f"\n[{verdict}]\nrefs: "
            + "\n".join(textwrap.wrap(" | ".join(references[i][:2]), 40))
        )
        ax.set_title(text, fontsize=7, color="darkgreen" if not errors[i] else "darkred", loc="left")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def attention_figure(images: np.ndarray, *, words: list[list[str]], alphas: np.ndarray, title: str, path: Path) -> None:
    """One row per scene: the attention over the encoder's grid, upsampled onto the image, for each word."""
    plt = pyplot()
    steps = max(len(w) for w in words) + 1
    side = int(round(alphas.shape[-1] ** 0.5))
    fig, axes = plt.subplots(len(images), steps, figsize=(1.2 * steps, 1.35 * len(images)), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for r, (image, spoken) in enumerate(zip(images, words)):
        gray = image.transpose(1, 2, 0).squeeze(-1)
        axes[r, 0].imshow(gray, cmap="gray", vmin=0, vmax=255)
        for t, word in enumerate(spoken):
            grid = alphas[r, t].reshape(side, side)
            rows_at = np.arange(gray.shape[0]) * side // gray.shape[0]
            cols_at = np.arange(gray.shape[1]) * side // gray.shape[1]
            heat = grid[np.ix_(rows_at, cols_at)]
            ax = axes[r, t + 1]
            ax.imshow(gray, cmap="gray", vmin=0, vmax=255)
            ax.imshow(heat, cmap="jet", alpha=0.45)
            ax.set_title(word, fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
