"""The VQA family's numbers for the pipeline's parent run: test and held-out accuracy of each model (vqa_evaluate)."""

from __future__ import annotations

import json
from pathlib import Path


def headline_metrics(reports: Path) -> dict[str, float]:
    summary: dict[str, float] = {}
    path = reports / "vqa.json"
    if path.is_file():
        for name, result in json.loads(path.read_text()).items():
            for key, label in (("accuracy", "test_accuracy"), ("heldout_accuracy", "heldout_accuracy")):
                if isinstance(result, dict) and key in result:
                    summary[f"{name}/{label}"] = result[key]
    return summary
