"""The Prefect flow: one task per DVC stage, in the order dvc.yaml defines, under one MLflow parent run.

DVC decides what is stale and caches outputs; Prefect adds runs, retries, schedules and the UI;
each stage opens an MLflow child run of the parent opened here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from visionops import config, tracking
from visionops.errors import UserError
from visionops.runtime import apply_environment_defaults


class StageFailed(RuntimeError):
    """A DVC stage exited non-zero; the message is the stage's own error line."""


def stage_order(root: Path) -> list[str]:
    """Stage names in execution order, from dvc.yaml's DAG (ties keep the file's order)."""
    import networkx as nx
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        graph = repo.index.graph
        position = {stage: i for i, stage in enumerate(repo.index.stages)}
        ordered = nx.lexicographical_topological_sort(graph.reverse(), key=lambda s: f"{position[s]:06d}")
        return [stage.name for stage in ordered]


@task(cache_policy=NO_CACHE, task_run_name="dvc:{stage}")
def run_stage(stage: str, root: str, env: dict[str, str]) -> str:
    """`dvc repro --single-item <stage>`; returns 'ran' or 'skipped' (DVC found nothing changed)."""
    logger = get_run_logger()
    process = subprocess.Popen(
        [sys.executable, "-m", "dvc", "repro", "--single-item", stage],
        cwd=root,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    assert process.stdout is not None
    for line in process.stdout:
        line = line.rstrip()
        if line:
            lines.append(line)
            logger.info(line)
    if process.wait() != 0:
        errors = [line for line in lines if line.startswith("error:")]
        reason = errors[-1] if errors else (lines[-1] if lines else f"exit status {process.returncode}")
        raise StageFailed(f"stage '{stage}' failed: {reason.removeprefix('error: ')}")
    return "skipped" if any("didn't change, skipping" in line for line in lines) else "ran"


@flow(name="visionops-pipeline")
def pipeline(project_dir: str = ".") -> dict[str, str]:
    """Run the DVC pipeline of the project at `project_dir`, stage by stage."""
    import mlflow

    root = Path(project_dir).resolve()
    apply_environment_defaults(root)
    params = config.load(root / config.PARAMS_FILE)
    order = stage_order(root)
    mlflow.set_tracking_uri(tracking.tracking_uri(params.tracking, root))
    experiment_id = tracking.ensure_experiment(params.tracking, root)  # migrate a fresh store before the stages
    tags = tracking.run_tags(root, "pipeline")
    flow_run_id = flow_run.get_id()
    if flow_run_id:
        tags["prefect_flow_run_id"] = flow_run_id
    outcome: dict[str, str] = {}
    with mlflow.start_run(experiment_id=experiment_id, run_name="pipeline", tags=tags) as parent:
        mlflow.log_params(config.flatten(params.model_dump(exclude={"budgets"}, mode="json")))
        env = {tracking.PARENT_RUN_ENV: parent.info.run_id, tracking.FLOW_RUN_ENV: flow_run_id or ""}
        for stage in order:
            retries = params.schedule.stage_retries.get(stage, 0)
            runner = run_stage.with_options(retries=retries, retry_delay_seconds=params.schedule.retry_delay_seconds)
            outcome[stage] = runner(stage, str(root), env)
        mlflow.set_tags({f"stage.{name}": state for name, state in outcome.items()})
        metrics_file = root / "reports" / "metrics.json"
        if metrics_file.is_file():
            summary = json.loads(metrics_file.read_text())
            mlflow.log_metrics({"test_accuracy": summary["accuracy"], "test_macro_f1": summary["macro_f1"]})
    return outcome


def run_pipeline(root: Path) -> dict[str, str]:
    """Entry point for `visionops run`: a UserError names the failed stage in one line."""
    try:
        return pipeline(project_dir=str(root))
    except StageFailed as exc:
        raise UserError(str(exc)) from None
