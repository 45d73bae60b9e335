"""Environment defaults for entry points: project-local Prefect home, telemetry off, offline DVC.

Called by entry points only; importing visionops never changes the environment.
"""

from __future__ import annotations

import os
from pathlib import Path

from visionops.core.config import PARAMS_FILE
from visionops.core.errors import UserError

THREADS_ENV = "VISIONOPS_THREADS"  # set by the pipeline's workers: the cores each stage running side by side may use


def find_project_root(start: str | Path | None = None) -> Path:
    """The nearest folder at or above `start` holding params.yaml and dvc.yaml."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PARAMS_FILE).is_file() and (folder / "dvc.yaml").is_file():
            return folder
    raise UserError(f"no visionops project (params.yaml + dvc.yaml) at or above {here}: cd into the project")


def apply_environment_defaults(project_root: Path) -> None:
    """Set defaults that the user has not set already."""
    defaults = {
        "PREFECT_HOME": str(project_root / ".prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
        "DO_NOT_TRACK": "1",
        "DVC_NO_ANALYTICS": "1",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        "GIT_PYTHON_REFRESH": "quiet",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
