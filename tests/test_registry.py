import os

from visionops.config import RobustnessGate
from visionops.registry import decide_promotion, robustness_gate


def test_first_model_becomes_champion():
    assert decide_promotion(0.5, None, 0.01)[0] is True


def test_challenger_needs_champion_plus_margin():
    assert decide_promotion(0.915, 0.91, 0.005)[0] is True
    promoted, reason = decide_promotion(0.914, 0.91, 0.005)
    assert promoted is False and "0.9140 < champion 0.9100" in reason


def test_the_robustness_gate_needs_both_clean_and_pgd_accuracy():
    gate = RobustnessGate(clean_accuracy=0.85, pgd_accuracy=0.70)
    assert robustness_gate(0.86, 0.72, gate, 0.1)[0] is True
    passed, reason = robustness_gate(0.86, 0.69, gate, 0.1)
    assert passed is False and reason == "PGD accuracy 0.6900 at eps 0.1 < gate 0.7"
    passed, reason = robustness_gate(0.84, 0.90, gate, 0.1)
    assert passed is False and reason == "clean accuracy 0.8400 < gate 0.85"
    assert robustness_gate(0.86, None, gate, 0.1)[0] is False  # gated, but never attacked
    assert robustness_gate(0.10, None, None, 0.1) == (True, "")  # no gate for this model


def test_aliases_follow_the_gate_across_registrations(tmp_path, migrated_mlflow_db):
    import shutil

    import mlflow
    import numpy as np

    from visionops.export.onnx_export import export_onnx
    from visionops.models import build_network
    from visionops.registry import register_onnx

    db = tmp_path / "mlflow.db"
    shutil.copy(migrated_mlflow_db, db)
    mlflow.set_tracking_uri(f"sqlite:///{db}")
    experiment = mlflow.create_experiment("gate", artifact_location=(tmp_path / "artifacts").as_uri())
    net = build_network({"network": "lenet5", "num_classes": 10, "in_channels": 1, "mean": 0.3, "std": 0.35,
                         "resnet_widths": [8, 8, 8], "resnet_blocks": 1, "resnet_stem_pool": True})
    path = tmp_path / "model.onnx"
    export_onnx(net.eval(), path, (1, 28, 28), [str(i) for i in range(10)], 18)
    example = np.zeros((2, 1, 28, 28), np.float32)
    outcomes = []
    try:
        for accuracy in (0.90, 0.85, 0.95):
            with mlflow.start_run(experiment_id=experiment):
                result = register_onnx(path, "gate-model", accuracy, 0.01, example, {})
            outcomes.append((result.version, result.champion_version, result.promoted))
        with mlflow.start_run(experiment_id=experiment):  # the best accuracy yet, but it fails its robustness gate
            result = register_onnx(path, "gate-model", 0.99, 0.01, example, {}, gate=(False, "PGD accuracy too low"))
        outcomes.append((result.version, result.champion_version, result.promoted))
        client = mlflow.MlflowClient()
        version = client.get_model_version_by_alias("gate-model", "challenger")
        signature = mlflow.models.get_model_info(f"models:/gate-model/{version.version}").signature
    finally:  # set_tracking_uri also exports MLFLOW_TRACKING_URI; leave the process as it was
        mlflow.set_tracking_uri(None)
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    assert outcomes == [("1", "1", True), ("2", "1", False), ("3", "3", True), ("4", "3", False)]
    assert str(version.version) == "4"
    assert tuple(signature.inputs.to_dict()[0]["tensor-spec"]["shape"]) == (-1, 1, 28, 28)
