"""The detect_evaluate stage's work: every exported detector, and the R-CNN baseline on the standard classifier,
through onnxruntime on the test scenes: box (and mask) mAP, AP per class and by size, scenes per second at batch 1;
the detections over the truth and the per-class AP bars."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from visionops.detection.runtime import Detections

SPEED_SCENES = 100  # scenes timed at batch 1
RCNN = "rcnn"


def timed(run: Callable[[np.ndarray], list[Detections]], scenes: np.ndarray) -> tuple[list[Detections], float]:
    """`run` over the scenes one at a time, and its scenes per second on the first SPEED_SCENES (after a warm-up)."""
    run(scenes[:1])
    started = time.perf_counter()
    first = run(scenes[:SPEED_SCENES])
    speed = len(first) / (time.perf_counter() - started)
    return first + run(scenes[SPEED_SCENES:]), speed


def evaluate_stage(
    *, models: list[Path], classifier: Path, scenes: Path, out: Path, metrics_path: Path, params: Any, root: Path
) -> None:
    """Score each `models` folder's detector.onnx and the R-CNN baseline on the test scenes; write the report and
    figures."""
    import mlflow

    from visionops.core import tracking
    from visionops.core.figures import per_class_bars
    from visionops.core.io import atomic_dir, atomic_write_json
    from visionops.core.ort import session
    from visionops.data.scenes.cluttered import load_cluttered, scene_classes
    from visionops.detection.metrics import detection_scores, scene_truth
    from visionops.detection.plots import detections_figure
    from visionops.detection.rcnn import rcnn_detect
    from visionops.detection.runtime import detect

    settings = params.detection_evaluation
    threads = params.evaluation.ort_threads
    test = load_cluttered(scenes, "test")
    classes = scene_classes(scenes)
    truth = scene_truth(test)
    runs: dict[str, Callable[[np.ndarray], list[Detections]]] = {}
    for folder in models:
        sess = session(folder / "detector.onnx", threads, "run dvc repro detect_export")
        runs[folder.name] = lambda s, sess=sess: detect(sess, s.astype(np.float32) / 255.0)
    clf = session(classifier, threads, "run dvc repro export")
    runs[RCNN] = lambda s: [rcnn_detect(clf, scene[0], params.rcnn) for scene in s]
    report: dict[str, Any] = {}
    found: dict[str, list[Detections]] = {}
    with tracking.stage_run("detect_evaluate", params.tracking, root):
        for name, run in runs.items():
            found[name], speed = timed(run, test.images)
            scores = detection_scores(found[name], truth, len(classes), large_side=settings.large_side)
            scores["images_per_second_batch1"] = speed
            report[name] = scores
            mlflow.log_metrics({f"{name}/{k}": v for k, v in scores.items() if isinstance(v, float)})
        report["test_scenes"] = len(test)
        with atomic_dir(out) as tmp:
            shown = slice(0, settings.examples)
            detections_figure(
                test.images[shown],
                truth[shown],
                {k: [d.above(settings.score_thresh) for d in v[shown]] for k, v in found.items()},
                names=["background", *classes],
                path=tmp / "detections.png",
            )
            per_class_bars(
                {k: report[k]["box_ap_per_class"] for k in found}, classes, "box AP@[.5:.95]", tmp / "ap_per_class.png"
            )
        atomic_write_json(metrics_path, report)
        mlflow.log_artifacts(str(out), "detection")
    for name in found:
        r = report[name]
        masks = f", mask mAP@0.5 {r['mask_map50']:.4f}" if "mask_map50" in r else ""
        print(
            f"detect_evaluate: {name} box mAP@0.5 {r['box_map50']:.4f}, mAP@[.5:.95] {r['box_map']:.4f}{masks}, "
            f"{r['images_per_second_batch1']:.0f} scenes/s at batch 1 (onnxruntime)"
        )
