"""Judge a captioner on a scene split: decode with torch and with onnxruntime, compare them, score the captions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from visionops.captioning.decode import TorchStepper, decode
from visionops.captioning.metrics import overlap_scores, truthfulness
from visionops.captioning.runtime import OrtCaptioner
from visionops.core.errors import UserError
from visionops.data.scenes.compose import SceneSplit, objects_of

SPLITS = ("test", "heldout")


@dataclass
class SplitResult:
    metrics: dict[str, Any]
    greedy: list[str]  # onnxruntime's captions
    beam: list[str]
    errors: list[list[str]]  # of the beam captions


def score(captions: list[str], split: SceneSplit, classes: list[str]) -> tuple[dict[str, float], list[list[str]]]:
    refs = [d["captions"] for d in split.descriptions]
    truth, errors = truthfulness(captions, [objects_of(d, classes) for d in split.descriptions], classes)
    return {**overlap_scores(captions, refs), **truth}, errors


def evaluate_split(
    captioner: torch.nn.Module,
    ort: OrtCaptioner,
    split: SceneSplit,
    *,
    classes: list[str],
    beam_width: int,
    batch_size: int,
) -> SplitResult:
    """Greedy in torch and in onnxruntime (they must agree), and beam search in onnxruntime, scored."""
    images = split.images.astype(np.float32) / 255.0
    vocab, length = ort.vocab, ort.meta["max_length"]
    torch_ids = decode(
        TorchStepper(captioner),
        images,
        bos=vocab.bos,
        eos=vocab.eos,
        max_length=length,
        beam_width=1,
        batch_size=batch_size,
    )
    ort_ids = decode(ort, images, bos=vocab.bos, eos=vocab.eos, max_length=length, beam_width=1, batch_size=batch_size)
    torch_greedy = [vocab.decode(r) for r in torch_ids]
    greedy = [vocab.decode(r) for r in ort_ids]
    beam = greedy if beam_width == 1 else ort.caption(images, beam_width, batch_size)
    greedy_metrics, _ = score(greedy, split, classes)
    beam_metrics, errors = score(beam, split, classes)
    metrics = {
        "scenes": len(images),
        "ort_torch_identical": float(np.mean([a == b for a, b in zip(greedy, torch_greedy)])) if greedy else 1.0,
        "beam_width": beam_width,
        "greedy": greedy_metrics,
        "beam": beam_metrics,
    }
    return SplitResult(metrics, greedy, beam, errors)


def attention_maps(
    captioner: torch.nn.Module, images: np.ndarray, *, bos: int, eos: int, max_length: int
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy token ids [N, T] and the attention weights [N, T, L] behind each word (attention decoder only)."""
    decoder = captioner.decoder
    with torch.no_grad():
        memory, h, c = captioner.start(torch.from_numpy(images))
        token = torch.full((len(images),), bos, dtype=torch.long)
        ids, alphas = [], []
        for _ in range(max_length):
            logits, h, c, alpha = decoder.step_with_attention(token, h, c, memory)
            token = logits.argmax(1)
            ids.append(token)
            alphas.append(alpha)
    return torch.stack(ids, 1).numpy(), torch.stack(alphas, 1).numpy()


def evaluate_stage(
    *, captioners: list[Path], scenes: Path, out_path: Path, metrics: Path, params: Any, root: Path
) -> None:
    """Score the captioner in each folder of `captioners` on the test and held-out scenes; write figures and metrics."""
    settings = params.caption_evaluation

    import mlflow
    import numpy as np

    from visionops.captioning.evaluate import attention_maps, evaluate_split
    from visionops.captioning.model_file import load_captioner
    from visionops.captioning.plots import attention_figure, examples_figure
    from visionops.captioning.runtime import load_ort_captioner
    from visionops.core import tracking
    from visionops.core.io import atomic_dir, atomic_write_json
    from visionops.data.scenes.compose import SCENE_MANIFEST_FILE, load_split

    classes = json.loads((scenes / SCENE_MANIFEST_FILE).read_text())["classes"]
    splits = {name: load_split(scenes, name) for name in SPLITS}
    report: dict = {}
    with tracking.stage_run("caption_evaluate", params.tracking, root), atomic_dir(out_path) as out:
        mlflow.log_params({f"caption_evaluation.{k}": v for k, v in settings.model_dump().items()})
        for folder in captioners:
            name = folder.name
            captioner, spec = load_captioner(folder / "captioner.pt")
            ort = load_ort_captioner(folder)
            if tuple(spec["image_shape"]) != splits["test"].images.shape[1:]:
                raise UserError(
                    f"{folder} captions {spec['image_shape']} images, the scenes are "
                    f"{list(splits['test'].images.shape[1:])}; run dvc repro caption_train"
                )
            report[name] = {"decoder": spec["decoder"], "encoder": spec["encoder"]}
            for split_name, split in splits.items():
                result = evaluate_split(
                    captioner,
                    ort,
                    split,
                    classes=classes,
                    beam_width=spec["beam_width"],
                    batch_size=settings.batch_size,
                )
                report[name][split_name] = result.metrics
                if split_name == "test" and settings.examples:
                    shown = slice(0, settings.examples)
                    examples_figure(
                        split.images[shown],
                        generated=result.beam[shown],
                        errors=result.errors[shown],
                        references=[d["captions"] for d in split.descriptions[shown]],
                        title=f"{name} on test scenes (beam {spec['beam_width']}, onnxruntime)",
                        path=out / f"examples_{name}.png",
                    )
            if spec["decoder"] == "attention" and settings.examples:
                images = splits["test"].images[: min(settings.examples, 4)]
                ids, alphas = attention_maps(
                    captioner,
                    images.astype(np.float32) / 255.0,
                    bos=ort.vocab.bos,
                    eos=ort.vocab.eos,
                    max_length=spec["max_length"],
                )
                words = [ort.vocab.decode(row).split() for row in ids]
                attention_figure(
                    images,
                    words=words,
                    alphas=alphas,
                    title=f"{name}: where each word looked (greedy, torch)",
                    path=out / f"attention_{name}.png",
                )
        atomic_write_json(metrics, report)
        flat = {}
        for name in report:
            for split_name in SPLITS:
                m = report[name][split_name]
                flat[f"{name}/{split_name}/ort_torch_identical"] = m["ort_torch_identical"]
                for decoding in ("greedy", "beam"):
                    for key, value in m[decoding].items():
                        flat[f"{name}/{split_name}/{decoding}/{key}"] = value
        mlflow.log_metrics(flat)
        mlflow.log_artifacts(str(out), "captioning")
        mlflow.log_artifact(str(metrics))
    for name, r in report.items():
        t, h = r["test"]["beam"], r["heldout"]["beam"]
        print(
            f"caption_evaluate: {name} test BLEU-4 {t['bleu_4']:.3f}, CIDEr-D {t['cider_d']:.3f}, truthfulness "
            f"{t['truthfulness']:.3f}; held-out truthfulness {h['truthfulness']:.3f}; onnxruntime = torch on "
            f"{r['test']['ort_torch_identical']:.1%} of test scenes"
        )
