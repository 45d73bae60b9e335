"""DVC stage `report`, the pipeline's last: `reports/index.html`, one self-contained page of every family's headline
numbers, figures and registrations (visionops.report), and `reports/headlines/`, the headline numbers of each model
that `dvc metrics show` lists."""

from __future__ import annotations

from pathlib import Path

from visionops.core.stage import stage_main, stage_parser
from visionops.params import start_stage


@stage_main
def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--reports", type=Path, required=True, help="the folder the other stages wrote")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--headlines", type=Path, required=True, help="folder of one headline metrics file per model")
    args = parser.parse_args(argv)
    params, root = start_stage(args, stage="report")
    from visionops.report import report_stage

    report_stage(reports=args.reports, out=args.out, params=params, root=root, headlines=args.headlines)


if __name__ == "__main__":
    main()
