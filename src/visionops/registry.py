"""The MLflow model registry: register an ONNX model with its signature; aliases challenger and champion."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHALLENGER, CHAMPION = "challenger", "champion"
GATE_TAG = "test_accuracy"
TRUTHFULNESS_TAG = "truthfulness"
FD_RATIO_TAG = "fd_ratio"
PGD_TAG = "pgd_accuracy"


@dataclass(frozen=True)
class Registration:
    name: str
    version: str
    score: float  # what was compared with the champion: test accuracy, or a generator's FD/floor
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


def generator_gate(metrics: dict[str, Any], gate: Any) -> tuple[bool, str]:
    """A generator with a gate must reach its floors of conditional accuracy, precision and recall to be promoted."""
    if gate is None:
        return True, ""
    checks = [(key, floor) for key, floor in gate.model_dump().items() if floor > 0]
    for key, floor in checks:
        value = metrics.get(key)
        if value is None:
            return False, f"no {key.replace('_', ' ')} measured for a model whose gate asks for it"
        if value < floor:
            return False, f"{key.replace('_', ' ')} {value:.4f} < gate {floor}"
    return True, " and ".join(f"{key.replace('_', ' ')} {metrics[key]:.4f} >= {floor}" for key, floor in checks)


def decide_promotion(
    candidate: float, champion: float | None, margin: float, higher_is_better: bool = True, metric: str = "test accuracy"
) -> tuple[bool, str]:
    """A challenger becomes champion when its score beats the champion's by at least the margin."""
    if champion is None:
        return True, "no champion yet"
    if higher_is_better:
        promoted = candidate >= champion + margin
        return promoted, f"{metric} {candidate:.4f} {'>=' if promoted else '<'} champion {champion:.4f} + margin {margin}"
    promoted = candidate <= champion - margin
    return promoted, f"{metric} {candidate:.4f} {'<=' if promoted else '>'} champion {champion:.4f} - margin {margin}"


def register_onnx(
    onnx_path: Path,
    name: str,
    score: float,
    margin: float,
    example: Any,
    extra_tags: dict[str, str],
    gate: tuple[bool, str] = (True, ""),
    score_tag: str = GATE_TAG,
    higher_is_better: bool = True,
) -> Registration:
    """Log the ONNX file to the active run, register it, and move the aliases.

    `score` is what is compared with the champion's (tag `score_tag`; a generator's is its FD/floor,
    lower is better). `example` is the input array, or a dict of named inputs.
    `gate` is the verdict of any absolute gate (robustness): if it fails, the model stays challenger only.
    """
    import mlflow
    import numpy as np
    import onnx
    from mlflow.models import infer_signature

    from visionops.inference import predict_logits, session

    if isinstance(example, dict):
        signature = infer_signature(example, session(onnx_path).run(None, example)[0])
    else:
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
    return promote_version(name, str(info.registered_model_version), score, margin, extra_tags, gate, score_tag,
                           higher_is_better)


def promote_version(
    name: str,
    version: str,
    score: float,
    margin: float,
    extra_tags: dict[str, str],
    gate: tuple[bool, str] = (True, ""),
    score_tag: str = GATE_TAG,
    higher_is_better: bool = True,
) -> Registration:
    """Tag a new model version, make it challenger, and champion if it passes its gate and beats the champion."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    client.set_model_version_tag(name, version, score_tag, f"{score:.6f}")
    for key, value in extra_tags.items():
        client.set_model_version_tag(name, version, key, value)
    client.set_registered_model_alias(name, CHALLENGER, version)
    try:
        current = client.get_model_version_by_alias(name, CHAMPION)
        champion_score = float(current.tags.get(score_tag, "nan"))
        champion_version = current.version
    except MlflowException:
        champion_score, champion_version = None, ""
    promoted, reason = gate if not gate[0] else decide_promotion(
        score, champion_score, margin, higher_is_better, score_tag.replace("_", " ")
    )
    if promoted and gate[1]:
        reason = f"{reason}; {gate[1]}"
    if promoted:
        client.set_registered_model_alias(name, CHAMPION, version)
        champion_version = version
    return Registration(name, version, score, str(champion_version), promoted, reason)


def registered_name(registered_models: dict[str, str], model: str) -> str:
    """The registered model a pipeline model goes to (tracking.registered_models)."""
    from visionops.errors import UserError

    if model not in registered_models:
        raise UserError(f"tracking.registered_models has no entry for model '{model}'; add one in params.yaml")
    return registered_models[model]
