"""Training-data mixtures (gold, gold+<variant>, <variant> for each synthetic variant) and the seeded comparison.

`run_mixtures` trains one classifier per mixture and seed, scores each on a held-out real test set, and returns
a tidy table (one row per mixture and seed) with a summary (mean and sd per mixture) and summed confusion matrices.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dualalign.alignment.config import VARIANTS
from dualalign.errors import ConfigError, DataError
from dualalign.train.robustness import PERTURBATIONS, drop_column, perturbed_column

log = logging.getLogger(__name__)

MIXTURES = ("gold", *(f"gold+{v}" for v in VARIANTS), *VARIANTS)


def mixture_names(variants: Sequence[str]) -> list[str]:
    """The mixtures that the given synthetic variants make possible, in report order."""
    return ["gold", *(f"gold+{v}" for v in variants), *variants]
# The scores of `classification_metrics` that each run records; a summary adds the training set's size.
METRICS = ("accuracy", "macro_f1", "micro_f1", "macro_precision", "macro_recall")
FIGURES = (*METRICS, "n_train")


@dataclass(frozen=True)
class LabelledTexts:
    """Texts with one label each."""

    texts: list[str]
    labels: list[str]

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.labels):
            raise DataError(f"{len(self.texts)} texts but {len(self.labels)} labels")

    @classmethod
    def from_frame(cls, df: pd.DataFrame, text: str = "text", label: str = "label") -> LabelledTexts:
        missing = [c for c in (text, label) if c not in df.columns]
        if missing:
            raise DataError(f"table has no column(s) {missing}; columns: {list(df.columns)}")
        return cls(df[text].astype(str).tolist(), df[label].astype(str).tolist())

    def __len__(self) -> int:
        return len(self.texts)

    def take(self, idx: Sequence[int]) -> LabelledTexts:
        return LabelledTexts([self.texts[i] for i in idx], [self.labels[i] for i in idx])

    def __add__(self, other: LabelledTexts) -> LabelledTexts:
        return LabelledTexts(self.texts + other.texts, self.labels + other.labels)


def synthetic_count(n_gold: int, n_available: int, ratio: float | None, cap: int | None) -> int:
    """How many synthetic rows a mixture draws: `ratio` per gold row (None: all), at most `cap` and what exists."""
    n = n_available if ratio is None else int(round(ratio * n_gold))
    if cap is not None:
        n = min(n, cap)
    if n > n_available:
        log.warning("asked for %d synthetic rows, only %d exist: using all of them", n, n_available)
    return min(n, n_available)


def build_mixture(name: str, gold: LabelledTexts, synthetic: Mapping[str, LabelledTexts] | None = None,
                  ratio: float | None = 1.0, cap: int | None = None, seed: int = 0) -> LabelledTexts:
    """One mixture's training set. Synthetic rows are drawn without replacement with a seeded generator;
    synthetic-only mixtures draw as many rows as `gold+<variant>` adds (ratio per gold row, or `cap`)."""
    if name not in MIXTURES:
        raise ConfigError(f"unknown mixture {name!r}; known mixtures: {', '.join(MIXTURES)}")
    if ratio is not None and ratio < 0:
        raise ConfigError(f"mixture ratio must be >= 0 (synthetic rows per gold row), got {ratio}")
    if name == "gold":
        return gold
    variant = name.removeprefix("gold+")
    texts = (synthetic or {}).get(variant)
    if texts is None or len(texts) == 0:
        raise DataError(f"mixture {name!r} needs {variant} synthetic texts, and none were given")
    n = synthetic_count(len(gold), len(texts), ratio, cap)
    drawn = texts.take(np.random.default_rng(seed).choice(len(texts), size=n, replace=False))
    return gold + drawn if name.startswith("gold+") else drawn


@dataclass
class MixtureResults:
    """The comparison: `table` (mixture, seed, n_train, metrics...), `summary` (mixture x metric mean/sd),
    per-label F1 per mixture and seed, and confusion matrices summed over seeds."""

    classifier: str
    labels: list[str]
    table: pd.DataFrame
    per_label: pd.DataFrame
    confusion: dict[str, list[list[int]]] = field(default_factory=dict)

    @property
    def summary(self) -> pd.DataFrame:
        return summarize(self.table)

    def to_metrics(self) -> dict[str, Any]:
        """The `classification` section of metrics.json (schema in `dualalign.eval.report`)."""
        per_label_f1: dict[str, dict[str, dict]] = {}
        f1 = self.per_label.groupby(["mixture", "label"], sort=False)["f1"].agg(["mean", "std"])
        for (mix, lab), row in f1.iterrows():
            per_label_f1.setdefault(mix, {})[lab] = {"mean": _num(row["mean"]), "sd": _num(row["std"])}
        return {
            "classifier": self.classifier,
            "labels": self.labels,
            "seeds": sorted(int(s) for s in self.table["seed"].unique()),
            "summary": summary_figures(self.table),
            "runs": json.loads(self.table.to_json(orient="records")),
            "per_label_f1": per_label_f1,
            "confusion": {mix: {"labels": self.labels, "matrix": m} for mix, m in self.confusion.items()},
        }


def _num(value: Any) -> float | None:
    return None if pd.isna(value) else float(value)


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation (ddof=1; NaN for one seed) of each figure per mixture, in mixture order; where
    the table scored perturbed copies of the test set, also the macro-F1 on each and its drop (clean minus
    perturbed, per run)."""
    perturbed = [p for p in PERTURBATIONS if perturbed_column(p) in table.columns]
    table = table.assign(**{drop_column(p): table["macro_f1"] - table[perturbed_column(p)] for p in perturbed})
    cols = [c for c in FIGURES if c in table.columns]
    cols += [c for p in perturbed for c in (perturbed_column(p), drop_column(p))]
    out = table.groupby("mixture", sort=False)[cols].agg(["mean", "std"])
    return out.rename(columns={"std": "sd"}, level=1)


def summary_figures(table: pd.DataFrame) -> dict[str, dict[str, dict[str, float | None]]]:
    """`summarize(table)` for metrics.json: mixture -> figure -> {"mean", "sd"} (None where not measurable)."""
    s = summarize(table)
    figures = list(dict.fromkeys(s.columns.get_level_values(0)))
    return {mix: {f: {"mean": _num(s.loc[mix, (f, "mean")]), "sd": _num(s.loc[mix, (f, "sd")])} for f in figures}
            for mix in s.index}  # fmt: skip


def table_row(mixture: str, seed: int, n_train: int, scores: Mapping[str, Any]) -> dict[str, Any]:
    """One row of a comparison's table: which training set, seed and size, and its `METRICS` from `scores`."""
    return {"mixture": mixture, "seed": seed, "n_train": n_train, **{m: scores[m] for m in METRICS}}


def run_mixtures(classifier: str, gold: LabelledTexts, test: LabelledTexts,
                 synthetic: Mapping[str, LabelledTexts] | None = None, mixtures: Sequence[str] | None = None,
                 seeds: Sequence[int] = (0, 1, 2), ratio: float | None = 1.0, cap: int | None = None,
                 settings: dict[str, Any] | None = None, synthetic_weight: float | str = 1.0,
                 perturbed: Mapping[str, Sequence[str]] | None = None) -> MixtureResults:
    """Train `classifier` (a registry name) on each mixture with each seed and score it on the real `test` set.

    `synthetic`: texts per variant. `mixtures` defaults to every mixture whose data was given. The seed drives both
    the synthetic draw and the classifier. The label set is the test set's and gold's labels; a training label
    outside it is a DataError. A row records `seconds`: the training (with its weight's choice) and the scoring.
    `synthetic_weight`: the weight of the synthetic rows of a gold + synthetic mixture
    (gold rows weigh 1), or "auto" (chosen per mixture and seed from the gold rows alone: `train.weighting`); a
    `gold+` row of the table records it as `synthetic_weight`. `perturbed`: perturbation name -> a copy of the test
    texts (`train.robustness.perturbed_copies`); each model is also scored on each copy, recorded as
    `macro_f1_<name>`.
    """
    from dualalign.train.classification import classification_metrics
    from dualalign.train.registry import make_classifier
    from dualalign.train.weighting import choose_weight, fit_weighted

    if len(test) == 0:
        raise DataError("run_mixtures: the test set is empty")
    if not seeds:
        raise ConfigError("run_mixtures: give at least one seed")
    wrong = [name for name, texts in (perturbed or {}).items() if len(texts) != len(test)]
    if wrong:
        raise DataError(f"run_mixtures: the perturbed copies {wrong} are not one text per test text")
    synthetic = {v: t for v, t in (synthetic or {}).items() if len(t)}
    mixtures = list(mixtures) if mixtures is not None else mixture_names(list(synthetic))
    labels = sorted(set(test.labels) | set(gold.labels))
    rows, label_rows, confusion = [], [], {}
    for mix in mixtures:
        for seed in seeds:
            start = time.perf_counter()
            train = build_mixture(mix, gold, synthetic, ratio=ratio, cap=cap, seed=seed)
            stray = sorted(set(train.labels) - set(labels))
            if stray:
                raise DataError(f"mixture {mix!r}: training labels {stray} occur in neither the test set nor gold")
            weight = {}
            if mix.startswith("gold+"):
                drawn = train.take(range(len(gold), len(train)))
                w = (choose_weight(classifier, settings, seed, gold, drawn) if synthetic_weight == "auto"
                     else float(synthetic_weight))  # fmt: skip
                model, weight = fit_weighted(classifier, settings, seed, gold, drawn, w), {"synthetic_weight": w}
            else:
                model = make_classifier(classifier, **{**(settings or {}), "seed": seed}).fit(train.texts, train.labels)
            scores = classification_metrics(test.labels, model.predict(test.texts), labels)
            seconds = round(time.perf_counter() - start, 2)
            robust = {perturbed_column(name): classification_metrics(test.labels, model.predict(list(texts)),
                                                                     labels)["macro_f1"]
                      for name, texts in (perturbed or {}).items()}  # fmt: skip
            rows.append(table_row(mix, seed, len(train), scores) | {"seconds": seconds} | weight | robust)
            label_rows += [{"mixture": mix, "seed": seed, "label": lab, **vals}
                           for lab, vals in scores["per_label"].items()]
            matrix = np.asarray(scores["confusion_matrix"])
            confusion[mix] = (np.asarray(confusion[mix]) + matrix).tolist() if mix in confusion else matrix.tolist()
            log.info("%s seed %d: macro-F1 %.3f (n_train %d, %.1f s)", mix, seed, scores["macro_f1"], len(train),
                     seconds)
    return MixtureResults(classifier, labels, pd.DataFrame(rows), pd.DataFrame(label_rows), confusion)
