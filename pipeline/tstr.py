"""Train on synthetic, test on real: generate labelled text for a pack's label set in each variant, train a
classifier on each (optionally mixed with gold: a part of the real file, or a real file of its own), and score on
the real rows.

Every table carries its floor and ceiling: `pack-prototype` (no generation: the nearest label by the pack's own
definitions and terms) and, with gold, `gold` (the real gold rows alone). Each seed draws new items, new
generations, a new gold split and a new classifier, so the standard deviations cover all of it.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import pandas as pd
from pydantic import Field, model_validator

from dualalign.alignment.config import AlignmentConfig
from dualalign.alignment.stage import LabelsetPlansStage
from dualalign.config import StrictModel
from dualalign.eval.gold import read_labelled
from dualalign.eval.scores import ScoreStage
from dualalign.generate.engine import Engine
from dualalign.generate.registry import EngineConfig, make_engine
from dualalign.generate.sampling import SamplingConfig
from dualalign.generate.stage import GenerationStage
from dualalign.io import stable_hash
from dualalign.pipeline.run import run_stages
from dualalign.runfolder import METRICS, RunFolder, Timer
from dualalign.stage import Stage
from dualalign.train.config import TrainConfig
from dualalign.train.mixtures import summary_figures
from dualalign.trajectories.pack import load_pack

TSTR_SAMPLING = SamplingConfig(max_tokens=120)  # a label-set item's reply is 2 or 3 sentences


class TstrConfig(StrictModel):
    """One train-on-synthetic, test-on-real comparison."""

    real: Path = Field(description="real labelled text (CSV/Parquet), scored as the test set")
    pack: str = Field(description="the pack whose label set is generated (a built-in name or a YAML path)")
    out: Path = Path("runs/tstr")
    text_column: str = "text"
    label_column: str = "label"
    per_label: int = Field(20, ge=1, description="generation requests per label, variant and seed")
    variants: list[str] = Field(default_factory=lambda: ["guided", "unguided"], min_length=1)
    gold_fraction: float = Field(0.0, ge=0, lt=1, description="share of the real rows kept apart as gold and mixed in")
    gold: Path | None = Field(None, description="real labelled text (same columns) trained on as gold and mixed in, "
                              "instead of a share of `real` (then every real row is scored)")  # fmt: skip
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], min_length=1)
    train: TrainConfig = Field(default_factory=TrainConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    alignment: AlignmentConfig = Field(default_factory=AlignmentConfig)
    sampling: SamplingConfig = TSTR_SAMPLING

    @model_validator(mode="after")
    def _one_gold(self) -> "TstrConfig":
        if self.gold is not None and self.gold_fraction:
            raise ValueError("give gold or gold_fraction, not both")
        return self


def seed_stages(cfg: TstrConfig, seed: int, engine: Engine | None = None, progress: bool = True) -> list[Stage]:
    """One seed's stages in `out/seed-<seed>/`: label-set plans, generation through the gate (kept from copying any
    of the real texts), and the scores."""
    run = RunFolder(Path(cfg.out) / f"seed-{seed}")
    common = {"run": run, "seed": seed}
    return [
        LabelsetPlansStage(alignment=cfg.alignment, pack=cfg.pack, per_label=cfg.per_label, variants=cfg.variants,
                           **common),  # fmt: skip
        GenerationStage(alignment=cfg.alignment, engine_config=cfg.engine, sampling=cfg.sampling, pack=cfg.pack,
                        engine=engine,
                        reference_files=(cfg.real, *([cfg.gold] if cfg.gold else [])),
                        references=lambda: real_texts(cfg), progress=progress,
                        **common),  # fmt: skip
        ScoreStage(real=cfg.real, text_column=cfg.text_column, label_column=cfg.label_column, pack=cfg.pack,
                   gold_fraction=cfg.gold_fraction, gold=cfg.gold, variants=cfg.variants, train=cfg.train,
                   encoder=cfg.alignment.grounding.embedding_model, **common),  # fmt: skip
    ]


def real_texts(cfg: TstrConfig) -> list[str]:
    """The real file's texts and the gold file's (a bad file is one error, before any model loads)."""
    pack = load_pack(cfg.pack)
    files = [cfg.real, *([cfg.gold] if cfg.gold else [])]
    return [t for f in files for t in read_labelled(f, cfg.text_column, cfg.label_column, pack)["text"]]


def run_tstr(cfg: TstrConfig, engine: Engine | None = None, progress: bool = True) -> dict:
    """Run each seed's stages (unchanged ones skipped, an interrupted generation resumed), then write the summary
    per training set (mean and sd over seeds), one row per seed and training set, and the generation figures per
    seed to `cfg.out/metrics.json`, recorded in `cfg.out/manifest.json`. `engine`: an already loaded engine."""
    real_texts(cfg)
    out = RunFolder(cfg.out)
    seeds: dict[str, RunFolder] = {}
    with Timer() as timer, nullcontext(engine) if engine is not None else make_engine(cfg.engine) as active:
        for seed in cfg.seeds:
            stages = seed_stages(cfg, seed, active, progress)
            run_stages(stages, [s.name for s in stages], progress=progress)
            seeds[str(seed)] = stages[0].run
    scores = {seed: run.figures("scores") for seed, run in seeds.items()}
    table = pd.DataFrame([row for s in scores.values() for row in s["rows"]])
    metrics = {
        "tstr": summary_figures(table),
        "runs": table.to_dict(orient="records"),
        "generation": {seed: run.figures("generation") for seed, run in seeds.items()},
        "setup": {**cfg.model_dump(mode="json", exclude={"engine", "alignment"}),
                  "test_rows": scores[str(cfg.seeds[-1])]["test_rows"], "model": cfg.engine.model},  # fmt: skip
    }
    out.write_figures(metrics)
    keys = {seed: {name: e["key"] for name, e in run.manifest()["stages"].items()} for seed, run in seeds.items()}
    out.record("tstr", stable_hash(keys), [METRICS], timer.seconds, cfg.seeds[0], figures=sorted(metrics),
               seeds={seed: str(run.path) for seed, run in seeds.items()})  # fmt: skip
    return metrics
