"""Config building blocks: strict pydantic models loaded from YAML, with errors naming the file and the key.

The whole run config, which composes every layer's section, is `dualalign.runconfig.RunConfig`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dualalign.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for every config section: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class EngineConfig(StrictModel):
    """Which engine writes the text, with which model, and how."""

    kind: Literal["vllm", "openai", "transformers"] = "vllm"
    model: str = Field("embedded:smollm2-135m-instruct", description="HF id, local path or embedded:<name>")
    # vllm (in-process): passed to vllm.LLM; engine_args takes any other vllm.LLM argument.
    dtype: str = "auto"
    max_model_len: int = Field(2048, gt=0)
    tensor_parallel_size: int = Field(1, ge=1)
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1)
    quantization: str | None = None
    engine_args: dict[str, Any] = Field(default_factory=dict)
    # openai: any OpenAI-compatible server, `vllm serve` first among them.
    base_url: str | None = None
    api_key: str = "EMPTY"
    served_model_name: str | None = None
    max_concurrency: int = Field(8, ge=1)
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(3, ge=0)
    backoff_s: float = Field(0.5, ge=0)
    # transformers
    batch_size: int = Field(16, ge=1)
    # structured outputs: how often an invalid reply is retried with a new seed before it is a failure
    json_retries: int = Field(2, ge=0)


def format_validation_error(err: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid configuration"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        if e["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key")
        else:
            lines.append(f"  {key}: {e['msg']} (got {e.get('input')!r})")
    return "\n".join(lines)


def validate_model(model: type[M], data: Any, source: str) -> M:
    """Validate `data` as `model`, turning pydantic's error into a ConfigError naming `source` and the keys."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, source)) from None


def read_yaml(path: str | Path) -> Any:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None


def load_model_yaml(model: type[M], path: str | Path) -> M:
    return validate_model(model, read_yaml(path), str(path))

