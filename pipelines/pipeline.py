"""The Prefect flow: one task per DVC stage, in the DAG that dvc.yaml defines, under one MLflow parent run.

DVC decides what is stale, restores from its run cache and records dvc.lock (dvc_stages.py, in this process); the
commands run in warm worker processes (workers.py), side by side where the DAG allows; Prefect adds runs, retries,
schedules and the UI; each stage opens an MLflow child run of the parent opened here.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture, as_completed
from prefect.runtime import flow_run
from prefect.states import Failed, State

from pipelines.dvc_stages import Command, DvcStages
from pipelines.workers import Outcome, StageWorkers, worker_layout
from visionops import params as project_params
from visionops.core import config, tracking
from visionops.core.errors import DISK_FULL_SIGNS, UserError, disk_full_error
from visionops.core.runtime import apply_environment_defaults, project_lock
from visionops.headlines import headline_metrics

TRANSIENT = "TransientFailure"
NOOP_TAG = "visionops.noop"  # the parent run of a flow in which every stage was up to date
_PRESTARTED: list[StageWorkers] = []  # workers run_pipeline started before the flow, for the flow to use


class _NoEmptyTraceback(logging.Filter):
    """Prefect logs a failed task's state with exc_info=True even when no exception was raised (a stage returned
    its Failed state): the log then ends in a stray 'NoneType: None'. Such records lose their empty exc_info."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[0] is None:
            record.exc_info = None
        return True


class _NoCompletedLine(logging.Filter):
    """Prefect's 'Finished in state Completed()' after each task: the stage's own 'ran in' line says it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Finished in state Completed")


logging.getLogger("prefect.task_runs").addFilter(_NoEmptyTraceback())
logging.getLogger("prefect.task_runs").addFilter(_NoCompletedLine())


def _is_transient(task: object, task_run: object, state: State) -> bool:
    return state.name == TRANSIENT


@task(cache_policy=NO_CACHE, task_run_name="{stage}", retry_condition_fn=_is_transient)
def run_stage(
    stage: str, command: Command, *, root: str, env: dict[str, str], workers: StageWorkers, threads: int
) -> str | State:
    """Run a stale stage's command; 'ran', or a Failed state carrying the stage's own error line.

    No traceback is printed for what is a user's error, not a bug. Prefect retries a stage only if it said the
    fault may pass (a TransientError).
    """
    from concurrent.futures.process import BrokenProcessPool

    logger = get_run_logger()
    started = time.perf_counter()
    if command.module is None:
        outcome = _run_shell(command.line, root, env)
    else:
        try:
            outcome = workers.submit(stage, command.module, command.argv, env=env, cwd=root, threads=threads).result()
        except BrokenProcessPool:
            outcome = Outcome("error", "its worker process died (killed, or out of memory)")
    if outcome.status == "ok":
        first, *more = outcome.results or ("",)
        seconds, cores = time.perf_counter() - started, f"{threads} thread{'s' if threads > 1 else ''}"
        logger.info("%s: ran in %.1f s (%s)%s", stage, seconds, cores, f": {first}" if first else "")
        for line in more:
            logger.info("%s: %s", stage, line)
        return "ran"
    message = f"stage '{stage}' failed: {outcome.message}"
    if outcome.log:
        message += f" (its log: {outcome.log})"
    return Failed(name=TRANSIENT, message=message) if outcome.status == "transient" else Failed(message=message)


def _run_shell(line: str, root: str, env: dict[str, str]) -> Outcome:
    """A command that is not `python -m ...`: run it as DVC would, `python` being this interpreter."""
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    process = subprocess.run(line, shell=True, cwd=root, env={**os.environ, **env, "PATH": path})  # noqa: S602
    return Outcome("ok" if process.returncode == 0 else "error", f"exit status {process.returncode}")


LOCK_EVERY = 30.0  # seconds between dvc.lock writes in a run (each one ~2 s on a full lock); the last at its end
LONG = 10  # a training stage's weight against any other stage's 1, when ordering what starts first


def critical_paths(order: list[str], upstream: dict[str, list[str]], long: set[str]) -> dict[str, int]:
    """For each stage, the weight of the heaviest chain from it to the end of the DAG (training stages weigh LONG).

    Starting the stage with the heaviest chain first keeps both workers busy to the end: on the default budget a
    simulation with the measured stage times gave 815 s against 921 s in dvc.yaml's order (the best order, knowing
    every time in advance, 803 s).
    """
    downstream: dict[str, list[str]] = {stage: [] for stage in order}
    for stage in order:
        for up in upstream.get(stage, []):
            downstream[up].append(stage)
    weight: dict[str, int] = {}
    for stage in reversed(order):
        weight[stage] = (LONG if stage in long else 1) + max((weight[d] for d in downstream[stage]), default=0)
    return weight


def run_stages(
    order: list[str],
    upstream: dict[str, list[str]],
    dvc: DvcStages,
    workers: StageWorkers,
    *,
    root: Path,
    env: dict[str, str],
    retries: dict[str, int],
    retry_delay: float,
) -> tuple[dict[str, str], tuple[str, str] | None]:
    """Run every stage once its upstream stages are done, up to one per worker at a time, heaviest chain first;
    stages of one `serial` group one after another in dvc.yaml's order. DVC's bookkeeping stays in this thread.

    A stage that starts with nothing else running or able to start gets all the cores: until it ends, no other
    stage can become ready. Returns each stage's outcome ('ran', 'skipped', 'restored') and the first failure
    (stage, message), after which nothing new starts and the running stages finish.
    """
    logger = get_run_logger()
    weight = critical_paths(order, upstream, dvc.resumable())
    by_weight = sorted(order, key=lambda stage: -weight[stage])  # stable: ties keep dvc.yaml's order
    commands = {stage: dvc.command(stage) for stage in order}
    outcome: dict[str, str] = {}
    running: dict[str, tuple[PrefectFuture[str | State], str | None]] = {}
    failure: tuple[str, str] | None = None
    while True:
        while failure is None:
            startable = [
                stage
                for stage in by_weight
                if stage not in outcome
                and stage not in running
                and all(up in outcome for up in upstream.get(stage, []))
                and not (commands[stage].group and commands[stage].group in {g for _, g in running.values()})
            ]
            if not startable or len(running) >= workers.size:
                break
            stage = startable[0]
            try:
                decided = dvc.begin(stage)
            except UserError as exc:
                failure = (stage, str(exc))
                break
            position = f"stage {len(outcome) + len(running) + 1}/{len(order)}"
            if decided:
                outcome[stage] = decided
                logger.info("%s %s: %s", position, stage, decided)
                env = _with_data_version(env, dvc, stage)
                continue
            command = commands[stage]
            threads = workers.cores if not running and len(startable) == 1 else workers.threads
            logger.info("%s %s: starts", position, stage)
            runner = run_stage.with_options(retries=retries.get(stage, 0), retry_delay_seconds=retry_delay)
            running[stage] = (
                runner.submit(stage, command, root=str(root), env=env, workers=workers, threads=threads),
                command.group,
            )
        dvc.write_lock(unless_written_within=LOCK_EVERY)  # what finished or was restored, while workers compute
        if not running:
            return outcome, failure
        done = next(as_completed([future for future, _ in running.values()]))
        stage = next(name for name, (future, _) in running.items() if future is done)
        del running[stage]
        done.wait()  # as_completed can yield a future whose state still reads Running
        state = done.state
        if state.is_completed():
            try:
                dvc.finish(stage)  # a downstream stage's stale check needs its outputs' hashes, not the lock entry
            except UserError as exc:
                failure = failure or (stage, str(exc))
                continue
            outcome[stage] = "ran"
            env = _with_data_version(env, dvc, stage)
        else:
            dvc.put_back(stage)  # its previous outputs, set aside when it started
            failure = failure or (stage, state.message or f"stage '{stage}' failed")


def _with_data_version(env: dict[str, str], dvc: DvcStages, stage: str) -> dict[str, str]:
    """The stages that follow tag their runs with the prepared data's md5; they must not read dvc.lock for it while
    this flow writes the file."""
    md5 = dvc.output_md5(stage, tracking.DATA_OUT)
    return {**env, tracking.DATA_VERSION_ENV: md5} if md5 else env


@flow(name="visionops-pipeline")
def pipeline(project_dir: str = ".") -> dict[str, str] | State:
    """Run the DVC pipeline of the project at `project_dir`: every stale stage, side by side where the DAG allows."""
    root = Path(project_dir).resolve()
    apply_environment_defaults(root)
    try:
        return _pipeline(root)
    except UserError as exc:  # bad params, a held lock, a broken store: the one line, not a traceback
        return Failed(message=str(exc))


def _pipeline(root: Path) -> dict[str, str] | State:
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    from visionops.core.ort import available_cores

    params = project_params.load(root / config.PARAMS_FILE)
    count, threads = worker_layout(params.schedule.workers, available_cores())
    with ExitStack() as stack:
        stack.enter_context(project_lock(root))  # a scheduled run and a manual one never overlap
        workers = next(
            (w for w in _PRESTARTED if (w.size, w.threads) == (count, threads)), None
        ) or stack.enter_context(StageWorkers(count, threads, available_cores()))
        dvc = stack.enter_context(DvcStages(root))
        order, upstream = dvc.graph()
        # an explicit client: mlflow.set_tracking_uri would also set MLFLOW_TRACKING_URI for the whole process
        uri = tracking.tracking_uri(params.tracking, root)
        client = MlflowClient(uri)
        experiment_id = tracking.ensure_experiment(params.tracking, root)  # migrate a fresh store before the stages
        tracking.fail_abandoned_runs(client, experiment_id)
        flow_run_id = flow_run.get_id() or ""
        tags = {**tracking.run_tags(root, "pipeline"), "prefect_flow_run_id": flow_run_id}
        name = f"{params.registry.label} {tracking.short_commit(tags['git_commit'])}"
        run_id = client.create_run(experiment_id, run_name=f"{name}: running", tags=tags).info.run_id
        flat = config.flatten(params.model_dump(exclude={"budgets"}, mode="json"))
        flat["tracking.uri"] = tracking.without_credentials(str(flat["tracking.uri"]))  # a password stays out of MLflow
        client.log_batch(run_id, params=[Param(key, str(value)) for key, value in flat.items()])
        env = {
            tracking.PARENT_RUN_ENV: run_id,
            tracking.FLOW_RUN_ENV: flow_run_id,
            "MLFLOW_TRACKING_URI": uri,
            tracking.DATA_VERSION_ENV: tracking.data_version(root),  # stages must not read dvc.lock as it is written
        }
        try:
            outcome, failure = run_stages(
                order,
                upstream,
                dvc,
                workers,
                root=root,
                env=env,
                retries=params.schedule.stage_retries,
                retry_delay=params.schedule.retry_delay_seconds,
            )
            for stage, result in outcome.items():
                client.set_tag(run_id, f"stage.{stage.replace('@', '.')}", result)  # MLflow keys take no @
            client.update_run(run_id, name=f"{name}: {what_ran(outcome, len(order), failure)}")
            if failure is not None:
                client.set_tag(run_id, "failed_stage", failure[0])
                client.set_terminated(run_id, "FAILED")
                return Failed(message=failure[1])
            client.set_tag(run_id, "data_version", tracking.data_version(root))  # prepare may have just changed it
            noop = not any(result in ("ran", "restored") for result in outcome.values())
            client.set_tag(run_id, NOOP_TAG, str(noop).lower())
            summary = {} if noop else headline_metrics(root / "reports")  # a no-op adds no second point per metric
            if not noop:
                _log_report(client, run_id, root / "reports" / "index.html")
            if summary:
                now = int(time.time() * 1000)
                client.log_batch(run_id, metrics=[Metric(key, value, now, 0) for key, value in summary.items()])
        except BaseException:
            client.set_terminated(run_id, "FAILED")
            raise
        client.set_terminated(run_id, "FINISHED")
    return {stage: outcome[stage] for stage in order}


def _log_report(client: object, run_id: str, page: Path) -> None:
    """The report and a screenshot of it (where Chromium is installed) to the parent run, under `report/`."""
    import tempfile

    from visionops.report import screenshot

    if not page.is_file():
        return
    client.log_artifact(run_id, str(page), "report")
    with tempfile.TemporaryDirectory() as folder:
        shot = Path(folder) / "index.png"
        try:
            taken = screenshot(page, shot)
        except Exception as exc:  # a browser that will not start costs the screenshot, not the run
            get_run_logger().warning("report: no screenshot (%s)", (str(exc).splitlines() or [type(exc).__name__])[0])
            return
        if taken:
            client.log_artifact(run_id, str(shot), "report")


def what_ran(outcome: dict[str, str], stages: int, failure: tuple[str, str] | None = None) -> str:
    """The end of the parent run's name: which stages ran, so the MLflow runs table tells runs apart."""
    ran = [stage for stage, result in outcome.items() if result == "ran"]
    restored = sum(result == "restored" for result in outcome.values())
    if failure is not None:
        return f"{failure[0]} failed"
    if not ran and not restored:
        return "no-op (every stage up to date)"
    parts = [f"all {stages} stages ran" if len(ran) == stages else f"{len(ran)} of {stages} ran"]
    if 0 < len(ran) <= 3 and len(ran) < stages:
        parts[0] += f" ({', '.join(ran)})"
    if restored:
        parts.append(f"{restored} restored")
    return ", ".join(parts)


def run_pipeline(root: Path) -> dict[str, str]:
    """Entry point for `visionops run`: a UserError names the failed stage in one line.

    The workers start here, so their imports overlap the start of Prefect's temporary server.
    """
    from visionops.core.ort import available_cores

    params = project_params.load(root / config.PARAMS_FILE)
    count, threads = worker_layout(params.schedule.workers, available_cores())
    with StageWorkers(count, threads, available_cores()) as workers:
        _PRESTARTED.append(workers)
        try:
            state = pipeline(project_dir=str(root), return_state=True)
        finally:
            _PRESTARTED.remove(workers)
    if state.is_failed():
        message = state.message or "the pipeline failed"
        if any(sign in message for sign in DISK_FULL_SIGNS):
            raise disk_full_error(str(root))
        raise UserError(message)
    return state.result()
