"""Train on synthetic, test on real: generate labelled text for a pack's label set in each variant, train a
classifier on each (optionally mixed with gold: a part of the real file, or a real file of its own), and score on
the real rows.

Every table carries its floor and ceiling: `pack-prototype` (no generation: the nearest label by the pack's own
definitions and terms) and, with gold, `gold` (the real gold rows alone). Each seed draws new items, new
generations, a new gold split and a new classifier, so the standard deviations cover all of it.

With `gold_per_label` (a learning curve), each seed's generations are scored for each k and draw: k real rows per
label as gold, the other real rows as the test set; the curve (mean and sd over draws and seeds per k and training
set) goes to `metrics.json` (`curve`) and `learning_curve.png`. With several `per_label` sizes (a curve over
synthetic rows), the largest is generated and each size n scored on the first n items per label of each variant
(nested: a size's items are the next size's first ones); the curve per size goes to `synthetic_curve` and the plot.

With `train.robustness` (the default), every classifier and the floor are also scored on perturbed copies of the
test rows (`train.robustness`: typos, dropped words, first sentence only, lower case): each training set's figures
gain `macro_f1_<perturbation>` and `drop_<perturbation>` (clean minus perturbed).
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import pandas as pd
from pydantic import Field, field_validator, model_validator

from dualalign.alignment.config import AlignmentConfig
from dualalign.alignment.stage import LabelsetPlansStage
from dualalign.config import StrictModel
from dualalign.eval.curves import curve_figures, curve_plot, records
from dualalign.eval.gold import per_label_split, read_labelled
from dualalign.eval.scores import ScoreStage
from dualalign.generate.engine import Engine
from dualalign.generate.registry import EngineConfig, make_engine
from dualalign.generate.sampling import SamplingConfig
from dualalign.generate.stage import GenerationStage
from dualalign.io import atomic_path, stable_hash
from dualalign.pipeline.run import run_stages
from dualalign.runfolder import LEARNING_CURVE, METRICS, RunFolder, Timer
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
    per_label: list[int] = Field(default_factory=lambda: [20], min_length=1, description="generation requests per "
                                 "label, variant and seed; several sizes: a curve over them (the largest generated)")
    variants: list[str] = Field(default_factory=lambda: ["guided", "unguided"], min_length=1)
    gold_fraction: float = Field(0.0, ge=0, lt=1, description="share of the real rows kept apart as gold and mixed in")
    gold: Path | None = Field(None, description="real labelled text (same columns) trained on as gold and mixed in, "
                              "instead of a share of `real` (then every real row is scored)")  # fmt: skip
    gold_per_label: list[int] = Field(default_factory=list, description="a learning curve: for each k, `draws` draws "
                                      "of k real rows per label as gold, the other real rows scored")  # fmt: skip
    draws: int = Field(5, ge=1, description="draws of the gold rows per k of `gold_per_label`")
    test_per_label: int | None = Field(None, ge=1, description="score on at most this many real test rows per label "
                                       "(a seeded draw, the same for every classifier): for slow classifiers")
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], min_length=1)
    train: TrainConfig = Field(default_factory=TrainConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    alignment: AlignmentConfig = Field(default_factory=AlignmentConfig)
    sampling: SamplingConfig = TSTR_SAMPLING

    @field_validator("per_label", mode="before")
    @classmethod
    def _sizes(cls, value: object) -> object:
        return [value] if isinstance(value, int) else value

    @model_validator(mode="after")
    def _one_gold(self) -> "TstrConfig":
        given = [name for name, on in (("gold", self.gold is not None), ("gold_fraction", bool(self.gold_fraction)),
                                       ("gold_per_label", bool(self.gold_per_label))) if on]  # fmt: skip
        if len(given) > 1:
            raise ValueError(f"give one of gold, gold_fraction and gold_per_label, not {' and '.join(given)}")
        if any(k < 1 for k in self.gold_per_label) or len(set(self.gold_per_label)) < len(self.gold_per_label):
            raise ValueError(f"gold_per_label: distinct numbers >= 1, got {self.gold_per_label}")
        if any(n < 1 for n in self.per_label) or len(set(self.per_label)) < len(self.per_label):
            raise ValueError(f"per_label: distinct numbers >= 1, got {self.per_label}")
        if len(self.per_label) > 1 and self.gold_per_label:
            raise ValueError("one curve at a time: several per_label sizes or gold_per_label, not both")
        return self


def seed_stages(cfg: TstrConfig, seed: int, engine: Engine | None = None, progress: bool = True) -> list[Stage]:
    """One seed's stages in `out/seed-<seed>/`: label-set plans, generation through the gate (kept from copying any
    of the real texts), and the scores."""
    run = RunFolder(Path(cfg.out) / f"seed-{seed}")
    common = {"run": run, "seed": seed}
    return [
        LabelsetPlansStage(alignment=cfg.alignment, pack=cfg.pack, per_label=max(cfg.per_label), variants=cfg.variants,
                           **common),  # fmt: skip
        GenerationStage(alignment=cfg.alignment, engine_config=cfg.engine, sampling=cfg.sampling, pack=cfg.pack,
                        engine=engine,
                        reference_files=(cfg.real, *([cfg.gold] if cfg.gold else [])),
                        references=lambda: real_texts(cfg), progress=progress,
                        **common),  # fmt: skip
        ScoreStage(real=cfg.real, text_column=cfg.text_column, label_column=cfg.label_column, pack=cfg.pack,
                   gold_fraction=cfg.gold_fraction, gold=cfg.gold, variants=cfg.variants, train=cfg.train,
                   encoder=cfg.alignment.grounding.embedding_model, gold_per_label=sorted(cfg.gold_per_label),
                   draws=cfg.draws if cfg.gold_per_label else 1, test_per_label=cfg.test_per_label,
                   synthetic_sizes=sorted(cfg.per_label) if len(cfg.per_label) > 1 else [], **common),  # fmt: skip
    ]


def real_texts(cfg: TstrConfig) -> list[str]:
    """The real file's texts and the gold file's (a bad file is one error, before any model loads)."""
    pack = load_pack(cfg.pack)
    files = [cfg.real, *([cfg.gold] if cfg.gold else [])]
    return [t for f in files for t in read_labelled(f, cfg.text_column, cfg.label_column, pack)["text"]]


def run_tstr(cfg: TstrConfig, engine: Engine | None = None, progress: bool = True) -> dict:
    """Run each seed's stages (unchanged ones skipped, an interrupted generation resumed; every seed's generation,
    then, with the engine closed, every seed's scores), then write the summary per training set (mean and sd over
    seeds: `tstr`; with `gold_per_label`, per k over draws and seeds: `curve`; with several `per_label` sizes, per
    size over seeds: `synthetic_curve`; a curve is plotted in `learning_curve.png`), one row per seed (k and draw,
    or size) and training set, and the generation figures per
    seed to `cfg.out/metrics.json`, recorded in `cfg.out/manifest.json`. `engine`: an already loaded engine."""
    real_texts(cfg)
    if cfg.gold_per_label:  # a label too small for the largest k is one error, before any model loads
        real = read_labelled(cfg.real, cfg.text_column, cfg.label_column, load_pack(cfg.pack))
        per_label_split(real, max(cfg.gold_per_label), 0)
    out = RunFolder(cfg.out)
    seeds: dict[str, RunFolder] = {}
    with Timer() as timer:
        with nullcontext(engine) if engine is not None else make_engine(cfg.engine) as active:
            stages = {seed: seed_stages(cfg, seed, active, progress) for seed in cfg.seeds}
            for steps in stages.values():
                run_stages(steps, [s.name for s in steps if s.name != ScoreStage.name], progress=progress)
        # every seed's text first, then the classifiers: a GPU's memory, once the engine's, is free for a fine-tune
        for seed, steps in stages.items():
            run_stages(steps, [ScoreStage.name], progress=progress)
            seeds[str(seed)] = steps[0].run
    scores = {seed: run.figures("scores") for seed, run in seeds.items()}
    table = pd.DataFrame([row for s in scores.values() for row in s["rows"]])
    setup = {**cfg.model_dump(mode="json", exclude={"engine", "alignment"}), "model": cfg.engine.model}
    outputs = [METRICS]
    pack_name, plot = load_pack(cfg.pack).name, None
    if cfg.gold_per_label:
        summary = {"curve": curve_figures(table, "k")}
        title = f"{pack_name}: {cfg.per_label[0]} per label, {cfg.draws} draws x {len(cfg.seeds)} seeds"
        plot = curve_plot(summary["curve"], title, "real (gold) rows per label")
    elif len(cfg.per_label) > 1:
        summary = {"synthetic_curve": curve_figures(table, "per_label")}
        gold = (f"gold {cfg.gold.name}" if cfg.gold else f"{cfg.gold_fraction:.0%} of the real rows as gold"
                if cfg.gold_fraction else "no gold")  # fmt: skip
        plot = curve_plot(summary["synthetic_curve"], f"{pack_name}: {gold}, {len(cfg.seeds)} seeds",
                          "synthetic requests per label (each variant)")  # fmt: skip
    else:
        summary = {"tstr": summary_figures(table)}
    if not cfg.gold_per_label:
        setup["test_rows"] = scores[str(cfg.seeds[-1])]["test_rows"]
    if plot is None:
        out.file(LEARNING_CURVE).unlink(missing_ok=True)  # an earlier curve's, in the same folder
    else:
        with atomic_path(out.file(LEARNING_CURVE)) as tmp:
            tmp.write_bytes(plot)
        outputs.append(LEARNING_CURVE)
    metrics = {
        **summary,
        "runs": records(table),
        "generation": {seed: run.figures("generation") for seed, run in seeds.items()},
        "setup": setup,
    }
    out.write_figures({"curve": None, "synthetic_curve": None, "tstr": None} | metrics)
    keys = {seed: {name: e["key"] for name, e in run.manifest()["stages"].items()} for seed, run in seeds.items()}
    out.record("tstr", stable_hash(keys), outputs, timer.seconds, cfg.seeds[0], figures=sorted(metrics),
               seeds={seed: str(run.path) for seed, run in seeds.items()})  # fmt: skip
    return metrics
