"""The segment_train stage's work: fit one segmenter on the cluttered scenes, log it to MLflow, save its weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from visionops.core.lightning import quiet_lightning


def train_stage(
    *,
    name: str,
    section: str,
    scenes: Path,
    classifier_path: Path,
    checkpoints: Path,
    model: Path,
    metrics_path: Path,
    params: Any,
    root: Path,
) -> None:
    """Train the segmenter of params section `section` as pipeline model `name` (with encoder: classifier, from the
    trunk of the classifier in `classifier_path`)."""
    from visionops.segmentation.params import SegmenterParams

    segmenter = params.section(section, SegmenterParams)
    quiet_lightning()

    from visionops.classifier.model_file import load_trunk_source
    from visionops.core.training import fit_tracked
    from visionops.data.scenes.cluttered import training_scenes
    from visionops.segmentation.fit import fit_segmenter

    trunk = segmenter.encoder == "classifier"
    splits, classes, digest = training_scenes(scenes, [classifier_path] if trunk else [])
    classifier = load_trunk_source(classifier_path, section) if trunk else None
    metrics = fit_tracked(
        stage=f"segment_train@{name}",
        name=name,
        section=section,
        settings=segmenter,
        params=params,
        root=root,
        model=model,
        metrics_path=metrics_path,
        fit=lambda logger: fit_segmenter(
            segmenter,
            splits,
            classes,
            ckpt_dir=checkpoints,
            data_digest=digest,
            section=section,
            classifier=classifier,
            logger=logger,
        ),
        extra_metrics={"train_scenes": len(splits["train"])},
    )
    print(
        f"segment_train@{name}: {segmenter.network}, val mIoU {metrics['val_miou']:.4f} "
        f"in {metrics['fit_seconds']:.0f}s"
    )
