"""Pictures of class maps: a fixed palette (numpy only, for the CLI), the maps beside the truth, per-class IoU bars."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from visionops.core.figures import pyplot

# background black, then ten distinct colours (matplotlib's tab10), one per item class
PALETTE = np.array(
    [
        [0, 0, 0],
        [31, 119, 180],
        [255, 127, 14],
        [44, 160, 44],
        [214, 39, 40],
        [148, 103, 189],
        [140, 86, 75],
        [227, 119, 194],
        [127, 127, 127],
        [188, 189, 34],
        [23, 190, 207],
    ],
    np.uint8,
)


def colour(class_map: np.ndarray) -> np.ndarray:
    """Class map [..., H, W] (0 background, class + 1) -> RGB uint8 [..., H, W, 3]; classes past ten cycle."""
    index = np.where(class_map == 0, 0, (class_map.astype(np.int64) - 1) % (len(PALETTE) - 1) + 1)
    return PALETTE[index]


def legend_image(class_map: np.ndarray, names: list[str], scale: int = 4) -> np.ndarray:
    """The coloured map, scaled up, with a legend of the classes it shows (for `visionops segment --out`)."""
    from PIL import Image, ImageDraw

    rgb = colour(class_map)
    h, w = class_map.shape
    shown = [int(k) for k in np.unique(class_map) if k > 0]
    row = 14
    picture = Image.new("RGB", (max(w * scale, 160), h * scale + row * max(len(shown), 1) + 4), (255, 255, 255))
    picture.paste(Image.fromarray(rgb).resize((w * scale, h * scale), Image.Resampling.NEAREST), (0, 0))
    draw = ImageDraw.Draw(picture)
    for i, k in enumerate(shown):
        y = h * scale + 2 + i * row
        draw.rectangle([2, y + 2, 12, y + 12], fill=tuple(int(v) for v in colour(np.array([k]))[0]))
        draw.text((16, y), names[k] if k < len(names) else str(k), fill=(0, 0, 0))
    if not shown:
        draw.text((2, h * scale + 2), "no items found", fill=(0, 0, 0))
    return np.asarray(picture)


def maps_figure(images: np.ndarray, truth: np.ndarray, predicted: dict[str, np.ndarray], path: Path) -> None:
    """One column per scene: the scene, the true map, then each model's map."""
    plt = pyplot()
    rows = [("scene", None), ("truth", truth), *predicted.items()]
    n = len(images)
    fig, axes = plt.subplots(len(rows), n, figsize=(n * 1.1 + 0.9, len(rows) * 1.1 + 0.3), squeeze=False)
    for r, (label, maps) in enumerate(rows):
        for c in range(n):
            ax = axes[r][c]
            ax.axis("off")
            if maps is None:
                ax.imshow(images[c, 0], cmap="gray", vmin=0, vmax=255)
            else:
                ax.imshow(colour(maps[c]))
        axes[r][0].text(-6, images.shape[-2] / 2, label, ha="right", va="center", fontsize=8)
    fig.subplots_adjust(left=0.12, right=0.99, top=0.98, bottom=0.02, wspace=0.05, hspace=0.05)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def iou_figure(per_class: dict[str, list[float]], classes: list[str], path: Path) -> None:
    """Grouped bars of each model's IoU per class."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.2))
    width = 0.8 / max(len(per_class), 1)
    for i, (name, values) in enumerate(per_class.items()):
        ax.bar(np.arange(len(classes)) + i * width, values, width, label=name)
    ax.set_xticks(np.arange(len(classes)) + width * (len(per_class) - 1) / 2, classes, rotation=30, ha="right")
    ax.set_ylabel("IoU (test scenes)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
