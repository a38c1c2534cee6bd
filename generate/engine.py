"""The engine interface: a batch of requests in, one result per request out, in the same order."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

from dualalign.config import EngineConfig
from dualalign.generate.records import GenerationRequest, GenerationResult
from dualalign.hardware import DtypeChoice

ResultCallback = Callable[[GenerationResult], None]


class Engine(ABC):
    """Generates text for batches of requests. Use as a context manager, or call `close()`."""

    name: str
    dtype: DtypeChoice | None = None  # the dtype the model runs in, where this process loads it

    def describe(self) -> dict:
        """What a run manifest records about the engine."""
        return {"kind": self.name, "dtype": self.dtype.as_dict() if self.dtype else None}

    @abstractmethod
    def generate(
        self, requests: Sequence[GenerationRequest], on_result: ResultCallback | None = None
    ) -> list[GenerationResult]:
        """Return one result per request, in order; `on_result` is called as each result arrives.

        A request that fails alone comes back with `error` set. An engine that cannot serve at all raises
        `EngineError`, carrying every result received before it gave up.
        """

    def close(self) -> None:
        """Release the model or connections."""

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_engine(config: EngineConfig) -> Engine:
    """Build the engine a config names. vllm and transformers load the model now; openai connects lazily."""
    if config.kind == "vllm":
        from dualalign.generate.vllm_engine import VLLMEngine

        return VLLMEngine(config)
    if config.kind == "openai":
        from dualalign.generate.openai_engine import OpenAIEngine

        return OpenAIEngine(config)
    from dualalign.generate.transformers_engine import TransformersEngine

    return TransformersEngine(config)
