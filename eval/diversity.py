"""Diversity of generated text: distinct-n, self-BLEU and embedding dispersion."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from nltk.translate.bleu_score import SmoothingFunction
from nltk.translate.bleu_score import sentence_bleu as bleu

from dualalign.alignment.grounding import tokens

SMOOTHING = SmoothingFunction(epsilon=0.1).method1


def ngrams(words: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Distinct n-grams over all n-grams in the corpus (Li et al. 2016); NaN when there are no n-grams."""
    grams = [g for t in texts for g in ngrams(tokens(t), n)]
    return len(set(grams)) / len(grams) if grams else float("nan")


def sentence_bleu(hypothesis: Sequence[str], references: Sequence[Sequence[str]], max_n: int = 4) -> float:
    """BLEU of one tokenised hypothesis against tokenised references (Papineni et al. 2002), by NLTK: uniform weights
    over the n-gram orders up to `max_n` that the hypothesis is long enough for, zero match counts smoothed to 0.1
    (Chen & Cherry 2014, method 1), brevity penalty against the closest reference length."""
    if not hypothesis or not references:
        return 0.0
    n = min(max_n, len(hypothesis))
    return float(bleu(references, hypothesis, weights=(1 / n,) * n, smoothing_function=SMOOTHING))


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
