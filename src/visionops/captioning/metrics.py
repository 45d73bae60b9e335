"""Caption metrics: n-gram overlap with the references (pycocoevalcap's pure-Python BLEU, CIDEr-D and ROUGE-L;
its Java tokenizer is not needed, the captions are lower-case words already) and truthfulness against the scene."""

from __future__ import annotations

from collections import Counter

from visionops.data.scenes.grammar import ERROR_TYPES, judge


def overlap_scores(hypotheses: list[str], references: list[list[str]]) -> dict[str, float]:
    """Corpus BLEU-1..4, CIDEr-D and ROUGE-L of one caption per scene against all its references."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    if not hypotheses:
        return {}
    gts = {i: refs for i, refs in enumerate(references)}
    res = {i: [hyp] for i, hyp in enumerate(hypotheses)}
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    cider, _ = Cider().compute_score(gts, res)  # CIDEr-D: length penalty (sigma 6) and clipped counts
    rouge, _ = Rouge().compute_score(gts, res)
    return {**{f"bleu_{n + 1}": float(b) for n, b in enumerate(bleu)}, "cider_d": float(cider), "rouge_l": float(rouge)}


def truthfulness(
    hypotheses: list[str], scenes: list[list], classes: list[str]
) -> tuple[dict[str, float], list[list[str]]]:
    """Share of fully true captions, the share of captions with each error type, and each caption's errors.

    `scenes` holds each scene's SceneObjects; a caption may carry several error types.
    """
    errors = [judge(h, objects, classes) for h, objects in zip(hypotheses, scenes)]
    n = max(len(errors), 1)
    counts = Counter(e for errs in errors for e in errs)
    summary = {"truthfulness": sum(not e for e in errors) / n, **{f"errors/{e}": counts[e] / n for e in ERROR_TYPES}}
    by_count: dict[int, list[bool]] = {}
    for errs, objects in zip(errors, scenes):
        by_count.setdefault(len(objects), []).append(not errs)
    for k, truths in sorted(by_count.items()):
        summary[f"truthfulness_{k}_objects"] = sum(truths) / len(truths)
    return summary, errors
