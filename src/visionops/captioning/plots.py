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
    # each scene's text has a row of its own above the image, so a long caption cannot run into the panel above
    fig = plt.figure(figsize=(3.4 * cols, 5.2 * rows + 0.4))
    grid = fig.add_gridspec(2 * rows, cols, height_ratios=[1.9, 3.3] * rows, hspace=0.02, wspace=0.08)
    for i in range(n):
        row, col = divmod(i, cols)
        verdict = "true" if not errors[i] else ", ".join(errors[i])
        text = (
            "\n".join(textwrap.wrap(generated[i], 40))
            + f"\n[{verdict}]\nrefs: "
            + "\n".join(textwrap.wrap(" | ".join(references[i][:2]), 44)[:8])
        )
        above = fig.add_subplot(grid[2 * row, col])
        above.axis("off")
        above.text(0, 0, text, fontsize=7, va="bottom", ha="left", color="darkgreen" if not errors[i] else "darkred")
        ax = fig.add_subplot(grid[2 * row + 1, col])
        ax.axis("off")
        ax.imshow(images[i].transpose(1, 2, 0).squeeze(-1), cmap="gray", vmin=0, vmax=255)
    fig.suptitle(title, fontsize=10)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=1 - 0.5 / (5.2 * rows + 0.4))
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
