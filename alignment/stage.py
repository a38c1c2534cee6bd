"""The plans stage: cohort profiles and trajectories in, `plans.jsonl` out (prompts from the pack and templates)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pandas as pd

from dualalign.alignment.config import AlignmentConfig
from dualalign.alignment.plans import build_note_plans
from dualalign.alignment.prompts import BUILTIN as BUILTIN_TEMPLATES
from dualalign.io import write_text
from dualalign.runfolder import COHORT, PLANS, TRAJECTORIES
from dualalign.stage import Stage, keyed
from dualalign.trajectories.pack import load_pack, resolve_pack_path
from dualalign.trajectories.stage import read_trajectories


def template_files(cfg: AlignmentConfig) -> list[Path]:
    """Every template a prompt may be rendered from: the built-in ones and the user's overrides."""
    return sorted(BUILTIN_TEMPLATES.glob("*.j2")) + (sorted(Path(cfg.templates).glob("*.j2")) if cfg.templates else [])


@dataclass(kw_only=True)
class PlansStage(Stage):
    """Plans for every note in every configured variant. How text is judged and generated (the gate, grounding,
    retries, chunks) is the generation stage's, so it is not in this stage's key."""

    name: ClassVar[str] = "plans"
    reads: ClassVar[tuple[str, ...]] = (COHORT, TRAJECTORIES)
    writes: ClassVar[tuple[str, ...]] = (PLANS,)
    alignment: AlignmentConfig = keyed(exclude={"grounding", "gate", "retries", "chunk_size"})
    pack: str

    def files(self) -> tuple[Path, ...]:
        return (resolve_pack_path(self.pack), *template_files(self.alignment))

    def execute(self) -> None:
        profiles = pd.read_parquet(self.run.file(COHORT))
        notes = read_trajectories(self.run.file(TRAJECTORIES))
        plans = build_note_plans(profiles, notes, load_pack(self.pack), self.alignment, self.seed)
        write_text(self.run.file(PLANS), "".join(p.model_dump_json() + "\n" for p in plans))
