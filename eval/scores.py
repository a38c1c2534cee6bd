"""The score stage of train on synthetic, test on real (`dualalign tstr`): one seed's gold split, a classifier
trained on each variant's sentences (and on gold mixtures), every one scored on the real rows, with the floor
(`pack-prototype`: no generation, the nearest label by the pack's own definitions and terms) beside them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pandas as pd

from dualalign.alignment.prototypes import LabelPrototypes
from dualalign.eval.gold import read_labelled, stratified_split
from dualalign.runfolder import SENTENCES
from dualalign.stage import Stage, StageResult
from dualalign.train.classification import classification_metrics
from dualalign.train.config import TrainConfig
from dualalign.train.mixtures import LabelledTexts, run_mixtures, table_row
from dualalign.trajectories.pack import load_pack, resolve_pack_path

FLOOR = "pack-prototype"


@dataclass(kw_only=True)
class ScoreStage(Stage):
    """Reads the seed's sentences, the real labelled file (and a gold file, if given) and the pack; writes the
    `scores` figures: one table row per training set (the floor, gold and gold + each variant where there is gold,
    each variant alone)."""

    name: ClassVar[str] = "score"
    reads: ClassVar[tuple[str, ...]] = (SENTENCES,)
    figures: ClassVar[tuple[str, ...]] = ("scores",)
    real: Path
    text_column: str
    label_column: str
    pack: str
    gold_fraction: float
    gold: Path | None = None  # a labelled file trained on as gold (the ceiling) instead of a share of `real`
    variants: list[str]
    train: TrainConfig
    encoder: str  # the floor's sentence encoder

    def files(self) -> tuple[Path, ...]:
        return (resolve_pack_path(self.pack), Path(self.real), *([Path(self.gold)] if self.gold else []))

    def execute(self) -> StageResult:
        pack = load_pack(self.pack)
        real = read_labelled(self.real, self.text_column, self.label_column, pack)
        if self.gold is not None:
            test, gold = real, read_labelled(self.gold, self.text_column, self.label_column, pack)
        elif self.gold_fraction:
            test, gold = stratified_split(real, self.gold_fraction, self.seed)
        else:
            test, gold = real, real[:0]
        labels = sorted(set(real["label"]) | set(pack.label_ids))  # the floor may name a label the test set lacks
        floor = LabelPrototypes(pack, self.encoder).predict(test["text"].tolist())
        rows = [table_row(FLOOR, self.seed, 0, classification_metrics(test["label"].tolist(), floor, labels))]
        sentences = pd.read_parquet(self.run.file(SENTENCES))
        by_variant = {v: LabelledTexts.from_frame(sentences[sentences["variant"] == v]) for v in self.variants}
        mixtures = ["gold", *(f"gold+{v}" for v in self.variants)] if len(gold) else []
        results = run_mixtures(
            self.train.classifier, LabelledTexts.from_frame(gold), LabelledTexts.from_frame(test), by_variant,
            mixtures + list(self.variants), seeds=[self.seed], ratio=None, settings=self.train.settings,
        )  # fmt: skip
        table = pd.concat([pd.DataFrame(rows), results.table], ignore_index=True)
        return StageResult(figures={"scores": {"rows": table.to_dict(orient="records"), "test_rows": len(test)}})
