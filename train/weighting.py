"""The weight of synthetic rows in a gold + synthetic fit (`train.synthetic_weight`), and its `auto` choice.

`auto` never sees a test row: it cross-validates over the gold rows alone. Each fold holds out some gold rows, a
classifier is trained on the other gold rows (weight 1) plus every synthetic row at weight w, for each w of
`WEIGHT_GRID`, and the held-out predictions of all folds together are scored. The weight with the best macro-F1
wins; ties go to the higher mean probability of the true label (a continuous score, so 2 gold rows per label do
not tie on every weight).

With one gold row per label, a fold leaves whole labels out, to be learnt from their synthetic rows alone, which
favours the heavier weights: on the public Symptom2Disease set it chose 1.0 for guided text in all 30 draws of
two generations (docs/tstr.md, "Learning curves", where fixed weights 0.1 and 0.3 did better at that k). From 2
rows per label on, it lands within 0.013 macro-F1 of the best weight in hindsight.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from dualalign.errors import DataError
from dualalign.train.base import TextClassifier
from dualalign.train.mixtures import LabelledTexts

WEIGHT_GRID = (0.0, 0.1, 0.3, 1.0)
CV_FOLDS = 4  # at most; fewer where a label has fewer gold rows (and at least 2 of them)


def fit_weighted(classifier: str, settings: Mapping[str, Any] | None, seed: int, gold: LabelledTexts,
                 synthetic: LabelledTexts, weight: float) -> TextClassifier:  # fmt: skip
    """A classifier trained on gold (weight 1) + synthetic (weight `weight`); weight 1 fits without weights."""
    from dualalign.train.registry import make_classifier

    train = gold + synthetic
    sample_weight = None if weight == 1 else [1.0] * len(gold) + [float(weight)] * len(synthetic)
    model = make_classifier(classifier, **{**(settings or {}), "seed": seed})
    return model.fit(train.texts, train.labels, sample_weight=sample_weight)


def gold_folds(labels: Sequence[str], seed: int, folds: int = CV_FOLDS) -> np.ndarray:
    """The fold of each gold row. Where every label has 2 or more rows, each fold holds rows of every label (so
    none is ever left without gold in training): min(folds, fewest rows of a label) folds. Where a label has one
    row, rows are left out across labels instead: each of min(folds, labels) folds holds out whole labels' rows
    (so with one row per label, a held-out label is learnt from the synthetic rows alone)."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    names, counts = np.unique(labels, return_counts=True)
    if len(labels) < 2:
        raise DataError(f"choosing the synthetic weight needs 2 or more gold rows, got {len(labels)}")
    n = min(folds, int(counts.min())) if counts.min() >= 2 else min(folds, len(names))
    shift = dict(zip(rng.permutation(names), range(len(names)), strict=True))  # spreads labels over folds
    fold = np.empty(len(labels), dtype=np.int64)
    for name in names:
        rows = rng.permutation(np.flatnonzero(labels == name))
        fold[rows] = (np.arange(len(rows)) + shift[name]) % n
    return fold


def cv_scores(classifier: str, settings: Mapping[str, Any] | None, seed: int, gold: LabelledTexts,
              synthetic: LabelledTexts, grid: Sequence[float] = WEIGHT_GRID) -> dict[float, dict[str, float]]:
    """Per weight: the macro-F1 and mean probability of the true label of the held-out gold rows over all folds."""
    from sklearn.metrics import f1_score

    fold = gold_folds(gold.labels, seed)
    truth = np.asarray(gold.labels)
    out = {}
    for weight in grid:
        predicted = np.empty(len(gold), dtype=object)
        p_true = np.zeros(len(gold))
        for f in np.unique(fold):
            held, kept = np.flatnonzero(fold == f), np.flatnonzero(fold != f)
            model = fit_weighted(classifier, settings, seed, gold.take(kept), synthetic, weight)
            proba = model.predict_proba(gold.take(held).texts)
            index = {c: i for i, c in enumerate(model.classes_)}
            predicted[held] = [model.classes_[i] for i in proba.argmax(axis=1)]
            p_true[held] = [proba[r, index[t]] if t in index else 0.0 for r, t in enumerate(truth[held])]
        out[float(weight)] = {"macro_f1": float(f1_score(truth, predicted.astype(str), average="macro")),
                              "p_true": float(p_true.mean())}  # fmt: skip
    return out


def choose_weight(classifier: str, settings: Mapping[str, Any] | None, seed: int, gold: LabelledTexts,
                  synthetic: LabelledTexts, grid: Sequence[float] = WEIGHT_GRID) -> float:  # fmt: skip
    """The `auto` synthetic weight: the best of `grid` by cross-validation over the gold rows (see the module)."""
    scores = cv_scores(classifier, settings, seed, gold, synthetic, grid)
    return max(scores, key=lambda w: (scores[w]["macro_f1"], scores[w]["p_true"]))
