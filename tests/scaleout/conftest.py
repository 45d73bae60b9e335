"""Real servers for the scale-out tests: PostgreSQL, an MLflow tracking server on it, a Prefect server, a process
work pool with its worker, and one tiny pipeline run triggered through the deployment in prefect.yaml.

Everything a fixture starts it stops at the end, by PID. A fixture skips (one line saying why) only when the program
it needs is not on this machine."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DEPLOYMENT = "visionops-pipeline/visionops-retrain"
SECRET = "s3cret-in-the-uri"  # the tracking URI's password: it must reach no param, tag or log


@dataclass
class Service:
    """A started process: its PID, its log, and what it serves."""

    name: str
    process: subprocess.Popen
    log: Path
    url: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without Prefect or MLflow settings of the test session, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))}
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    env["DVC_NO_ANALYTICS"] = "1"
    return {**env, **extra}


def start(name: str, cmd: list[str], log: Path, env: dict[str, str], cwd: Path | None = None, **popen) -> Service:
    handle = log.open("w")
    process = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=cwd, **popen)
    handle.close()
    return Service(name, process, log)


def wait_until_up(service: Service, probe, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise AssertionError(f"{service.name} exited with {service.process.returncode}:\n{service.tail()}")
        if probe():
            return
        time.sleep(0.5)
    raise AssertionError(f"{service.name} did not come up in {timeout:.0f} s:\n{service.tail()}")


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def rest(base: str, path: str, body: dict | None = None) -> dict:
    """One call of an HTTP JSON API: GET without a body, POST with one."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    if found:
        return found[-1].parent
    on_path = shutil.which("postgres")
    return Path(on_path).parent if on_path else None


@pytest.fixture(scope="session")
def http_json():
    """http_json(base, path, body=None) -> the JSON answer of a GET (or, with a body, a POST)."""
    return rest


@pytest.fixture(scope="session")
def postgres() -> Iterator[Service]:
    """PostgreSQL on a free loopback port, in a temporary data folder; as root, run as the `postgres` user
    (initdb refuses root)."""
    bin_dir = _postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (Debian's postgresql package: see the README's set-up command)")
    folder = Path(tempfile.mkdtemp(prefix="visionops-pg-"))
    as_user: dict = {}
    if os.geteuid() == 0:
        import pwd

        account = pwd.getpwnam("postgres")
        os.chown(folder, account.pw_uid, account.pw_gid)
        as_user = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
    data, log = folder / "data", folder / "postgres.log"
    init = subprocess.run(
        [str(bin_dir / "initdb"), "-D", str(data), "-U", "visionops", "-A", "trust", "-E", "UTF8"],
        capture_output=True,
        text=True,
        cwd=folder,
        **as_user,
    )
    assert init.returncode == 0, init.stdout + init.stderr
    port = free_port()
    service = start(
        "postgres",
        [str(bin_dir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(folder), "-h", "127.0.0.1"],
        log,
        clean_env(),
        cwd=folder,
        **as_user,
    )

    def accepts() -> bool:
        probe = subprocess.run([str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True)
        return probe.returncode == 0

    try:
        wait_until_up(service, accepts, timeout=60)
        created = subprocess.run(
            [str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "visionops", "mlflow"],
            capture_output=True,
            text=True,
        )
        assert created.returncode == 0, created.stderr
        service.url = f"postgresql+psycopg2://visionops@127.0.0.1:{port}/mlflow"
        service.extra["version"] = subprocess.run(
            [str(bin_dir / "postgres"), "--version"], capture_output=True, text=True
        ).stdout.strip()
        yield service
    finally:
        service.stop()  # SIGTERM: PostgreSQL's smart shutdown
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def mlflow_server(postgres: Service, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """`mlflow server` on PostgreSQL, serving artifacts: clients upload through it, never to a path of their own."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    artifacts = folder / "artifacts"
    port = free_port()
    service = start(
        "mlflow server",
        [
            str(BIN / "mlflow"),
            "server",
            "--backend-store-uri",
            postgres.url,
            "--artifacts-destination",
            artifacts.as_uri(),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        folder / "server.log",
        clean_env(),
        cwd=folder,
    )
    service.url = f"http://127.0.0.1:{port}"
    service.extra["artifacts"] = str(artifacts)
    try:
        wait_until_up(service, lambda: http_ok(f"{service.url}/health"), timeout=180)
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """`prefect server start` on a free loopback port, with a PREFECT_HOME (and database) of its own."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    env = clean_env(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_UI_ENABLED="false")
    service = start(
        "prefect server",
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        home / "server.log",
        env,
        cwd=home,
    )
    service.url = f"http://127.0.0.1:{port}/api"
    service.extra["home"] = str(home)
    try:
        wait_until_up(service, lambda: http_ok(f"{service.url}/health"), timeout=180)
        yield service
    finally:
        service.stop()


@dataclass
class DeployedRun:
    """The finished flow run, the project it ran in, and the services it used."""

    project: Path
    flow_run: dict
    trigger: subprocess.CompletedProcess
    worker: Service
    prefect: Service
    mlflow: Service
    seconds: float

    def dvc(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "dvc", *args], cwd=self.project, env=clean_env(), capture_output=True, text=True
        )

    def mlflow_runs(self, filter_string: str = "") -> list[dict]:
        """Runs of the `visionops` experiment on the MLflow server, through its REST API alone."""
        experiment = rest(self.mlflow.url, "/api/2.0/mlflow/experiments/get-by-name?experiment_name=visionops")
        body = {"experiment_ids": [experiment["experiment"]["experiment_id"]], "max_results": 1000}
        return rest(self.mlflow.url, "/api/2.0/mlflow/runs/search", {**body, "filter": filter_string}).get("runs", [])


@pytest.fixture(scope="session")
def deployed_run(
    prefect_server: Service, mlflow_server: Service, tmp_path_factory, project_factory, real_mirror
) -> Iterator[DeployedRun]:
    """The tiny budget in a temporary copy of the project, deployed from its prefect.yaml onto a process work pool,
    run by `prefect worker start` and triggered with `prefect deployment run`, logging to the MLflow server through
    a tracking URI that carries a password."""
    project = project_factory(tmp_path_factory.mktemp("deployed") / "project")
    (project / "mlflow.db").unlink()  # this run tracks on the server: a local store must not be needed
    host = mlflow_server.url.removeprefix("http://")
    env = clean_env(
        PREFECT_API_URL=prefect_server.url,
        PREFECT_HOME=prefect_server.extra["home"],
        MLFLOW_TRACKING_URI=f"http://visionops:{SECRET}@{host}",
        VISIONOPS_FMNIST_DIR=str(real_mirror),
    )

    def prefect(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BIN / "prefect"), *args], cwd=project, env=env, capture_output=True, text=True, timeout=timeout
        )

    pool = prefect("work-pool", "create", "visionops", "--type", "process")
    assert pool.returncode == 0, pool.stdout + pool.stderr
    deploy = prefect("--no-prompt", "deploy", "--all")
    assert deploy.returncode == 0, deploy.stdout[-3000:] + deploy.stderr[-3000:]
    worker = start(
        "prefect worker",
        [str(BIN / "prefect"), "worker", "start", "--pool", "visionops", "--limit", "1"],
        project.parent / "worker.log",
        env,
        cwd=project.parent,  # not the checkout: the deployment's pull step must find it
    )
    try:
        started = time.monotonic()
        trigger = prefect("deployment", "run", DEPLOYMENT, "--watch", "--watch-timeout", "900", timeout=960)
        seconds = time.monotonic() - started
        flow_run_id = next(line.split("UUID:")[1].strip() for line in trigger.stdout.splitlines() if "UUID:" in line)
        flow_run = rest(prefect_server.url, f"/flow_runs/{flow_run_id}")
        yield DeployedRun(project, flow_run, trigger, worker, prefect_server, mlflow_server, seconds)
    finally:
        worker.stop()
