"""Warm worker processes that run stage commands (`python -m visionops.stages.<name> ...`) without starting Python.

A pool of spawned processes imports torch, Lightning, MLflow and onnxruntime once; each stage command then runs as
the stage module's `main(argv)` in one of them, with the flow's environment and the project as working directory.
Stages run side by side, one per worker, each worker with its share of the cores (torch and onnxruntime threads).
A stage that starts processes of its own (Lightning DDP re-runs its command line) says so through
`launches_processes(argv)` in its module and is run as a subprocess instead.

Everything a stage prints (epochs, warnings, libraries' notes) goes to its log file, `data/logs/<stage>.log`; the lines
that name the stage (`<stage>: ...`, its results) also come back in its Outcome, for the flow's log to show. So the
log of a whole run stays a few lines per stage, and a stage's details are one file away.
"""

from __future__ import annotations

import importlib
import inspect
import io
import multiprocessing
import os
import subprocess
import sys
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, TextIO, TypeVar

from visionops.core.runtime import THREADS_ENV

T = TypeVar("T")


LOGS = Path("data") / "logs"


class Outcome(NamedTuple):
    status: str  # "ok" | "error" (the user can fix it) | "transient" (may pass if tried again) | "bug"
    message: str
    results: tuple[str, ...] = ()  # the lines the stage printed that name it, without the name
    log: str = ""  # the stage's log file, relative to the project


def _warm_up(threads: int) -> None:
    os.environ[THREADS_ENV] = str(threads)
    import torch

    torch.set_num_threads(threads)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401
    import mlflow  # noqa: F401
    import onnx  # noqa: F401
    import onnxruntime  # noqa: F401
    import onnxscript  # noqa: F401  (torch.onnx's exporter)
    import pytorch_lightning  # noqa: F401
    import torchmetrics  # noqa: F401

    import visionops.params  # noqa: F401


class StageOutput(io.TextIOBase):
    """A text stream that writes each complete line to `target` and keeps the lines the console should show too: the
    stage's results (`<stage>: ...`, kept without the name) and its own warnings and notes (`warning: `, `note: `)."""

    def __init__(self, target: TextIO, stage: str) -> None:
        self.target, self.name, self.pending = target, f"{stage}: ", ""
        self.results: list[str] = []

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        lines = (self.pending + text).split("\n")
        self.pending = lines.pop()
        for line in lines:
            self._line(line)
        self.target.flush()
        return len(text)

    def _line(self, line: str) -> None:
        self.target.write(f"{line}\n")
        if line.startswith(self.name):
            self.results.append(line.removeprefix(self.name))
        elif line.startswith(("warning: ", "note: ")):
            self.results.append(line)

    def flush(self) -> None:
        if self.pending:
            self._line(self.pending)
            self.pending = ""
        self.target.flush()


def run_command(stage: str, module: str, argv: tuple[str, ...], *, env: dict[str, str], cwd: str) -> Outcome:
    """Run `python -m module argv` in this process (a worker), as the stage's own process would; its output goes to
    its log file."""
    import torch

    saved_env, saved_cwd, saved_threads = dict(os.environ), os.getcwd(), torch.get_num_threads()
    os.environ.update(env)
    if env.get(THREADS_ENV, "").isdigit():
        torch.set_num_threads(int(env[THREADS_ENV]))
    os.chdir(cwd)
    log = LOGS / f"{stage}.log"
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "w", encoding="utf-8") as file:
            output = StageOutput(file, stage)
            with redirect_stdout(output), redirect_stderr(output):
                status, message = _call(module, argv, output)
            output.flush()
    finally:
        os.chdir(saved_cwd)
        torch.set_num_threads(saved_threads)
        os.environ.clear()
        os.environ.update(saved_env)
    return Outcome(status, message, tuple(output.results), str(log))


def _call(module: str, argv: tuple[str, ...], output: StageOutput) -> tuple[str, str]:
    from visionops.core.errors import TransientError, UserError

    try:
        entry = importlib.import_module(module)
        if getattr(entry, "launches_processes", lambda argv: False)(list(argv)):
            return _as_subprocess(module, argv, output)
        inspect.unwrap(entry.main)(list(argv))  # undecorated: the error comes back, not an exit status
        return "ok", ""
    except TransientError as exc:
        return "transient", str(exc)
    except UserError as exc:
        return "error", str(exc)
    except SystemExit as exc:  # argparse, or a stage that exits on its own
        return ("ok", "") if exc.code in (0, None) else ("error", f"exit status {exc.code}")
    except Exception as exc:
        trace = traceback.format_exc()
        output.write(trace)
        sys.__stderr__.write(trace)  # a bug's traceback belongs on the console too
        return "bug", f"{type(exc).__name__}: {exc}"


def _as_subprocess(module: str, argv: tuple[str, ...], output: StageOutput) -> tuple[str, str]:
    process = subprocess.run(
        [sys.executable, "-m", module, *argv], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output.write(process.stdout)
    if process.returncode == 0:
        return "ok", ""
    errors = [line for line in process.stdout.splitlines() if line.startswith("error:")]
    message = errors[-1].removeprefix("error: ") if errors else f"exit status {process.returncode}"
    return ("transient" if process.returncode == 75 else "error"), message


def worker_layout(workers: int | str, cores: int) -> tuple[int, int]:
    """(workers, threads each) for a number of workers or 'auto': two workers when there are two cores or more."""
    count = (2 if cores >= 2 else 1) if workers == "auto" else max(1, int(workers))
    return count, max(1, cores // count)


class StageWorkers:
    """The pool; `submit` returns a future of the stage's Outcome. A worker that dies breaks the pool; the next
    call starts a fresh one."""

    def __init__(self, workers: int, threads: int, cores: int) -> None:
        self.size, self.threads, self.cores = workers, threads, cores
        self._pool: ProcessPoolExecutor | None = None
        self.used = False

    def __enter__(self) -> StageWorkers:
        self._pool = self._start()  # they warm up while the flow does its own set-up
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if self._pool is None:
            return
        if not self.used:  # nothing was stale: don't wait for the imports of workers that will never run a stage
            for process in list(getattr(self._pool, "_processes", {}).values()):  # no public way before 3.14
                process.terminate()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _start(self) -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(
            max_workers=self.size,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_warm_up,
            initargs=(self.threads,),
        )
        for _ in range(self.size):  # every worker starts warming up now, not when a second stage is ready
            pool.submit(os.getpid)
        return pool

    def submit(
        self, stage: str, module: str, argv: tuple[str, ...], *, env: dict[str, str], cwd: str, threads: int
    ) -> Future[Outcome]:
        return self.call(run_command, stage, module, argv, env={**env, THREADS_ENV: str(threads)}, cwd=cwd)

    def call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
        """Run a picklable module-level function in a worker."""
        from concurrent.futures.process import BrokenProcessPool

        self.used = True
        if self._pool is None:
            self._pool = self._start()
        try:
            return self._pool.submit(function, *args, **kwargs)
        except BrokenProcessPool:  # a stage killed its worker (a signal, out of memory): start a fresh pool
            self._pool = self._start()
            return self._pool.submit(function, *args, **kwargs)
