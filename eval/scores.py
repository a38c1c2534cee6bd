"""The score stage of train on synthetic, test on real (`dualalign tstr`): one seed's gold split, a classifier
trained on each variant's sentences (and on gold mixtures), every one scored on the real rows, with the floor
(`pack-prototype`: no generation, the nearest label by the pack's own definitions and terms) beside them. With
`gold_per_label` (a learning curve) it does so for each k and draw: k real rows per label as gold, the rest as the
test set of every training set of that draw."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import pandas as pd

from dualalign.alignment.prototypes import LabelPrototypes
from dualalign.eval.curves import records
from dualalign.eval.gold import cap_per_label, per_label_split, read_labelled, stratified_split
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
    each variant alone), and with `gold_per_label` one per training set, k and draw (with `k`, `draw`, `n_test`).
    With `test_per_label`, each test set is cut to that many rows per label: the same rows for every classifier."""

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
    gold_per_label: list[int] = field(default_factory=list)  # a learning curve: k real rows per label as gold
    draws: int = 1  # draws of the gold rows per k
    test_per_label: int | None = None  # score on at most this many test rows per label (a seeded draw)

    def files(self) -> tuple[Path, ...]:
        return (resolve_pack_path(self.pack), Path(self.real), *([Path(self.gold)] if self.gold else []))

    def execute(self) -> StageResult:
        pack = load_pack(self.pack)
        real = read_labelled(self.real, self.text_column, self.label_column, pack)
        labels = sorted(set(real["label"]) | set(pack.label_ids))  # the floor may name a label the test set lacks
        floor = LabelPrototypes(pack, self.encoder)
        sentences = pd.read_parquet(self.run.file(SENTENCES))
        by_variant = {v: LabelledTexts.from_frame(sentences[sentences["variant"] == v]) for v in self.variants}
        if self.gold_per_label:
            tables = []
            for k in self.gold_per_label:
                for draw in range(self.draws):
                    test, gold = per_label_split(real, k, (self.seed, k, draw))
                    test = self.capped(test, (self.seed, k, draw))
                    table = self.score(floor, labels, gold, test, by_variant)
                    tables.append(table.assign(k=k, draw=draw, n_test=len(test)))
            rows = records(pd.concat(tables, ignore_index=True))
            return StageResult(figures={"scores": {"rows": rows}})
        if self.gold is not None:
            test, gold = real, read_labelled(self.gold, self.text_column, self.label_column, pack)
        elif self.gold_fraction:
            test, gold = stratified_split(real, self.gold_fraction, self.seed)
        else:
            test, gold = real, real[:0]
        test = self.capped(test, self.seed)
        table = self.score(floor, labels, gold, test, by_variant)
        return StageResult(figures={"scores": {"rows": records(table), "test_rows": len(test)}})

    def capped(self, test: pd.DataFrame, seed: int | tuple[int, ...]) -> pd.DataFrame:
        return cap_per_label(test, self.test_per_label, seed) if self.test_per_label else test

    def score(self, floor: LabelPrototypes, labels: list[str], gold: pd.DataFrame, test: pd.DataFrame,
              by_variant: dict[str, LabelledTexts]) -> pd.DataFrame:  # fmt: skip
        """The floor's row and a row per training set (gold and gold + each variant where there is gold, each
        variant alone), all scored on `test`."""
        predicted = floor.predict(test["text"].tolist())
        rows = [table_row(FLOOR, self.seed, 0, classification_metrics(test["label"].tolist(), predicted, labels))]
        mixtures = ["gold", *(f"gold+{v}" for v in self.variants)] if len(gold) else []
        results = run_mixtures(
            self.train.classifier, LabelledTexts.from_frame(gold), LabelledTexts.from_frame(test), by_variant,
            mixtures + list(self.variants), seeds=[self.seed], ratio=None, settings=self.train.settings,
            synthetic_weight=self.train.synthetic_weight,
        )  # fmt: skip
        return pd.concat([pd.DataFrame(rows), results.table], ignore_index=True)
