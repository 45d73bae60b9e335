"""Questions and answers as ids (torch-free: `visionops ask` uses it with onnxruntime alone)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from visionops.core.errors import UserError
from visionops.data.scenes.questions import tokens

PAD_WORD = "<pad>"
PAD = 0


def build_vocab(questions: Sequence[str]) -> list[str]:
    """Every word of the training questions, sorted, after the padding token."""
    return [PAD_WORD, *sorted({w for q in questions for w in tokens(q)})]


def encode(questions: Sequence[str], vocab: Sequence[str]) -> np.ndarray:
    """Token ids [N, longest] int64, padded at the end; a word outside `vocab` is refused in one line."""
    index = {w: i for i, w in enumerate(vocab)}
    words = [tokens(q) for q in questions]
    ids = np.full((len(words), max([len(w) for w in words] + [1])), PAD, np.int64)
    for n, question in enumerate(words):
        unknown = [w for w in question if w not in index]
        if unknown or not question:
            raise UserError(
                f"{questions[n]!r}: "
                + (f"'{unknown[0]}' is not a word the model knows" if unknown else "the question is empty")
                + "; ask as the training questions do, e.g. 'is there a bag?', 'how many small items are there?', "
                "'what is left of the sneaker?', 'what size is the coat?', 'is the bag above the dress?', "
                f"'are the bag and the coat the same size?' (words: {' '.join(w for w in vocab if w != PAD_WORD)})"
            )
        ids[n, : len(question)] = [index[w] for w in question]
    return ids


def answer_ids(answers: Sequence[str], answer_list: Sequence[str]) -> np.ndarray:
    index = {a: i for i, a in enumerate(answer_list)}
    return np.array([index[a] for a in answers], np.int64)
