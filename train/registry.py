"""Classifiers by name: `make_classifier("embedding-logreg", C=1.0)`."""

from __future__ import annotations

import inspect
from typing import Any

from dualalign.errors import ConfigError
from dualalign.train.base import TextClassifier
from dualalign.train.embedding_logreg import EmbeddingLogReg
from dualalign.train.encoder import EncoderClassifier
from dualalign.train.lora_llm import LoraLLMClassifier

CLASSIFIERS: dict[str, type[TextClassifier]] = {
    cls.name: cls for cls in (EmbeddingLogReg, EncoderClassifier, LoraLLMClassifier)
}


def make_classifier(name: str, **settings: Any) -> TextClassifier:
    """A new, unfitted classifier; an unknown name or setting is a ConfigError that lists what is known."""
    if name not in CLASSIFIERS:
        raise ConfigError(f"unknown classifier {name!r}; known classifiers: {', '.join(CLASSIFIERS)}")
    cls = CLASSIFIERS[name]
    known = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(settings) - set(known))
    if unknown:
        raise ConfigError(f"classifier {name!r}: unknown settings {unknown}; known settings: {', '.join(known)}")
    return cls(**settings)
