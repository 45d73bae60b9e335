"""Torch network -> ONNX (dynamic batch, one file, full checker), ORT parity, INT8 QDQ quantisation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from visionops.errors import UserError
from visionops.inference import CLASSES_KEY, INPUT_NAME, OUTPUT_NAME, predict_logits, session


def _export(network: nn.Module, example: tuple[torch.Tensor, ...], input_names: list[str], output_name: str,
            path: Path, classes: list[str], opset: int) -> None:
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


def export_onnx(network: nn.Module, path: Path, image_shape: tuple[int, ...], classes: list[str], opset: int) -> None:
    """Write a classifier as one ONNX file taking float pixels [batch, C, H, W] in [0, 1]."""
    _export(network, (torch.rand(2, *image_shape),), [INPUT_NAME], OUTPUT_NAME, path, classes, opset)


def export_generator(generator: nn.Module, path: Path, classes: list[str], opset: int) -> None:
    """Write a generator as noise [batch, latent] float32 (+ label [batch] int64) -> image [batch, C, H, W] in [0, 1]."""
    from visionops.generation import IMAGE_NAME, LABEL_NAME, NOISE_NAME

    example = generator_inputs(generator, 2)
    names = [NOISE_NAME, LABEL_NAME][: len(example)]
    _export(generator, example, names, IMAGE_NAME, path, classes, opset)


def generator_inputs(generator: nn.Module, n: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Seeded noise, and labels cycling through the classes if the generator is conditional."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, generator.latent_dim, generator=gen)
    return (z, torch.arange(n) % generator.num_classes) if generator.num_classes else (z,)


def generator_parity(generator: nn.Module, path: Path, batch_sizes: tuple[int, ...]) -> dict[str, float]:
    """Max |ORT - torch| of the generated pixels at each batch size."""
    from visionops.generation import generate

    sess = session(path)
    diffs = {}
    for n in batch_sizes:
        inputs = generator_inputs(generator, n, seed=n)
        with torch.no_grad():
            expected = generator.eval()(*inputs).numpy()
        got = generate(sess, *(t.numpy() for t in inputs))
        if got.shape != expected.shape:
            raise UserError(f"{path}: ONNX output shape {got.shape} at batch {n}, torch gives {expected.shape}")
        diffs[f"batch_{n}"] = float(np.abs(got - expected).max())
    return diffs


def tag_classes(model: "onnx.ModelProto", classes: list[str]) -> None:  # noqa: F821
    """Store the class names in the model, so a shipped .onnx file needs nothing beside it."""
    for prop in model.metadata_props:
        if prop.key == CLASSES_KEY:
            prop.value = json.dumps(classes)
            return
    prop = model.metadata_props.add()
    prop.key, prop.value = CLASSES_KEY, json.dumps(classes)


def parity(network: nn.Module, path: Path, image_shape: tuple[int, ...], batch_sizes: tuple[int, ...], seed: int = 0) -> dict[str, float]:
    """Max |ORT - torch| of the logits at each batch size, on random pixels."""
    sess = session(path)
    gen = torch.Generator().manual_seed(seed)
    diffs = {}
    for n in batch_sizes:
        x = torch.rand(n, *image_shape, generator=gen)
        with torch.no_grad():
            expected = network.eval()(x).numpy()
        got = predict_logits(sess, x.numpy(), batch_size=n)
        if got.shape != expected.shape:
            raise UserError(f"{path}: ONNX output shape {got.shape} at batch {n}, torch gives {expected.shape}")
        diffs[f"batch_{n}"] = float(np.abs(got - expected).max())
    return diffs


def check_parity(diffs: dict[str, float], atol: float) -> float:
    """The worst |ORT - torch|; above `atol` the export is refused (the caller's temporary file is not kept)."""
    worst = max(diffs.values())
    if worst > atol:
        raise UserError(
            f"ONNX parity failed: max |onnxruntime - torch| = {worst:.2e} > export.parity_atol {atol:.0e} ({diffs}); "
            "the export is wrong, not saved"
        )
    return worst


def quantize_int8(fp32: Path, out: Path, calibration: np.ndarray, classes: list[str]) -> None:
    """Static INT8 quantisation in QDQ format, calibrated on `calibration` pixels (float32 [N, C, H, W])."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(np.array_split(calibration.astype(np.float32), max(1, len(calibration) // 64)))

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self.batches, None)
            return None if batch is None else {INPUT_NAME: batch}

    preprocessed = out.with_name(out.name + ".pre.onnx")
    try:
        quant_pre_process(str(fp32), str(preprocessed), skip_symbolic_shape=True)
        quantize_static(
            str(preprocessed),
            str(out),
            Reader(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
        )
    finally:
        preprocessed.unlink(missing_ok=True)
    import onnx

    model = onnx.load_model(str(out))
    tag_classes(model, classes)
    onnx.save_model(model, str(out), save_as_external_data=False)
    onnx.checker.check_model(str(out), full_check=True)
