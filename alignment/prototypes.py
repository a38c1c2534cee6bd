"""Label prototypes: each label of a pack as embedded sentences ("<name>: <term>" for each term, and its
definition). The gate measures how near a text is to each label with them, and the zero-shot `pack-prototype`
classifier (the floor any generated data must beat) predicts the nearest label."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dualalign.encoders import load_sentence_encoder
from dualalign.trajectories.labelset import label_terms
from dualalign.trajectories.pack import ConditionPack


class LabelPrototypes:
    def __init__(self, pack: ConditionPack, encoder: str = "embedded:minilm-l6"):
        self.encoder = load_sentence_encoder(encoder)
        self.labels = list(pack.label_ids)
        texts = [
            [f"{pack.labels[lab].name}: {t}" for t in label_terms(pack, lab)[0]] + [pack.labels[lab].definition]
            for lab in self.labels
        ]
        self._rows = np.repeat(np.arange(len(self.labels)), [len(t) for t in texts])
        self._vectors = self.encoder.embed([t for group in texts for t in group])

    def similarities(self, vectors: np.ndarray) -> np.ndarray:
        """(texts x labels): cosine of each embedded text to its nearest prototype of each label."""
        sims = vectors @ self._vectors.T
        return np.stack([sims[:, self._rows == j].max(axis=1) for j in range(len(self.labels))], axis=1)

    def predict(self, texts: Sequence[str]) -> list[str]:
        """The nearest label of each text: the zero-shot `pack-prototype` classifier."""
        sims = self.similarities(self.encoder.embed(list(texts)))
        return [self.labels[j] for j in sims.argmax(axis=1)]
