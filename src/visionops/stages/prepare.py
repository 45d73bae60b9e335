"""DVC stage `prepare`: uint8 tensors with a seeded train/val split, normalisation statistics and a manifest."""

from __future__ import annotations

from pathlib import Path

from visionops.core.stage import stage_main, stage_parser
from visionops.params import start_stage


@stage_main
def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--raw", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    params, root = start_stage(args, stage="prepare")
    from visionops.data.prepare import prepare_stage

    prepare_stage(raw=args.raw, out=args.out, params=params, root=root)


if __name__ == "__main__":
    main()
