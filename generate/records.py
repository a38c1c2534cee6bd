"""The one request record and the one result record every engine speaks."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dualalign.generate.sampling import SamplingConfig
from dualalign.io import read_jsonl
from dualalign.messages import Message


class GenerationRequest(BaseModel):
    """What to generate and how to sample it. Give each request its own seed: same seed + prompt = same text."""

    id: str
    messages: list[Message] | None = None
    prompt: str | None = None
    sampling: SamplingConfig = Field(default_factory=SamplingConfig, description="unset settings: the engine's "
                                     "hardware default")  # fmt: skip
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
# by a caller's check, the engine itself failed, or (a plan's record) no candidate passed the quality gate.
ErrorKind = Literal["cut_off", "invalid_json", "schema", "check", "engine", "rejected"]


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


class TriedCandidate(BaseModel):
    """A candidate the quality gate judged: `reason` is why it was rejected (None: it passed)."""

    text: str
    reason: str | None = None
    score: float | None = None
    attempt: int = 0


class GenerationRecord(BaseModel):
    """One row of `generations.jsonl`: a plan's final outcome, written once, whichever way it was generated.

    Plain-text plans: `text` is the best accepted text and `more` any other kept ones, `candidates` every candidate
    the gate judged. Whole JSON notes: `parsed` is the validated reply. `error` and `error_kind` are set when the
    plan failed (`rejected`: no candidate passed the gate).
    """

    model_config = ConfigDict(extra="forbid")

    id: str
    variant: str
    text: str = ""
    more: list[str] = Field(default_factory=list)
    parsed: Any = None
    error: str | None = None
    error_kind: ErrorKind | None = None
    candidates: list[TriedCandidate] = Field(default_factory=list)
    attempts: int = 1
    completion_tokens: int = 0
    seed: int = 0

    @model_validator(mode="after")
    def _kind_with_error(self) -> "GenerationRecord":
        if (self.error is None) != (self.error_kind is None):
            raise ValueError("error and error_kind are set together")
        return self

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def texts(self) -> list[str]:
        """The accepted plain texts, best first (none for a failure or a JSON note, whose sentences are `parsed`)."""
        return [self.text, *self.more] if self.ok and self.parsed is None else []

    @classmethod
    def from_result(cls, result: GenerationResult, variant: str) -> "GenerationRecord":
        """The record of a request generated without the gate (a whole JSON note)."""
        return cls(id=result.id, variant=variant, text=result.text, parsed=result.parsed, error=result.error,
                   error_kind=result.error_kind, attempts=result.attempts,
                   completion_tokens=result.completion_tokens, seed=result.seed)  # fmt: skip


def read_generations(path: str | Path) -> list[GenerationRecord]:
    """The records of a `generations.jsonl` (a torn last line, left by a killed run, is ignored)."""
    return [GenerationRecord.model_validate(row) for row in read_jsonl(path)]
