"""Diversity of generated text: distinct-n, self-BLEU and embedding dispersion."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from dualalign.alignment.grounding import tokens


def ngrams(words: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Distinct n-grams over all n-grams in the corpus (Li et al. 2016); NaN when there are no n-grams."""
    grams = [g for t in texts for g in ngrams(tokens(t), n)]
    return len(set(grams)) / len(grams) if grams else float("nan")


def sentence_bleu(hypothesis: Sequence[str], references: Sequence[Sequence[str]], max_n: int = 4) -> float:
    """BLEU of one tokenised hypothesis against tokenised references (Papineni et al. 2002).

    Clipped n-gram precisions up to `max_n` (orders the hypothesis is too short for are left out), smoothed by
    adding 0.1 to zero match counts (Chen & Cherry 2014, method 1), brevity penalty against the closest length.
    """
    if not hypothesis or not references:
        return 0.0
    log_p = []
    for n in range(1, min(max_n, len(hypothesis)) + 1):
        hyp = Counter(ngrams(hypothesis, n))
        best: Counter = Counter()
        for ref in references:
            for gram, count in Counter(ngrams(ref, n)).items():
                best[gram] = max(best[gram], count)
        matches = sum(min(c, best[g]) for g, c in hyp.items())
        log_p.append(math.log((matches or 0.1) / sum(hyp.values())))
    ref_len = min((abs(len(r) - len(hypothesis)), len(r)) for r in references)[1]
    bp = 1.0 if len(hypothesis) >= ref_len else math.exp(1 - ref_len / len(hypothesis))
    return bp * math.exp(sum(log_p) / len(log_p))


def self_bleu(texts: Sequence[str], max_n: int = 4, max_texts: int = 200, seed: int = 0) -> float:
    """Mean BLEU of each text against all the others (Zhu et al. 2018): 1.0 for identical texts, lower is more
    diverse. At most `max_texts` texts, drawn with `seed`, are compared (the cost is quadratic)."""
    texts = list(texts)
    if len(texts) < 2:
        return float("nan")
    if len(texts) > max_texts:
        texts = [texts[i] for i in np.random.default_rng(seed).choice(len(texts), max_texts, replace=False)]
    toks = [tokens(t) for t in texts]
    return float(np.mean([sentence_bleu(h, toks[:i] + toks[i + 1:], max_n) for i, h in enumerate(toks)]))


def pairwise_cosine_distance(vectors: np.ndarray) -> float:
    """Mean cosine distance over all pairs of distinct rows (rows need not be normalised)."""
    n = len(vectors)
    if n < 2:
        return float("nan")
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)
    sims = unit @ unit.T
    return float(1 - (sims.sum() - np.trace(sims)) / (n * (n - 1)))


def embedding_dispersion(texts: Sequence[str], model: str = "embedded:minilm-l6", max_texts: int = 1000,
                         seed: int = 0) -> float:
    """Mean pairwise cosine distance of sentence embeddings (MiniLM by default); 0 for identical texts."""
    from dualalign.encoders import embed_texts

    texts = list(texts)
    if len(texts) > max_texts:
        texts = [texts[i] for i in np.random.default_rng(seed).choice(len(texts), max_texts, replace=False)]
    return pairwise_cosine_distance(embed_texts(texts, model))
