"""Answer accuracy overall, per question type and per true answer (torch-free)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np


def accuracy_report(predicted: Sequence[str | None], questions: Sequence[dict]) -> dict:
    """{"accuracy", "questions", "per_type": {type: acc}, "per_answer": {answer: acc}, "per_type_count"} of answers
    against truth; None (no answer) counts as wrong."""
    right = np.array([p == q["answer"] for p, q in zip(predicted, questions, strict=True)], bool)
    groups: dict[str, dict[str, list[int]]] = {"per_type": defaultdict(list), "per_answer": defaultdict(list)}
    for i, q in enumerate(questions):
        groups["per_type"][q["type"]].append(i)
        groups["per_answer"][q["answer"]].append(i)
    return {
        "accuracy": float(right.mean()) if len(right) else float("nan"),
        "questions": len(right),
        **{name: {k: float(right[ids].mean()) for k, ids in sorted(g.items())} for name, g in groups.items()},
        "per_type_count": {k: len(ids) for k, ids in sorted(groups["per_type"].items())},
    }


def heldout_gap(test: dict, heldout: dict) -> tuple[float, float]:
    """(test accuracy on the held-out split's own question types, that minus the held-out accuracy): the held-out
    split asks only relational questions, so the gap compares like with like."""
    kinds = [k for k in heldout["per_type"] if k in test["per_type"]]
    weight = sum(test["per_type_count"][k] for k in kinds)
    same = sum(test["per_type"][k] * test["per_type_count"][k] for k in kinds) / weight if weight else float("nan")
    return same, same - heldout["accuracy"]


def confusion(predicted: Sequence[str | None], questions: Sequence[dict], answers: Sequence[str]) -> np.ndarray:
    """[true answer, predicted answer] counts over `answers` (an unknown prediction is left out)."""
    index = {a: i for i, a in enumerate(answers)}
    out = np.zeros((len(answers), len(answers)), np.int64)
    for p, q in zip(predicted, questions, strict=True):
        if p in index:
            out[index[q["answer"]], index[p]] += 1
    return out
