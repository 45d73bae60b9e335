"""MLflow: where runs go, how a stage opens its (child) run, and the tags every run carries."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from visionops.core.errors import UserError
from visionops.core.sections import TrackingParams

PARENT_RUN_ENV = "VISIONOPS_MLFLOW_PARENT_RUN_ID"
FLOW_RUN_ENV = "VISIONOPS_PREFECT_FLOW_RUN_ID"
DATA_OUT = "data/prepared"
DATA_VERSION_ENV = "VISIONOPS_DATA_VERSION"


def tracking_uri(params: TrackingParams, root: Path) -> str:
    """MLFLOW_TRACKING_URI if set (a server, say), else params; a relative sqlite path is from the project root."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or params.uri
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri[len(prefix) :].startswith("/"):
        uri = prefix + str((root / uri[len(prefix) :]).resolve())
    return uri


def artifact_location(params: TrackingParams, root: Path, uri: str) -> str | None:
    """Where a new experiment keeps its artifacts. A local folder means nothing to a tracking server: there the
    server decides (with `--artifacts-destination`, clients upload through it), unless params name a URI."""
    location = params.artifact_location
    if "://" in location:
        return location
    if uri.startswith(("http://", "https://")):
        return None
    return (root / location).resolve().as_uri()


def ensure_experiment(params: TrackingParams, root: Path) -> str:
    """Create the experiment once, with its artifact root from params; return its id.

    Also the first touch of a fresh database, which runs its migrations: do it from one process first.
    """
    from mlflow import MlflowClient

    uri = tracking_uri(params, root)
    follow_moved_store(params, root)
    try:
        client = MlflowClient(uri)
        found = client.get_experiment_by_name(params.experiment)
    except Exception as exc:  # SQLAlchemy's, sqlite3's or MLflow's own, all meaning: the store cannot be used
        raise UserError(_store_problem(uri, exc)) from None
    if found is not None:
        return found.experiment_id
    return client.create_experiment(params.experiment, artifact_location=artifact_location(params, root, uri))


def follow_moved_store(params: TrackingParams, root: Path) -> None:
    """Point the project's own MLflow store at this folder if the project was moved here (core.moved_store)."""
    import sys

    from visionops.core.moved_store import follow_moved_project

    note = follow_moved_project(params, root, tracking_uri(params, root))
    if note:
        print(note, file=sys.stderr)


def without_credentials(text: str) -> str:
    """`text` with the `user:password@` of every URI in it removed."""
    import re

    return re.sub(r"(//)[^/@\s]+@", r"\1", text)


def _store_problem(uri: str, exc: Exception) -> str:
    reason = without_credentials(f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:200]}")
    if uri.startswith("sqlite:///"):
        db = uri.removeprefix("sqlite:///")
        return (
            f"the MLflow store {db} cannot be opened ({reason}); restore it from a backup, or move it aside "
            f"(mv {db} {db}.broken) and a new one is made on the next run"
        )
    return (
        f"the MLflow tracking store {without_credentials(uri)} cannot be used ({reason}); "
        "check that it is up and the URI is right"
    )


def git_commit(root: Path) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    commit = out.stdout.strip() if out.returncode == 0 else "unknown"
    # the files a run itself rewrites do not make it dirty: dvc.lock and reports/ (DVC records them), params.yaml
    # (`visionops run --budget`/`-S` write it, and every run logs its params in full)
    written = [f":(exclude){path}" for path in ("dvc.lock", "params.yaml", "reports")]
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", *written],
        cwd=root,
        capture_output=True,
        text=True,
    )
    return f"{commit}-dirty" if commit != "unknown" and dirty.stdout.strip() else commit


def short_commit(commit: str) -> str:
    """`git_commit`'s value as a name shows it: 7 hex digits, and `-dirty` where it is."""
    head, dirty, _ = commit.partition("-dirty")
    return head[:7] + dirty


def data_version(root: Path) -> str:
    """The md5 that dvc.lock records for the prepared data, or 'unlocked' before the first repro.

    The pipeline's flow, which writes dvc.lock while stages run, hands it over in VISIONOPS_DATA_VERSION instead.
    """
    if os.environ.get(DATA_VERSION_ENV):
        return os.environ[DATA_VERSION_ENV]
    lock = root / "dvc.lock"
    if not lock.is_file():
        return "unlocked"
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # dvc.lock is thousands of lines: the C parser
    stages = (yaml.load(lock.read_text(), Loader=loader) or {}).get("stages", {})  # noqa: S506
    for out in stages.get("prepare", {}).get("outs", []):
        if out.get("path") == DATA_OUT:
            return str(out.get("md5", "unlocked"))
    return "unlocked"


HOST_TAG, PID_TAG = "visionops.host", "visionops.pid"


def run_tags(root: Path, stage: str) -> dict[str, str]:
    import socket

    tags = {
        "visionops.stage": stage,
        "git_commit": git_commit(root),
        "data_version": data_version(root),
        HOST_TAG: socket.gethostname(),
        PID_TAG: str(os.getpid()),  # which process owns the run while it is RUNNING
    }
    if os.environ.get(FLOW_RUN_ENV):
        tags["prefect_flow_run_id"] = os.environ[FLOW_RUN_ENV]
    return tags


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def fail_abandoned_runs(client: Any, experiment_id: str) -> list[str]:
    """Mark FAILED the RUNNING runs of this host whose process is gone (killed with -9, say); return their ids."""
    import socket

    host = socket.gethostname().replace("'", "")
    found = client.search_runs(
        [experiment_id], filter_string=f"attributes.status = 'RUNNING' and tags.`{HOST_TAG}` = '{host}'"
    )
    abandoned = []
    for run in found:
        pid = run.data.tags.get(PID_TAG, "")
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            client.set_tag(run.info.run_id, "visionops.abandoned", f"its process (pid {pid}) ended without closing it")
            client.set_terminated(run.info.run_id, "FAILED")
            abandoned.append(run.info.run_id)
    return abandoned


@contextmanager
def stage_run(stage: str, params: TrackingParams, root: Path) -> Iterator[Any]:
    """Open the MLflow run of a stage: a child of the pipeline's parent run when the flow set one."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri(params, root))
    experiment_id = ensure_experiment(params, root)
    fail_abandoned_runs(mlflow.MlflowClient(), experiment_id)
    with mlflow.start_run(
        experiment_id=experiment_id,
        run_name=stage,
        parent_run_id=os.environ.get(PARENT_RUN_ENV) or None,
        tags=run_tags(root, stage),
    ) as run:
        yield run


# the leaves of a metrics file that count what a run was given or made (sizes, epochs, images), not how well it did:
# tags, so the charts show the measures that move and the runs table can still show these as columns
CONSTANT_SUFFIXES = ("parameters", "epochs", "images", "bytes", "scenes", "questions", "steps")


def log_json_metrics(metrics: dict[str, Any], prefix: str = "") -> None:
    """Log the numeric leaves of a (nested) metrics dict: measures as metrics, counts (CONSTANT_SUFFIXES) as tags."""
    import mlflow

    from visionops.core.config import flatten

    numeric = {
        f"{prefix}{k}": v for k, v in flatten(metrics).items() if isinstance(v, int | float) and not isinstance(v, bool)
    }
    constant = {k for k in numeric if k.rsplit("/", 1)[-1].rsplit(".", 1)[-1].endswith(CONSTANT_SUFFIXES)}
    mlflow.log_metrics({k: float(v) for k, v in numeric.items() if k not in constant})
    if constant:
        mlflow.set_tags({k: str(numeric[k]) for k in sorted(constant)})
