"""A segmenter to ONNX: pixels [batch, C, H, W] float32 in [0, 1] -> scores [batch, 1 + classes, H, W], dynamic
batch, channel 0 the background (log-probabilities averaged over the scene and its mirror image, unless
segmentation_export.mirror_average is false); its parity with torch on scenes; and the segment_export stage's work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from visionops.core.errors import UserError
from visionops.segmentation.runtime import INPUT_NAME, OUTPUT_NAME

BACKGROUND = "background"


class MirrorAveraged(nn.Module):
    """The segmenter's class probabilities averaged over the scene and its mirror image (the mirror's map flipped
    back), as log-probabilities: test-time augmentation that costs a second pass."""

    def __init__(self, segmenter: nn.Module) -> None:
        super().__init__()
        self.segmenter = segmenter
        self.channels = segmenter.channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        both = self.segmenter(torch.cat([x, x.flip(-1)])).float().softmax(1)  # one pass: one set of weights
        n = x.shape[0]
        return ((both[:n] + both[n:].flip(-1)) / 2).clamp_min(torch.finfo(torch.float32).tiny).log()


def export_segmenter(
    network: nn.Module, path: Path, *, classes: list[str], height: int, width: int, opset: int
) -> None:
    """Write `network` as one checked ONNX file; its metadata names every score channel (background first)."""
    from visionops.core.onnx_export import export_checked

    example = (torch.rand(2, network.channels, height, width),)
    export_checked(
        network,
        example,
        input_names=[INPUT_NAME],
        output_name=OUTPUT_NAME,
        path=path,
        classes=[BACKGROUND, *classes],
        opset=opset,
    )


def segmenter_parity(
    network: nn.Module, path: Path, scenes: np.ndarray, batch_sizes: tuple[int, ...]
) -> dict[str, Any]:
    """Max |ORT - torch| of the scores, and the share of pixels whose class differs, at each batch size (the first
    scenes of `scenes`, uint8 [N, C, H, W])."""
    from visionops.core.ort import session

    sess = session(path)
    diffs, disagree = {}, {}
    for n in batch_sizes:
        pixels = scenes[:n].astype(np.float32) / 255.0
        if len(pixels) < n:
            raise UserError(f"parity at batch {n} needs {n} test scenes; there are {len(scenes)}")
        with torch.no_grad():
            expected = network.eval()(torch.from_numpy(pixels)).numpy()
        got = sess.run([OUTPUT_NAME], {INPUT_NAME: pixels})[0]
        if got.shape != expected.shape:
            raise UserError(f"{path}: ONNX output shape {got.shape} at batch {n}, torch gives {expected.shape}")
        diffs[f"batch_{n}"] = float(np.abs(got - expected).max())
        disagree[f"batch_{n}"] = float((got.argmax(1) != expected.argmax(1)).mean())
    return {"max_abs": diffs, "pixels_disagreeing": disagree}


def export_stage(
    *, name: str, model: Path, scenes: Path, onnx: Path, metrics_path: Path, params: Any, root: Path
) -> None:
    """Export the segmenter in `model` to ONNX; refuse it unless it matches torch on test scenes."""
    import mlflow

    from visionops.core import tracking
    from visionops.core.io import atomic_path, atomic_write_json
    from visionops.core.onnx_export import check_parity
    from visionops.data.scenes.cluttered import load_cluttered
    from visionops.segmentation.model_file import load_segmenter

    network, spec = load_segmenter(model)
    if params.segmentation_export.mirror_average:
        network = MirrorAveraged(network)
    test = load_cluttered(scenes, "test").images
    _, _, height, width = test.shape
    with tracking.stage_run(f"segment_export@{name}", params.tracking, root):
        mlflow.log_params({f"export.{k}": v for k, v in params.export.model_dump().items()})
        mlflow.log_params({f"segmentation_export.{k}": v for k, v in params.segmentation_export.model_dump().items()})
        with atomic_path(onnx) as tmp:
            export_segmenter(
                network, tmp, classes=spec["classes"], height=height, width=width, opset=params.export.opset
            )
            parity = segmenter_parity(network, tmp, test, params.export.parity_batch_sizes)
            worst = check_parity(parity["max_abs"], params.export.parity_atol)
        metrics = {"parity": parity, "fp32_bytes": onnx.stat().st_size}
        atomic_write_json(metrics_path, metrics)
        tracking.log_json_metrics(metrics, prefix="export/")
        mlflow.log_artifact(str(onnx), "onnx")
    print(f"segment_export@{name}: {onnx} ({metrics['fp32_bytes'] / 1e6:.2f} MB), parity max abs {worst:.1e}")
