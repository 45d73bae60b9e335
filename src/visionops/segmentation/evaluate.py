"""The segment_evaluate stage's work: every exported segmenter through onnxruntime on the test scenes: IoU per
class, mIoU, pixel accuracy, images per second; the maps beside the truth and the per-class IoU bars."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

SPEED_SCENES = 200  # scenes timed at batch 1


def images_per_second(sess: onnxruntime.InferenceSession, pixels: np.ndarray) -> float:  # noqa: F821
    """Scenes per second at batch 1 (what one request to a served model sees), after one warm-up run."""
    from visionops.segmentation.runtime import segment

    segment(sess, pixels[:1], batch_size=1)
    started = time.perf_counter()
    segment(sess, pixels, batch_size=1)
    return len(pixels) / (time.perf_counter() - started)


def evaluate_stage(*, models: list[Path], scenes: Path, out: Path, metrics_path: Path, params: Any, root: Path) -> None:
    """Score each `models` folder's segmenter.onnx on the test scenes; write the report and figures."""
    import mlflow

    from visionops.core import tracking
    from visionops.core.figures import per_class_bars
    from visionops.core.io import atomic_dir, atomic_write_json
    from visionops.core.ort import session
    from visionops.data.scenes.cluttered import load_cluttered, scene_classes
    from visionops.segmentation.metrics import segmentation_scores
    from visionops.segmentation.plots import maps_figure
    from visionops.segmentation.runtime import segment

    settings = params.segmentation_evaluation
    test = load_cluttered(scenes, "test")
    classes = scene_classes(scenes)
    truth = test.class_map()
    pixels = test.images.astype(np.float32) / 255.0
    report: dict[str, Any] = {}
    maps: dict[str, np.ndarray] = {}
    with tracking.stage_run("segment_evaluate", params.tracking, root):
        for folder in models:
            name = folder.name
            sess = session(folder / "segmenter.onnx", params.evaluation.ort_threads, "run dvc repro segment_export")
            maps[name] = segment(sess, pixels, settings.batch_size)
            scores = segmentation_scores(maps[name], truth, len(classes) + 1)
            scores["images_per_second_batch1"] = images_per_second(sess, pixels[:SPEED_SCENES])
            report[name] = scores
            mlflow.log_metrics({f"{name}/{k}": v for k, v in scores.items() if isinstance(v, float)})
        report["test_scenes"] = len(test)
        with atomic_dir(out) as tmp:
            shown = slice(0, settings.examples)
            maps_figure(test.images[shown], truth[shown], {k: v[shown] for k, v in maps.items()}, tmp / "maps.png")
            per_class_bars(
                {k: report[k]["iou_per_class"] for k in maps}, classes, "IoU (test scenes)", tmp / "iou_per_class.png"
            )
        atomic_write_json(metrics_path, report)
        mlflow.log_artifacts(str(out), "segmentation")
    for name in maps:
        r = report[name]
        print(
            f"segment_evaluate: {name} mIoU {r['miou']:.4f}, pixel accuracy {r['pixel_accuracy']:.4f}, "
            f"{r['images_per_second_batch1']:.0f} scenes/s at batch 1 (onnxruntime)"
        )
