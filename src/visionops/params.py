"""The whole of params.yaml: the core sections and each family's own, assembled into one validated model.

A new family adds its sections here (and its variants to VARIANTS); loading, validation, budgets and overrides
are the generic ones of `visionops.core.config`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import model_validator

from visionops.captioning.params import VARIANTS as CAPTIONING_VARIANTS
from visionops.captioning.params import CaptionerParams, CaptionEvaluationParams
from visionops.classifier.params import VARIANTS as CLASSIFIER_VARIANTS
from visionops.classifier.params import ClassifierParams, EvaluationParams
from visionops.core import config
from visionops.core.config import PARAMS_FILE, Section
from visionops.core.errors import UserError
from visionops.core.runtime import apply_environment_defaults, find_project_root, tune_allocator
from visionops.core.sections import ExportParams, PromotionRule, RegistryParams, ScheduleParams, TrackingParams
from visionops.core.stage import ParamsView, declared_params, stage_names, started
from visionops.data.params import ClutteredSceneParams, DataParams, QuestionParams, SceneParams
from visionops.detection.params import (
    DetectionEvaluationParams,
    DetectionExportParams,
    DetectorParams,
    RCNNParams,
)
from visionops.gan.params import VARIANTS as GAN_VARIANTS
from visionops.gan.params import GANEvaluationParams, GANParams
from visionops.robustness.params import RobustnessParams
from visionops.segmentation.params import VARIANTS as SEGMENTATION_VARIANTS
from visionops.segmentation.params import SegmentationEvaluationParams, SegmentationExportParams, SegmenterParams
from visionops.vqa.params import VARIANTS as VQA_VARIANTS
from visionops.vqa.params import SymbolicParams, VQAEvaluationParams, VQAParams

VARIANTS = {**CLASSIFIER_VARIANTS, **GAN_VARIANTS, **CAPTIONING_VARIANTS, **SEGMENTATION_VARIANTS, **VQA_VARIANTS}
S = TypeVar("S", bound=Section)


class Params(Section):
    data: DataParams = DataParams()
    scenes: SceneParams = SceneParams()
    classifier: ClassifierParams = ClassifierParams()
    robust_classifier: ClassifierParams = ClassifierParams()
    evaluation: EvaluationParams = EvaluationParams()
    robustness: RobustnessParams = RobustnessParams()
    gan: GANParams = GANParams()
    conditional_gan: GANParams = GANParams()
    gan_evaluation: GANEvaluationParams = GANEvaluationParams()
    captioner: CaptionerParams = CaptionerParams()
    attention_captioner: CaptionerParams = CaptionerParams()
    caption_evaluation: CaptionEvaluationParams = CaptionEvaluationParams()
    cluttered_scenes: ClutteredSceneParams = ClutteredSceneParams()
    segmenter: SegmenterParams = SegmenterParams()
    fcn_segmenter: SegmenterParams = SegmenterParams()
    segmentation_export: SegmentationExportParams = SegmentationExportParams()
    segmentation_evaluation: SegmentationEvaluationParams = SegmentationEvaluationParams()
    detector: DetectorParams = DetectorParams()
    rcnn: RCNNParams = RCNNParams()
    detection_export: DetectionExportParams = DetectionExportParams()
    detection_evaluation: DetectionEvaluationParams = DetectionEvaluationParams()
    questions: QuestionParams = QuestionParams()
    vqa: VQAParams = VQAParams()
    cnn_lstm_vqa: VQAParams = VQAParams()
    blind_vqa: VQAParams = VQAParams()
    vqa_symbolic: SymbolicParams = SymbolicParams()
    vqa_evaluation: VQAEvaluationParams = VQAEvaluationParams()
    export: ExportParams = ExportParams()
    promotion: dict[str, PromotionRule] = {}
    registry: RegistryParams = RegistryParams()
    tracking: TrackingParams = TrackingParams()
    schedule: ScheduleParams = ScheduleParams()
    budgets: dict[Literal["tiny", "cpu", "gpu"], dict[str, Any]] = {}

    @model_validator(mode="before")
    @classmethod
    def _variants_inherit(cls, raw: Any) -> Any:
        return config.inherit_variants(raw, VARIANTS)

    @model_validator(mode="after")
    def _budgets_override_known_keys(self) -> Params:
        unknown = config.unknown_budget_keys(self, self.budgets)
        if unknown:
            raise ValueError(f"{unknown[0]} is not a key of params.yaml")
        return self

    def section(self, name: str, kind: type[S]) -> S:
        """One section by its params.yaml name, checked to be of `kind` (a --section argument, say)."""
        value = getattr(self, name, None) if name in type(self).model_fields else None
        if not isinstance(value, kind):
            allowed = ", ".join(k for k, f in type(self).model_fields.items() if f.annotation is kind)
            label = kind.__name__.removesuffix("Params")
            raise UserError(
                f"'{name}' is not a {label if label.isupper() else label.lower()} section of params.yaml "
                f"(allowed: {allowed})"
            )
        return value

    def promotion_rule(self, model: str) -> PromotionRule:
        if model not in self.promotion:
            raise UserError(f"params.yaml has no promotion rule for model '{model}'; add promotion.{model}")
        return self.promotion[model]


def load(path: str | Path = PARAMS_FILE) -> Params:
    params = config.load(Params, path)
    check_against_dag(params, Path(path).parent / "dvc.yaml")
    return params


def validate(raw: dict[str, Any], source: str = PARAMS_FILE) -> Params:
    return config.validate(Params, raw, source)


def apply_overrides(path: str | Path, overrides: dict[str, Any]) -> Params:
    dvc_yaml = Path(path).parent / "dvc.yaml"
    return config.apply_overrides(Params, path, overrides, check=lambda params: check_against_dag(params, dvc_yaml))


def check_against_dag(params: Params, dvc_yaml: Path) -> None:
    """The keys that name stages or models must name ones dvc.yaml has (nothing to check without a dvc.yaml)."""
    if not dvc_yaml.is_file():
        return
    names = stage_names(dvc_yaml)
    unknown = sorted(set(params.schedule.stage_retries) - set(names))
    if unknown:
        raise UserError(
            f"params.yaml: schedule.stage_retries names '{unknown[0]}', which is no stage of dvc.yaml "
            f"(stages: {', '.join(names)})"
        )
    models = sorted({name.partition("@")[2] for name in names if name.partition("@")[0].endswith("register")} - {""})
    unknown = sorted(set(params.promotion) - set(models))
    if unknown:
        raise UserError(
            f"params.yaml: promotion.{unknown[0]} is a rule for a model no register stage registers "
            f"(they register: {', '.join(models)})"
        )


def start_stage(args: argparse.Namespace, *, stage: str) -> tuple[ParamsView, Path]:
    """For a stage entry point: validate params.yaml, set the environment defaults and tune the allocator; return
    (the stage's params view, the project root)."""
    try:
        root: Path | None = find_project_root(args.params.resolve().parent)
    except UserError:
        root = None  # said after the params are checked: their error is the more useful one
    if root is not None:
        started(root, stage)  # before the params: bad ones must not cost the previous outputs either (stage_main)
    params = load(args.params)
    root = root or find_project_root(args.params.resolve().parent)
    apply_environment_defaults(root)
    tune_allocator()
    return ParamsView(params, declared_params(root / "dvc.yaml", stage), stage), root
