"""Classification metrics from predictions, via torchmetrics."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torchmetrics.functional.classification import (
    multiclass_accuracy,
    multiclass_confusion_matrix,
    multiclass_f1_score,
    multiclass_precision,
    multiclass_recall,
)


def classification_metrics(logits: np.ndarray, labels: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """Accuracy (micro), macro F1, and per-class precision, recall and F1."""
    preds = torch.from_numpy(logits).argmax(1)
    target = torch.from_numpy(labels).long()
    k = len(classes)
    per_class = {
        "precision": multiclass_precision(preds, target, k, average=None, zero_division=0),
        "recall": multiclass_recall(preds, target, k, average=None, zero_division=0),
        "f1": multiclass_f1_score(preds, target, k, average=None, zero_division=0),
    }
    return {
        "accuracy": float(multiclass_accuracy(preds, target, k, average="micro")),
        "macro_f1": float(multiclass_f1_score(preds, target, k, average="macro")),
        "per_class": {name: {m: float(v[i]) for m, v in per_class.items()} for i, name in enumerate(classes)},
    }


def confusion(logits: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    preds = torch.from_numpy(logits).argmax(1)
    return multiclass_confusion_matrix(preds, torch.from_numpy(labels).long(), num_classes).numpy()


def most_confident_mistakes(probs: np.ndarray, labels: np.ndarray, count: int) -> np.ndarray:
    """Indices of wrong predictions, most confident first."""
    preds = probs.argmax(1)
    wrong = np.flatnonzero(preds != labels)
    return wrong[np.argsort(-probs[wrong, preds[wrong]], kind="stable")][:count]
