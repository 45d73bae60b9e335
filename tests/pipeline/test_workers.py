"""How the flow launches stage commands: worker counts, one-line errors, a log file per stage (no pipeline run here)."""

import io

from pipelines.dvc_stages import parse_command
from pipelines.workers import StageOutput, run_command, worker_layout


def test_two_workers_share_two_cores_and_a_count_is_kept_as_given():
    assert worker_layout("auto", 2) == (2, 1)
    assert worker_layout("auto", 1) == (1, 1)
    assert worker_layout("auto", 16) == (2, 8)
    assert worker_layout(3, 16) == (3, 5)


def test_a_stage_command_of_dvc_yaml_becomes_a_module_and_its_arguments():
    command = parse_command("python -m visionops.stages.train --name standard --data 'data/my prepared'", "g")
    assert (command.module, command.argv, command.group) == (
        "visionops.stages.train",
        ("--name", "standard", "--data", "data/my prepared"),
        "g",
    )
    assert parse_command("echo hello").module is None  # any other command runs in a shell, as DVC runs it


def test_a_stage_error_comes_back_as_its_one_line_and_the_worker_is_left_as_it_was(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("data:\n  val_fraction: 2.0\n")
    outcome = run_command(
        "fetch", "visionops.stages.fetch", ("--out", "data/raw"), env={"VISIONOPS_X": "1"}, cwd=str(tmp_path)
    )
    assert outcome.status == "error" and "data.val_fraction" in outcome.message
    assert "\n" not in outcome.message
    assert not (tmp_path / "data" / "raw").exists()
    import os

    assert os.getcwd() == str(tmp_path) and "VISIONOPS_X" not in os.environ


def test_a_bug_is_reported_as_a_bug_with_its_type_and_its_traceback_is_in_the_stage_log(tmp_path):
    outcome = run_command("nothing", "visionops.no_such_stage", (), env={}, cwd=str(tmp_path))
    assert outcome.status == "bug"
    assert outcome.message == "ModuleNotFoundError: No module named 'visionops.no_such_stage'"
    assert outcome.log == "data/logs/nothing.log"
    assert "Traceback" in (tmp_path / outcome.log).read_text()


def test_a_stage_output_goes_to_its_log_and_its_results_and_warnings_come_back():
    target = io.StringIO()
    stream = StageOutput(target, "train@robust")
    stream.write("epoch 1/5: val/acc 0.8000\nepoch 2")
    stream.write("/5: val/acc 0.9000\ntrain@robust: val/acc 0.9\nwarning: a checkpoint was unreadable\npartial")
    stream.flush()
    assert target.getvalue().splitlines() == [
        "epoch 1/5: val/acc 0.8000",
        "epoch 2/5: val/acc 0.9000",
        "train@robust: val/acc 0.9",
        "warning: a checkpoint was unreadable",
        "partial",
    ]
    assert stream.results == ["val/acc 0.9", "warning: a checkpoint was unreadable"]


def test_the_parent_run_is_named_by_what_ran():
    from pipelines.pipeline import what_ran

    assert what_ran({"a": "ran", "b": "ran"}, 2) == "all 2 stages ran"
    assert what_ran({"a": "skipped", "b": "ran", "c": "restored"}, 3) == "1 of 3 ran (b), 1 restored"
    assert what_ran({"a": "skipped", "b": "skipped"}, 2) == "no-op (every stage up to date)"
    assert what_ran({"a": "ran"}, 2, ("b", "its data is corrupt")) == "b failed"


def test_files_the_pipeline_rewrites_do_not_make_the_commit_dirty(tmp_path):
    import subprocess

    from visionops.core.tracking import git_commit, short_commit

    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True)

    (tmp_path / "reports").mkdir()
    for name in ("dvc.lock", "params.yaml", "reports/metrics.json", "train.py"):
        (tmp_path / name).write_text("1\n")
    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "project")
    for name in ("dvc.lock", "params.yaml", "reports/metrics.json"):
        (tmp_path / name).write_text("2\n")
    commit = git_commit(tmp_path)
    assert len(commit) == 40 and short_commit(commit) == commit[:7]
    (tmp_path / "train.py").write_text("2\n")
    assert git_commit(tmp_path) == f"{commit}-dirty" and short_commit(f"{commit}-dirty") == f"{commit[:7]}-dirty"
