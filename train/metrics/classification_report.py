"""A classification report as an `evaluate` metric: per-label precision, recall and F1, macro and micro F1,
accuracy and the confusion matrix. Labels may be strings; pass `labels` to fix their order (and to count labels
that never occur). Load it with `evaluate.load("<path to this file>")`.
"""

import datasets
import evaluate
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

_DESCRIPTION = """Per-label precision, recall, F1 and support; macro and micro F1; accuracy; the confusion matrix
(rows: true label, columns: predicted label, both in `labels` order)."""

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of str): predicted labels.
    references (list of str): true labels.
    labels (list of str, optional): the label set and its order; default: sorted labels seen in either list.
Returns:
    accuracy, macro_f1, micro_f1, macro_precision, macro_recall (float), per_label (dict label -> precision,
    recall, f1, support), labels (list of str), confusion_matrix (list of lists of int).
Examples:
    >>> metric = evaluate.load("eval/metrics/classification_report.py")
    >>> metric.compute(predictions=["a", "b"], references=["a", "a"], labels=["a", "b"])["accuracy"]
    0.5
"""

_CITATION = """@article{scikit-learn, title={Scikit-learn: Machine Learning in Python}, author={Pedregosa, F. and
others}, journal={Journal of Machine Learning Research}, volume={12}, pages={2825--2830}, year={2011}}"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class ClassificationReport(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions, references, labels=None):
        labels = list(labels) if labels is not None else sorted(set(references) | set(predictions))
        precision, recall, f1, support = precision_recall_fscore_support(
            references, predictions, labels=labels, zero_division=0
        )
        macro_p, macro_r, macro_f1, _ = precision_recall_fscore_support(
            references, predictions, labels=labels, average="macro", zero_division=0
        )
        return {
            "accuracy": float(accuracy_score(references, predictions)),
            "macro_f1": float(macro_f1),
            "micro_f1": float(f1_score(references, predictions, labels=labels, average="micro", zero_division=0)),
            "macro_precision": float(macro_p),
            "macro_recall": float(macro_r),
            "per_label": {
                lab: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                for lab, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
            },
            "labels": labels,
            "confusion_matrix": confusion_matrix(references, predictions, labels=labels).tolist(),
        }
