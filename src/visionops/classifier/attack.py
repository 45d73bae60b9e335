"""`visionops attack`: craft a PGD adversarial image on a trained classifier; check it through onnxruntime."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from visionops.core.errors import UserError

MODELS_DIR = Path("data/models")


@dataclass(frozen=True)
class AttackResult:
    clean_label: str
    clean_prob: float
    adversarial_label: str
    adversarial_prob: float
    max_change: float  # L-infinity distance of the saved image from the input, in [0, 1] units


def attack_file(
    image: Path,
    *,
    out: Path,
    eps: float,
    model_dir: Path,
    steps: int,
    restarts: int,
    step_scale: float,
    label: str | None = None,
) -> AttackResult:
    """PGD (both losses, worst case kept) against the torch model, saved as an 8-bit PNG, both classified by ORT.

    Without `label` the attack pushes the image away from the model's own prediction.
    """
    if not 0.0 <= eps <= 1.0:
        raise UserError(f"--eps {eps} is outside [0, 1]: pixels are in [0, 1], so eps is a fraction of full scale")
    if steps < 1 or restarts < 1:
        raise UserError(f"PGD needs at least one step and one restart (got steps={steps}, restarts={restarts})")
    torch_file, onnx_file = model_dir / "classifier.pt", model_dir / "classifier.onnx"
    for needed in (torch_file, onnx_file):
        if not needed.is_file():
            raise UserError(f"{needed} not found: run `visionops run` first to train and export the models")

    import torch
    from PIL import Image

    from visionops.classifier.model_file import load_classifier
    from visionops.classifier.predict import load_images, predict_logits
    from visionops.core.io import atomic_path
    from visionops.core.ort import class_names, session, softmax
    from visionops.robustness.evaluate import PGDSettings, worst_case_pgd

    [(_, pixels)] = load_images([image])
    sess = session(onnx_file)
    names = class_names(sess)
    clean_probs = softmax(predict_logits(sess, pixels[None]))[0]
    if label is None:
        target = int(clean_probs.argmax())
    elif label in names:
        target = names.index(label)
    else:
        raise UserError(f"--label {label!r} is not a class of this model (classes: {', '.join(names)})")

    network, _ = load_classifier(torch_file)
    x = torch.from_numpy(pixels[None])
    y = torch.tensor([target])
    adv = worst_case_pgd(
        network.eval(), x, y, eps, settings=PGDSettings(steps, restarts, ("ce", "margin"), step_scale), batch=1, seed=0
    )
    # 8-bit rounding could step outside the ball; round towards the input instead
    adv_u8 = np.clip(
        np.round(adv[0, 0].numpy() * 255.0), np.ceil((pixels[0] - eps) * 255.0), np.floor((pixels[0] + eps) * 255.0)
    )
    adv_u8 = np.clip(adv_u8, 0, 255).astype(np.uint8)
    with atomic_path(out) as tmp:
        Image.fromarray(adv_u8, mode="L").save(tmp, format="PNG")
    saved = adv_u8[None, None].astype(np.float32) / 255.0
    adv_probs = softmax(predict_logits(sess, saved))[0]
    k_clean, k_adv = int(clean_probs.argmax()), int(adv_probs.argmax())
    return AttackResult(
        names[k_clean],
        float(clean_probs[k_clean]),
        names[k_adv],
        float(adv_probs[k_adv]),
        float(np.abs(saved[0] - pixels).max()),
    )
