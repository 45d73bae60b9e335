"""The detectors' numbers for the pipeline's parent run: test box and mask mAP (detect_evaluate)."""

from __future__ import annotations

import json
from pathlib import Path

KEYS = ("box_map50", "box_map", "mask_map50", "images_per_second_batch1")


def headline_metrics(reports: Path) -> dict[str, float]:
    summary: dict[str, float] = {}
    report = reports / "detection.json"
    if report.is_file():
        for name, result in json.loads(report.read_text()).items():
            if isinstance(result, dict):
                summary.update({f"{name}/test_{k}": result[k] for k in KEYS if k in result})
    return summary
