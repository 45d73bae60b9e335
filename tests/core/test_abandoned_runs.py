"""A run whose process died (kill -9) is marked FAILED by the next run on the host, not left RUNNING forever."""

import shutil
import socket
import subprocess
import sys

from visionops.core import tracking


def test_runs_of_dead_processes_are_failed_and_live_ones_left(tmp_path, migrated_mlflow_db):
    from mlflow import MlflowClient

    db = tmp_path / "mlflow.db"
    shutil.copy(migrated_mlflow_db, db)
    client = MlflowClient(f"sqlite:///{db}")
    experiment = client.create_experiment("e", artifact_location=(tmp_path / "a").as_uri())
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    alive = subprocess.Popen([sys.executable, "-c", "input()"], stdin=subprocess.PIPE)
    try:
        host = socket.gethostname()

        def run(pid, on_host=host):
            tags = {tracking.HOST_TAG: on_host, tracking.PID_TAG: str(pid)}
            return client.create_run(experiment, tags=tags).info.run_id

        killed, running, elsewhere = run(dead.stdout.strip()), run(alive.pid), run(dead.stdout.strip(), "other-host")
        assert tracking.fail_abandoned_runs(client, experiment) == [killed]
        status = {r: client.get_run(r).info.status for r in (killed, running, elsewhere)}
        assert status == {killed: "FAILED", running: "RUNNING", elsewhere: "RUNNING"}
        assert "ended without closing it" in client.get_run(killed).data.tags["visionops.abandoned"]
    finally:
        alive.kill()
        alive.wait()
