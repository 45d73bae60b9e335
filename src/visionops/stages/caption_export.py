"""DVC stage `caption_export@<model>`: the captioner to encoder.onnx and decoder_step.onnx (each exported in its
own process), ORT parity of both at several batch sizes fails the stage."""

from __future__ import annotations

from pathlib import Path

from visionops.errors import exits_cleanly
from visionops.stages import stage_parser, start


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--name", required=True, help="the model's name (dvc.yaml foreach key)")
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--encoder", type=Path, required=True)
    parser.add_argument("--step", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args(argv)
    params, root = start(args)

    import mlflow

    from visionops import tracking
    from visionops.export.caption_export import export_in_subprocess, pair_parity
    from visionops.export.onnx_export import check_parity
    from visionops.io import atomic_path, atomic_write_json
    from visionops.models.io import load_captioner

    captioner, spec = load_captioner(args.model)
    with tracking.stage_run(f"caption_export@{args.name}", params.tracking, root):
        mlflow.log_params({f"export.{k}": v for k, v in params.export.model_dump().items()})
        with atomic_path(args.encoder) as encoder, atomic_path(args.step) as step:
            export_in_subprocess(args.model, "encoder", encoder, params.export.opset)
            export_in_subprocess(args.model, "decoder_step", step, params.export.opset)
            diffs = pair_parity(captioner, spec, encoder, step, params.export.parity_batch_sizes)
            worst = check_parity(diffs, params.export.parity_atol)
        metrics = {"parity_max_abs": diffs, "encoder_bytes": args.encoder.stat().st_size,
                   "decoder_step_bytes": args.step.stat().st_size}
        atomic_write_json(args.metrics, metrics)
        tracking.log_json_metrics(metrics, prefix="export/")
        mlflow.log_artifact(str(args.encoder), "onnx")
        mlflow.log_artifact(str(args.step), "onnx")
    print(f"caption_export@{args.name}: {args.encoder} ({metrics['encoder_bytes'] / 1e6:.2f} MB), {args.step} "
          f"({metrics['decoder_step_bytes'] / 1e6:.2f} MB), parity max abs {worst:.1e}")


if __name__ == "__main__":
    main()
