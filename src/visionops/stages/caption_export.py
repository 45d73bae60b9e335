"""DVC stage `caption_export@<model>`: the captioner to encoder.onnx and decoder_step.onnx (each exported in its
own process), ORT parity of both at several batch sizes fails the stage."""

from __future__ import annotations

from pathlib import Path

from visionops.core.stage import stage_main, stage_parser
from visionops.params import start_stage


@stage_main
def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--name", required=True, help="the model's name (dvc.yaml foreach key)")
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--encoder", type=Path, required=True)
    parser.add_argument("--step", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args(argv)
    params, root = start_stage(args, stage=f"caption_export@{args.name}")
    from visionops.captioning.export import export_stage

    export_stage(
        name=args.name,
        model=args.model,
        encoder_path=args.encoder,
        step_path=args.step,
        metrics_path=args.metrics,
        params=params,
        root=root,
    )


if __name__ == "__main__":
    main()
