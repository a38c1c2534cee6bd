"""Classification metrics through the project's `evaluate` modules (`eval/metrics/*.py`), loaded from disk."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from dualalign.errors import DataError


def metric_path(name: str) -> Path:
    """The file of one of the shipped metric modules, e.g. `classification_report`."""
    path = Path(str(resources.files("dualalign.train") / "metrics" / f"{name}.py"))
    if not path.is_file():
        raise DataError(f"no metric module {name!r} in {path.parent}")
    return path


@functools.lru_cache(maxsize=8)
def load_metric(name: str = "classification_report") -> Any:
    """An `evaluate` metric loaded from its local module (never from the Hub)."""
    import evaluate
    from datasets import DownloadConfig

    offline = DownloadConfig(local_files_only=True)
    return evaluate.load(str(metric_path(name)), keep_in_memory=True, download_config=offline)


def classification_metrics(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro/micro F1, per-label precision/recall/F1/support and the confusion matrix.

    `labels` fixes the label set and the matrix order (rows: true, columns: predicted); a label outside it in
    either list is a DataError.
    """
    y_true, y_pred, labels = [str(v) for v in y_true], [str(v) for v in y_pred], [str(v) for v in labels]
    if len(y_true) != len(y_pred):
        raise DataError(f"classification metrics: {len(y_true)} true labels but {len(y_pred)} predictions")
    if not y_true:
        raise DataError("classification metrics: no examples to score")
    if len(set(labels)) != len(labels):
        raise DataError(f"classification metrics: duplicate labels in {labels}")
    for what, values in (("true labels", y_true), ("predictions", y_pred)):
        unknown = sorted(set(values) - set(labels))
        if unknown:
            raise DataError(f"classification metrics: {what} contain unknown labels {unknown}; labels: {labels}")
    return load_metric("classification_report").compute(predictions=y_pred, references=y_true, labels=labels)


def confusion_matrix(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> list[list[int]]:
    """Counts, rows: true label, columns: predicted label, both in `labels` order."""
    return classification_metrics(y_true, y_pred, labels)["confusion_matrix"]
