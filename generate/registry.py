"""Engines by kind: the one list of them. An engine is one module (its config class and its `Engine`) plus one
entry in `ENGINES`; the `engine:` config section (`EngineConfig`) and `make_engine` both dispatch on it."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import ExitStack
from typing import Any

from pydantic import GetCoreSchemaHandler, ValidationError
from pydantic_core import CoreSchema, InitErrorDetails, PydanticCustomError, core_schema

from dualalign.generate.engine import BaseEngineConfig, Engine
from dualalign.generate.openai_engine import OpenAIEngine
from dualalign.generate.ray_engine import RayEngine
from dualalign.generate.transformers_engine import TransformersEngine
from dualalign.generate.vllm_engine import VLLMEngine

ENGINES: dict[str, type[Engine]] = {cls.name: cls for cls in (VLLMEngine, OpenAIEngine, TransformersEngine, RayEngine)}
DEFAULT_KIND = "vllm"  # the kind of an `engine:` section that names none


def engine_config(data: Any) -> BaseEngineConfig:
    """Validate an `engine:` section as the config class of its `kind`.

    Errors name the section's own keys (`kind`, `base_url`), and a setting of another kind says whose it is.
    """
    if isinstance(data, BaseEngineConfig):
        return data
    if not isinstance(data, Mapping):
        return ENGINES[DEFAULT_KIND].config_type.model_validate(data)  # pydantic's "not a mapping" error
    kind = data.get("kind", DEFAULT_KIND)
    if not isinstance(kind, str) or kind not in ENGINES:
        raise _invalid("kind", kind, "unknown engine kind; known kinds: {known}", known=", ".join(ENGINES))
    config_type = ENGINES[kind].config_type
    for key in data:
        owners = [k for k, e in ENGINES.items() if key in e.config_type.model_fields]
        if key not in config_type.model_fields and owners:
            raise _invalid(key, data[key], "a setting of engine kind {owners}, not {kind}", owners=" and ".join(owners),
                           kind=kind)  # fmt: skip
    return config_type.model_validate(data)


def _invalid(key: str, value: Any, message: str, **context: str) -> ValidationError:
    error = InitErrorDetails(type=PydanticCustomError("engine_config", message, context), loc=(key,), input=value)
    return ValidationError.from_exception_data("engine", [error])


class EngineConfig:
    """The `engine:` section: the config class of its `kind` in `ENGINES` (vllm where no kind is given).

    A field type for configs, and callable: `EngineConfig()` is the default vllm config,
    `EngineConfig(kind="openai", base_url=...)` an `OpenAIConfig`.
    """

    def __new__(cls, **fields: Any) -> BaseEngineConfig:  # type: ignore[misc]
        return engine_config(fields)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(engine_config)


def make_engine(config: BaseEngineConfig) -> Engine:
    """Build the engine a config names. vllm, transformers and ray load their models now; openai connects lazily."""
    return ENGINES[config.kind](config)


class EngineOnDemand:
    """A context that makes an engine (from `config`) only when first called for it, and closes it on exit; or
    hands out `given`, an engine already loaded (not closed here). `loaded`: what it ran as, None if never made."""

    def __init__(self, config: BaseEngineConfig, given: Engine | None = None):
        self.config, self.given, self.active = config, given, None
        self._stack = ExitStack()

    def __call__(self) -> Engine:
        if self.active is None:
            self.active = self.given if self.given is not None else self._stack.enter_context(make_engine(self.config))
        return self.active

    @property
    def loaded(self) -> dict | None:
        return self.active.describe() if self.active is not None else None

    def __enter__(self) -> EngineOnDemand:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()
