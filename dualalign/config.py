"""Config building blocks: strict pydantic models loaded from YAML, with errors naming the file and the key.

The whole run config, which composes every layer's section, is `dualalign.pipeline.runconfig.RunConfig`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from dualalign.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for every config section: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


def format_validation_error(err: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid configuration"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        if e["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key")
        elif e["type"] == "moved_key":
            lines.append(f"  {e['msg']}")
        elif e["type"] == "missing":
            lines.append(f"  {key}: required")
        else:
            lines.append(f"  {key}: {e['msg']} (got {e.get('input')!r})")
    return "\n".join(lines)


def validate_model(model: type[M], data: Any, source: str) -> M:
    """Validate `data` as `model` (a model or any type pydantic validates), turning pydantic's error into a
    ConfigError naming `source` and the keys."""
    try:
        return TypeAdapter(model).validate_python(data)
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

