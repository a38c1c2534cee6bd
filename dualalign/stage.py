"""The stage contract: a step of a run that declares what it reads and what it writes. Its cache key is derived from
those declarations (its keyed fields, the content of every file it reads, the figures of earlier stages it reads),
never assembled by hand, so no edit leaves an artifact or a figure stale.

A stage is a dataclass. Its fields are what it takes from the config (its sections, the seed); fields marked
`unkeyed()` do not change what it makes (the run folder, a progress flag, an already loaded engine), and
`keyed(...)` narrows a field to the part that does. Class attributes declare the run-folder artifacts it reads
(`reads`, required; `reads_if_present`) and writes (`writes`), and the sections of `metrics.json` it reads
(`reads_figures`) and writes (`figures`); `files()` names what else it reads (a pack, templates, a source table).
`execute()` does the work and returns its figures; the pipeline checks the inputs, writes the figures (declared
ones only) and records the stage in the manifest.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel

from dualalign.errors import DataError
from dualalign.io import content_hash, stable_hash
from dualalign.runfolder import RunFolder


def as_json(value: Any) -> Any:
    """A field's value as it enters a key: pydantic models as their JSON dump, paths as strings."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Path):
        return str(value)
    return value


def keyed(by: Callable[[Any], Any] | None = None, include: Iterable[str] | None = None, exclude: Iterable[str] = (),
          **kwargs: Any) -> Any:  # fmt: skip
    """A stage field whose key is `by(value)` (default: the whole value), narrowed to the top-level keys in
    `include` (if given), less those in `exclude`."""
    keep, drop = None if include is None else frozenset(include), frozenset(exclude)

    def key(value: Any) -> Any:
        data = by(value) if by else as_json(value)
        return {k: v for k, v in data.items() if (keep is None or k in keep) and k not in drop}

    return field(metadata={"key": key}, **kwargs)


def unkeyed(**kwargs: Any) -> Any:
    """A stage field that does not change what the stage makes."""
    return field(metadata={"key": None}, **kwargs)


@dataclass(frozen=True)
class StageResult:
    """What a stage's `execute` returns: its figures (metrics.json sections, each declared in `figures`) and extra
    fields for its manifest entry (what engine and dtype wrote the text, say)."""

    figures: dict[str, Any] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)


class MissingInput(DataError):
    """A stage's declared input is not in the run folder: the message names the stage that makes it."""


@dataclass(kw_only=True)
class Stage(ABC):
    """One step of a run; see the module's docstring."""

    name: ClassVar[str]
    reads: ClassVar[tuple[str, ...]] = ()
    reads_if_present: ClassVar[tuple[str, ...]] = ()
    reads_figures: ClassVar[tuple[str, ...]] = ()
    writes: ClassVar[tuple[str, ...]] = ()
    figures: ClassVar[tuple[str, ...]] = ()
    own_bar: ClassVar[bool] = False  # draws its own progress bar (else the pipeline shows a spinner)

    run: RunFolder = unkeyed()
    seed: int = 0

    def files(self) -> tuple[Path, ...]:
        """Files outside the run folder that it reads: packs, templates, source tables."""
        return ()

    def outputs(self) -> tuple[str, ...]:
        """What it writes this time (`writes`, less what its config turns off)."""
        return self.writes

    def settings(self) -> dict[str, Any]:
        """Its keyed fields as JSON."""
        out = {}
        for f in dataclasses.fields(self):
            key = f.metadata.get("key", as_json)
            if key is not None:
                out[f.name] = key(getattr(self, f.name))
        return out

    def key(self) -> str:
        """A hash of its settings, the content of everything it reads and the figures it reads."""
        inputs = {name: content_hash(self.run.file(name)) for name in (*self.reads, *self.reads_if_present)}
        inputs |= {str(path): content_hash(path) for path in self.files()}
        figures = {section: self.run.figures(section) for section in self.reads_figures}
        return stable_hash({"stage": self.name, "settings": self.settings(), "inputs": inputs, "figures": figures})

    @abstractmethod
    def execute(self) -> StageResult | None:
        """Do the work: read the declared inputs, write the declared outputs, return the figures."""
