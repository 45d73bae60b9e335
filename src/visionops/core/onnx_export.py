"""Torch module -> one checked ONNX file with a dynamic batch axis and class names in its metadata; the parity
verdict."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from visionops.core.errors import UserError
from visionops.core.ort import CLASSES_KEY


def export_checked(
    network: nn.Module,
    example: tuple[torch.Tensor, ...],
    *,
    input_names: list[str],
    output_name: str,
    path: Path,
    classes: list[str],
    opset: int,
) -> None:
    """Write `network` as one checked ONNX file, every input's first axis a dynamic batch."""
    import onnx

    batch = torch.export.Dim("batch", min=1, max=65536)
    program = torch.onnx.export(
        network.eval(),
        example,
        input_names=input_names,
        output_names=[output_name],
        opset_version=opset,
        dynamo=True,
        dynamic_shapes=tuple({0: batch} for _ in example),
        external_data=False,
        verbose=False,
    )
    model = program.model_proto
    tag_classes(model, classes)
    onnx.save_model(model, str(path), save_as_external_data=False)
    onnx.checker.check_model(str(path), full_check=True)


def tag_classes(model: onnx.ModelProto, classes: list[str]) -> None:  # noqa: F821
    """Store the class names in the model, so a shipped .onnx file needs nothing beside it."""
    set_metadata(model, CLASSES_KEY, json.dumps(classes))


def set_metadata(model: onnx.ModelProto, key: str, value: str) -> None:  # noqa: F821
    for prop in model.metadata_props:
        if prop.key == key:
            prop.value = value
            return
    prop = model.metadata_props.add()
    prop.key, prop.value = key, value


def check_parity(diffs: dict[str, float], atol: float) -> float:
    """The worst |ORT - torch|; above `atol` the export is refused (the caller's temporary file is not kept)."""
    worst = max(diffs.values())
    if worst > atol:
        raise UserError(
            f"ONNX parity failed: max |onnxruntime - torch| = {worst:.2e} > export.parity_atol {atol:.0e} ({diffs}); "
            "the export is wrong, not saved"
        )
    return worst
