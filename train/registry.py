"""Classifiers by name: `make_classifier("embedding-logreg", C=1.0)`."""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any

from dualalign.errors import ConfigError
from dualalign.train.base import TextClassifier
from dualalign.train.embedding_logreg import EmbeddingLogReg
from dualalign.train.encoder import EncoderClassifier
from dualalign.train.lora_llm import LoraLLMClassifier

CLASSIFIERS: dict[str, type[TextClassifier]] = {
    cls.name: cls for cls in (EmbeddingLogReg, EncoderClassifier, LoraLLMClassifier)
}


def classifier_problem(name: str, settings: Iterable[str] = ()) -> str | None:
    """Why `name` with these setting names cannot be made (an unknown name or setting), or None."""
    if name not in CLASSIFIERS:
        return f"unknown classifier {name!r}; known classifiers: {', '.join(CLASSIFIERS)}"
    known = [p for p in inspect.signature(CLASSIFIERS[name].__init__).parameters if p != "self"]
    unknown = sorted(set(settings) - set(known))
    if unknown:
        return f"classifier {name!r}: unknown settings {unknown}; known settings: {', '.join(known)}"
    return None


def make_classifier(name: str, **settings: Any) -> TextClassifier:
    """A new, unfitted classifier; an unknown name or setting is a ConfigError that lists what is known."""
    problem = classifier_problem(name, settings)
    if problem:
        raise ConfigError(problem)
    return CLASSIFIERS[name](**settings)
