"""DVC stage `segment_export@<model>`: the segmenter to ONNX (pixels -> per-pixel class scores, dynamic batch);
onnxruntime's parity with torch on test scenes fails the stage."""

from __future__ import annotations

from pathlib import Path

from visionops.core.stage import stage_main, stage_parser
from visionops.params import start_stage


@stage_main
def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--name", required=True, help="the model's name (dvc.yaml foreach key)")
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--scenes", type=Path, required=True)
    parser.add_argument("--onnx", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args(argv)
    params, root = start_stage(args, stage=f"segment_export@{args.name}")
    from visionops.segmentation.export import export_stage

    export_stage(
        name=args.name,
        model=args.model,
        scenes=args.scenes,
        onnx=args.onnx,
        metrics_path=args.metrics,
        params=params,
        root=root,
    )


if __name__ == "__main__":
    main()
