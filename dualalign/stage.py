"""The stage contract: one step of a run, with everything it reads and writes declared next to how it runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Stage:
    """A step of `dualalign run`. Its cache key covers `config` and the content of every file in `inputs`, so a
    stage is rerun whenever anything it reads changes.

    name: the stage's name (`--stages`); config: the config it reads (JSON-able: its section and the seed);
    inputs: every file it reads (earlier stages' artifacts, packs, templates, source tables);
    outputs: the files and folders it writes, relative to the run folder; run: does the work, and may return
    extra fields for the stage's manifest entry (what engine and dtype wrote the text, say); own_bar: the stage
    draws its own progress bar (else the pipeline shows a spinner).
    """

    name: str
    config: Any
    inputs: tuple[Path, ...]
    outputs: tuple[str, ...]
    run: Callable[[], dict[str, Any] | None]
    own_bar: bool = False
