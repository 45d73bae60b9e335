"""Word-level vocabulary built from the training captions."""

from __future__ import annotations

from collections import Counter

import numpy as np

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)


class Vocab:
    def __init__(self, words: list[str]) -> None:
        self.words = list(words)
        self.index = {w: i for i, w in enumerate(self.words)}
        self.pad, self.bos, self.eos, self.unk = (self.index[s] for s in SPECIALS)

    @classmethod
    def build(cls, captions: list[str], min_count: int = 1) -> Vocab:
        counts = Counter(w for c in captions for w in c.split())
        kept = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))
        return cls([*SPECIALS, *kept])

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, captions: list[str], length: int) -> np.ndarray:
        """[N, length] int64: <bos> words <eos> <pad>...; too long captions are cut (keeping <eos>)."""
        out = np.full((len(captions), length), self.pad, np.int64)
        for n, caption in enumerate(captions):
            ids = [self.bos, *(self.index.get(w, self.unk) for w in caption.split())][: length - 1] + [self.eos]
            out[n, : len(ids)] = ids
        return out

    def decode(self, ids: np.ndarray) -> str:
        """Words up to the first <eos> (without <bos>/<pad>)."""
        words = []
        for i in ids:
            if i == self.eos:
                break
            if i not in (self.pad, self.bos):
                words.append(self.words[int(i)])
        return " ".join(words)
