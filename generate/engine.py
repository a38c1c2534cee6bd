"""The engine interface: a batch of requests in, one result per request out, in the same order."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import ClassVar

from pydantic import Field

from dualalign.config import StrictModel
from dualalign.generate.records import GenerationRequest, GenerationResult
from dualalign.generate.sampling import DEFAULTS, Hardware
from dualalign.hardware import DtypeChoice

ResultCallback = Callable[[GenerationResult], None]


class BaseEngineConfig(StrictModel):
    """The settings every engine kind has. Each engine's module subclasses it with `kind: Literal[<its name>]`
    and its own settings; `dualalign.generate.registry.EngineConfig` picks the subclass by `kind`."""

    kind: str
    model: str = Field("embedded:smollm2-135m-instruct", description="HF id, local path or embedded:<name>")

    def text_settings(self) -> dict:
        """The settings that decide the generated text: the generation stage keeps results made under others apart."""
        return self.model_dump(mode="json")


class Engine(ABC):
    """Generates text for batches of requests. Use as a context manager, or call `close()`."""

    name: str  # its kind, as in `dualalign.generate.registry.ENGINES`
    config_type: ClassVar[type[BaseEngineConfig]]  # the `engine:` section it takes
    dtype: DtypeChoice | None = None  # the dtype the model runs in, where this process loads it
    capacity: int = 1  # requests it works on at once (an actor pool's batches); callers send at least this many
    hardware: Hardware = "unknown"  # what samples: it gives a request's unset sampling settings (`SamplingConfig`)

    def describe(self) -> dict:
        """What a run manifest records about the engine, with the sampling defaults of its hardware."""
        return {"kind": self.name, "dtype": self.dtype.as_dict() if self.dtype else None,
                "sampling_defaults": {"hardware": self.hardware, **DEFAULTS[self.hardware].model_dump()}}  # fmt: skip

    @abstractmethod
    def generate(
        self, requests: Sequence[GenerationRequest], on_result: ResultCallback | None = None
    ) -> list[GenerationResult]:
        """Return one result per request, in order; `on_result` is called as each result arrives.

        Each request's sampling settings are resolved for `hardware` (`SamplingConfig.resolve`). A request that
        fails alone comes back with `error` set. An engine that cannot serve at all raises
        `EngineError`, carrying every result received before it gave up.
        """

    def close(self) -> None:
        """Release the model or connections."""

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
