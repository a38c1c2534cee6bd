"""Grounding checks: does a sentence say what it was asked to say, and is it new?

Every sentence is checked the same way for whether it expresses the label it claims (`expresses_label`: its
MiniLM embedding is close enough to one of that label's terms or its definition); this rate compares variants
like with like. `grounded` is each sentence's own bar: a sentence planned with a mention must carry the planned
label and express the planned term (the term's words appear in it, or it is close enough to
"<label name>: <term>"); a sentence written without a plan (unguided, statistical) must express its label.
Sentences close to a pack
example are flagged as copies; sentences close to an earlier sentence of the same variant as near-duplicates.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from dualalign.alignment.config import GroundingConfig
from dualalign.encoders import load_sentence_encoder
from dualalign.trajectories.labelset import label_terms
from dualalign.trajectories.pack import ConditionPack

STOPWORDS = {"a", "an", "the", "of", "in", "on", "to", "and", "or", "with", "for", "by", "at", "from", "has", "is"}
WORD = re.compile(r"[a-z]+")
TOKEN = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")


def tokens(text: str) -> list[str]:
    """Lower-cased word and number tokens (punctuation dropped): the unit of shared-run (copy) checks."""
    return TOKEN.findall(text.lower())


def _stems(text: str) -> set[str]:
    return {w[:5] for w in WORD.findall(text.lower()) if w not in STOPWORDS}


def term_in_text(term: str, text: str) -> bool:
    """Every content word of the term appears in the text (compared on 5-letter prefixes, a crude stemmer)."""
    wanted = _stems(term)
    return bool(wanted) and wanted <= _stems(text)


def term_spans(term: str, text: str) -> list[tuple[int, int]]:
    """Where the text realises the term (`term_in_text`): the spans of its words that share a stem with the term's
    content words; none when the text does not realise it."""
    if not term_in_text(term, text):
        return []
    wanted = _stems(term)
    return [m.span() for m in re.finditer(r"[A-Za-z]+", text) if m.group().lower()[:5] in wanted]


class Grounder:
    """Scores sentences against their plans; load once, score many tables."""

    def __init__(self, pack: ConditionPack, cfg: GroundingConfig):
        self.pack = pack
        self.cfg = cfg
        self.encoder = load_sentence_encoder(cfg.embedding_model)
        self.label_targets = {
            label: [f"{pack.labels[label].name}: {t}" for t in label_terms(pack, label)[0]]
            + [pack.labels[label].definition]
            for label in pack.label_ids
        }
        examples = [e for label in pack.labels.values() for e in label.examples]
        self.examples = self.encoder.embed(examples)

    def score(self, sentences: pd.DataFrame) -> pd.DataFrame:
        """Add term_match, similarity, label_similarity, expresses_label, grounded, copies_example,
        near_duplicate and passed columns."""
        out = sentences.copy()
        if out.empty:
            for col in ("term_match", "expresses_label", "grounded", "copies_example", "near_duplicate", "passed"):
                out[col] = pd.Series(dtype=bool)
            out["similarity"] = out["label_similarity"] = pd.Series(dtype=float)
            return out
        vectors = self.encoder.embed(out["text"].tolist())
        planned = out["planned_term"].notna().to_numpy()
        out["term_match"] = [
            bool(term_in_text(term, text)) if isinstance(term, str) else False
            for term, text in zip(out["planned_term"], out["text"])
        ]
        similarity = np.zeros(len(out), dtype=np.float32)
        if planned.any():
            targets = [
                f"{self.pack.labels[lab].name}: {term}"
                for lab, term in zip(out.loc[planned, "planned_label"], out.loc[planned, "planned_term"])
            ]
            similarity[planned] = np.einsum("ij,ij->i", vectors[planned], self.encoder.embed(targets))
        label_similarity = np.full(len(out), -1.0, dtype=np.float32)
        for label, targets in self.label_targets.items():
            rows = (out["label"] == label).to_numpy()
            if rows.any():
                label_similarity[rows] = (vectors[rows] @ self.encoder.embed(targets).T).max(axis=1)
        similarity[~planned] = label_similarity[~planned]
        out["similarity"] = similarity.round(4)
        out["label_similarity"] = label_similarity.round(4)
        out["expresses_label"] = label_similarity >= self.cfg.threshold  # the same check for every variant
        expresses_term = out["term_match"].to_numpy() | (similarity >= self.cfg.threshold)
        right_label = (out["label"] == out["planned_label"]).to_numpy()
        out["grounded"] = np.where(planned, expresses_term & right_label, out["expresses_label"].to_numpy())
        out["copies_example"] = self._copies(vectors)
        out["near_duplicate"] = self._near_duplicates(vectors, out["variant"].to_numpy())
        out["passed"] = out["grounded"] & ~out["copies_example"] & ~out["near_duplicate"]
        return out

    def _copies(self, vectors: np.ndarray) -> np.ndarray:
        if not len(self.examples):
            return np.zeros(len(vectors), dtype=bool)
        return (vectors @ self.examples.T).max(axis=1) >= self.cfg.copy_threshold

    def _near_duplicates(self, vectors: np.ndarray, variants: np.ndarray) -> np.ndarray:
        """True for a sentence that is close to an earlier sentence of the same variant."""
        flags = np.zeros(len(vectors), dtype=bool)
        for variant in np.unique(variants):
            idx = np.nonzero(variants == variant)[0]
            sims = np.tril(vectors[idx] @ vectors[idx].T, k=-1)
            flags[idx] = (sims >= self.cfg.duplicate_threshold).any(axis=1)
        return flags
