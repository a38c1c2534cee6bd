"""Sentence embeddings with one encoder per model and process (loading one per fit would be wasteful).

Each encoder remembers the embeddings it computed (up to `MEMO_SIZE` texts), so the gold and test texts that
every mixture and seed of a comparison share are encoded once.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

DEFAULT_ENCODER = "embedded:minilm-l6"
MEMO_SIZE = 200_000


class SentenceEmbedder:
    """A SentenceTransformer with a memo of unit-length embeddings by text."""

    def __init__(self, encoder: Any):
        self.encoder = encoder
        self.dimension = encoder.get_embedding_dimension()
        self._memo: dict[str, np.ndarray] = {}

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        texts = [str(t) for t in texts]
        todo = list(dict.fromkeys(t for t in texts if t not in self._memo))
        if todo:
            if len(self._memo) + len(todo) > MEMO_SIZE:
                self._memo.clear()
            vectors = self.encoder.encode(todo, batch_size=batch_size, normalize_embeddings=True,
                                          show_progress_bar=len(todo) > 2000)
            self._memo.update(zip(todo, np.asarray(vectors, dtype=np.float32), strict=True))
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._memo[t] for t in texts])


@functools.lru_cache(maxsize=4)
def load_sentence_encoder(model: str = DEFAULT_ENCODER, device: str = "cpu") -> SentenceEmbedder:
    """The process's embedder for a model reference (`embedded:<name>`, a local path or a Hugging Face id)."""
    from sentence_transformers import SentenceTransformer

    from dualalign.models import is_local, resolve_model

    path = resolve_model(model)
    return SentenceEmbedder(SentenceTransformer(path, device=device, local_files_only=is_local(model)))


def embed_texts(texts: Sequence[str], model: str = DEFAULT_ENCODER, batch_size: int = 64) -> np.ndarray:
    """Unit-length float32 embeddings, one row per text."""
    return load_sentence_encoder(model).embed(texts, batch_size)
