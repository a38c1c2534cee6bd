"""The plans stage: cohort profiles and trajectories in, `plans.jsonl` out (prompts from the pack and templates)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pandas as pd

from dualalign.alignment.config import AlignmentConfig
from dualalign.alignment.encounters import build_section_plans
from dualalign.alignment.plans import Plan, build_labelset_plans, build_note_plans
from dualalign.alignment.prompts import BUILTIN as BUILTIN_TEMPLATES
from dualalign.io import write_text
from dualalign.runfolder import COHORT, PLANS, TRAJECTORIES
from dualalign.stage import Stage, keyed
from dualalign.trajectories.labelset import sample_label_mentions
from dualalign.trajectories.pack import load_pack, resolve_pack_path
from dualalign.trajectories.stage import read_trajectories


def template_files(cfg: AlignmentConfig) -> list[Path]:
    """Every template a prompt may be rendered from: the built-in ones and the user's overrides."""
    return sorted(BUILTIN_TEMPLATES.glob("*.j2")) + (sorted(Path(cfg.templates).glob("*.j2")) if cfg.templates else [])


# How text is judged and generated: the generation's and the encounters' stages', not the plans'.
PLAN_SETTINGS = {"exclude": {"grounding", "gate", "retries", "chunk_size", "conversation"}}


def write_plans(path: Path, plans: list[Plan]) -> None:
    write_text(path, "".join(p.model_dump_json() + "\n" for p in plans))


@dataclass(kw_only=True)
class PlansStage(Stage):
    """Plans for every note in every configured variant (an encounter's: one per section of its note). How text is
    judged and generated (the gate, grounding, retries, chunks) is the generation stage's, so it is not in this
    stage's key."""

    name: ClassVar[str] = "plans"
    reads: ClassVar[tuple[str, ...]] = (COHORT, TRAJECTORIES)
    writes: ClassVar[tuple[str, ...]] = (PLANS,)
    alignment: AlignmentConfig = keyed(**PLAN_SETTINGS)
    pack: str

    def files(self) -> tuple[Path, ...]:
        return (resolve_pack_path(self.pack), *template_files(self.alignment))

    def execute(self) -> None:
        profiles = pd.read_parquet(self.run.file(COHORT))
        notes = read_trajectories(self.run.file(TRAJECTORIES))
        build = build_section_plans if self.alignment.granularity == "encounters" else build_note_plans
        write_plans(self.run.file(PLANS), build(profiles, notes, load_pack(self.pack), self.alignment, self.seed))


@dataclass(kw_only=True)
class LabelsetPlansStage(Stage):
    """A flat pack's label set: `per_label` items per label (each drawn terms of its label), a plan per item and
    variant (`tstr`'s plans)."""

    name: ClassVar[str] = "plans"
    writes: ClassVar[tuple[str, ...]] = (PLANS,)
    alignment: AlignmentConfig = keyed(**PLAN_SETTINGS)
    pack: str
    per_label: int
    variants: list[str]

    def files(self) -> tuple[Path, ...]:
        return (resolve_pack_path(self.pack), *template_files(self.alignment))

    def execute(self) -> None:
        pack = load_pack(self.pack)
        items = sample_label_mentions(pack, self.per_label, self.seed)
        write_plans(self.run.file(PLANS), build_labelset_plans(items, pack, self.variants, self.alignment, self.seed))
