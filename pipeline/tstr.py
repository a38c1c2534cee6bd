"""Train on synthetic, test on real: generate labelled text for a pack's label set in each variant, train a
classifier on each (optionally mixed with a gold part of the real file), and score on the real rows.

Every table carries its floor and ceiling: `pack-prototype` (no generation: the nearest label by the pack's own
definitions and terms) and, with a gold part, `gold` (the real rows alone). Each seed draws new items, new
generations, a new gold split and a new classifier, so the standard deviations cover all of it.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import pandas as pd
from pydantic import Field

from dualalign.alignment.config import AlignmentConfig
from dualalign.alignment.gate import QualityGate
from dualalign.alignment.grounding import Grounder
from dualalign.alignment.plans import build_labelset_plans
from dualalign.alignment.prototypes import LabelPrototypes
from dualalign.config import StrictModel
from dualalign.eval.gold import read_labelled, stratified_split
from dualalign.generate.engine import Engine
from dualalign.generate.outputs import build_outputs, generation_figures
from dualalign.generate.records import read_generations
from dualalign.generate.registry import EngineConfig, make_engine
from dualalign.generate.run import claim_generations, generate_plans
from dualalign.generate.sampling import SamplingConfig
from dualalign.io import write_json, write_parquet, write_text
from dualalign.runfolder import GENERATIONS, PLANS, REJECTIONS, SENTENCES
from dualalign.train.classification import classification_metrics
from dualalign.train.config import TrainConfig
from dualalign.train.mixtures import LabelledTexts, run_mixtures, summary_figures, table_row
from dualalign.trajectories.labelset import sample_label_mentions
from dualalign.trajectories.pack import load_pack

FLOOR = "pack-prototype"
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
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], min_length=1)
    train: TrainConfig = Field(default_factory=TrainConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    alignment: AlignmentConfig = Field(default_factory=AlignmentConfig)
    sampling: SamplingConfig = TSTR_SAMPLING


def run_tstr(cfg: TstrConfig, engine: Engine | None = None) -> dict:
    """Returns (and writes to `cfg.out/metrics.json`) the summary per training set (mean and sd over seeds), one
    row per seed and training set, and the generation figures per seed. `engine`: an already loaded engine."""
    pack = load_pack(cfg.pack)
    real = read_labelled(cfg.real, cfg.text_column, cfg.label_column, pack)
    floor = LabelPrototypes(pack, cfg.alignment.grounding.embedding_model)
    tables, generation = [], {}
    with nullcontext(engine) if engine is not None else make_engine(cfg.engine) as active:
        for seed in cfg.seeds:
            test, gold = stratified_split(real, cfg.gold_fraction, seed) if cfg.gold_fraction else (real, real[:0])
            synthetic, generation[str(seed)] = _generate(cfg, pack, active, seed, gold["text"].tolist())
            labels = sorted(real["label"].unique())
            scores = classification_metrics(test["label"].tolist(), floor.predict(test["text"].tolist()), labels)
            tables.append(pd.DataFrame([table_row(FLOOR, seed, 0, scores)]))
            by_variant = {v: LabelledTexts.from_frame(synthetic[synthetic["variant"] == v]) for v in cfg.variants}
            mixtures = ["gold", *(f"gold+{v}" for v in cfg.variants)] if len(gold) else []
            results = run_mixtures(
                cfg.train.classifier, LabelledTexts.from_frame(gold), LabelledTexts.from_frame(test), by_variant,
                mixtures + list(cfg.variants), seeds=[seed], ratio=None, settings=cfg.train.settings,
            )  # fmt: skip
            tables.append(results.table)
    table = pd.concat(tables, ignore_index=True)
    metrics = {
        "tstr": summary_figures(table),
        "runs": table.to_dict(orient="records"),
        "generation": generation,
        "setup": {**cfg.model_dump(mode="json", exclude={"engine", "alignment"}), "test_rows": int(len(test)),
                  "model": cfg.engine.model},  # fmt: skip
    }
    write_json(Path(cfg.out) / "metrics.json", metrics)
    return metrics


def _generate(cfg: TstrConfig, pack, engine: Engine, seed: int, gold: list[str]) -> tuple[pd.DataFrame, dict]:
    """One seed's label-set items through the gate, resumable in `out/seed-<seed>/`: (sentences, figures)."""
    out = Path(cfg.out) / f"seed-{seed}"
    items = sample_label_mentions(pack, cfg.per_label, seed)
    plans = build_labelset_plans(items, pack, list(cfg.variants), cfg.alignment, seed)
    write_text(out / PLANS, "".join(p.model_dump_json() + "\n" for p in plans))
    gate = QualityGate(pack, cfg.alignment.grounding, cfg.alignment.gate, gold)
    claim_generations(out, cfg.engine, cfg.sampling, cfg.alignment.retries)
    generate_plans(plans, engine, out, gate, cfg.alignment, cfg.sampling)
    generations = read_generations(out / GENERATIONS)
    grounder = Grounder(pack, cfg.alignment.grounding)
    _, sentences, rejections = build_outputs(plans, generations, grounder, QualityGate(
        pack, cfg.alignment.grounding, cfg.alignment.gate, gold))  # fmt: skip
    write_parquet(out / REJECTIONS, rejections)
    write_parquet(out / SENTENCES, sentences)
    return sentences, generation_figures(plans, generations, sentences, rejections)
