"""Where a stage's wall time goes: its own work against the fixed parts every stage pays.

Run from the root of a project whose pipeline has finished (`visionops run`). The stages run again, forced, in a
throwaway copy of the project (data, MLflow store and DVC metadata copied; the original is not touched), so a
register stage adds versions to the copy's registry only. Every figure is also printed as a ratio to a bare
`python -c pass` measured in the same run, so the machine's speed cancels out.

Two ways of launching a stage are measured: `dvc repro` (a fresh interpreter per stage: cold) and the way
`visionops run` launches it (DVC's bookkeeping in the flow's process, the command in a warm worker process).

Per stage, cold (columns):
  wall       `dvc repro -f --single-item <stage>`, start to end
  direct     the stage's command run by itself (no DVC)
  dvc        wall - direct: DVC loading the project, hashing deps and outs, writing dvc.lock
  imports    the direct run's import time (python -X importtime, top-level imports summed)
  work       direct - python - imports - params - mlflow: what is left for the stage's own work
Fixed parts, once: `python -c pass`; params loading (validate params.yaml, the stage's params view); an MLflow
child run opened and closed on the project's store; one Prefect task inside a flow; a `dvc repro` of a stage that
is up to date (DVC deciding there is nothing to do).

Per stage, warm (columns):
  wall       DVC's bookkeeping (stale check, outputs removed; then hashing, caching, dvc.lock) + the command in a worker
  dvc        the bookkeeping alone
  work       the worker's time - a round trip to the worker - params loading - an MLflow child run (each measured warm)
  overhead   wall - work

    python benchmarks/stage_overhead.py                       # every stage but the training ones
    python benchmarks/stage_overhead.py --stages export@standard register@standard
    python benchmarks/stage_overhead.py --all                 # training too: as long as a pipeline run
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TRAINING = ("train", "gan_train", "caption_train")


def timed(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return elapsed, done


def median_of(repeats: int, run) -> float:  # noqa: ANN001
    return statistics.median(run() for _ in range(repeats))


def stage_commands(root: Path) -> dict[str, str]:
    """{stage: its command} for every stage, foreach items expanded, as DVC resolves them."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        return {stage.name: stage.cmd for stage in repo.index.stages}


def import_seconds(stderr: str) -> float:
    """The sum of the top-level cumulative times of `python -X importtime` (microseconds in its log)."""
    total = 0
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S.*)$", line)
        if match and not match.group(2).startswith(" "):
            total += int(match.group(1))
    return total / 1e6


def fixed_parts(root: Path, env: dict[str, str], repeats: int) -> dict[str, float]:
    python = sys.executable
    code = {
        "params": (
            "import time, argparse, pathlib; from visionops.params import start_stage; t = time.perf_counter(); "
            "start_stage(argparse.Namespace(params=pathlib.Path('params.yaml')), stage='evaluate@standard'); "
            "print(time.perf_counter() - t)"
        ),
        "mlflow": (
            "import time, pathlib; from visionops.params import load; from visionops.core import tracking; "
            "p = load('params.yaml'); import mlflow; t = time.perf_counter(); "
            "cm = tracking.stage_run('benchmark', p.tracking, pathlib.Path('.').resolve()); cm.__enter__(); "
            "cm.__exit__(None, None, None); print(time.perf_counter() - t)"
        ),
        "prefect_task": (
            "import time\nfrom prefect import flow, task\nfrom prefect.cache_policies import NO_CACHE\n"
            "@task(cache_policy=NO_CACHE)\ndef nothing(): return 1\n"
            "@flow\ndef tasks(n: int):\n    t = time.perf_counter()\n    for _ in range(n): nothing()\n"
            "    return (time.perf_counter() - t) / max(n, 1)\n"
            "tasks(1)\nprint(tasks(10))\n"
        ),
    }
    parts = {"python": median_of(repeats, lambda: timed([python, "-c", "pass"], root, env)[0])}
    for name, snippet in code.items():
        runs = 1 if name == "prefect_task" else repeats
        parts[name] = median_of(
            runs, lambda s=snippet: float(timed([python, "-c", s], root, env)[1].stdout.split()[-1])
        )
    return parts


def _warm_params_seconds(root: str) -> float:
    import argparse as ap

    from visionops.params import start_stage

    started = time.perf_counter()
    start_stage(ap.Namespace(params=Path(root) / "params.yaml"), stage="evaluate@standard")
    return time.perf_counter() - started


def _warm_mlflow_seconds(root: str) -> float:
    from visionops.core import tracking
    from visionops.params import load

    tracking_params = load(Path(root) / "params.yaml").tracking
    started = time.perf_counter()
    with tracking.stage_run("benchmark", tracking_params, Path(root)):
        pass
    return time.perf_counter() - started


def warm_rows(root: Path, chosen: list[str], env: dict[str, str], repeats: int) -> tuple[dict[str, float], list]:
    """Each stage forced through the flow's own launch path: DvcStages in this process, the command in a worker."""
    from pipelines.dvc_stages import DvcStages
    from pipelines.workers import StageWorkers, worker_layout
    from visionops.core.ort import available_cores

    os.chdir(root)
    _, threads = worker_layout(1, available_cores())
    stage_env = {k: v for k, v in env.items() if k not in os.environ or os.environ[k] != v}
    with StageWorkers(1, threads, threads) as workers, DvcStages(root) as dvc:
        workers.call(os.getpid).result()  # warmed up
        fixed = {
            "round_trip": median_of(repeats, lambda: _timed_call(workers, os.getpid)),
            "params": median_of(repeats, lambda: workers.call(_warm_params_seconds, str(root)).result()),
            "mlflow": median_of(repeats, lambda: workers.call(_warm_mlflow_seconds, str(root)).result()),
        }
        rows = []
        for stage in chosen:
            command = dvc.command(stage)
            started = time.perf_counter()
            dvc.begin(stage, force=True)
            submitted = time.perf_counter()
            outcome = workers.submit(
                stage, command.module, command.argv, env=stage_env, cwd=str(root), threads=threads
            ).result()
            ran = time.perf_counter()
            if outcome.status != "ok":
                raise SystemExit(f"{stage} failed in the worker: {outcome.message}")
            dvc.finish(stage)
            finished = time.perf_counter()
            worker = ran - submitted
            work = worker - fixed["round_trip"] - fixed["params"] - fixed["mlflow"]
            rows.append((stage, finished - started, (submitted - started) + (finished - ran), work))
    return fixed, rows


def _timed_call(workers: object, function: object) -> float:
    started = time.perf_counter()
    workers.call(function).result()  # type: ignore[attr-defined]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stages", nargs="*", help="stages to measure (default: all but training)")
    parser.add_argument("--all", action="store_true", help="the training stages too")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each fixed part; the median is kept")
    args = parser.parse_args()
    source = Path.cwd()
    if not (source / "dvc.lock").is_file() or not (source / "data" / "prepared").is_dir():
        raise SystemExit("run this from a project whose pipeline has finished (visionops run)")

    with tempfile.TemporaryDirectory(prefix="stage-overhead-") as tmp:
        root = Path(tmp) / "project"
        ignore = shutil.ignore_patterns(".venv", "__pycache__", "*.egg-info", "cache", "tmp", ".prefect")
        shutil.copytree(source, root, ignore=ignore, symlinks=True)
        # a fresh MLflow store inside the copy: the copied one's artifact root points at the original project
        (root / "mlflow.db").unlink(missing_ok=True)
        shutil.rmtree(root / "mlartifacts", ignore_errors=True)
        env = {
            **os.environ,
            "DVC_NO_ANALYTICS": "1",
            "PREFECT_HOME": str(root / ".prefect"),
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        }
        env.pop("MLFLOW_TRACKING_URI", None)
        commands = stage_commands(root)
        warm_up = (
            "from visionops.params import load; from visionops.core import tracking; import pathlib; "
            "tracking.ensure_experiment(load('params.yaml').tracking, pathlib.Path('.').resolve())"
        )
        timed([sys.executable, "-c", warm_up], root, env)  # migrates the new store once, outside the figures
        chosen = args.stages or [s for s in commands if args.all or s.split("@")[0] not in TRAINING]
        fixed = fixed_parts(root, env, args.repeats)
        skip_seconds = median_of(
            args.repeats,
            lambda: timed([sys.executable, "-m", "dvc", "repro", "--single-item", chosen[0]], root, env)[0],
        )

        rows = []
        for stage in chosen:
            wall, _ = timed([sys.executable, "-m", "dvc", "repro", "-f", "--single-item", stage], root, env)
            argv = shlex.split(commands[stage])
            argv = [sys.executable, "-X", "importtime", *argv[1:]] if argv[0] == "python" else argv
            direct, done = timed(argv, root, env)
            imports = import_seconds(done.stderr)
            work = direct - fixed["python"] - imports - fixed["params"] - fixed["mlflow"]
            rows.append((stage, wall, direct, wall - direct, imports, work))
        warm_fixed, warm = warm_rows(root, chosen, env, args.repeats)
        os.chdir(source)

    base = fixed["python"]
    print(f"python -c pass: {base:.3f} s (every ratio below is against it)\n")
    print(f"{'fixed part':<40} {'s':>8} {'x python':>9}")
    for label, value in (
        ("params loading (+ the stage's params view)", fixed["params"]),
        ("MLflow child run opened and closed", fixed["mlflow"]),
        ("Prefect: one task in a flow", fixed["prefect_task"]),
        ("dvc repro --single-item, up to date", skip_seconds),
    ):
        print(f"{label:<40} {value:>8.2f} {value / base:>9.1f}")
    print()
    header = (
        f"{'stage':<28} {'wall':>7} {'direct':>7} {'dvc':>6} {'imports':>8} {'work':>7} {'overhead':>9} {'x python':>9}"
    )
    print(header)
    for stage, wall, direct, dvc, imports, work in rows:
        overhead = wall - max(work, 0.0)
        print(
            f"{stage:<28} {wall:>7.1f} {direct:>7.1f} {dvc:>6.1f} {imports:>8.1f} {work:>7.1f} {overhead:>9.1f} "
            f"{overhead / base:>9.1f}"
        )
    print("\noverhead = wall - work: what the stage pays beyond its own work\n")
    print("warm (as visionops run launches a stage): fixed parts, measured in a warm worker")
    for label, value in (
        ("a round trip to a worker", warm_fixed["round_trip"]),
        ("params loading (+ the stage's params view)", warm_fixed["params"]),
        ("MLflow child run opened and closed", warm_fixed["mlflow"]),
    ):
        print(f"{label:<40} {value:>8.2f} {value / base:>9.1f}")
    print(f"\n{'stage':<28} {'wall':>7} {'dvc':>6} {'work':>7} {'overhead':>9} {'x python':>9}")
    for stage, wall, dvc, work in warm:
        overhead = wall - max(work, 0.0)
        print(f"{stage:<28} {wall:>7.1f} {dvc:>6.1f} {work:>7.1f} {overhead:>9.1f} {overhead / base:>9.1f}")
    print("\ntarget: overhead <= 3 s for export, evaluate and register stages")


if __name__ == "__main__":
    main()
