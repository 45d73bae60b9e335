"""Registering is idempotent (the same files find their version) and alias moves hold the project's registry lock."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from visionops.core import promotion
from visionops.core.sections import PromotionRule, RegistryParams


def _onnx(path, scale: float):
    """A two-input, two-output model computing pixels * scale."""
    import onnx
    from onnx import TensorProto, helper

    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["n", 2]) for n in ("pixels", "logits")]
    graph = helper.make_graph(
        [helper.make_node("Mul", ["pixels", "scale"], ["logits"])],
        "scaled",
        [io[0]],
        [io[1]],
        [helper.make_tensor("scale", TensorProto.FLOAT, [1], [scale])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.save(model, str(path))
    return path


@pytest.fixture
def registry(tmp_path, migrated_mlflow_db, monkeypatch):
    import mlflow

    db = tmp_path / "mlflow.db"
    shutil.copy(migrated_mlflow_db, db)
    monkeypatch.chdir(tmp_path)
    mlflow.set_tracking_uri(f"sqlite:///{db}")
    mlflow.set_experiment("registration")
    yield mlflow.MlflowClient()
    mlflow.set_tracking_uri(None)  # set_tracking_uri also exports MLFLOW_TRACKING_URI; leave the process as it was
    os.environ.pop("MLFLOW_TRACKING_URI", None)


def _register(path, accuracy, registry=None):
    import mlflow

    rule = PromotionRule(registered_model="m", score="test_accuracy")
    with mlflow.start_run():
        return promotion.register_onnx(
            path,
            rule=rule,
            registry=registry or RegistryParams(),
            metrics={"test_accuracy": accuracy},
            example=np.zeros((1, 2)),
            tags={"model": "standard", "git_commit": "abc123"},
        )


def test_the_same_file_registered_twice_is_one_version(registry, tmp_path):
    first = _register(_onnx(tmp_path / "a.onnx", 1.0), 0.90)
    again = _register(tmp_path / "a.onnx", 0.90)
    assert (first.version, first.promoted) == ("1", True)
    assert (again.version, again.promoted, again.champion_version) == ("1", False, "1")
    assert again.reason == "this version is already the champion"
    assert len(registry.search_model_versions("name = 'm'")) == 1
    other = _register(_onnx(tmp_path / "b.onnx", 2.0), 0.95)
    assert (other.version, other.promoted) == ("2", True)
    assert str(registry.get_model_version_by_alias("m", promotion.CHAMPION).version) == "2"
    digest = registry.get_model_version("m", "2").tags[promotion.DIGEST_TAG]
    assert digest == promotion.files_digest(tmp_path / "b.onnx")


def test_a_budget_that_may_not_promote_moves_neither_champion_nor_challenger_and_marks_its_versions(registry, tmp_path):
    champion = _register(_onnx(tmp_path / "a.onnx", 1.0), 0.90)
    tiny = RegistryParams(promote=False, label="tiny")
    better = _register(_onnx(tmp_path / "b.onnx", 2.0), 0.99, registry=tiny)  # beats the champion, but from tiny
    assert (better.version, better.promoted, better.champion_version) == ("2", False, champion.version)
    assert "registry.promote is false for 'tiny'" in better.reason
    assert str(registry.get_model_version_by_alias("m", promotion.CHAMPION).version) == champion.version
    assert str(registry.get_model_version_by_alias("m", promotion.CHALLENGER).version) == champion.version
    assert str(registry.get_model_version_by_alias("m", "tiny").version) == "2" and better.alias == "tiny"
    assert "is 'tiny' (its budget's alias); champion stays version 1" in promotion.verdict_line("r", better)
    marked = registry.get_model_version("m", "2")
    assert marked.tags[promotion.BUDGET_TAG] == "tiny" and registry.get_model_version("m", "1").tags["budget"] == "cpu"
    assert "'standard', tiny budget, commit abc123" in marked.description
    assert "test_accuracy 0.9900" in marked.description
    assert "champion" in registry.get_registered_model("m").description


def test_the_registry_lock_excludes_another_process(tmp_path):
    probe = (
        "import fcntl, sys\n"
        f"handle = open({str(tmp_path / promotion.LOCK_FILE)!r}, 'a')\n"
        "try:\n"
        "    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        "except BlockingIOError:\n"
        "    sys.exit(3)\n"
    )
    with promotion.registry_lock(tmp_path):
        assert subprocess.run([sys.executable, "-c", probe]).returncode == 3
    assert subprocess.run([sys.executable, "-c", probe]).returncode == 0
