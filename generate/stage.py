"""The generation stage: plans in; generations, notes and sentences (graded against the pack) out."""

from __future__ import annotations

from collections.abc import Sequence

from dualalign.alignment.config import AlignmentConfig
from dualalign.generate.engine import BaseEngineConfig, Engine
from dualalign.generate.run import run_generation_stage
from dualalign.generate.sampling import SamplingConfig
from dualalign.io import stable_hash
from dualalign.runfolder import GENERATIONS, NOTES, PLANS, REJECTIONS, SENTENCES, RunFolder
from dualalign.stage import Stage
from dualalign.trajectories.pack import resolve_pack_path


def generation_stage(
    cfg: AlignmentConfig,
    engine_cfg: BaseEngineConfig,
    sampling: SamplingConfig,
    pack: str,
    seed: int,
    run: RunFolder,
    progress: bool = True,
    engine: Engine | None = None,
    references: Sequence[str] = (),
) -> Stage:
    """Reads the engine, sampling and alignment sections, the plans (which carry the rendered templates), the pack
    (the gate and grounding check text against its labels, definitions and examples) and the `references` the gate
    keeps generated text from copying (the run's gold texts)."""
    section = {
        "engine": engine_cfg.model_dump(mode="json"),
        "sampling": sampling.model_dump(),
        "alignment": cfg.model_dump(mode="json"),
        "seed": seed,
        "references": stable_hash(list(references)),
    }
    inputs = (run.file(PLANS), resolve_pack_path(pack))
    return Stage(
        "generate",
        section,
        inputs,
        (GENERATIONS, NOTES, SENTENCES, REJECTIONS),
        lambda: run_generation_stage(cfg, engine_cfg, sampling, pack, run, progress, engine, references),
        own_bar=True,
    )
