"""params.yaml loaded into typed, frozen models; budgets applied as plain key overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from visionops.errors import UserError

PARAMS_FILE = "params.yaml"
BUDGETS = ("tiny", "cpu", "gpu")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataParams(_Section):
    dataset: Literal["fashion_mnist", "mnist", "imagefolder"] = "fashion_mnist"
    image_folder: str | None = None
    val_fraction: float = Field(0.1, gt=0.0, lt=1.0)
    seed: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _folder_for_imagefolder(self) -> "DataParams":
        if self.dataset == "imagefolder" and not self.image_folder:
            raise ValueError("data.image_folder must name a folder when data.dataset is imagefolder")
        return self


class AugmentParams(_Section):
    flip: bool = True
    translate: int = Field(0, ge=0, le=8)
    erase_prob: float = Field(0.0, ge=0.0, le=1.0)


class AdversarialParams(_Section):
    """Adversarial training: each training batch is replaced by adversarial examples of itself."""

    method: Literal["none", "fgsm_rs", "pgd"] = "none"
    eps: float = Field(0.1, ge=0.0, le=1.0)
    step_size: float = Field(0.125, gt=0.0, le=1.0)  # fgsm_rs: 1.25 * eps (Wong et al. 2020); pgd: per step
    steps: int = Field(7, ge=1)  # pgd only
    warmup_fraction: float = Field(0.3, ge=0.0, le=1.0)  # eps ramps up linearly over this share of the steps
    check_images: int = Field(512, ge=1)  # held-out val images attacked with PGD after each epoch
    check_steps: int = Field(10, ge=1)

    @model_validator(mode="after")
    def _eps_when_training(self) -> "AdversarialParams":
        if self.method != "none" and self.eps <= 0:
            raise ValueError(f"eps must be > 0 for adversarial training with method {self.method}")
        return self


class ClassifierParams(_Section):
    network: Literal["lenet5", "resnet"] = "resnet"
    resnet_widths: tuple[int, int, int] = (32, 64, 128)
    resnet_blocks: int = Field(1, ge=1, le=8)
    resnet_stem_pool: bool = True
    epochs: int = Field(5, ge=1)
    batch_size: int = Field(128, ge=1)
    lr: float = Field(0.004, gt=0.0, le=10.0)
    weight_decay: float = Field(0.0005, ge=0.0)
    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0)
    augment: AugmentParams = AugmentParams()
    limit_train_batches: float | int = Field(1.0, gt=0)
    limit_val_batches: float | int = Field(1.0, gt=0)
    accelerator: str = "auto"
    devices: int | str = "auto"
    strategy: str = "auto"
    num_nodes: int = Field(1, ge=1)
    precision: Literal["auto", "32-true", "bf16-mixed", "16-mixed"] = "auto"
    channels_last: Literal["auto", True, False] = "auto"
    compile: bool = False
    seed: int = Field(0, ge=0)
    adversarial: AdversarialParams = AdversarialParams()

    @field_validator("resnet_widths")
    @classmethod
    def _positive_widths(cls, widths: tuple[int, int, int]) -> tuple[int, int, int]:
        if any(w < 1 for w in widths):
            raise ValueError("every width must be >= 1")
        return widths


class ExportParams(_Section):
    opset: int = Field(18, ge=13, le=23)
    parity_batch_sizes: tuple[int, ...] = (1, 37)
    parity_atol: float = Field(1e-4, gt=0.0)
    quantize: bool = True
    calibration_images: int = Field(512, ge=1)


class EvaluationParams(_Section):
    batch_size: int = Field(1000, ge=1)
    mistakes: int = Field(16, ge=0, le=100)
    explain_images: int = Field(8, ge=0, le=32)
    occlusion_window: int = Field(6, ge=1, le=28)
    occlusion_stride: int = Field(2, ge=1, le=28)
    ort_threads: int = Field(0, ge=0)


class RobustnessGate(_Section):
    clean_accuracy: float = Field(0.0, ge=0.0, le=1.0)
    pgd_accuracy: float = Field(0.0, ge=0.0, le=1.0)  # at the headline eps


class RobustnessParams(_Section):
    images: int = Field(1000, ge=1)  # a fixed, seeded subset of the test set
    seed: int = Field(0, ge=0)
    eps: tuple[float, ...] = (0.0, 0.025, 0.05, 0.1, 0.15, 0.2)
    headline_eps: float = 0.1
    pgd_steps: int = Field(10, ge=1)
    pgd_restarts: int = Field(1, ge=1)
    pgd_step_scale: float = Field(2.5, gt=0.0)  # step size = scale * eps / steps
    losses: tuple[Literal["ce", "margin"], ...] = ("ce", "margin")
    large_eps: float = Field(0.5, gt=0.0, le=1.0)
    large_eps_max_accuracy: float = Field(0.05, ge=0.0, le=1.0)
    sanity_tolerance: float = Field(0.005, ge=0.0, le=0.1)
    transfer_max_gap: float = Field(0.002, ge=0.0, le=1.0)
    batch_size: int = Field(500, ge=1)
    examples: int = Field(8, ge=0, le=32)
    gates: dict[str, RobustnessGate] = {}

    @field_validator("eps")
    @classmethod
    def _eps_in_unit_interval(cls, eps: tuple[float, ...]) -> tuple[float, ...]:
        if not eps:
            raise ValueError("the eps list must not be empty")
        if any(e < 0 or e > 1 for e in eps):
            raise ValueError("every eps must lie in [0, 1] (pixels are in [0, 1])")
        if list(eps) != sorted(set(eps)):
            raise ValueError("eps must be listed in increasing order, each once")
        return eps

    @field_validator("losses")
    @classmethod
    def _some_loss(cls, losses: tuple[str, ...]) -> tuple[str, ...]:
        if not losses:
            raise ValueError("name at least one PGD loss (ce, margin)")
        return losses

    @model_validator(mode="after")
    def _headline_listed(self) -> "RobustnessParams":
        if self.headline_eps not in self.eps:
            raise ValueError(f"headline_eps {self.headline_eps} must be one of eps {list(self.eps)}")
        return self


class GANParams(_Section):
    """One GAN: `gan` is the DCGAN; `conditional_gan` lists what differs and takes the rest from `gan`."""

    conditional: bool = False  # class-conditional G (label embedding) and projection D
    loss: Literal["non_saturating", "hinge"] = "non_saturating"
    spectral_norm: bool = False  # in D, in place of batch norm
    minibatch_std: bool = False  # D sees the batch's spread (Karras et al. 2018): counters a collapsing G
    latent_dim: int = Field(64, ge=1, le=1024)
    width: int = Field(32, ge=1, le=1024)  # G's channels at 14x14 (twice that at 7x7); D mirrors it
    epochs: int = Field(2, ge=1)
    batch_size: int = Field(64, ge=2)
    limit_train_batches: float | int = Field(1.0, gt=0)
    lr_g: float = Field(0.0005, gt=0.0, le=1.0)
    lr_d: float = Field(0.0005, gt=0.0, le=1.0)
    beta1: float = Field(0.5, ge=0.0, lt=1.0)
    beta2: float = Field(0.999, ge=0.0, lt=1.0)
    d_steps: int = Field(1, ge=1, le=10)  # D updates per G update
    mode_seeking: float = Field(0.0, ge=0.0)  # weight of MSGAN's diversity term in G's loss (Mao et al. 2019)
    ema_decay: float = Field(0.995, ge=0.0, lt=1.0)  # of G's weights; the average is what is evaluated and shipped
    d_grad_clip: float = Field(0.0, ge=0.0)  # max norm of D's gradient; 0: no clipping
    collapse_std: float = Field(1e-4, ge=0.0)  # D's outputs over a batch with a smaller std: D has collapsed, stop
    log_every_n_steps: int = Field(10, ge=1)
    accelerator: str = "auto"  # a GAN trains on one device (cpu or one GPU)
    precision: Literal["32-true", "bf16-mixed", "16-mixed"] = "32-true"
    seed: int = Field(0, ge=0)


class GeneratorGate(_Section):
    conditional_accuracy: float = Field(0.0, ge=0.0, le=1.0)
    precision: float = Field(0.0, ge=0.0, le=1.0)
    recall: float = Field(0.0, ge=0.0, le=1.0)


class GANEvaluationParams(_Section):
    samples: int = Field(5000, ge=10)  # N generated images, and N real training images for the floor
    seed: int = Field(0, ge=0)
    knn_k: int = Field(3, ge=1, le=50)  # precision/recall neighbourhoods (Kynkaanniemi et al. use 3)
    kid_subsets: int = Field(50, ge=1)
    kid_subset_size: int = Field(1000, ge=2)
    grid_per_class: int = Field(8, ge=1, le=32)
    interpolation_steps: int = Field(10, ge=2, le=32)
    neighbours: int = Field(8, ge=0, le=32)  # samples shown beside their nearest training image
    batch_size: int = Field(1000, ge=1)
    promotion_margin: float = Field(0.0, ge=0.0)  # champion only if FD/floor <= champion's - margin
    gates: dict[str, GeneratorGate] = {}


class SceneParams(_Section):
    """The composed-scene dataset: 1..max_objects items on a 2x2 grid of item-sized cells."""

    train: int = Field(20000, ge=10)  # scenes from the training images
    val: int = Field(1000, ge=10)  # from the validation images
    test: int = Field(2000, ge=10)  # from the test images
    heldout: int = Field(1000, ge=10)  # from the test images, each showing a held-out combination
    heldout_combinations: int = Field(8, ge=1, le=100)  # (class, relation, class) facts never seen in training
    max_objects: int = Field(3, ge=1, le=3)
    small_prob: float = Field(0.5, ge=0.0, le=1.0)  # chance an item is drawn small
    small_scale: float = Field(0.72, ge=0.25, le=0.9)  # a small item's side over a large one's (20 of 28 pixels)
    captions_per_scene: int = Field(5, ge=1, le=20)
    size_mention_prob: float = Field(0.5, ge=0.0, le=1.0)  # chance a reference caption states an item's size
    reading_order_prob: float = Field(0.8, ge=0.0, le=1.0)  # chance a reference names the items in reading order
    seed: int = Field(0, ge=0)


class CaptionerParams(_Section):
    """One captioner: `captioner` is Show and Tell; `attention_captioner` lists what differs and takes the rest."""

    decoder: Literal["show_tell", "attention"] = "show_tell"
    encoder: Literal["classifier", "scratch"] = "classifier"  # the standard classifier's conv trunk, or a new CNN
    scratch_width: int = Field(32, ge=1, le=1024)  # scratch encoder: channels of its first block (then x2, x4)
    finetune_blocks: int = Field(1, ge=0)  # classifier trunk: its last N residual blocks train, the rest runs once
    embed_dim: int = Field(64, ge=1, le=4096)
    hidden_dim: int = Field(256, ge=1, le=4096)
    attention_dim: int = Field(128, ge=1, le=4096)
    dropout: float = Field(0.2, ge=0.0, lt=1.0)
    attention_reg: float = Field(1.0, ge=0.0)  # doubly stochastic attention (Xu et al. 2015, eq. 14)
    epochs: int = Field(4, ge=1)
    batch_size: int = Field(128, ge=2)
    lr: float = Field(0.003, gt=0.0, le=1.0)  # peak of the one-cycle schedule (AdamW)
    weight_decay: float = Field(0.0, ge=0.0)
    grad_clip: float = Field(5.0, ge=0.0)  # max gradient norm; 0: none
    limit_train_batches: float | int = Field(1.0, gt=0)
    max_length: int = Field(24, ge=2, le=256)  # tokens a decoded caption may have, <eos> included
    beam_width: int = Field(3, ge=1, le=32)
    accelerator: str = "auto"  # a captioner trains on one device (cpu or one GPU)
    precision: Literal["32-true", "bf16-mixed", "16-mixed"] = "32-true"
    seed: int = Field(0, ge=0)


class CaptionEvaluationParams(_Section):
    examples: int = Field(8, ge=0, le=64)  # scenes in the example grid and attention figure
    batch_size: int = Field(500, ge=1)
    gate_truthfulness: float = Field(0.0, ge=0.0, le=1.0)  # registry: champion only with at least this on test
    promotion_margin: float = Field(0.0, ge=0.0, le=1.0)  # champion only if truthfulness >= champion's + margin


class TrackingParams(_Section):
    uri: str = "sqlite:///mlflow.db"
    artifact_location: str = "mlartifacts"
    experiment: str = Field("visionops", min_length=1)
    registered_models: dict[str, str] = {
        "standard": "visionops-classifier", "robust": "visionops-robust-classifier",
        "dcgan": "visionops-generator", "cgan": "visionops-generator",
        "show_tell": "visionops-captioner", "attention": "visionops-captioner",
    }
    promotion_margin: float = Field(0.0, ge=0.0, le=1.0)


class ScheduleParams(_Section):
    deployment: str = Field("visionops-retrain", min_length=1)
    cron: str = "0 3 * * 1"
    timezone: str = "UTC"
    stage_retries: dict[str, int] = {}
    retry_delay_seconds: float = Field(10, ge=0)

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, cron: str) -> str:
        if len(cron.split()) != 5:
            raise ValueError("must be a cron expression of five fields, e.g. '0 3 * * 1'")
        return cron

    @field_validator("stage_retries")
    @classmethod
    def _non_negative(cls, retries: dict[str, int]) -> dict[str, int]:
        if any(n < 0 for n in retries.values()):
            raise ValueError("retries must be >= 0")
        return retries


class Params(_Section):
    data: DataParams = DataParams()
    classifier: ClassifierParams = ClassifierParams()
    robust_classifier: ClassifierParams = ClassifierParams()
    export: ExportParams = ExportParams()
    evaluation: EvaluationParams = EvaluationParams()
    robustness: RobustnessParams = RobustnessParams()
    gan: GANParams = GANParams()
    conditional_gan: GANParams = GANParams()
    gan_evaluation: GANEvaluationParams = GANEvaluationParams()
    scenes: SceneParams = SceneParams()
    captioner: CaptionerParams = CaptionerParams()
    attention_captioner: CaptionerParams = CaptionerParams()
    caption_evaluation: CaptionEvaluationParams = CaptionEvaluationParams()
    tracking: TrackingParams = TrackingParams()
    schedule: ScheduleParams = ScheduleParams()
    budgets: dict[Literal["tiny", "cpu", "gpu"], dict[str, Any]] = {}

    @model_validator(mode="before")
    @classmethod
    def _variants_inherit(cls, raw: Any) -> Any:
        """`robust_classifier`, `conditional_gan` and `attention_captioner` list only what differs from their base."""
        if not isinstance(raw, dict):
            return raw
        for base, variant in (("classifier", "robust_classifier"), ("gan", "conditional_gan"), ("captioner", "attention_captioner")):
            inherited, own = raw.get(base) or {}, raw.get(variant) or {}
            if isinstance(inherited, dict) and isinstance(own, dict):
                raw = {**raw, variant: _deep_merge(inherited, own)}
        return raw

    def model_section(self, section: str) -> ClassifierParams:
        """The params of one trained classifier, by its params.yaml section name."""
        value = getattr(self, section, None)
        if not isinstance(value, ClassifierParams):
            raise UserError(f"'{section}' is not a classifier section of params.yaml (classifier, robust_classifier)")
        return value

    def gan_section(self, section: str) -> GANParams:
        """The params of one GAN, by its params.yaml section name."""
        value = getattr(self, section, None)
        if not isinstance(value, GANParams):
            raise UserError(f"'{section}' is not a GAN section of params.yaml (gan, conditional_gan)")
        return value

    def captioner_section(self, section: str) -> CaptionerParams:
        """The params of one captioner, by its params.yaml section name."""
        value = getattr(self, section, None)
        if not isinstance(value, CaptionerParams):
            raise UserError(f"'{section}' is not a captioner section of params.yaml (captioner, attention_captioner)")
        return value

    @model_validator(mode="after")
    def _budgets_override_known_keys(self) -> "Params":
        plain = self.model_dump(exclude={"budgets"})
        for budget, overrides in self.budgets.items():
            for key in overrides:
                if not _has_key(plain, key):
                    raise ValueError(f"budgets.{budget}: '{key}' is not a key of params.yaml")
        return self


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            value = _deep_merge(merged[key], value)
        merged[key] = value
    return merged


def _has_key(tree: dict[str, Any], dotted: str) -> bool:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _describe(error: dict[str, Any]) -> str:
    key = ".".join(str(p) for p in error["loc"])
    if error["type"] == "extra_forbidden":
        parent = error["loc"][:-1]
        model: Any = Params
        for part in parent:
            field = model.model_fields.get(str(part)) if hasattr(model, "model_fields") else None
            model = field.annotation if field is not None else None
        allowed = ", ".join(model.model_fields) if hasattr(model, "model_fields") else "see params.yaml"
        return f"unknown key '{key}' (allowed here: {allowed})"
    value = error.get("input")
    got = f" (got {value!r})" if not isinstance(value, dict) else ""
    return f"{key}: {error['msg']}{got}"


def validate(raw: dict[str, Any], source: str = PARAMS_FILE) -> Params:
    """Validate a params tree; raise UserError naming the first bad key."""
    if not isinstance(raw, dict):
        raise UserError(f"{source} must hold a mapping of sections, not {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(_describe(e) for e in exc.errors()[:3])
        raise UserError(f"{source}: {problems}. Fix the value in {source}.") from None


def load(path: str | Path = PARAMS_FILE) -> Params:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{path} not found: run from the project root or pass --params") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    return validate(raw or {}, str(path))


def parse_override(text: str) -> tuple[str, Any]:
    """'classifier.epochs=5' -> ('classifier.epochs', 5), the value read as YAML."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise UserError(f"override '{text}' must look like section.key=value")
    return key.strip(), yaml.safe_load(value)


def apply_overrides(path: str | Path, overrides: dict[str, Any]) -> Params:
    """Write key overrides into params.yaml, keeping its comments; validate before anything is written."""
    from ruamel.yaml import YAML

    from visionops.io import atomic_write_text

    path = Path(path)
    rt = YAML()
    rt.preserve_quotes = True
    doc = rt.load(path.read_text())
    for dotted, value in overrides.items():
        node = doc
        *parents, leaf = dotted.split(".")
        for part in parents:
            if part not in node or not hasattr(node[part], "keys"):
                raise UserError(f"unknown key '{dotted}' in override: params.yaml has no section '{part}'")
            node = node[part]
        if leaf not in node:
            raise UserError(f"unknown key '{dotted}' in override (allowed here: {', '.join(node)})")
        node[leaf] = value
    from io import StringIO

    buffer = StringIO()
    rt.dump(doc, buffer)
    params = validate(yaml.safe_load(buffer.getvalue()), str(path))
    atomic_write_text(path, buffer.getvalue())
    return params


def budget_overrides(params: Params, budget: str) -> dict[str, Any]:
    if budget not in params.budgets:
        raise UserError(f"unknown budget '{budget}' (allowed: {', '.join(params.budgets) or 'none defined'})")
    return dict(params.budgets[budget])


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': 1}} -> {'a.b': 1}, for logging params to MLflow."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat
