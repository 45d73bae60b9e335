"""The classifier to ONNX (pixels -> logits, dynamic batch, class names inside), its parity with torch, INT8 static
QDQ quantisation; and the export stage's work: both files written, checked and logged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from visionops.classifier.predict import INPUT_NAME, OUTPUT_NAME, predict_logits
from visionops.core.errors import UserError
from visionops.core.onnx_export import export_checked, tag_classes
from visionops.core.ort import session


def export_onnx(
    network: nn.Module, path: Path, *, image_shape: tuple[int, ...], classes: list[str], opset: int
) -> None:
    """Write a classifier as one ONNX file taking float pixels [batch, C, H, W] in [0, 1]."""
    export_checked(
        network,
        (torch.rand(2, *image_shape),),
        input_names=[INPUT_NAME],
        output_name=OUTPUT_NAME,
        path=path,
        classes=classes,
        opset=opset,
    )


def parity(
    network: nn.Module, path: Path, *, image_shape: tuple[int, ...], batch_sizes: tuple[int, ...], seed: int = 0
) -> dict[str, float]:
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


def store_ood_threshold(path: Path, val_pixels: np.ndarray, false_alarm: float) -> float:
    """Store in the ONNX file at `path` the threshold on `ood_score` that `false_alarm` of the validation images fall
    below: an input under it is unlike the training data."""
    import onnx

    from visionops.core.onnx_export import set_metadata
    from visionops.core.ort import OOD_KEY, ood_score

    threshold = float(np.quantile(ood_score(predict_logits(session(path), val_pixels)), false_alarm))
    model = onnx.load_model(str(path))
    set_metadata(model, OOD_KEY, repr(threshold))
    onnx.save_model(model, str(path), save_as_external_data=False)
    return threshold


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


def export_stage(
    *, name: str, model: Path, data: Path, onnx_out: Path, int8_out: Path, metrics_out: Path, params: Any, root: Path
) -> None:
    """The `export@<name>` stage: ONNX (refused unless it matches torch), the INT8 model, metrics, MLflow run."""
    import mlflow

    from visionops.classifier.model_file import load_classifier
    from visionops.core import tracking
    from visionops.core.io import atomic_path, atomic_write_json
    from visionops.core.onnx_export import check_parity
    from visionops.data.prepare import load_prepared

    settings = params.export
    network, _ = load_classifier(model)
    prepared = load_prepared(data)
    image_shape = tuple(prepared.train_x.shape[1:])
    with tracking.stage_run(f"export@{name}", params.tracking, root):
        mlflow.log_params({f"export.{k}": v for k, v in settings.model_dump().items()})
        with atomic_path(onnx_out) as tmp:
            export_onnx(network, tmp, image_shape=image_shape, classes=prepared.classes, opset=settings.opset)
            diffs = parity(network, tmp, image_shape=image_shape, batch_sizes=settings.parity_batch_sizes)
            worst = check_parity(diffs, settings.parity_atol)
            val_pixels = (prepared.val_x.float() / 255.0).numpy()
            threshold = store_ood_threshold(tmp, val_pixels, settings.ood_false_alarm)
        metrics = {"parity_max_abs": diffs, "fp32_bytes": onnx_out.stat().st_size, "ood_threshold": threshold}
        if settings.quantize:
            gen = torch.Generator().manual_seed(0)
            pick = torch.randperm(len(prepared.train_y), generator=gen)[: settings.calibration_images]
            calibration = (prepared.train_x[pick].float() / 255.0).numpy()
            with atomic_path(int8_out) as tmp:
                quantize_int8(onnx_out, tmp, calibration, prepared.classes)
            metrics["int8_bytes"] = int8_out.stat().st_size
        else:
            int8_out.unlink(missing_ok=True)
            int8_out.touch()  # DVC needs the declared output; an empty file means "not quantised"
        atomic_write_json(metrics_out, metrics)
        tracking.log_json_metrics(metrics, prefix="export/")
        mlflow.log_artifact(str(onnx_out), "onnx")
    print(
        f"export@{name}: {onnx_out} ({metrics['fp32_bytes'] / 1e6:.2f} MB), parity max abs {worst:.1e}"
        + (f", int8 {metrics['int8_bytes'] / 1e6:.2f} MB" if settings.quantize else "")
    )
