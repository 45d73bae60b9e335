"""Figures: example scenes with a question, the model's answer and the truth; accuracy per question type for every
model; the answers FiLM confuses."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from visionops.core.figures import pyplot


def examples_figure(
    images: np.ndarray, *, questions: list[str], answers: list[str], truths: list[str], title: str, path: Path
) -> None:
    """One panel per question: its scene, the question, the answer (green when right) and the truth."""
    plt = pyplot()
    n = len(images)
    cols = min(4, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.9 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i in range(n):
        ax = axes.flat[i]
        ax.imshow(images[i].transpose(1, 2, 0).squeeze(-1), cmap="gray", vmin=0, vmax=255)
        right = answers[i] == truths[i]
        text = (
            "\n".join(textwrap.wrap(questions[i], 32))
            + f"\n-> {answers[i]}"
            + ("" if right else f" (truth: {truths[i]})")
        )
        ax.set_title(text, fontsize=8, color="darkgreen" if right else "darkred", loc="left")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def confusion_figure(counts: np.ndarray, answers: list[str], title: str, path: Path) -> None:
    """Row-normalised confusion of true (rows) against predicted answers, diagonal included."""
    plt = pyplot()
    shown = counts.sum(1) > 0
    rates = counts[shown] / counts[shown].sum(1, keepdims=True)
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_yticks(range(int(shown.sum())), [a for a, s in zip(answers, shown) if s], fontsize=8)
    ax.set_xticks(range(len(answers)), answers, rotation=60, ha="right", fontsize=8)
    for (r, c), v in np.ndenumerate(rates):
        if v >= 0.02:
            ax.text(
                c,
                r,
                f"{v:.2f}"[1:] if v < 1 else "1",
                ha="center",
                va="center",
                fontsize=6,
                color="white" if v > 0.5 else "black",
            )
    ax.set_xlabel("answered")
    ax.set_ylabel("truth")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
