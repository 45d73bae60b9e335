"""DVC stage `gan_export@<model>`: the EMA generator to ONNX (noise [+ label] -> image, dynamic batch); ORT
parity fails the stage."""

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
    parser.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args(argv)
    params, root = start(args)

    import mlflow

    from visionops import tracking
    from visionops.data.prepare import load_prepared
    from visionops.export.onnx_export import check_parity, export_generator, generator_parity
    from visionops.io import atomic_path, atomic_write_json
    from visionops.models.io import load_generator

    generator, _ = load_generator(args.model)
    classes = load_prepared(args.data).classes
    with tracking.stage_run(f"gan_export@{args.name}", params.tracking, root):
        mlflow.log_params({f"export.{k}": v for k, v in params.export.model_dump().items()})
        with atomic_path(args.onnx) as tmp:
            export_generator(generator, tmp, classes, params.export.opset)
            diffs = generator_parity(generator, tmp, params.export.parity_batch_sizes)
            worst = check_parity(diffs, params.export.parity_atol)
        metrics = {"parity_max_abs": diffs, "fp32_bytes": args.onnx.stat().st_size}
        atomic_write_json(args.metrics, metrics)
        tracking.log_json_metrics(metrics, prefix="export/")
        mlflow.log_artifact(str(args.onnx), "onnx")
    print(f"gan_export@{args.name}: {args.onnx} ({metrics['fp32_bytes'] / 1e6:.2f} MB), parity max abs {worst:.1e}")


if __name__ == "__main__":
    main()
