"""DVC stage `export@<model>`: ONNX with a dynamic batch, checked; ORT parity fails the stage; optional INT8 model."""

from __future__ import annotations

from pathlib import Path

from visionops.core.stage import stage_main, stage_parser
from visionops.params import start_stage


@stage_main
def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--name", required=True, help="the model's name (dvc.yaml foreach key)")
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--onnx", type=Path, required=True)
    parser.add_argument("--int8", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args(argv)
    params, root = start_stage(args, stage=f"export@{args.name}")
    from visionops.classifier.export import export_stage

    export_stage(
        name=args.name,
        model=args.model,
        data=args.data,
        onnx_out=args.onnx,
        int8_out=args.int8,
        metrics_out=args.metrics,
        params=params,
        root=root,
    )


if __name__ == "__main__":
    main()
