"""The model registry and its one promotion rule.

Every registered model version becomes `challenger`; it becomes `champion` when it passes every floor of its rule
(params.yaml `promotion.<model>`) and its score beats the champion's by the rule's margin. A budget that never
promotes (`registry.promote: false`, the tiny one) gives its versions its label as alias instead (`tiny`): trying it
leaves `challenger` and `champion` where the real runs put them. `judge` decides; the
register stages of every family log and print its verdict the same way.

Registering is idempotent: a version carries the SHA-256 of its model files from the moment it is created, and the
same files registered again (a rerun after a failure, say) find that version instead of adding one. Alias moves
read the champion, judge, then write; `registry_lock` keeps two register stages of one project from interleaving.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple

from visionops.core.errors import UserError
from visionops.core.sections import PromotionRule, RegistryParams

CHALLENGER, CHAMPION = "challenger", "champion"
DIGEST_TAG = "model_sha256"
BUDGET_TAG = "budget"
LOCK_FILE = Path(".dvc") / "tmp" / "visionops-registry.lock"


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
    alias: str = CHALLENGER  # the one this version was given besides champion


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
    onnx_path: Path,
    *,
    rule: PromotionRule,
    registry: RegistryParams,
    metrics: dict[str, float],
    example: Any,
    tags: dict[str, str],
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
    digest = files_digest(onnx_path)
    version = registered_version(rule.registered_model, digest)
    if version is None:
        # a fresh proto each time: logging one ModelProto object twice breaks the second copy
        info = mlflow.onnx.log_model(
            onnx.load_model(str(onnx_path)), name="model", signature=signature, save_as_external_data=False
        )
        version = register(info.model_uri, rule.registered_model, digest)
    return promote_version(version, rule=rule, registry=registry, metrics=metrics, tags=tags)


def files_digest(*paths: Path) -> str:
    """SHA-256 over the bytes of `paths`, in order: what makes two registrations the same model."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def registered_version(name: str, digest: str) -> str | None:
    """The earliest version of `name` registered from files of this digest, if any."""
    from mlflow import MlflowClient

    found = MlflowClient().search_model_versions(f"name = '{name}' and tags.{DIGEST_TAG} = '{digest}'")
    return str(min(int(v.version) for v in found)) if found else None


def register(model_uri: str, name: str, digest: str) -> str:
    """Create a version of `name` from a logged model, its digest tag written with it (one call, so a version
    without its digest never exists)."""
    import mlflow

    return str(mlflow.register_model(model_uri, name, tags={DIGEST_TAG: digest}).version)


@contextmanager
def registry_lock(root: Path) -> Iterator[None]:
    """Hold the project's registry lock (an exclusive flock) while reading and moving aliases."""
    import fcntl

    path = root / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def promote_version(
    version: str, *, rule: PromotionRule, registry: RegistryParams, metrics: dict[str, float], tags: dict[str, str]
) -> Registration:
    """Tag and describe a model version, make it challenger, and champion if `judge` says so; where `registry` never
    promotes, give it the alias `registry.label` instead (call it under `registry_lock`)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    name = rule.registered_model
    score = metrics[rule.score]
    client.set_model_version_tag(name, version, rule.score, f"{score:.6f}")
    for key, value in {**tags, BUDGET_TAG: registry.label}.items():
        client.set_model_version_tag(name, version, key, value)
    client.update_model_version(name, version, description=version_description(rule, registry, metrics, tags))
    if not client.get_registered_model(name).description:
        client.update_registered_model(name, description=model_description(rule))
    try:
        current = client.get_model_version_by_alias(name, CHAMPION)
        champion_score: float | None = float(current.tags.get(rule.score, "nan"))
        champion_version = str(current.version)
    except MlflowException:
        champion_score, champion_version = None, ""
    if not registry.promote:
        client.set_registered_model_alias(name, registry.label, version)
        reason = f"registry.promote is false for '{registry.label}': its versions never become champion"
        return Registration(name, version, score, champion_version, False, reason, alias=registry.label)
    client.set_registered_model_alias(name, CHALLENGER, version)
    if champion_version == version:
        return Registration(name, version, score, version, False, "this version is already the champion")
    verdict = judge(rule, metrics, champion_score)
    if verdict.promoted:
        client.set_registered_model_alias(name, CHAMPION, version)
        champion_version = version
    return Registration(name, version, score, champion_version, verdict.promoted, verdict.reason)


def version_description(
    rule: PromotionRule, registry: RegistryParams, metrics: dict[str, float], tags: dict[str, str]
) -> str:
    """What a version is, what it measured, and what made it: the text the MLflow UI shows beside it."""
    model = tags.get("model", rule.registered_model)
    measured = ", ".join(f"{key} {value:.4f}" for key, value in metrics.items())
    return (
        f"Pipeline model '{model}', {registry.label} budget, commit {tags.get('git_commit', 'unknown')}, data "
        f"{tags.get('data_version', 'unknown')}. Measured: {measured}. Made by `visionops run` (or `dvc repro`); "
        f"its MLflow run is {tags.get('run_id', 'unknown')}."
    )


def model_description(rule: PromotionRule) -> str:
    floors = " and ".join(f"{key} >= {floor}" for key, floor in rule.floors.items()) or "none"
    direction = "higher" if rule.higher_is_better else "lower"
    return (
        "Registered by the visionops pipeline's register stages (dvc.yaml). Every new version is `challenger`; it "
        f"becomes `champion` when every floor holds ({floors}) and its {rule.score} ({direction} is better) beats "
        f"the champion's by {rule.margin}. The rule is params.yaml `promotion.<model>`."
    )


def verdict_line(stage: str, result: Registration) -> str:
    """What every register stage prints and logs."""
    if result.promoted:
        outcome = "promoted to champion"
    elif result.champion_version:
        outcome = f"champion stays version {result.champion_version}"
    else:
        outcome = "no champion yet"
    alias = CHALLENGER if result.alias == CHALLENGER else f"'{result.alias}' (its budget's alias)"
    return f"{stage}: {result.name} version {result.version} is {alias}; {outcome} ({result.reason})"


def record(stage: str, result: Registration, out: Path) -> None:
    """Tag the active run with the verdict, write the registration file, and print the verdict line."""
    import mlflow

    from visionops.core.io import atomic_write_json

    line = verdict_line(stage, result)
    mlflow.set_tags({"registered_version": result.version, "promoted": str(result.promoted), "verdict": line[:5000]})
    atomic_write_json(out, asdict(result))
    print(line)


def register_evaluated(
    *,
    stage: str,
    name: str,
    onnx: Path,
    metrics_path: Path,
    keys: tuple[str, ...],
    example: Any,
    params: Any,
    root: Path,
    out: Path,
) -> None:
    """Register the ONNX model of pipeline model `name`, judged by its rule on what its evaluate stage measured:
    `keys` of the `name` entry of `metrics_path` (an evaluation report keyed by model), a key it lacks left out."""
    import json

    import mlflow

    from visionops.core import tracking

    rule = params.promotion_rule(name)
    try:
        report = json.loads(metrics_path.read_text())[name]
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"{metrics_path} has no metrics for '{name}' ({exc}); rerun the stage that writes it") from None
    measured = {k: float(report[k]) for k in keys if k in report}
    tags = {
        "git_commit": tracking.git_commit(root),
        "data_version": tracking.data_version(root),
        "model": name,
        **{k: f"{v:.6f}" for k, v in measured.items() if k != rule.score},
    }
    with tracking.stage_run(stage, params.tracking, root) as run, registry_lock(root):
        mlflow.log_metrics(measured)
        tags["run_id"] = run.info.run_id
        result = register_onnx(onnx, rule=rule, registry=params.registry, metrics=measured, example=example, tags=tags)
        record(stage, result, out)
