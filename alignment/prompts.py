"""Jinja templates for prompts: built-in ones, overridable file by file from a user's folder."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

BUILTIN = Path(__file__).parent / "templates"


PRONOUNS = {"woman": "She", "man": "He"}


def and_join(items: list[str]) -> str:
    """["a", "b", "c"] -> "a, b and c": lists read as sentences, not field dumps."""
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else ""


@lru_cache(maxsize=8)
def environment(override: Path | None = None) -> jinja2.Environment:
    folders = [str(override), str(BUILTIN)] if override else [str(BUILTIN)]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folders),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["and_join"] = and_join
    env.filters["pronoun"] = lambda sex: PRONOUNS.get(sex, "They")
    return env


def render(name: str, override: Path | None = None, **context: Any) -> str:
    """Render template `name` (e.g. "sentences.j2"); a missing variable is an error, not an empty string."""
    return environment(override).get_template(name).render(**context).strip()
