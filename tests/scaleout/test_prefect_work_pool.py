"""The pipeline deployed from prefect.yaml onto a process work pool, run by a worker, triggered by hand."""

from pathlib import Path

import pytest
import yaml

from visionops import params as project_params

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
DEPLOYMENT = "visionops-pipeline/visionops-retrain"


def test_prefect_yaml_deploys_the_schedule_that_params_yaml_sets():
    deployment = yaml.safe_load((REPO / "prefect.yaml").read_text())["deployments"][0]
    schedule = project_params.load(REPO / "params.yaml").schedule
    assert deployment["name"] == schedule.deployment
    assert deployment["schedules"] == [{"cron": schedule.cron, "timezone": schedule.timezone, "active": True}]
    assert deployment["concurrency_limit"]["limit"] == 1


def test_a_worker_on_the_pool_runs_the_deployment_in_the_checkout(deployed_run, http_json):
    run = deployed_run
    assert run.trigger.returncode == 0, run.trigger.stdout[-3000:] + run.worker.tail()
    assert run.flow_run["state"]["type"] == "COMPLETED"
    deployment = http_json(run.prefect.url, f"/deployments/name/{DEPLOYMENT}")
    assert run.flow_run["deployment_id"] == deployment["id"]
    assert deployment["work_pool_name"] == "visionops"
    assert deployment["global_concurrency_limit"]["limit"] == 1
    assert deployment["concurrency_options"]["collision_strategy"] == "ENQUEUE"
    schedule = project_params.load(REPO / "params.yaml").schedule
    assert [(s["schedule"]["cron"], s["schedule"]["timezone"]) for s in deployment["schedules"]] == [
        (schedule.cron, schedule.timezone)
    ]
    # the pull step named the checkout the deployment was made from; the worker ran elsewhere
    assert deployment["pull_steps"] == [
        {"prefect.deployments.steps.set_working_directory": {"directory": str(run.project)}}
    ]
    assert (run.project / "dvc.lock").is_file()
    assert (run.project / "data" / "models" / "standard" / "classifier.onnx").is_file()
    assert "up to date" in run.dvc("status").stdout  # the flow recorded dvc.lock as dvc repro would

    flow_run_id = run.flow_run["id"]
    parents = run.mlflow_runs(f"tags.`prefect_flow_run_id` = '{flow_run_id}' and tags.`visionops.stage` = 'pipeline'")
    assert len(parents) == 1 and parents[0]["info"]["status"] == "FINISHED"
