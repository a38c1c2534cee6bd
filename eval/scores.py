"""The score stage of train on synthetic, test on real (`dualalign tstr`): one seed's gold split, a classifier
trained on each variant's sentences (and on gold mixtures), every one scored on the real rows, with the floor
(`pack-prototype`: no generation, the nearest label by the pack's own definitions and terms) beside them. With
`gold_per_label` (a learning curve) it does so for each k and draw: k real rows per label as gold, the rest as the
test set of every training set of that draw. With `synthetic_sizes` (a curve over synthetic rows) it does so for
each size n on the first n items per label of each variant."""

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
from dualalign.train.robustness import perturbed_column, perturbed_copies
from dualalign.trajectories.pack import ConditionPack, load_pack, resolve_pack_path

FLOOR = "pack-prototype"


@dataclass(kw_only=True)
class ScoreStage(Stage):
    """Reads the seed's sentences, the real labelled file (and a gold file, if given) and the pack; writes the
    `scores` figures: one table row per training set (the floor, gold and gold + each variant where there is gold,
    each variant alone), with `gold_per_label` one per training set, k and draw (with `k`, `draw`, `n_test`), and
    with `synthetic_sizes` one per training set and size (with `per_label`). With `test_per_label`, each test set is
    cut to that many rows per label: the same rows for every classifier."""

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
    synthetic_sizes: list[int] = field(default_factory=list)  # a curve: each size's first items per label scored
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
        if self.synthetic_sizes:
            test, gold = self.split(real, pack)
            test = self.capped(test, self.seed)
            item = sentences["note_id"].str.rsplit("-", n=1).str[1].astype(int)  # an item's place within its label
            tables = [self.score(floor, labels, gold, test, {
                v: LabelledTexts.from_frame(sentences[(sentences["variant"] == v) & (item <= n)])
                for v in self.variants}).assign(per_label=n) for n in self.synthetic_sizes]  # fmt: skip
            rows = records(pd.concat(tables, ignore_index=True))
            return StageResult(figures={"scores": {"rows": rows, "test_rows": len(test)}})
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
        test, gold = self.split(real, pack)
        test = self.capped(test, self.seed)
        table = self.score(floor, labels, gold, test, by_variant)
        return StageResult(figures={"scores": {"rows": records(table), "test_rows": len(test)}})

    def split(self, real: pd.DataFrame, pack: ConditionPack) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The test and gold rows without a curve over gold: a gold file, a share of `real`, or no gold."""
        if self.gold is not None:
            return real, read_labelled(self.gold, self.text_column, self.label_column, pack)
        if self.gold_fraction:
            return stratified_split(real, self.gold_fraction, self.seed)
        return real, real[:0]

    def capped(self, test: pd.DataFrame, seed: int | tuple[int, ...]) -> pd.DataFrame:
        return cap_per_label(test, self.test_per_label, seed) if self.test_per_label else test

    def score(self, floor: LabelPrototypes, labels: list[str], gold: pd.DataFrame, test: pd.DataFrame,
              by_variant: dict[str, LabelledTexts]) -> pd.DataFrame:  # fmt: skip
        """The floor's row and a row per training set (gold and gold + each variant where there is gold, each
        variant alone), all scored on `test` (and with `train.robustness`, on its perturbed copies: the seed's, so
        a text shared by several draws' test sets is perturbed and embedded once)."""
        truth = test["label"].tolist()
        perturbed = perturbed_copies(test["text"].tolist(), self.seed) if self.train.robustness else {}
        floor_row = table_row(FLOOR, self.seed, 0, classification_metrics(truth, floor.predict(test["text"].tolist()),
                                                                          labels))  # fmt: skip
        floor_row |= {perturbed_column(name): classification_metrics(truth, floor.predict(texts), labels)["macro_f1"]
                      for name, texts in perturbed.items()}  # fmt: skip
        mixtures = ["gold", *(f"gold+{v}" for v in self.variants)] if len(gold) else []
        results = run_mixtures(
            self.train.classifier, LabelledTexts.from_frame(gold), LabelledTexts.from_frame(test), by_variant,
            mixtures + list(self.variants), seeds=[self.seed], ratio=None, settings=self.train.settings,
            synthetic_weight=self.train.synthetic_weight, perturbed=perturbed,
        )  # fmt: skip
        return pd.concat([pd.DataFrame([floor_row]), results.table], ignore_index=True)
