"""Each family's headline numbers, gathered for the pipeline's parent run (what a user sorts runs by in MLflow).

A new family adds its `headline_metrics` here; the orchestrator never names a family's report file.
"""

from __future__ import annotations

from pathlib import Path

from visionops.captioning.headline import headline_metrics as captioning_headline
from visionops.classifier.headline import headline_metrics as classifier_headline
from visionops.detection.headline import headline_metrics as detection_headline
from visionops.gan.headline import headline_metrics as gan_headline
from visionops.segmentation.headline import headline_metrics as segmentation_headline
from visionops.vqa.headline import headline_metrics as vqa_headline

FAMILIES = (
    classifier_headline,
    gan_headline,
    captioning_headline,
    segmentation_headline,
    detection_headline,
    vqa_headline,
)


def headline_metrics(reports: Path) -> dict[str, float]:
    """{"<model>/<metric>": value} from the report files the stages wrote under `reports`."""
    summary: dict[str, float] = {}
    for family in FAMILIES:
        summary.update(family(reports))
    return summary
