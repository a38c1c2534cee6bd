"""The one request record and the one result record every engine speaks."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from dualalign.messages import Message


class GenerationRequest(BaseModel):
    """What to generate and how to sample it. Give each request its own seed: same seed + prompt = same text."""

    id: str
    messages: list[Message] | None = None
    prompt: str | None = None
    max_tokens: int = Field(256, gt=0)
    temperature: float = Field(0.7, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)
    stop: list[str] = Field(default_factory=list)
    seed: int = 0
    json_schema: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_input(self) -> "GenerationRequest":
        if (self.messages is None) == (self.prompt is None):
            raise ValueError("a request takes exactly one of `messages` or `prompt`")
        return self

    @property
    def continues(self) -> bool:
        """Whether the model continues the conversation's final assistant message (a given start of its reply)
        instead of opening a new one; the result's text is then the continuation only."""
        return self.messages is not None and self.messages[-1].role == "assistant"


# Why a request failed: the reply was cut off at max_tokens, was not JSON, did not match the schema, was rejected
# by a caller's check, or the engine itself failed.
ErrorKind = Literal["cut_off", "invalid_json", "schema", "check", "engine"]


class GenerationResult(BaseModel):
    """What came back. `error` (what went wrong) and `error_kind` are set (and `text` may be empty) when the
    request failed; a failure given without a kind is the engine's own."""

    id: str
    text: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None
    latency_s: float = 0.0
    seed: int = 0
    attempts: int = 1
    parsed: Any = None
    error: str | None = None
    error_kind: ErrorKind | None = None

    @model_validator(mode="after")
    def _engine_failure_by_default(self) -> "GenerationResult":
        if self.error is not None and self.error_kind is None:
            self.error_kind = "engine"
        return self

    @property
    def ok(self) -> bool:
        return self.error is None
