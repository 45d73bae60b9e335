"""The segmenters' numbers for the pipeline's parent run: test mIoU and pixel accuracy (segment_evaluate)."""

from __future__ import annotations

import json
from pathlib import Path


def headline_metrics(reports: Path) -> dict[str, float]:
    summary: dict[str, float] = {}
    report = reports / "segmentation.json"
    if report.is_file():
        for name, result in json.loads(report.read_text()).items():
            if isinstance(result, dict) and "miou" in result:
                summary[f"{name}/test_miou"] = result["miou"]
                summary[f"{name}/test_pixel_accuracy"] = result["pixel_accuracy"]
    return summary
