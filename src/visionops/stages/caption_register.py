"""DVC stage `caption_register@<model>`: the encoder/decoder_step pair into the MLflow registry as one pyfunc
model; challenger always, champion if its test truthfulness beats the champion's and clears the gate."""

from __future__ import annotations

from pathlib import Path

from visionops.core.stage import stage_main, stage_parser
from visionops.params import start_stage


@stage_main
def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--name", required=True, help="the model's name (dvc.yaml foreach key)")
    parser.add_argument("--folder", type=Path, required=True, help="holding encoder.onnx and decoder_step.onnx")
    parser.add_argument("--metrics", type=Path, required=True, help="the caption_evaluate stage's metrics")
    parser.add_argument("--scenes", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    params, root = start_stage(args, stage=f"caption_register@{args.name}")
    from visionops.captioning.register import register_stage

    register_stage(
        name=args.name,
        folder=args.folder,
        metrics=args.metrics,
        scenes=args.scenes,
        out=args.out,
        params=params,
        root=root,
    )


if __name__ == "__main__":
    main()
