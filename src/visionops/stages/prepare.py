"""DVC stage `prepare`: uint8 tensors with a seeded train/val split, normalisation statistics and a manifest."""

from __future__ import annotations

import json
from pathlib import Path

from visionops.errors import exits_cleanly
from visionops.stages import stage_parser, start


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--raw", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    params, _ = start(args)

    import torch

    from visionops.data.prepare import DATASET_FILE, MANIFEST_FILE, prepare, read_classes
    from visionops.data.sources import IDX_SOURCES
    from visionops.io import atomic_dir

    default_classes = IDX_SOURCES[params.data.dataset].classes if params.data.dataset in IDX_SOURCES else ()
    classes = read_classes(args.raw, default_classes)
    tensors, manifest = prepare(args.raw, classes, params.data.val_fraction, params.data.seed)
    with atomic_dir(args.out) as tmp:
        torch.save(tensors, tmp / DATASET_FILE)
        (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    counts = ", ".join(f"{k} {v['count']}" for k, v in manifest["splits"].items())
    print(f"prepare: {counts} images of {len(classes)} classes into {args.out}")


if __name__ == "__main__":
    main()
