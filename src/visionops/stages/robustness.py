"""DVC stage `robustness`: every classifier attacked on the same seeded test images; sanity checks fail the stage.

Transfer to the shipped artifact: onnxruntime classifies the adversarial images crafted on the torch model,
and must agree with torch to within robustness.transfer_max_gap.
"""

from __future__ import annotations

from pathlib import Path

from visionops.core.stage import stage_main, stage_parser
from visionops.params import start_stage


@stage_main
def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument(
        "--models",
        type=Path,
        nargs="+",
        required=True,
        help="one folder per model holding classifier.pt and classifier.onnx; the folder name is the model's",
    )
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="folder for curve.csv and the figures")
    parser.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args(argv)
    params, root = start_stage(args, stage="robustness")
    from visionops.classifier.robustness import robustness_stage

    robustness_stage(
        models=args.models, data_path=args.data, out_path=args.out, metrics_path=args.metrics, params=params, root=root
    )


if __name__ == "__main__":
    main()
