"""Planned symptom mentions per note: how many, which labels, which lexicon terms (no term twice in a note)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dualalign.trajectories.pack import ConditionPack
from dualalign.trajectories.profiles import risk_matrix


def label_multipliers(profiles: pd.DataFrame, pack: ConditionPack) -> np.ndarray:
    """[patient, label] product of the risk-factor label multipliers that apply to each patient."""
    names = list(pack.risk_factors)
    log_m = np.zeros((len(names), len(pack.label_ids)))
    for i, name in enumerate(names):
        for label, mult in pack.risk_factors[name].label_multipliers.items():
            log_m[i, pack.label_ids.index(label)] = np.log(mult)
    return np.exp(risk_matrix(profiles, names).astype(float) @ log_m)


def label_probabilities(pack: ConditionPack, stage: np.ndarray, multipliers: np.ndarray) -> np.ndarray:
    """[note, label] shares: the stage's proportions times the patient's multipliers, renormalised."""
    p = pack.label_proportions[stage] * multipliers
    return p / p.sum(axis=1, keepdims=True)


def draw_mention_counts(
    pack: ConditionPack, stage: np.ndarray, multiplier: float, rng: np.random.Generator
) -> np.ndarray:
    """minimum + Poisson(stage mean x multiplier - minimum) mentions per note, so the mean is exact."""
    lo = pack.mentions.minimum
    lam = np.maximum(pack.mention_means[stage] * multiplier - lo, 0.0)
    return lo + rng.poisson(lam)


def draw_terms(
    pack: ConditionPack,
    stage: np.ndarray,
    label_counts: np.ndarray,
    rng: np.random.Generator,
    exclude: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Pick `label_counts[i, l]` distinct terms of label l for note i, by the stage's term weights.

    Weighted sampling without replacement via Gumbel top-k, vectorised over notes, per stage and label.
    `exclude` is (note index, term index) pairs that must not be drawn (terms the note already has). A label
    asked for more terms than it has available gets all of them. Returns (note index, term index) arrays.
    """
    notes_out, terms_out = [], []
    for st in np.unique(stage):
        in_stage = stage == st
        for lab in range(len(pack.label_ids)):
            cols = np.nonzero((pack.term_label == lab) & (pack.term_weights[st] > 0))[0]
            rows = np.nonzero(in_stage & (label_counts[:, lab] > 0))[0]
            if len(rows) == 0 or len(cols) == 0:
                continue
            u = np.maximum(rng.random((len(rows), len(cols)), dtype=np.float32), np.float32(1e-30))
            keys = np.log(pack.term_weights[st, cols]).astype(np.float32) - np.log(-np.log(u))  # Gumbel top-k
            if exclude is not None:
                row_of = np.full(len(stage), -1)
                row_of[rows] = np.arange(len(rows))
                col_of = np.full(len(pack.lexicon), -1)
                col_of[cols] = np.arange(len(cols))
                hit = (row_of[exclude[0]] >= 0) & (col_of[exclude[1]] >= 0)
                keys[row_of[exclude[0][hit]], col_of[exclude[1][hit]]] = -np.inf
            k = np.minimum(label_counts[rows, lab], np.isfinite(keys).sum(axis=1))
            order = np.argsort(-keys, axis=1)
            take = np.arange(len(cols))[None, :] < k[:, None]
            notes_out.append(np.broadcast_to(rows[:, None], order.shape)[take])
            terms_out.append(cols[order[take]])
    if not notes_out:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(notes_out), np.concatenate(terms_out)


def plan_mentions(
    pack: ConditionPack,
    stage: np.ndarray,
    probabilities: np.ndarray,
    counts: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Labels by multinomial draws from each note's label shares, then terms; (note index, term index)."""
    label_counts = rng.multinomial(counts, probabilities)
    return draw_terms(pack, stage, label_counts, rng)


def mention_lists(
    pack: ConditionPack, n_notes: int, note: np.ndarray, term: np.ndarray, rng: np.random.Generator
) -> list[list[dict[str, str]]]:
    """Per note, its mentions as `{"label", "term", "domain"}` dicts, in random order."""
    order = np.lexsort((rng.random(len(note)), note))
    note, term = note[order], term[order]
    labels, terms, domains = (np.array([getattr(t, k) for t in pack.lexicon], dtype=object)[term].tolist()
                              for k in ("label", "term", "domain"))
    flat = [{"label": a, "term": b, "domain": c} for a, b, c in zip(labels, terms, domains)]
    bounds = np.searchsorted(note, np.arange(n_notes + 1)).tolist()
    return [flat[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
