"""The generation stage: plans in; generations, notes, sentences (graded against the pack) and exports out."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dualalign.generate.engine import Engine
from dualalign.generate.run import run_generation_stage
from dualalign.runfolder import COHORT, DATASET, FHIR, GENERATIONS, NOTES, PLANS, SENTENCES, RunFolder
from dualalign.stage import Stage
from dualalign.trajectories.pack import resolve_pack_path

if TYPE_CHECKING:
    from dualalign.runconfig import RunConfig


def generation_stage(config: RunConfig, run: RunFolder, progress: bool = True, engine: Engine | None = None) -> Stage:
    """Reads the engine and alignment sections, the plans (which carry the rendered templates), the cohort (for
    FHIR) and the pack (grounding checks sentences against its labels, definitions and examples)."""
    section = {
        "engine": config.engine.model_dump(mode="json"),
        "alignment": config.alignment.model_dump(mode="json"),
        "seed": config.seed,
    }
    inputs = (run.file(PLANS), run.file(COHORT), resolve_pack_path(config.trajectories.pack))
    return Stage("generate", section, inputs, (GENERATIONS, NOTES, SENTENCES, DATASET, FHIR),
                 lambda: run_generation_stage(config, run, progress=progress, engine=engine))
