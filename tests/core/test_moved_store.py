"""A moved project keeps its MLflow artifacts: the store's absolute paths follow the folder on the next command."""

import shutil
from pathlib import Path

from visionops.core import tracking
from visionops.core.moved_store import follow_moved_project, former_root
from visionops.core.sections import TrackingParams


def test_former_root_is_the_other_folder_holding_the_same_artifact_location():
    expected = "file:///new/place/mlartifacts"
    assert former_root("file:///old/place/mlartifacts", expected, "mlartifacts") == "file:///old/place"
    assert former_root(expected, expected, "mlartifacts") is None
    assert former_root("file:///elsewhere/artifacts", expected, "mlartifacts") is None  # not this project's layout
    assert former_root("s3://bucket/mlartifacts", expected, "mlartifacts") is None


def test_a_moved_project_finds_its_artifacts_and_registered_files(tmp_path, migrated_mlflow_db):
    import mlflow
    from mlflow import MlflowClient

    before, after = tmp_path / "before", tmp_path / "after"
    before.mkdir()
    shutil.copy(migrated_mlflow_db, before / "mlflow.db")
    params = TrackingParams()
    experiment = tracking.ensure_experiment(params, before)
    client = MlflowClient(tracking.tracking_uri(params, before))
    run = client.create_run(experiment)
    client.log_text(run.info.run_id, "what the stage wrote", "report/notes.txt")
    client.set_terminated(run.info.run_id)
    client.create_registered_model("m")
    client.create_model_version("m", f"{run.info.artifact_uri}/report", run_id=run.info.run_id)

    shutil.move(before, after)
    uri = tracking.tracking_uri(params, after)
    note = follow_moved_project(params, after, uri)
    assert note is not None and str(before) in note and str(after) in note
    assert follow_moved_project(params, after, uri) is None  # done once

    client = MlflowClient(uri)
    assert client.get_experiment(experiment).artifact_location == (after / "mlartifacts").as_uri()
    got = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path="report/notes.txt", dst_path=str(tmp_path / "got"), tracking_uri=uri
    )
    assert Path(got).read_text() == "what the stage wrote"
    assert (
        client.get_model_version("m", "1").source
        == f"{(after / 'mlartifacts').as_uri()}/{run.info.run_id}/artifacts/report"
    )
