"""The JSON a model must reply with: sentences, each with a label from the pack (and a section, for notes)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, Field, create_model

NO_LABEL = "none"


@lru_cache(maxsize=64)
def reply_model(labels: tuple[str, ...], sections: tuple[str, ...] = (), max_sentences: int = 12) -> type[BaseModel]:
    """A pydantic model for replies: the label (and section) fields only accept the given values.

    Engines with structured outputs (vLLM, OpenAI-compatible servers) decode within this schema; replies from
    other engines are validated against it, so an unknown label is rejected and retried.
    """
    fields = {
        "text": (str, Field(min_length=3, max_length=600)),
        "label": (Literal[labels], ...),
    }
    if sections:
        fields = {"section": (Literal[sections], ...), **fields}
    sentence = create_model("Sentence", **fields)
    return create_model("Reply", sentences=(list[sentence], Field(min_length=1, max_length=max_sentences)))
