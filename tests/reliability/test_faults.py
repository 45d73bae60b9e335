"""The fault suite: each bad input or fault of cases.py, tried against a finished tiny `visionops run`, ends in one line
(no traceback) with its exit status, and leaves every output, metric and registry alias as it was. A few faults that
need more than a command line (a held lock, a broken store, a stage failing mid-run) have their own tests below."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.cases import CASES, README, Case, readme_section, table

WATCHED = ("data", "reports", "dvc.lock", "params.yaml")  # MLflow's artifacts are kept per run id: never rewritten


def snapshot(project: Path) -> dict[str, str]:
    """A digest of every file a run writes (checkpoints aside, which resume on purpose, and the stages' logs, which
    say what the last run of each did), and every registry alias."""
    from mlflow import MlflowClient

    state = {}
    for name in WATCHED:
        root = project / name
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            if "checkpoints" not in path.parts and path.relative_to(project).parts[:2] != ("data", "logs"):
                state[str(path.relative_to(project))] = hashlib.sha256(path.read_bytes()).hexdigest()
    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    for model in client.search_registered_models():
        for alias, version in (model.aliases or {}).items():
            state[f"alias {model.name}@{alias}"] = str(version)
    return state


def run_visionops(project: Path, args: list[str], env: dict[str, str] | None = None, module: str = "visionops.cli"):
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "DVC_NO_ANALYTICS": "1", **(env or {})},
    )


def one_line(result: subprocess.CompletedProcess, exit: int) -> str:
    """The single line of stderr (a non-zero exit) with no traceback anywhere."""
    both = result.stdout + result.stderr
    assert "Traceback" not in both, both[-3000:]
    assert result.returncode == exit, both[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def final_line(result: subprocess.CompletedProcess, exit: int) -> str:
    """For a run that started the flow (its log comes first, Prefect's server stops after): no traceback and no
    stray 'NoneType: None', and one error line, among the last lines."""
    both = result.stdout + result.stderr
    assert "Traceback" not in both and "NoneType: None" not in both, both[-3000:]
    assert result.returncode == exit, both[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0] in lines[-2:], result.stderr[-3000:]
    return errors[0]


@pytest.fixture(scope="module")
def finished(tiny_pipeline):
    project, outcome = tiny_pipeline
    assert set(outcome.values()) <= {"ran", "restored"}, outcome
    return project


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fault(case: Case, finished: Path, tmp_path: Path):
    params_before = (finished / "params.yaml").read_text()
    files = case.files(tmp_path)
    argv = list(case.argv)
    for name, path in files.items():
        argv = [part.replace(f"{{{name}}}", str(path)) for part in argv]
    before = snapshot(finished)
    try:
        result = run_visionops(finished, argv, case.env, case.module)
    finally:
        (finished / "params.yaml").write_text(params_before)
    if case.exit == 0:
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
        assert re.search(case.expect, result.stdout + result.stderr), result.stdout + result.stderr
    else:
        assert re.search(case.expect, one_line(result, case.exit)), result.stderr
    assert snapshot(finished) == before


def test_a_second_run_in_the_same_project_is_refused_naming_the_first(finished):
    from visionops.core.runtime import project_lock

    before = snapshot(finished)
    with project_lock(finished):
        line = one_line(run_visionops(finished, ["run", "-S", "evaluation.mistakes=3"]), 2)
    assert f"another visionops run holds {finished.resolve()} (pid {os.getpid()}, since " in line
    assert snapshot(finished) == before  # not even params.yaml was written


@pytest.mark.parametrize(
    ("damage", "expect"),
    [
        (lambda text: text.replace("  epochs:", "  epochs: 9\n  epochs:", 1), r"key 'epochs' is given twice"),
        (lambda text: text + "\n  : [unclosed\n", r"params.yaml is not valid YAML"),
    ],
    ids=["duplicate-key", "not-yaml"],
)
def test_a_damaged_params_file_is_named_and_left_to_the_user(finished, damage, expect):
    original = (finished / "params.yaml").read_text()
    (finished / "params.yaml").write_text(damage(original))
    try:
        before = snapshot(finished)
        for args in (["run"], ["run", "-S", "evaluation.mistakes=3"]):
            assert re.search(expect, one_line(run_visionops(finished, args), 2))
        assert snapshot(finished) == before
    finally:
        (finished / "params.yaml").write_text(original)


def test_a_broken_mlflow_store_is_named_with_what_to_do(finished):
    original = (finished / "params.yaml").read_text()
    shutil.move(finished / "mlflow.db", finished / "mlflow.db.good")
    (finished / "mlflow.db").write_bytes(os.urandom(4096))
    try:
        line = final_line(run_visionops(finished, ["run", "-S", "evaluation.mistakes=3"]), 2)
        assert re.search(r"the MLflow store .*mlflow.db cannot be opened .*move it aside", line)
    finally:
        shutil.move(finished / "mlflow.db.good", finished / "mlflow.db")
        (finished / "params.yaml").write_text(original)


def test_a_stage_that_fails_mid_run_gets_its_previous_outputs_back(finished):
    """A valid override that makes both exports fail their parity check: the exported models, their reports and
    dvc.lock stay as the finished run left them, and so does every alias."""
    original = (finished / "params.yaml").read_text()
    before = snapshot(finished)
    try:
        result = run_visionops(finished, ["run", "-S", "export.parity_atol=1e-30"])
        line = final_line(result, 2)
        assert re.search(r"stage 'export@(standard|robust)' failed: .*parity.* \(its log: data/logs/export@", line)
    finally:
        (finished / "params.yaml").write_text(original)
    after = snapshot(finished)
    assert after == before, sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not list((finished / ".dvc" / "tmp").glob("visionops-previous/*"))


def test_the_readme_lists_every_case():
    assert readme_section(README.read_text()) == table(), "run: python tests/reliability/cases.py --write"


@pytest.mark.parametrize(
    ("stage", "section"),
    [("train@standard", "classifier"), ("robustness", "robustness")],
    ids=["model-and-metrics", "folder-and-metrics"],
)
def test_a_stage_that_fails_under_plain_dvc_repro_gets_its_previous_outputs_back(finished, stage, section):
    """DVC deletes a stage's outputs before its command runs; a command that then fails (here: an unknown key in
    its params section) puts them back: the model or figure folder from DVC's cache, the metrics (uncached) from
    the copy kept when they were written."""
    original = (finished / "params.yaml").read_text()
    before = snapshot(finished)
    damaged = re.sub(rf"(?m)^{section}:.*\n", lambda m: m.group(0) + "  typo_key: 1\n", original, count=1)
    assert damaged != original
    (finished / "params.yaml").write_text(damaged)
    try:
        result = run_visionops(finished, ["repro", "-s", stage], module="dvc")
        assert result.returncode != 0 and "Traceback" not in result.stdout + result.stderr
        assert re.search(rf"unknown key '{section}.typo_key'", result.stderr), result.stderr[-2000:]
        assert f"note: {stage} failed; its previous " in result.stderr
    finally:
        (finished / "params.yaml").write_text(original)
    after = snapshot(finished)
    assert after == before, sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
