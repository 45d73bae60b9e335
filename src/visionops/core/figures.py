"""Matplotlib without a screen, for every family's figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

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


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (imported on first use: it is slow to import)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def per_class_bars(per_class: dict[str, list[float]], classes: list[str], ylabel: str, path: Path) -> None:
    """Grouped bars, one group per class and one bar per model, of a score in [0, 1]."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.2))
    width = 0.8 / max(len(per_class), 1)
    for i, (name, values) in enumerate(per_class.items()):
        ax.bar(np.arange(len(classes)) + i * width, values, width, label=name)
    ax.set_xticks(np.arange(len(classes)) + width * (len(per_class) - 1) / 2, classes, rotation=30, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
