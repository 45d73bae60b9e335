"""`visionops serve` against a real `prefect server start` on loopback: the deployment and its cron schedule appear."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from visionops import params as project_params

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


def _healthy(api: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture
def prefect_server(tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_URL": "",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    api = f"http://127.0.0.1:{port}/api"
    try:
        _wait_for(lambda: _healthy(api) or server.poll() is not None, 180, "prefect server")
        assert server.poll() is None, "prefect server exited"
        yield api
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


def test_serve_registers_the_cron_schedule_from_params(project, prefect_server):
    from prefect.client.orchestration import get_client

    schedule = project_params.load(project / "params.yaml").schedule
    env = {**os.environ, "PREFECT_API_URL": prefect_server, "PREFECT_HOME": str(project / ".prefect")}
    serve = subprocess.Popen(
        [sys.executable, "-m", "visionops.cli", "serve"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        os.environ["PREFECT_API_URL"] = prefect_server

        def deployment():
            from prefect.settings import PREFECT_API_URL, temporary_settings

            with temporary_settings({PREFECT_API_URL: prefect_server}), get_client(sync_client=True) as client:
                try:
                    return client.read_deployment_by_name(f"visionops-pipeline/{schedule.deployment}")
                except Exception:  # not registered yet
                    return None

        found = _wait_for(lambda: deployment() or (serve.poll() is not None and "exited"), 180, "the deployment")
        assert found != "exited", serve.stdout.read()
        crons = [(s.schedule.cron, s.schedule.timezone, s.active) for s in found.schedules]
        assert crons == [(schedule.cron, schedule.timezone, True)]
        assert found.parameters == {"project_dir": str(project)}
    finally:
        os.environ.pop("PREFECT_API_URL", None)
        os.killpg(serve.pid, signal.SIGTERM)
        serve.wait(timeout=60)


def test_serve_without_a_server_says_how_to_start_one(project):
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    result = subprocess.run(
        [sys.executable, "-m", "visionops.cli", "serve"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "prefect server start" in result.stderr and result.stderr.count("\n") == 1
