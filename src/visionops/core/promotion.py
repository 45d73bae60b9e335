"""The model registry and its one promotion rule.

Every registered model version becomes `challenger`; it becomes `champion` when it passes every floor of its rule
(params.yaml `promotion.<model>`) and its score beats the champion's by the rule's margin. `judge` decides; the
register stages of every family log and print its verdict the same way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple

from visionops.core.errors import UserError
from visionops.core.sections import PromotionRule

CHALLENGER, CHAMPION = "challenger", "champion"


class Verdict(NamedTuple):
    promoted: bool
    reason: str


@dataclass(frozen=True)
class Registration:
    name: str
    version: str
    score: float  # what was compared with the champion's (the rule's score)
    champion_version: str
    promoted: bool
    reason: str


def judge(rule: PromotionRule, metrics: dict[str, float], champion_score: float | None) -> Verdict:
    """A candidate with `metrics` against its rule and the champion's score (None: there is no champion)."""
    for key, floor in rule.floors.items():
        value = metrics.get(key)
        if value is None:
            return Verdict(False, f"no {key} measured, and the rule asks for {key} >= {floor}")
        if value < floor:
            return Verdict(False, f"{key} {value:.4f} < floor {floor}")
    if rule.score not in metrics:
        raise UserError(
            f"the promotion rule scores '{rule.score}', which was not measured (have: {', '.join(metrics)})"
        )
    score = metrics[rule.score]
    if champion_score is None:
        promoted, reason = True, "no champion yet"
    elif rule.higher_is_better:
        promoted = score >= champion_score + rule.margin
        reason = (
            f"{rule.score} {score:.4f} {'>=' if promoted else '<'} champion {champion_score:.4f} + margin {rule.margin}"
        )
    else:
        promoted = score <= champion_score - rule.margin
        reason = (
            f"{rule.score} {score:.4f} {'<=' if promoted else '>'} champion {champion_score:.4f} - margin {rule.margin}"
        )
    if promoted and rule.floors:
        reason += "; " + " and ".join(f"{key} {metrics[key]:.4f} >= {floor}" for key, floor in rule.floors.items())
    return Verdict(promoted, reason)


def register_onnx(
    onnx_path: Path, *, rule: PromotionRule, metrics: dict[str, float], example: Any, tags: dict[str, str]
) -> Registration:
    """Log the ONNX file to the active run, register it under the rule's name, and move the aliases.

    `example` is the input array (fed to the model's only input) or a dict of named inputs.
    """
    import mlflow
    import numpy as np
    import onnx
    from mlflow.models import infer_signature

    from visionops.core.ort import session

    sess = session(onnx_path)
    feeds = example if isinstance(example, dict) else {sess.get_inputs()[0].name: np.asarray(example, np.float32)}
    signature_input = example if isinstance(example, dict) else feeds[sess.get_inputs()[0].name]
    signature = infer_signature(signature_input, sess.run(None, feeds)[0])
    # a fresh proto each time: logging one ModelProto object twice breaks the second copy
    info = mlflow.onnx.log_model(
        onnx.load_model(str(onnx_path)),
        name="model",
        registered_model_name=rule.registered_model,
        signature=signature,
        save_as_external_data=False,
    )
    return promote_version(str(info.registered_model_version), rule=rule, metrics=metrics, tags=tags)


def promote_version(
    version: str, *, rule: PromotionRule, metrics: dict[str, float], tags: dict[str, str]
) -> Registration:
    """Tag a new model version, make it challenger, and champion if `judge` says so."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    name = rule.registered_model
    score = metrics[rule.score]
    client.set_model_version_tag(name, version, rule.score, f"{score:.6f}")
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    client.set_registered_model_alias(name, CHALLENGER, version)
    try:
        current = client.get_model_version_by_alias(name, CHAMPION)
        champion_score: float | None = float(current.tags.get(rule.score, "nan"))
        champion_version = str(current.version)
    except MlflowException:
        champion_score, champion_version = None, ""
    verdict = judge(rule, metrics, champion_score)
    if verdict.promoted:
        client.set_registered_model_alias(name, CHAMPION, version)
        champion_version = version
    return Registration(name, version, score, champion_version, verdict.promoted, verdict.reason)


def verdict_line(stage: str, result: Registration) -> str:
    """What every register stage prints and logs."""
    if result.promoted:
        outcome = "promoted to champion"
    elif result.champion_version:
        outcome = f"champion stays version {result.champion_version}"
    else:
        outcome = "no champion yet"
    return f"{stage}: {result.name} version {result.version} is challenger; {outcome} ({result.reason})"


def record(stage: str, result: Registration, out: Path) -> None:
    """Tag the active run with the verdict, write the registration file, and print the verdict line."""
    import mlflow

    from visionops.core.io import atomic_write_json

    line = verdict_line(stage, result)
    mlflow.set_tags({"registered_version": result.version, "promoted": str(result.promoted), "verdict": line[:5000]})
    atomic_write_json(out, asdict(result))
    print(line)
