"""DVC stage `cluttered_scenes`: compose the detection and segmentation scenes (items placed freely, at several
scales, overlapping up to a cap) from the prepared images, each split from its own images, with a manifest."""

from __future__ import annotations

from pathlib import Path

from visionops.core.stage import stage_main, stage_parser
from visionops.params import start_stage


@stage_main
def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    params, root = start_stage(args, stage="cluttered_scenes")
    from visionops.data.scenes.cluttered_build import cluttered_stage

    cluttered_stage(data_path=args.data, out=args.out, params=params, root=root)


if __name__ == "__main__":
    main()
