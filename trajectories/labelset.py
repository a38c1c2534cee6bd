"""Items for label-set generation (text classification): a label, its definition and style, and a few terms."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dualalign.trajectories.pack import ConditionPack


def label_terms(pack: ConditionPack, label: str) -> tuple[list[str], np.ndarray]:
    """A label's terms and weights: a flat pack's `terms` (equal weights), else its lexicon terms (mean weight)."""
    if pack.kind == "flat":
        terms = pack.labels[label].terms
        return terms, np.ones(len(terms))
    idx = np.nonzero(pack.term_label == pack.label_ids.index(label))[0]
    return [pack.lexicon[i].term for i in idx], pack.term_weights[:, idx].mean(axis=0)


def sample_label_mentions(
    pack: ConditionPack,
    n_per_label: int,
    seed: int | np.random.Generator = 0,
    max_terms: int = 3,
) -> pd.DataFrame:
    """`n_per_label` items per label, each with 1..`max_terms` distinct terms drawn by weight.

    Columns: item_id, label, label_name, definition, style, terms (list of str). Works for flat and staged packs.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for label in pack.label_ids:
        terms, weights = label_terms(pack, label)
        p = weights / weights.sum()
        usable = int((p > 0).sum())
        spec = pack.labels[label]
        for i in range(n_per_label):
            k = int(rng.integers(1, min(max_terms, usable) + 1))
            chosen = rng.choice(len(terms), size=k, replace=False, p=p)
            rows.append(
                {
                    "item_id": f"{label}-{i + 1:04d}",
                    "label": label,
                    "label_name": spec.name,
                    "definition": spec.definition,
                    "style": pack.label_style(label),
                    "terms": [terms[j] for j in chosen],
                }
            )
    return pd.DataFrame(rows, columns=["item_id", "label", "label_name", "definition", "style", "terms"])
