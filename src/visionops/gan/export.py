"""The EMA generator to ONNX: noise [batch, latent] float32 (+ label [batch] int64) -> image [batch, C, H, W] in [0, 1],
its parity with torch; and the gan_export stage's work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from visionops.core.errors import UserError
from visionops.core.onnx_export import export_checked
from visionops.core.ort import session
from visionops.gan.sample import IMAGE_NAME, LABEL_NAME, NOISE_NAME, generate


def export_generator(generator: nn.Module, path: Path, *, classes: list[str], opset: int) -> None:
    """Write a generator as noise [batch, latent] float32 (+ label [batch] int64) -> image [batch, C, H, W] in
    [0, 1]."""
    example = generator_inputs(generator, 2)
    names = [NOISE_NAME, LABEL_NAME][: len(example)]
    export_checked(
        generator, example, input_names=names, output_name=IMAGE_NAME, path=path, classes=classes, opset=opset
    )


def generator_inputs(generator: nn.Module, n: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Seeded noise, and labels cycling through the classes if the generator is conditional."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, generator.latent_dim, generator=gen)
    return (z, torch.arange(n) % generator.num_classes) if generator.num_classes else (z,)


def generator_parity(generator: nn.Module, path: Path, batch_sizes: tuple[int, ...]) -> dict[str, float]:
    """Max |ORT - torch| of the generated pixels at each batch size."""
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


def export_stage(
    *, name: str, model: Path, data: Path, onnx: Path, metrics_path: Path, params: Any, root: Path
) -> None:
    """Export the EMA generator in `model` to ONNX; refuse it unless it matches torch."""
    import mlflow

    from visionops.core import tracking
    from visionops.core.io import atomic_path, atomic_write_json
    from visionops.core.onnx_export import check_parity
    from visionops.data.prepare import prepared_classes
    from visionops.gan.model_file import load_generator

    generator, _ = load_generator(model)
    classes = prepared_classes(data)  # the manifest, not the whole dataset
    with tracking.stage_run(f"gan_export@{name}", params.tracking, root):
        mlflow.log_params({f"export.{k}": v for k, v in params.export.model_dump().items()})
        with atomic_path(onnx) as tmp:
            export_generator(generator, tmp, classes=classes, opset=params.export.opset)
            diffs = generator_parity(generator, tmp, params.export.parity_batch_sizes)
            worst = check_parity(diffs, params.export.parity_atol)
        metrics = {"parity_max_abs": diffs, "fp32_bytes": onnx.stat().st_size}
        atomic_write_json(metrics_path, metrics)
        tracking.log_json_metrics(metrics, prefix="export/")
        mlflow.log_artifact(str(onnx), "onnx")
    print(f"gan_export@{name}: {onnx} ({metrics['fp32_bytes'] / 1e6:.2f} MB), parity max abs {worst:.1e}")
