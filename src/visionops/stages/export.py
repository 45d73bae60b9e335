"""DVC stage `export@<model>`: ONNX with a dynamic batch, checked; ORT parity fails the stage; optional INT8 model."""

from __future__ import annotations

from pathlib import Path

from visionops.errors import exits_cleanly
from visionops.stages import stage_parser, start


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--name", required=True, help="the model's name (dvc.yaml foreach key)")
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--onnx", type=Path, required=True)
    parser.add_argument("--int8", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args(argv)
    params, root = start(args)

    import mlflow
    import torch

    from visionops import tracking
    from visionops.data.prepare import load_prepared
    from visionops.export.onnx_export import check_parity, export_onnx, parity, quantize_int8
    from visionops.io import atomic_path, atomic_write_json
    from visionops.models.io import load_model

    network, spec = load_model(args.model)
    data = load_prepared(args.data)
    image_shape = tuple(data.train_x.shape[1:])
    with tracking.stage_run(f"export@{args.name}", params.tracking, root):
        mlflow.log_params({f"export.{k}": v for k, v in params.export.model_dump().items()})
        with atomic_path(args.onnx) as tmp:
            export_onnx(network, tmp, image_shape, data.classes, params.export.opset)
            diffs = parity(network, tmp, image_shape, params.export.parity_batch_sizes)
            worst = check_parity(diffs, params.export.parity_atol)
        metrics = {"parity_max_abs": diffs, "fp32_bytes": args.onnx.stat().st_size}
        if params.export.quantize:
            gen = torch.Generator().manual_seed(0)
            pick = torch.randperm(len(data.train_y), generator=gen)[: params.export.calibration_images]
            calibration = (data.train_x[pick].float() / 255.0).numpy()
            with atomic_path(args.int8) as tmp:
                quantize_int8(args.onnx, tmp, calibration, data.classes)
            metrics["int8_bytes"] = args.int8.stat().st_size
        else:
            args.int8.unlink(missing_ok=True)
            args.int8.touch()  # DVC needs the declared output; an empty file means "not quantised"
        atomic_write_json(args.metrics, metrics)
        tracking.log_json_metrics(metrics, prefix="export/")
        mlflow.log_artifact(str(args.onnx), "onnx")
    print(f"export@{args.name}: {args.onnx} ({metrics['fp32_bytes'] / 1e6:.2f} MB), parity max abs {worst:.1e}"
          + (f", int8 {metrics['int8_bytes'] / 1e6:.2f} MB" if params.export.quantize else ""))


if __name__ == "__main__":
    main()
