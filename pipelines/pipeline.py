"""The Prefect flow: one task per DVC stage, in the order dvc.yaml defines, under one MLflow parent run.

DVC decides what is stale and caches outputs; Prefect adds runs, retries, schedules and the UI;
each stage opens an MLflow child run of the parent opened here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.states import Failed, State

from visionops import params as project_params
from visionops.core import config, tracking
from visionops.core.errors import TRANSIENT_EXIT, UserError
from visionops.core.runtime import apply_environment_defaults
from visionops.headlines import headline_metrics


def stage_order(root: Path) -> list[str]:
    """Stage names in execution order, from dvc.yaml's DAG (ties keep the file's order)."""
    import networkx as nx
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        graph = repo.index.graph
        position = {stage: i for i, stage in enumerate(repo.index.stages)}
        ordered = nx.lexicographical_topological_sort(graph.reverse(), key=lambda s: f"{position[s]:06d}")
        return [stage.name for stage in ordered]


TRANSIENT = "TransientFailure"


def _is_transient(task: object, task_run: object, state: State) -> bool:
    return state.name == TRANSIENT


@task(cache_policy=NO_CACHE, task_run_name="dvc:{stage}", retry_condition_fn=_is_transient)
def run_stage(stage: str, root: str, env: dict[str, str]) -> str | State:
    """`dvc repro --single-item <stage>`; returns 'ran' or 'skipped' (DVC found nothing changed).

    A failed stage returns a Failed state carrying the stage's own error line, so no traceback is printed
    for what is a user's error, not a bug. Prefect retries it only if the stage said the fault may pass.
    """
    logger = get_run_logger()
    # stage commands are `python -m ...`: make `python` this interpreter, venv activated or not
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    process = subprocess.Popen(
        [sys.executable, "-m", "dvc", "repro", "--single-item", stage],
        cwd=root,
        env={**os.environ, **env, "PATH": path},
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
        transient = any(f"exited with {TRANSIENT_EXIT}" in line for line in lines)
        message = f"stage '{stage}' failed: {reason.removeprefix('error: ')}"
        return Failed(name=TRANSIENT, message=message) if transient else Failed(message=message)
    return "skipped" if any("didn't change, skipping" in line for line in lines) else "ran"


@flow(name="visionops-pipeline")
def pipeline(project_dir: str = ".") -> dict[str, str] | State:
    """Run the DVC pipeline of the project at `project_dir`, stage by stage."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    root = Path(project_dir).resolve()
    apply_environment_defaults(root)
    params = project_params.load(root / config.PARAMS_FILE)
    order = stage_order(root)
    # an explicit client: mlflow.set_tracking_uri would also set MLFLOW_TRACKING_URI for the whole process
    uri = tracking.tracking_uri(params.tracking, root)
    client = MlflowClient(uri)
    experiment_id = tracking.ensure_experiment(params.tracking, root)  # migrate a fresh store before the stages
    flow_run_id = flow_run.get_id() or ""
    tags = {**tracking.run_tags(root, "pipeline"), "prefect_flow_run_id": flow_run_id}
    run_id = client.create_run(experiment_id, run_name="pipeline", tags=tags).info.run_id
    flat = config.flatten(params.model_dump(exclude={"budgets"}, mode="json"))
    client.log_batch(run_id, params=[Param(key, str(value)) for key, value in flat.items()])
    env = {tracking.PARENT_RUN_ENV: run_id, tracking.FLOW_RUN_ENV: flow_run_id, "MLFLOW_TRACKING_URI": uri}
    outcome: dict[str, str] = {}
    try:
        for stage in order:
            retries = params.schedule.stage_retries.get(stage, 0)
            runner = run_stage.with_options(retries=retries, retry_delay_seconds=params.schedule.retry_delay_seconds)
            result = runner(stage, str(root), env)
            if isinstance(result, State):
                client.set_tag(run_id, "failed_stage", stage)
                client.set_terminated(run_id, "FAILED")
                return Failed(message=result.message)
            outcome[stage] = result
            client.set_tag(run_id, f"stage.{stage.replace('@', '.')}", result)  # MLflow keys take no @
        client.set_tag(run_id, "data_version", tracking.data_version(root))  # prepare may have just changed it
        summary = headline_metrics(root / "reports")
        if summary:
            now = int(time.time() * 1000)
            client.log_batch(run_id, metrics=[Metric(key, value, now, 0) for key, value in summary.items()])
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id, "FINISHED")
    return outcome


def run_pipeline(root: Path) -> dict[str, str]:
    """Entry point for `visionops run`: a UserError names the failed stage in one line."""
    state = pipeline(project_dir=str(root), return_state=True)
    if state.is_failed():
        raise UserError(state.message or "the pipeline failed")
    return state.result()
