"""Environment defaults for entry points: project-local Prefect home, telemetry off, offline DVC; the allocator.

Called by entry points only; importing visionops never changes the environment.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from visionops.core.config import PARAMS_FILE
from visionops.core.errors import UserError

THREADS_ENV = "VISIONOPS_THREADS"  # set by the pipeline's workers: the cores each stage running side by side may use
RUN_LOCK = Path(".dvc") / "tmp" / "visionops-run.lock"
_HELD: dict[Path, int] = {}  # project roots whose run lock this process holds, and how many times


PROJECT_ENV = "VISIONOPS_PROJECT"


def find_project_root(start: str | Path | None = None) -> Path:
    """The nearest folder at or above `start` holding params.yaml and dvc.yaml; without `start`, the folder that
    VISIONOPS_PROJECT names, else the current one."""
    named = start or os.environ.get(PROJECT_ENV) or None
    here = Path(named or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PARAMS_FILE).is_file() and (folder / "dvc.yaml").is_file():
            return folder
    how = f"{PROJECT_ENV}={os.environ[PROJECT_ENV]} names no project; " if not start and named else ""
    raise UserError(
        f"{how}no visionops project (params.yaml + dvc.yaml) at or above {here}: cd into the project, "
        f"pass --project /path/to/project or set {PROJECT_ENV}"
    )


def cpu_name() -> str:
    """The CPU's model name as /proc/cpuinfo gives it (or the platform's word for it), with its core count."""
    import platform

    name = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    return f"{name}, {os.cpu_count()} cores"


def apply_environment_defaults(project_root: Path) -> None:
    """Set defaults that the user has not set already."""
    defaults = {
        "PREFECT_HOME": str(project_root / ".prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
        "DO_NOT_TRACK": "1",
        "DVC_NO_ANALYTICS": "1",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        # MLflow prints "View run at <tracking URI>" at each run's end: the URI may hold a password
        "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
        "GIT_PYTHON_REFRESH": "quiet",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_MAX = -1, -2, -4


def tune_allocator() -> bool:
    """Keep freed memory in the process for the next tensor, instead of handing it back to the OS at once.

    By default glibc serves each large block with a fresh mmap and returns it on free, so every batch's activations
    are page-faulted in anew: 13 million minor faults and 27 s of system time in a 142 s robustness stage, 1.7 s
    after this (same results). The MALLOC_* variables do the same but only when set before the process starts;
    mallopt works in a running one. False where the C library is not glibc (nothing changes there).
    """
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter runs on
    except (OSError, AttributeError):
        return False
    return all(
        mallopt(option, value) == 1
        for option, value in ((_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, 1 << 30), (_M_TOP_PAD, 64 << 20))
    )


@contextmanager
def project_lock(root: Path) -> Iterator[None]:
    """Hold the project's run lock: one `visionops run` (or scheduled flow run) per project folder at a time.

    An exclusive flock, so a killed holder never leaves it stuck; re-entrant within one process (the command holds
    it, and so does the flow it starts). A second process gets one line naming the holder's pid and start time.
    """
    import fcntl
    import time

    root = root.resolve()
    if root in _HELD:
        _HELD[root] += 1
        try:
            yield
        finally:
            _HELD[root] -= 1
        return
    path = root / RUN_LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "a process that has not said which"
            raise UserError(
                f"another visionops run holds {root} ({holder}); wait for it to finish, or stop it"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}")
        handle.flush()
        _HELD[root] = 1
        try:
            yield
        finally:
            del _HELD[root]
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
