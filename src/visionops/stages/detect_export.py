"""DVC stage `detect_export@<model>`: the detector, with the standard classifier's vote on its detections, to ONNX
(one scene -> boxes, labels, scores, masks; a fixed input shape); onnxruntime's parity with torch on test scenes and
an empty one fails the stage."""

from __future__ import annotations

from pathlib import Path

from visionops.core.stage import stage_main, stage_parser
from visionops.params import start_stage


@stage_main
def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--name", required=True, help="the model's name (dvc.yaml foreach key)")
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--classifier", type=Path, required=True, help="the standard classifier, whose vote re-scores")
    parser.add_argument("--scenes", type=Path, required=True)
    parser.add_argument("--onnx", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args(argv)
    params, root = start_stage(args, stage=f"detect_export@{args.name}")
    from visionops.detection.export import export_stage

    export_stage(
        name=args.name,
        model=args.model,
        classifier=args.classifier,
        scenes=args.scenes,
        onnx=args.onnx,
        metrics_path=args.metrics,
        params=params,
        root=root,
    )


if __name__ == "__main__":
    main()
