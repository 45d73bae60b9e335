"""DVC stage `fetch`: raw dataset files, verified, into data/raw."""

from __future__ import annotations

from pathlib import Path

from visionops.errors import exits_cleanly
from visionops.stages import stage_parser, start


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    params, root = start(args)
    if params.data.dataset == "imagefolder":
        from visionops.data.imagefolder import fetch_image_folder

        counts = fetch_image_folder((root / params.data.image_folder).resolve(), args.out)
        print(f"fetch: decoded {counts['train']} train and {counts['test']} test images into {args.out}")
        return
    from visionops.data.fetch import fetch_idx
    from visionops.data.sources import idx_source

    origins = fetch_idx(idx_source(params.data.dataset), args.out)
    for name, origin in origins.items():
        print(f"fetch: {name} verified (sha256) from {origin}")


if __name__ == "__main__":
    main()
