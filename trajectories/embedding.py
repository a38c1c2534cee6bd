"""The sentence encoder behind the trajectory store's index (the embedded MiniLM by default, never a hub)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np


def load_encoder(ref: str = "embedded:minilm-l6") -> Any:
    """A CPU SentenceTransformer for a model reference (`embedded:<name>`, a path or a Hugging Face id)."""
    from dualalign.generate.models import EMBEDDED_PREFIX, resolve_model

    if ref.startswith(EMBEDDED_PREFIX):
        os.environ["HF_HUB_OFFLINE"] = "1"
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(resolve_model(ref), device="cpu")


def embed(encoder: Any, texts: list[str]) -> np.ndarray:
    """Unit-length embeddings, one row per text (duplicate texts are encoded once)."""
    unique, inverse = np.unique(np.asarray(texts, dtype=object).astype(str), return_inverse=True)
    vectors = encoder.encode(list(unique), batch_size=64, normalize_embeddings=True, show_progress_bar=False)
    return np.asarray(vectors, dtype=np.float32)[inverse]
