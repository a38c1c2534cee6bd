"""The one request record and the one result record every engine speaks."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator


class Message(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


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


class GenerationResult(BaseModel):
    """What came back. `error` is set (and `text` may be empty) when the request failed."""

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

    @property
    def ok(self) -> bool:
        return self.error is None
