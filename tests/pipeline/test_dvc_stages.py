"""DVC's bookkeeping as the flow does it, on a one-stage project: stale or not, the run cache, outputs missing."""

import subprocess

import pytest

from pipelines.dvc_stages import RESTORED, SKIPPED, DvcStages
from visionops.core.errors import UserError


@pytest.fixture
def one_stage(tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    (root / "dvc.yaml").write_text(
        "stages:\n  write:\n    cmd: python -m visionops.stages.nothing --out out.txt\n"
        "    deps: [in.txt]\n    outs: [out.txt]\n"
    )
    (root / "in.txt").write_text("a\n")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["dvc", "init", "-q"], cwd=root, check=True)
    return root


def test_a_stage_runs_once_then_is_skipped_and_a_deleted_output_comes_back_from_the_run_cache(one_stage):
    with DvcStages(one_stage) as dvc:
        command = dvc.command("write")
        assert (command.module, command.argv) == ("visionops.stages.nothing", ("--out", "out.txt"))
        assert dvc.stale() == ["write"]
        assert dvc.begin("write") is None  # stale: the flow runs the command (here: this test writes the output)
        (one_stage / "out.txt").write_text("b\n")
        dvc.finish("write")
    assert "out.txt" in (one_stage / "dvc.lock").read_text()
    with DvcStages(one_stage) as dvc:
        assert dvc.stale() == [] and dvc.begin("write") == SKIPPED
    (one_stage / "out.txt").unlink()
    with DvcStages(one_stage) as dvc:
        assert dvc.begin("write") == RESTORED
    assert (one_stage / "out.txt").read_text() == "b\n"
    status = subprocess.run(["dvc", "status"], cwd=one_stage, capture_output=True, text=True)
    assert "up to date" in status.stdout  # DVC agrees with what was recorded


def test_a_command_that_writes_no_declared_output_fails_in_one_line(one_stage):
    with DvcStages(one_stage) as dvc:
        assert dvc.begin("write") is None
        with pytest.raises(UserError, match=r"^stage 'write': .*out\.txt"):
            dvc.save_outputs("write")
    assert not (one_stage / "dvc.lock").exists()


def _recorded_then_changed(one_stage, metric: str):
    """The stage with an uncached metric, run once and recorded, then made stale by changing its input."""
    root = one_stage
    (root / "dvc.yaml").write_text(
        "stages:\n  write:\n    cmd: python -m visionops.stages.nothing --out out.txt\n"
        "    deps: [in.txt]\n    outs: [out.txt]\n    metrics: [{m.json: {cache: false}}]\n"
    )
    with DvcStages(root) as dvc:
        assert dvc.begin("write") is None
        (root / "out.txt").write_text("good\n")
        (root / "m.json").write_text(metric)
        dvc.finish("write")
    (root / "in.txt").write_text("changed\n")
    return root


def test_a_failed_stage_gets_its_previous_outputs_back_metrics_included(one_stage):
    root = _recorded_then_changed(one_stage, '{"accuracy": 0.9}')
    with DvcStages(root) as dvc:
        assert dvc.begin("write") is None
        assert not (root / "out.txt").exists()  # set aside: a stale output never reaches the command
        (root / "out.txt").write_text("half-writ")  # what a failing command leaves
        dvc.put_back("write")
    assert (root / "out.txt").read_text() == "good\n"
    assert (root / "m.json").read_text() == '{"accuracy": 0.9}'
    assert not list((root / ".dvc" / "tmp").glob("visionops-previous/*"))


def test_outputs_set_aside_by_a_killed_run_come_back_at_the_next_start(one_stage):
    root = _recorded_then_changed(one_stage, "{}")
    with DvcStages(root) as dvc:
        assert dvc.begin("write") is None  # ... and the flow is killed here: nothing calls put_back
    with DvcStages(root) as dvc:
        assert (root / "out.txt").read_text() == "good\n" and (root / "m.json").read_text() == "{}"
        assert dvc.stale() == ["write"]  # in.txt did change
