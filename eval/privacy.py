"""Privacy checks of generated text: copying from reference texts, and PHI."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dualalign.alignment.grounding import tokens
from dualalign.alignment.phi import KINDS, PhiDetector
from dualalign.eval.diversity import ngrams


def phi_scan(texts: Sequence[str], detector: PhiDetector | None = None, max_examples: int = 5
             ) -> dict[str, dict[str, Any]]:
    """Counts and first examples of PHI per kind (`alignment.phi.KINDS`: names, places, specific dates, phone
    numbers, e-mail addresses, ...), found by `detector` (default: one that allows no words); `texts_flagged`
    counts texts with any."""
    detector = detector or PhiDetector()
    out: dict[str, dict[str, Any]] = {k: {"count": 0, "examples": []} for k in KINDS}
    flagged = 0
    for text in texts:
        hits = detector.find(text)
        for hit in hits:
            out[hit.kind]["count"] += 1
            if len(out[hit.kind]["examples"]) < max_examples:
                out[hit.kind]["examples"].append(hit.text)
        flagged += bool(hits)
    return {**out, "texts_flagged": {"count": flagged, "examples": []}}


def longest_shared_ngram(texts: Sequence[str], references: Sequence[str]) -> list[int]:
    """Per text, the length in words of the longest word sequence it shares with any reference text."""
    ref_tokens = [tokens(r) for r in references]
    sets: dict[int, set[int]] = {}

    def shared(words: list[str], n: int) -> bool:
        if n not in sets:  # n-grams kept as their hashes: long ones would take memory by the gigabyte
            sets[n] = {hash(g) for r in ref_tokens for g in ngrams(r, n)}
        return any(hash(g) in sets[n] for g in ngrams(words, n))

    out = []
    for text in texts:
        words = tokens(text)
        # if some n-gram is shared, so are its (n-1)-grams: double n while shared, then bisect
        low, high = 0, 1
        while high <= len(words) and shared(words, high):
            low, high = high, 2 * high
        high = min(high - 1, len(words))
        while low < high:
            mid = (low + high + 1) // 2
            low, high = (mid, high) if shared(words, mid) else (low, mid - 1)
        out.append(low)
    return out


def nearest_neighbour_similarity(texts: Sequence[str], references: Sequence[str],
                                 model: str = "embedded:minilm-l6") -> np.ndarray:
    """Per text, the highest cosine similarity of its embedding to any reference text's embedding."""
    from dualalign.encoders import embed_texts

    if not len(texts) or not len(references):
        return np.full(len(texts), np.nan)
    return (embed_texts(texts, model) @ embed_texts(references, model).T).max(axis=1)


def copying_measures(texts: Sequence[str], references: Sequence[str], model: str = "embedded:minilm-l6",
                     ngram_threshold: int = 8, similarity_threshold: float = 0.95) -> dict[str, float]:
    """How close generated texts come to references (gold or exemplar sentences): longest shared word n-gram
    (max, mean, share of texts sharing >= `ngram_threshold` words) and nearest-neighbour cosine similarity
    (mean, max, share of texts at or above `similarity_threshold`)."""
    shared = np.asarray(longest_shared_ngram(texts, references), dtype=float)
    sims = nearest_neighbour_similarity(texts, references, model)
    if not len(shared):
        return {}
    return {
        "longest_shared_ngram_max": float(shared.max()),
        "longest_shared_ngram_mean": float(shared.mean()),
        "share_copied_ngram": float((shared >= ngram_threshold).mean()),
        "nn_similarity_mean": float(np.mean(sims)),
        "nn_similarity_max": float(np.max(sims)),
        "share_near_duplicate": float((sims >= similarity_threshold).mean()),
    }
