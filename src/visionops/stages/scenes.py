"""DVC stage `scenes`: compose captioned scenes from the prepared images (train/val/test items stay in their split),
with a held-out split of (class, relation, class) combinations never seen in training, and a manifest."""

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
    params, root = start_stage(args, stage="scenes")
    from visionops.data.scenes.build import scenes_stage

    scenes_stage(data_path=args.data, out=args.out, params=params, root=root)


if __name__ == "__main__":
    main()
