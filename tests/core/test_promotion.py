"""One promotion rule for every model: floors, then the score against the champion's by the margin."""

import os
from pathlib import Path

import pytest

from visionops import params as project_params
from visionops.core.errors import UserError
from visionops.core.promotion import Registration, judge, verdict_line
from visionops.core.sections import PromotionRule, RegistryParams

REPO = Path(__file__).resolve().parents[2]


def rule(**overrides) -> PromotionRule:
    return PromotionRule(**{"registered_model": "m", "score": "test_accuracy", **overrides})


def test_first_model_becomes_champion():
    assert judge(rule(), {"test_accuracy": 0.5}, None) == (True, "no champion yet")


def test_challenger_needs_champion_plus_margin():
    assert judge(rule(margin=0.005), {"test_accuracy": 0.915}, 0.91).promoted is True
    verdict = judge(rule(margin=0.005), {"test_accuracy": 0.914}, 0.91)
    assert verdict.promoted is False and verdict.reason == "test_accuracy 0.9140 < champion 0.9100 + margin 0.005"


def test_lower_is_better_scores_need_champion_minus_margin():
    fd = rule(score="fd_ratio", higher_is_better=False, margin=1.0)
    assert judge(fd, {"fd_ratio": 50.0}, 80.0).promoted is True
    assert judge(fd, {"fd_ratio": 79.5}, 80.0) == (False, "fd_ratio 79.5000 > champion 80.0000 - margin 1.0")


def test_a_floor_holds_back_even_the_best_score():
    gated = rule(floors={"test_accuracy": 0.85, "pgd_accuracy": 0.7})
    assert judge(gated, {"test_accuracy": 0.99, "pgd_accuracy": 0.69}, 0.9) == (
        False,
        "pgd_accuracy 0.6900 < floor 0.7",
    )
    assert judge(gated, {"test_accuracy": 0.99}, None).reason == (
        "no pgd_accuracy measured, and the rule asks for pgd_accuracy >= 0.7"
    )
    passed = judge(gated, {"test_accuracy": 0.99, "pgd_accuracy": 0.72}, 0.9)
    assert passed.promoted and passed.reason.endswith("; test_accuracy 0.9900 >= 0.85 and pgd_accuracy 0.7200 >= 0.7")


def test_a_score_that_was_not_measured_is_named():
    with pytest.raises(UserError, match="scores 'test_accuracy', which was not measured"):
        judge(rule(), {"truthfulness": 0.7}, None)


# What the cpu budget's rule in params.yaml must decide for each pipeline model: (passing metrics, failing metrics, why)
EXPECTED = {
    "standard": ({"test_accuracy": 0.925}, {"test_accuracy": 0.91}, "test_accuracy 0.9100 < floor 0.92"),
    "robust": (
        {"test_accuracy": 0.86, "pgd_accuracy": 0.72},
        {"test_accuracy": 0.86, "pgd_accuracy": 0.5},
        "pgd_accuracy 0.5000 < floor 0.7",
    ),
    "dcgan": ({"fd_ratio": 500.0}, None, None),
    "cgan": (
        {"fd_ratio": 80.0, "conditional_accuracy": 0.87, "precision": 0.8, "recall": 0.5},
        {"fd_ratio": 10.0, "conditional_accuracy": 0.5, "precision": 0.8, "recall": 0.5},
        "conditional_accuracy 0.5000 < floor 0.85",
    ),
    "show_tell": ({"truthfulness": 0.61}, {"truthfulness": 0.16}, "truthfulness 0.1600 < floor 0.6"),
    "attention": ({"truthfulness": 0.7}, {"truthfulness": 0.59}, "truthfulness 0.5900 < floor 0.6"),
}


@pytest.mark.parametrize("model", sorted(EXPECTED))
def test_every_model_s_rule_in_params(model):
    params = project_params.load(REPO / "params.yaml")
    model_rule = params.promotion_rule(model)
    passing, failing, why = EXPECTED[model]
    assert judge(model_rule, passing, None).promoted
    if failing is not None:
        assert judge(model_rule, failing, None) == (False, why)
    worse = {**passing, model_rule.score: passing[model_rule.score] * (1.5 if not model_rule.higher_is_better else 0.5)}
    if not model_rule.floors or all(worse.get(k, 1) >= f for k, f in model_rule.floors.items()):
        assert not judge(model_rule, worse, passing[model_rule.score]).promoted  # worse than the champion


def test_the_two_gans_and_the_two_captioners_compete_for_one_registered_model():
    promotion = project_params.load(REPO / "params.yaml").promotion
    assert promotion["dcgan"].registered_model == promotion["cgan"].registered_model == "visionops-generator"
    assert promotion["show_tell"].registered_model == promotion["attention"].registered_model == "visionops-captioner"
    assert len({promotion[m].registered_model for m in ("standard", "robust", "cgan", "attention")}) == 4


def test_the_verdict_line_says_what_happened():
    promoted = Registration("visionops-classifier", "3", 0.93, "3", True, "no champion yet")
    kept = Registration("visionops-classifier", "4", 0.91, "3", False, "test_accuracy 0.9100 < floor 0.92")
    assert verdict_line("register@standard", promoted) == (
        "register@standard: visionops-classifier version 3 is challenger; promoted to champion (no champion yet)"
    )
    assert verdict_line("register@standard", kept).endswith(
        "champion stays version 3 (test_accuracy 0.9100 < floor 0.92)"
    )


def test_aliases_follow_the_rule_across_registrations(tmp_path, migrated_mlflow_db):
    import shutil

    import mlflow
    import numpy as np
    import torch

    from visionops.classifier.export import export_onnx
    from visionops.classifier.networks import build_network
    from visionops.core.promotion import register_onnx

    db = tmp_path / "mlflow.db"
    shutil.copy(migrated_mlflow_db, db)
    mlflow.set_tracking_uri(f"sqlite:///{db}")
    experiment = mlflow.create_experiment("gate", artifact_location=(tmp_path / "artifacts").as_uri())
    net = build_network(
        {
            "network": "lenet5",
            "num_classes": 10,
            "in_channels": 1,
            "mean": 0.3,
            "std": 0.35,
            "resnet_widths": [8, 8, 8],
            "resnet_blocks": 1,
            "resnet_stem_pool": True,
        }
    )
    example = np.zeros((2, 1, 28, 28), np.float32)
    gated = PromotionRule(
        registered_model="gate-model", score="test_accuracy", margin=0.01, floors={"pgd_accuracy": 0.7}
    )
    outcomes = []
    try:
        for accuracy, pgd in ((0.90, 0.8), (0.85, 0.8), (0.95, 0.8), (0.99, 0.5)):  # the last: best, but not robust
            with torch.no_grad():  # another model each time: the same file again would find its version
                net.head[-1].bias.add_(0.01)
            path = tmp_path / "model.onnx"
            export_onnx(net.eval(), path, image_shape=(1, 28, 28), classes=[str(i) for i in range(10)], opset=18)
            with mlflow.start_run(experiment_id=experiment):
                result = register_onnx(
                    path,
                    rule=gated,
                    registry=RegistryParams(),
                    metrics={"test_accuracy": accuracy, "pgd_accuracy": pgd},
                    example=example,
                    tags={},
                )
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
