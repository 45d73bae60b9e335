"""Each family's headline numbers, gathered for the pipeline's parent run (what a user sorts runs by in MLflow).

A new family adds itself here (its `headline_metrics`, figures and registered models; `visionops report` shows the
same); the orchestrator never names a family's report file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from visionops.captioning.headline import headline_metrics as captioning_headline
from visionops.classifier.headline import headline_metrics as classifier_headline
from visionops.detection.headline import headline_metrics as detection_headline
from visionops.gan.headline import headline_metrics as gan_headline
from visionops.segmentation.headline import headline_metrics as segmentation_headline
from visionops.vqa.headline import headline_metrics as vqa_headline


class Family(NamedTuple):
    """What the parent run and the report show of one family."""

    title: str
    headline: Callable[[Path], dict[str, float]]
    figures: tuple[str, ...]  # under reports/: PNG files, or folders whose PNGs are shown
    registered: tuple[str, ...]  # the models whose reports/<model>/registry.json holds their registration


FAMILIES = (
    Family(
        "Classifiers and adversarial robustness",
        classifier_headline,
        ("standard/evaluation", "robust/evaluation", "robustness"),
        ("standard", "robust"),
    ),
    Family("GANs", gan_headline, ("dcgan/samples.png", "cgan/samples.png", "gan"), ("dcgan", "cgan")),
    Family("Captioning", captioning_headline, ("captioning",), ("show_tell", "attention")),
    Family("Segmentation", segmentation_headline, ("segmentation",), ("deconvnet", "fcn")),
    Family("Detection", detection_headline, ("detection",), ("maskrcnn",)),
    Family("Visual question answering", vqa_headline, ("vqa",), ("cnn_lstm", "film")),
)


def headline_metrics(reports: Path) -> dict[str, float]:
    """{"<model>/<metric>": value} from the report files the stages wrote under `reports`."""
    summary: dict[str, float] = {}
    for family in FAMILIES:
        summary.update(family.headline(reports))
    return summary
