"""A VQA network to one ONNX file (image + question token ids, dynamic batch and length -> answer logits), with the
vocabulary and answers in its metadata; its parity with torch on test questions; the vqa_export stage's work.

The TorchScript exporter is used: for a small LSTM it is ~40x faster than the dynamo exporter (DESIGN.md), and
each stage exports one model in its own process (several LSTM exports in one process can freeze the length axis).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from visionops.core.errors import UserError
from visionops.vqa.runtime import IMAGE, LOGITS, META_KEY, QUESTION


class _QuestionOnly(nn.Module):
    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, question: torch.Tensor) -> torch.Tensor:
        return self.network(None, question)


def export_vqa(network: nn.Module, spec: dict[str, Any], path: Path, *, opset: int) -> None:
    import warnings

    import onnx

    blind = network.trunk is None
    tokens = torch.randint(1, len(spec["vocab"]), (2, 3))  # shorter than any question: parity checks other lengths
    wrapper, example, names = (
        (_QuestionOnly(network), (tokens,), [QUESTION])
        if blind
        else (network, (torch.rand(2, *spec["image_shape"]), tokens), [IMAGE, QUESTION])
    )
    axes = {IMAGE: {0: "batch"}, QUESTION: {0: "batch", 1: "length"}, LOGITS: {0: "batch"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracing nn.LSTM warns about batch sizes; the parity check covers them
        torch.onnx.export(
            wrapper.eval(),
            example,
            str(path),
            input_names=names,
            output_names=[LOGITS],
            opset_version=opset,
            dynamo=False,
            dynamic_axes={k: v for k, v in axes.items() if k in names or k == LOGITS},
        )
    model = onnx.load_model(str(path))
    prop = model.metadata_props.add()
    meta = {k: spec[k] for k in ("vocab", "answers", "image_shape", "model", "encoder")}
    prop.key, prop.value = META_KEY, json.dumps(meta)
    onnx.save_model(model, str(path), save_as_external_data=False)
    onnx.checker.check_model(str(path), full_check=True)


def vqa_parity(
    network: nn.Module, path: Path, *, images: np.ndarray, questions: list[dict], batch_sizes: tuple[int, ...]
) -> dict[str, dict[str, float]]:
    """Max |ORT - torch| of the logits and the share of answers that differ, on the first test questions at each
    batch size (their lengths differ from the export's example, so the length axis is checked too)."""
    from visionops.vqa.encoding import encode
    from visionops.vqa.runtime import load_ort_vqa

    ort = load_ort_vqa(path)
    diffs, differ = {}, {}
    for n in batch_sizes:
        asked = questions[:n]
        if len(asked) < n:
            raise UserError(f"parity at batch {n} needs {n} test questions; there are {len(questions)}")
        tokens = encode([q["question"] for q in asked], ort.meta["vocab"])
        pixels = images[[q["scene"] for q in asked]].astype(np.float32) / 255.0
        with torch.no_grad():
            expected = network.eval()(
                None if network.trunk is None else torch.from_numpy(pixels), torch.from_numpy(tokens)
            ).numpy()
        got = ort.logits(pixels, tokens)
        diffs[f"batch_{n}"] = float(np.abs(got - expected).max())
        differ[f"batch_{n}"] = float((got.argmax(1) != expected.argmax(1)).mean())
    return {"max_abs": diffs, "answers_differing": differ}


def export_stage(
    *, name: str, model: Path, scenes: Path, questions: Path, onnx: Path, metrics_path: Path, params: Any, root: Path
) -> None:
    """Export the VQA network in `model` to ONNX; refuse it unless it matches torch on test questions."""
    import mlflow

    from visionops.core import tracking
    from visionops.core.io import atomic_path, atomic_write_json
    from visionops.core.onnx_export import check_parity
    from visionops.data.scenes.compose import load_split
    from visionops.data.scenes.questions import load_questions
    from visionops.vqa.model_file import load_vqa

    network, spec = load_vqa(model)
    images, asked = load_split(scenes, "test").images, load_questions(questions, "test")
    with tracking.stage_run(f"vqa_export@{name}", params.tracking, root):
        mlflow.log_params({f"export.{k}": v for k, v in params.export.model_dump().items()})
        with atomic_path(onnx) as tmp:
            export_vqa(network, spec, tmp, opset=params.export.opset)
            parity = vqa_parity(
                network, tmp, images=images, questions=asked, batch_sizes=tuple(params.export.parity_batch_sizes)
            )
            worst = check_parity(parity["max_abs"], params.export.parity_atol)
        metrics = {"parity": parity, "fp32_bytes": onnx.stat().st_size}
        atomic_write_json(metrics_path, metrics)
        tracking.log_json_metrics(metrics, prefix="export/")
        mlflow.log_artifact(str(onnx), "onnx")
    print(f"vqa_export@{name}: {onnx} ({metrics['fp32_bytes'] / 1e6:.2f} MB), parity max abs {worst:.1e}")
