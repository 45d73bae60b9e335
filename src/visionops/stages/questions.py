"""DVC stage `questions`: balanced questions, with answers and the programs that compute them, over every split of
the grid scenes (the held-out split asks only about its held-out combinations), with a manifest."""

from __future__ import annotations

from pathlib import Path

from visionops.core.stage import stage_main, stage_parser
from visionops.params import start_stage


@stage_main
def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--scenes", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    params, root = start_stage(args, stage="questions")
    from visionops.data.scenes.questions_build import questions_stage

    questions_stage(scenes=args.scenes, out=args.out, params=params, root=root)


if __name__ == "__main__":
    main()
