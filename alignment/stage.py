"""The plans stage: cohort profiles and trajectories in, `plans.jsonl` out (prompts from the pack and templates)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dualalign.alignment.config import AlignmentConfig
from dualalign.alignment.plans import build_note_plans
from dualalign.alignment.prompts import BUILTIN as BUILTIN_TEMPLATES
from dualalign.io import write_text
from dualalign.runfolder import COHORT, PLANS, TRAJECTORIES, RunFolder
from dualalign.stage import Stage
from dualalign.trajectories.pack import load_pack, resolve_pack_path
from dualalign.trajectories.stage import read_trajectories


def template_files(cfg: AlignmentConfig) -> list[Path]:
    """Every template a prompt may be rendered from: the built-in ones and the user's overrides."""
    return sorted(BUILTIN_TEMPLATES.glob("*.j2")) + (sorted(Path(cfg.templates).glob("*.j2")) if cfg.templates else [])


def plans_stage(cfg: AlignmentConfig, pack: str, seed: int, run: RunFolder) -> Stage:
    """Plans for every note in every configured variant. Grounding settings are the generation stage's."""

    def work() -> None:
        profiles = pd.read_parquet(run.file(COHORT))
        plans = build_note_plans(profiles, read_trajectories(run.file(TRAJECTORIES)), load_pack(pack), cfg, seed)
        write_text(run.file(PLANS), "".join(p.model_dump_json() + "\n" for p in plans))

    config = {"alignment": cfg.model_dump(mode="json", exclude={"grounding"}), "seed": seed}
    inputs = (run.file(COHORT), run.file(TRAJECTORIES), resolve_pack_path(pack), *template_files(cfg))
    return Stage("plans", config, inputs, (PLANS,), work)
