"""The MLflow model registry: register an ONNX model with its signature; aliases challenger and champion."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHALLENGER, CHAMPION = "challenger", "champion"
GATE_TAG = "test_accuracy"
PGD_TAG = "pgd_accuracy"


@dataclass(frozen=True)
class Registration:
    name: str
    version: str
    test_accuracy: float
    champion_version: str
    promoted: bool
    reason: str


def robustness_gate(clean: float, pgd: float | None, gate: Any, eps: float) -> tuple[bool, str]:
    """A model with a robustness gate must reach both its clean and its PGD accuracy floors to be promoted."""
    if gate is None:
        return True, ""
    if pgd is None:
        return False, "no PGD accuracy measured for a model with a robustness gate"
    if clean < gate.clean_accuracy:
        return False, f"clean accuracy {clean:.4f} < gate {gate.clean_accuracy}"
    if pgd < gate.pgd_accuracy:
        return False, f"PGD accuracy {pgd:.4f} at eps {eps} < gate {gate.pgd_accuracy}"
    return True, f"clean {clean:.4f} >= {gate.clean_accuracy} and PGD {pgd:.4f} >= {gate.pgd_accuracy} at eps {eps}"


def decide_promotion(candidate: float, champion: float | None, margin: float) -> tuple[bool, str]:
    """A challenger becomes champion when its accuracy is at least the champion's plus the margin."""
    if champion is None:
        return True, "no champion yet"
    needed = champion + margin
    if candidate >= needed:
        return True, f"test accuracy {candidate:.4f} >= champion {champion:.4f} + margin {margin}"
    return False, f"test accuracy {candidate:.4f} < champion {champion:.4f} + margin {margin}"


def register_onnx(
    onnx_path: Path,
    name: str,
    test_accuracy: float,
    margin: float,
    example: Any,
    extra_tags: dict[str, str],
    gate: tuple[bool, str] = (True, ""),
) -> Registration:
    """Log the ONNX file to the active run, register it, and move the aliases.

    `gate` is the verdict of any absolute gate (robustness): if it fails, the model stays challenger only.
    """
    import mlflow
    import numpy as np
    import onnx
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException
    from mlflow.models import infer_signature

    from visionops.inference import predict_logits, session

    example = np.asarray(example, dtype=np.float32)
    signature = infer_signature(example, predict_logits(session(onnx_path), example))
    # a fresh proto each time: logging one ModelProto object twice breaks the second copy
    info = mlflow.onnx.log_model(
        onnx.load_model(str(onnx_path)),
        name="model",
        registered_model_name=name,
        signature=signature,
        save_as_external_data=False,
    )
    version = str(info.registered_model_version)
    client = MlflowClient()
    client.set_model_version_tag(name, version, GATE_TAG, f"{test_accuracy:.6f}")
    for key, value in extra_tags.items():
        client.set_model_version_tag(name, version, key, value)
    client.set_registered_model_alias(name, CHALLENGER, version)
    try:
        current = client.get_model_version_by_alias(name, CHAMPION)
        champion_acc = float(current.tags.get(GATE_TAG, "nan"))
        champion_version = current.version
    except MlflowException:
        champion_acc, champion_version = None, ""
    promoted, reason = gate if not gate[0] else decide_promotion(test_accuracy, champion_acc, margin)
    if promoted and gate[1]:
        reason = f"{reason}; {gate[1]}"
    if promoted:
        client.set_registered_model_alias(name, CHAMPION, version)
        champion_version = version
    return Registration(name, version, test_accuracy, str(champion_version), promoted, reason)
