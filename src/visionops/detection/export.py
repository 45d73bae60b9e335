"""A detector to ONNX: one scene [1, C, H, W] float32 in [0, 1] -> boxes, labels, scores (and masks), fixed
input shape; its parity with torch on test scenes and an empty one; and the detect_export stage's work.

torchvision's detection models export with the TorchScript exporter at batch 1: its dynamo path and a dynamic
batch have open bugs there. Opset 16 or later, so that RoIAlign can be exported with torchvision's sampling.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from visionops.core.errors import UserError
from visionops.detection.runtime import INPUT_NAME, OUTPUT_NAMES, Detections

MIN_OPSET = 16
PARITY_SCORE = 0.3  # parity compares the detections both runtimes score at least this (the evaluation's floor)


class SingleScene(nn.Module):
    """torchvision's list-of-images interface as one tensor in, a tuple of tensors out; with `vote`, the
    classifier's vote re-scores (and re-orders) the detections."""

    def __init__(self, detector: nn.Module, vote: nn.Module | None = None) -> None:
        super().__init__()
        self.detector = detector
        self.vote = vote
        self.masks = detector.roi_heads.has_mask()
        self.eval()

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, ...]:
        found = self.detector([pixels[0]])[0]
        out = [found["boxes"], found["labels"], found["scores"], *([found["masks"]] if self.masks else [])]
        if self.vote is not None:
            out[2], order = self.vote(pixels, found["boxes"], found["labels"], found["scores"])
            out = [t[order] for t in out]
        return tuple(out)


def export_detector(
    wrapper: SingleScene, path: Path, *, classes: list[str], shape: tuple[int, int, int], opset: int
) -> None:
    """Write the detector in `wrapper` as one checked ONNX file with the class names (background first) in its
    metadata."""
    import onnx

    from visionops.core.onnx_export import tag_classes

    names = list(OUTPUT_NAMES if wrapper.masks else OUTPUT_NAMES[:3])
    torch.onnx.export(
        wrapper.eval(),
        (torch.rand(1, *shape),),
        str(path),
        input_names=[INPUT_NAME],
        output_names=names,
        dynamic_axes={name: {0: "detections"} for name in names},
        opset_version=max(opset, MIN_OPSET),
        dynamo=False,
    )
    model = onnx.load(str(path))
    tag_classes(model, ["background", *classes])
    onnx.save_model(model, str(path))
    onnx.checker.check_model(str(path), full_check=True)


def torch_detections(wrapper: SingleScene, pixels: np.ndarray) -> list[Detections]:
    """The torch model's detections of each scene (float32 [N, C, H, W]), as onnxruntime's are returned."""
    out = []
    wrapper.eval()  # the exporter puts back the mode it found
    with torch.no_grad():
        for scene in pixels:
            got = [t.numpy() for t in wrapper(torch.from_numpy(scene[None]))]
            out.append(Detections(got[0], got[1], got[2], got[3][:, 0] if wrapper.masks else None))
    return out


def detector_parity(
    wrapper: SingleScene, path: Path, pixels: np.ndarray, min_score: float = PARITY_SCORE
) -> dict[str, Any]:
    """onnxruntime against torch on each scene: how many scenes keep a different set of detections (count or
    labels, scored at least `min_score`), and over the rest the max |difference| of boxes (px), scores, masks."""
    from visionops.core.ort import session
    from visionops.detection.runtime import detect

    got = detect(session(path), pixels)
    expected = torch_detections(wrapper, pixels)
    worst = {"boxes_px": 0.0, "scores": 0.0, "masks": 0.0}
    differing = 0
    for a, b in zip(got, expected):
        a, b = a.above(min_score), b.above(min_score)
        order = _pair(a, b)
        if order is None:
            differing += 1
            continue
        b = Detections(b.boxes[order], b.labels[order], b.scores[order], None if b.masks is None else b.masks[order])
        if len(a.labels):
            worst["boxes_px"] = max(worst["boxes_px"], float(np.abs(a.boxes - b.boxes).max()))
            worst["scores"] = max(worst["scores"], float(np.abs(a.scores - b.scores).max()))
            if a.masks is not None:
                worst["masks"] = max(worst["masks"], float(np.abs(a.masks - b.masks).max()))
    return {"scenes": len(pixels), "scenes_differing": differing, "max_abs": worst}


def _pair(a: Detections, b: Detections) -> np.ndarray | None:
    """The order of `b`'s detections that pairs each of `a`'s with the one of the same class and nearest box (two
    runtimes may list near-equal scores in another order), or None if the two sets differ in count or classes."""
    if len(a.labels) != len(b.labels) or sorted(a.labels.tolist()) != sorted(b.labels.tolist()):
        return None
    free = np.ones(len(b.labels), bool)
    order = np.zeros(len(a.labels), np.int64)
    for i in range(len(a.labels)):
        distance = np.abs(b.boxes - a.boxes[i]).max(1)
        distance[~free | (b.labels != a.labels[i])] = np.inf
        order[i] = int(distance.argmin())
        free[order[i]] = False
    return order


def export_stage(
    *, name: str, model: Path, classifier: Path, scenes: Path, onnx: Path, metrics_path: Path, params: Any, root: Path
) -> None:
    """Export the detector in `model`, with the vote of the classifier in `classifier` unless
    detection_export.classifier_vote is 0, to ONNX; refuse it unless it matches torch on test scenes and an empty
    one."""
    import mlflow

    from visionops.core import tracking
    from visionops.core.io import atomic_path, atomic_write_json
    from visionops.data.scenes.cluttered import load_cluttered
    from visionops.detection.model_file import load_detector

    settings = params.detection_export
    network, spec = load_detector(model)
    wrapper = SingleScene(network, _vote(classifier, settings.classifier_vote))
    test = load_cluttered(scenes, "test").images[: settings.parity_scenes]
    pixels = np.concatenate([np.zeros_like(test[:1]), test]).astype(np.float32) / 255.0  # the empty scene first
    with tracking.stage_run(f"detect_export@{name}", params.tracking, root):
        mlflow.log_params({f"detection_export.{k}": v for k, v in settings.model_dump().items()})
        with atomic_path(onnx) as tmp:
            export_detector(wrapper, tmp, classes=spec["classes"], shape=pixels.shape[1:], opset=params.export.opset)
            parity = detector_parity(wrapper, tmp, pixels)
            check_detector_parity(parity, settings)
        metrics = {"parity": parity, "fp32_bytes": onnx.stat().st_size}
        atomic_write_json(metrics_path, metrics)
        tracking.log_json_metrics(metrics, prefix="export/")
        mlflow.log_artifact(str(onnx), "onnx")
    print(
        f"detect_export@{name}: {onnx} ({metrics['fp32_bytes'] / 1e6:.2f} MB), parity on {parity['scenes']} scenes: "
        f"{parity['scenes_differing']} differ, max abs {parity['max_abs']}"
    )


def _vote(classifier: Path, weight: float) -> nn.Module | None:
    if weight == 0:
        return None
    from visionops.classifier.model_file import load_classifier
    from visionops.detection.vote import ClassifierVote

    return ClassifierVote(load_classifier(classifier)[0], weight)


def check_detector_parity(parity: dict[str, Any], settings: Any) -> None:
    """Refuse the export (its temporary file is not kept) when onnxruntime and torch disagree beyond the limits."""
    limits = {"boxes_px": settings.parity_box_px, "scores": settings.parity_score, "masks": settings.parity_mask}
    over = {k: v for k, v in parity["max_abs"].items() if v > limits[k]}
    if parity["scenes_differing"] > settings.parity_max_differing or over:
        raise UserError(
            f"ONNX parity failed: {parity['scenes_differing']} of {parity['scenes']} scenes detect differently "
            f"(allowed {settings.parity_max_differing}), over the limits: {over or 'none'} "
            f"(detection_export.parity_*); the export is wrong, not saved"
        )
