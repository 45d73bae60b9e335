"""The classifiers' numbers for the pipeline's parent run: test accuracy and macro F1 (evaluate), PGD accuracy at the
headline eps (robustness)."""

from __future__ import annotations

import json
from pathlib import Path


def headline_metrics(reports: Path) -> dict[str, float]:
    summary: dict[str, float] = {}
    for metrics_file in sorted(reports.glob("*/metrics.json")):
        model = json.loads(metrics_file.read_text())
        summary[f"{metrics_file.parent.name}/test_accuracy"] = model["accuracy"]
        summary[f"{metrics_file.parent.name}/test_macro_f1"] = model["macro_f1"]
    robustness_file = reports / "robustness.json"
    if robustness_file.is_file():
        for name, result in json.loads(robustness_file.read_text()).items():
            if isinstance(result, dict) and "pgd_headline" in result:
                summary[f"{name}/pgd_accuracy"] = result["pgd_headline"]
    return summary
