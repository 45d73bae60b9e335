"""Images of generated samples: plain grids (numpy only, for the CLI and MLflow) and labelled figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from visionops.core.figures import pyplot


def grid_image(images: Any, columns: int, pad: int = 2) -> np.ndarray:
    """[N, 1, H, W] pixels in [0, 1] (numpy or torch) -> one uint8 [rows*(H+pad)+pad, ...] image, row-major."""
    pixels = np.asarray(images, dtype=np.float32)[:, 0]
    n, h, w = pixels.shape
    rows = -(-n // columns)
    canvas = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad), 0.5, dtype=np.float32)
    for i, img in enumerate(pixels):
        r, c = divmod(i, columns)
        canvas[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + c * (w + pad) : pad + c * (w + pad) + w] = img
    return (np.clip(canvas, 0, 1) * 255).round().astype(np.uint8)


def save_png(image: np.ndarray, path: Path, scale: int = 2) -> None:
    from PIL import Image

    picture = Image.fromarray(image)
    if scale > 1:
        picture = picture.resize((image.shape[1] * scale, image.shape[0] * scale), Image.Resampling.NEAREST)
    picture.save(path, format="PNG")


def labelled_grid_figure(images: Any, columns: int, *, column_labels: list[str], title: str, path: Path) -> None:
    """`grid_image` with a title and, where each column is one class (a conditional G), the class names above."""
    plt = pyplot()
    grid = grid_image(images, columns)
    side = (grid.shape[1] - 2) / columns
    fig, ax = plt.subplots(figsize=(grid.shape[1] / 40 + 0.4, grid.shape[0] / 40 + 0.9))
    ax.imshow(grid, cmap="gray", vmin=0, vmax=255)
    ax.set_yticks([])
    ax.set_xticks([])
    if column_labels:
        ax.xaxis.tick_top()
        ax.set_xticks([1 + side * (c + 0.5) for c in range(columns)], column_labels, rotation=40, ha="left", fontsize=7)
        ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(title, fontsize=8, y=1.16 if column_labels else 1.0)
    fig.savefig(path, dpi=100, bbox_inches="tight", format="png")
    plt.close(fig)


def rows_figure(rows: list[tuple[str, np.ndarray]], title: str, path: Path) -> None:
    """One labelled row of images per entry: (label, [M, 1, H, W] pixels)."""
    plt = pyplot()
    columns = max(len(images) for _, images in rows)
    fig, axes = plt.subplots(len(rows), columns, figsize=(columns * 0.8 + 1.2, len(rows) * 0.8 + 0.5), squeeze=False)
    for r, (label, images) in enumerate(rows):
        for c in range(columns):
            ax = axes[r][c]
            ax.axis("off")
            if c < len(images):
                ax.imshow(np.asarray(images[c, 0]), cmap="gray", vmin=0, vmax=1)
        axes[r][0].text(-4, 14, label, ha="right", va="center", fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.subplots_adjust(left=0.14, right=0.98, top=0.94, bottom=0.02, wspace=0.05, hspace=0.05)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def neighbours_figure(samples: np.ndarray, nearest: np.ndarray, distances: np.ndarray, path: Path) -> None:
    """Each sample above its nearest training image (pixel L2): a copy of the data would show distance ~0."""
    plt = pyplot()
    n = len(samples)
    fig, axes = plt.subplots(2, n, figsize=(n * 0.9 + 0.4, 2.3), squeeze=False)
    for i in range(n):
        for row, images in enumerate((samples, nearest)):
            axes[row][i].imshow(images[i, 0], cmap="gray", vmin=0, vmax=1)
            axes[row][i].axis("off")
        axes[1][i].set_title(f"{distances[i]:.1f}", fontsize=7, y=-0.25)
    axes[0][0].text(-4, 14, "sample", ha="right", va="center", fontsize=8)
    axes[1][0].text(-4, 14, "nearest\ntrain", ha="right", va="center", fontsize=8)
    fig.suptitle("memorisation check: nearest training image (pixel L2 distance below)", fontsize=9)
    fig.subplots_adjust(left=0.1, wspace=0.05)
    fig.savefig(path, dpi=100)
    plt.close(fig)
