"""Judge a captioner on a scene split: decode with torch and with onnxruntime, compare them, score the captions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from visionops.captioning.decode import TorchStepper, decode
from visionops.captioning.metrics import overlap_scores, truthfulness
from visionops.captioning.runtime import OrtCaptioner
from visionops.scenes.compose import SceneSplit, objects_of


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


def evaluate_split(captioner: torch.nn.Module, ort: OrtCaptioner, split: SceneSplit, classes: list[str],
                   beam_width: int, batch_size: int) -> SplitResult:
    """Greedy in torch and in onnxruntime (they must agree), and beam search in onnxruntime, scored."""
    images = split.images.astype(np.float32) / 255.0
    vocab, length = ort.vocab, ort.meta["max_length"]
    torch_ids = decode(TorchStepper(captioner), images, vocab.bos, vocab.eos, length, 1, batch_size)
    ort_ids = decode(ort, images, vocab.bos, vocab.eos, length, 1, batch_size)
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


def attention_maps(captioner: torch.nn.Module, images: np.ndarray, bos: int, eos: int, max_length: int
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
