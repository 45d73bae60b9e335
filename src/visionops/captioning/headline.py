"""The captioners' numbers for the pipeline's parent run: BLEU-4, CIDEr-D and truthfulness of the beam-search
captions on the test and held-out scenes (caption_evaluate)."""

from __future__ import annotations

import json
from pathlib import Path


def headline_metrics(reports: Path) -> dict[str, float]:
    summary: dict[str, float] = {}
    captioning_file = reports / "captioning.json"
    if captioning_file.is_file():
        for name, result in json.loads(captioning_file.read_text()).items():
            for split in ("test", "heldout"):
                for key in ("bleu_4", "cider_d", "truthfulness"):
                    if key in result.get(split, {}).get("beam", {}):
                        summary[f"{name}/{split}_{key}"] = result[split]["beam"][key]
    return summary
