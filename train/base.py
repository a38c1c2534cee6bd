"""The classifier contract every downstream model follows (scikit-learn's habits) and input checks."""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, Self

import numpy as np

from dualalign.errors import ConfigError, DataError, DualAlignError


def check_texts(texts: Sequence[str], what: str = "texts") -> list[str]:
    """A list of strings, or a DataError naming the first bad item."""
    if isinstance(texts, str):
        raise DataError(f"{what}: expected a list of texts, got one string")
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise DataError(f"{what}[{i}]: expected a string, got {type(t).__name__} ({t!r})")
    return out


def check_training_data(texts: Sequence[str], labels: Sequence[str]) -> tuple[list[str], list[str]]:
    """Validate a training set: same lengths, not empty, string labels, at least two classes."""
    texts = check_texts(texts)
    labels = [str(lab) for lab in labels]
    if len(texts) != len(labels):
        raise DataError(f"training data: {len(texts)} texts but {len(labels)} labels")
    if not texts:
        raise DataError("training data: empty training set (no texts)")
    classes = set(labels)
    if len(classes) < 2:
        raise DataError(f"training data: a classifier needs at least two classes, got only {sorted(classes)}")
    return texts, labels


class TextClassifier(ABC):
    """Settings in the constructor, `fit(texts, labels)` returns self, fitted attributes end in `_`.

    Subclasses implement `_fit(texts, y)` (y: indices into `classes_`) and `_predict_proba(texts)`; one that sets
    `takes_weights` implements `_fit(texts, y, sample_weight=None)`.
    """

    name: ClassVar[str]
    takes_weights: ClassVar[bool] = False  # `fit` accepts a weight per training text
    classes_: list[str]

    def fit(self, texts: Sequence[str], labels: Sequence[str], sample_weight: Sequence[float] | None = None) -> Self:
        """`sample_weight`: a weight >= 0 per text (None: all 1), for classifiers that take weights."""
        texts, labels = check_training_data(texts, labels)
        self.classes_ = sorted(set(labels))
        index = {c: i for i, c in enumerate(self.classes_)}
        y = np.array([index[lab] for lab in labels], dtype=np.int64)
        if sample_weight is None:
            self._fit(texts, y)
            return self
        if not self.takes_weights:
            raise ConfigError(f"classifier {self.name!r} takes no sample weights")
        weights = np.asarray(sample_weight, dtype=np.float64)
        if weights.shape != (len(texts),) or not np.all(weights >= 0):
            raise DataError(f"sample_weight: expected {len(texts)} weights >= 0, got {weights.tolist()[:5]}...")
        self._fit(texts, y, sample_weight=weights)
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities, one row per text, columns in `classes_` order."""
        self._check_fitted()
        texts = check_texts(texts)
        if not texts:
            return np.zeros((0, len(self.classes_)))
        return self._predict_proba(texts)

    def predict(self, texts: Sequence[str]) -> list[str]:
        proba = self.predict_proba(texts)
        return [self.classes_[i] for i in proba.argmax(axis=1)]

    def score(self, texts: Sequence[str], labels: Sequence[str]) -> float:
        """Accuracy on labelled texts; labels the classifier never saw are a DataError."""
        self.check_known_labels(labels)
        pred = self.predict(texts)
        if len(pred) != len(labels):
            raise DataError(f"score: {len(pred)} texts but {len(labels)} labels")
        return float(np.mean([p == t for p, t in zip(pred, labels, strict=True)])) if pred else float("nan")

    def check_known_labels(self, labels: Sequence[str]) -> None:
        self._check_fitted()
        unknown = sorted(set(labels) - set(self.classes_))
        if unknown:
            raise DataError(f"labels {unknown} were not in the training data; known labels: {self.classes_}")

    def get_params(self) -> dict[str, Any]:
        """The constructor settings (scikit-learn's `get_params`)."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {n: getattr(self, n) for n in names}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def _check_fitted(self) -> None:
        if not hasattr(self, "classes_"):
            raise DualAlignError(f"{type(self).__name__} is not fitted yet: call fit(texts, labels) first")

    @abstractmethod
    def _fit(self, texts: list[str], y: np.ndarray) -> None: ...

    @abstractmethod
    def _predict_proba(self, texts: list[str]) -> np.ndarray: ...
