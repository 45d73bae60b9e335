"""The tiny pipeline tracked on an MLflow server with a PostgreSQL store, checked through the server's REST API."""

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
SECRET = "s3cret-in-the-uri"  # the password in the run's tracking URI (tests/scaleout/conftest.py)


def test_runs_artifacts_and_registry_live_on_the_server(deployed_run, http_json):
    run = deployed_run
    assert run.flow_run["state"]["type"] == "COMPLETED", run.worker.tail()
    server = run.mlflow.url
    runs = run.mlflow_runs()
    by_name = {r["info"]["run_name"]: r for r in runs}
    parent = next(r for r in runs if _tags(r).get("visionops.stage") == "pipeline")
    children = [r for r in runs if _tags(r).get("mlflow.parentRunId") == parent["info"]["run_id"]]
    assert {"train@standard", "caption_evaluate", "detect_evaluate", "vqa_evaluate"} <= {
        r["info"]["run_name"] for r in children
    }
    assert all(r["info"]["status"] == "FINISHED" for r in runs)
    assert any(m["key"].startswith("classifier/standard_") for m in parent["data"].get("metrics", []))

    # artifacts went through the server to its --artifacts-destination, not to a folder of the client's
    evaluate = by_name["evaluate@standard"]
    assert evaluate["info"]["artifact_uri"].startswith("mlflow-artifacts:/")
    listed = http_json(server, f"/api/2.0/mlflow/artifacts/list?run_id={evaluate['info']['run_id']}")
    assert listed.get("files"), listed
    stored = Path(run.mlflow.extra["artifacts"])
    assert any(stored.rglob("*.png")) and not (run.project / "mlartifacts").exists()
    assert not (run.project / "mlflow.db").exists()

    models = {
        m["name"]: m
        for m in http_json(server, "/api/2.0/mlflow/registered-models/search?max_results=100")["registered_models"]
    }
    assert {"visionops-classifier", "visionops-generator", "visionops-captioner", "visionops-vqa"} <= set(models)
    tiny = http_json(server, "/api/2.0/mlflow/registered-models/alias?name=visionops-classifier&alias=tiny")
    assert tiny["model_version"]["source"]
    download = http_json(
        server,
        f"/api/2.0/mlflow/model-versions/get-download-uri?name=visionops-classifier&version="
        f"{tiny['model_version']['version']}",
    )
    assert download["artifact_uri"].startswith("mlflow-artifacts:/")


def test_the_password_in_the_tracking_uri_reaches_no_param_tag_or_log(deployed_run, http_json):
    run = deployed_run
    for found in run.mlflow_runs():
        for kind in ("params", "tags"):
            for entry in found["data"].get(kind, []):
                assert SECRET not in entry["value"], (found["info"]["run_name"], entry["key"])
    logs = http_json(run.prefect.url, "/logs/filter", {"logs": {"flow_run_id": {"any_": [run.flow_run["id"]]}}})
    assert logs and not any(SECRET in line["message"] for line in logs)
    assert SECRET not in run.worker.tail(10**7) and SECRET not in run.trigger.stdout + run.trigger.stderr
    assert SECRET not in run.mlflow.tail(10**7)


def _tags(found: dict) -> dict[str, str]:
    return {t["key"]: t["value"] for t in found["data"].get("tags", [])}
