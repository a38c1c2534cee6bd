"""Downstream classifiers and data mixtures.

Entry points (imported lazily, so `dualalign --help` stays fast):
- `make_classifier(name, **settings)`, `CLASSIFIERS` (registry.py): `embedding-logreg`, `encoder`, `lora-llm`,
  each with `fit(texts, labels)`, `predict(texts)`, `predict_proba(texts)` (columns in `classes_` order)
- `EmbeddingLogReg`, `EncoderClassifier`, `LoraLLMClassifier`, `TextClassifier` (the shared contract)
- `LabelledTexts`, `build_mixture`, `run_mixtures`, `summarize`, `MixtureResults`, `MIXTURES` (mixtures.py)
- `classification_metrics(y_true, y_pred, labels)`, `confusion_matrix`, `load_metric` (classification.py),
  computed by the `evaluate` module `metrics/classification_report.py`
- `TrainConfig` (config.py), the run config's `train:` section
"""

from dualalign.lazy import lazy_exports

_EXPORTS = {
    "make_classifier": "registry",
    "CLASSIFIERS": "registry",
    "TextClassifier": "base",
    "EmbeddingLogReg": "embedding_logreg",
    "EncoderClassifier": "encoder",
    "LoraLLMClassifier": "lora_llm",
    "LabelledTexts": "mixtures",
    "build_mixture": "mixtures",
    "run_mixtures": "mixtures",
    "summarize": "mixtures",
    "MixtureResults": "mixtures",
    "MIXTURES": "mixtures",
    "TrainConfig": "config",
    "classification_metrics": "classification",
    "confusion_matrix": "classification",
    "load_metric": "classification",
}
__all__ = list(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS)
