"""One thin entry point per DVC stage: parse paths, load params, call the library, write outputs.

Each runs as `python -m visionops.stages.<name>`; dvc.yaml passes the paths.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from visionops import config
from visionops.runtime import apply_environment_defaults, find_project_root


def stage_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", type=Path, default=Path(config.PARAMS_FILE))
    return parser


def start(args: argparse.Namespace) -> tuple[config.Params, Path]:
    """Validate params and set the environment defaults; return (params, project root)."""
    params = config.load(args.params)
    root = find_project_root(args.params.resolve().parent)
    apply_environment_defaults(root)
    return params, root
