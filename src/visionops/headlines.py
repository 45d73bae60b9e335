"""Each family's headline numbers, gathered for the pipeline's parent run (what a user sorts runs by in MLflow).

The parent run's keys are `<family>/<model>_<metric>` (`classifier/robust_pgd_accuracy`): MLflow's chart view makes
one section per prefix before the last `/`, so each family's numbers sit together, and the runs table's column list
groups them the same way.

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
    prefix: str  # of its metrics in the parent run
    headline: Callable[[Path], dict[str, float]]
    figures: tuple[str, ...]  # under reports/: PNG files, or folders whose PNGs are shown
    registered: tuple[str, ...]  # the models whose reports/<model>/registry.json holds their registration


FAMILIES = (
    Family(
        "Classifiers and adversarial robustness",
        "classifier",
        classifier_headline,
        ("standard/evaluation", "robust/evaluation", "robustness"),
        ("standard", "robust"),
    ),
    Family("GANs", "gan", gan_headline, ("dcgan/samples.png", "cgan/samples.png", "gan"), ("dcgan", "cgan")),
    Family("Captioning", "captioning", captioning_headline, ("captioning",), ("show_tell", "attention")),
    Family("Segmentation", "segmentation", segmentation_headline, ("segmentation",), ("deconvnet", "fcn")),
    Family("Detection", "detection", detection_headline, ("detection",), ("maskrcnn",)),
    Family("Visual question answering", "vqa", vqa_headline, ("vqa",), ("cnn_lstm", "film")),
)


def headlines_by_model(reports: Path) -> dict[tuple[str, str], dict[str, float]]:
    """{(family prefix, model): {"<metric>": value}} from the report files the stages wrote under `reports` (each
    family's headline function gives "<model>/<metric>"); a family not run yet gives nothing."""
    found: dict[tuple[str, str], dict[str, float]] = {}
    for family in FAMILIES:
        for key, value in family.headline(reports).items():
            model, metric = key.split("/", 1)
            found.setdefault((family.prefix, model), {})[metric] = value
    return found


def headline_metrics(reports: Path) -> dict[str, float]:
    """{"<family>/<model>_<metric>": value}: the parent run's metrics."""
    return {
        f"{prefix}/{model}_{metric}": value
        for (prefix, model), metrics in headlines_by_model(reports).items()
        for metric, value in metrics.items()
    }
