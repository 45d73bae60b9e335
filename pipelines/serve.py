"""Serve the pipeline flow on the cron schedule in params.yaml. Needs a running Prefect server.

Prefect's ephemeral server schedules nothing, so this refuses to start without PREFECT_API_URL.
"""

from __future__ import annotations

import os
from pathlib import Path

from visionops import params as project_params
from visionops.core import config
from visionops.core.errors import UserError


def serve(root: Path) -> None:
    from prefect.schedules import Cron

    from pipelines.pipeline import pipeline

    if not os.environ.get("PREFECT_API_URL"):
        raise UserError(
            "visionops serve needs a Prefect server: run `prefect server start` in another terminal, then "
            "export PREFECT_API_URL=http://127.0.0.1:4200/api"
        )
    schedule = project_params.load(root / config.PARAMS_FILE).schedule
    pipeline.serve(
        name=schedule.deployment,
        schedules=[Cron(schedule.cron, timezone=schedule.timezone)],
        parameters={"project_dir": str(root)},
        tags=["visionops"],
    )
