"""The GANs' numbers for the pipeline's parent run: FD/floor, precision, recall, conditional accuracy (gan_evaluate)."""

from __future__ import annotations

import json
from pathlib import Path


def headline_metrics(reports: Path) -> dict[str, float]:
    summary: dict[str, float] = {}
    gan_file = reports / "gan.json"
    if gan_file.is_file():
        for name, result in json.loads(gan_file.read_text()).items():
            if isinstance(result, dict) and "fd_ratio" in result:
                for key in ("fd_ratio", "precision", "recall", "conditional_accuracy"):
                    if key in result:
                        summary[f"{name}/{key}"] = result[key]
    return summary
