"""Train on synthetic, test on real: generate labelled text for a pack's label set in each variant, train a
classifier on each (optionally mixed with a gold part of the real file), and score on the real rows."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import pandas as pd

from dualalign.alignment.config import AlignmentConfig
from dualalign.alignment.plans import build_labelset_plans
from dualalign.config import EngineConfig
from dualalign.eval.gold import read_labelled, stratified_split
from dualalign.generate.engine import Engine, make_engine
from dualalign.generate.outputs import sentence_rows
from dualalign.generate.run import generate_plans
from dualalign.io import read_jsonl, write_json, write_text
from dualalign.runfolder import GENERATIONS, PLANS
from dualalign.train.classification import classification_metrics
from dualalign.train.registry import make_classifier
from dualalign.trajectories.labelset import sample_label_mentions
from dualalign.trajectories.pack import load_pack

METRIC_KEYS = ("macro_f1", "micro_f1", "accuracy", "macro_precision", "macro_recall")


def run_tstr(
    real: Path,
    pack_ref: str,
    out: Path,
    text_col: str = "text",
    label_col: str = "label",
    classifier: str = "embedding-logreg",
    per_label: int = 20,
    variants: tuple[str, ...] = ("guided", "unguided"),
    gold_fraction: float = 0.0,
    seed: int = 0,
    engine_config: EngineConfig | None = None,
    engine: Engine | None = None,
    alignment: AlignmentConfig | None = None,
) -> dict:
    """Returns (and writes to `out/metrics.json`) `{"tstr": {variant: figures}, "generation": {...}}`.

    With `gold_fraction` > 0 that share of the real rows (stratified) is kept apart as gold: each variant then
    trains on synthetic + gold, a `gold` row trains on gold alone, and only the other rows are scored.
    """
    pack = load_pack(pack_ref)
    real_rows = read_labelled(real, text_col, label_col, pack)
    test, gold = stratified_split(real_rows, gold_fraction, seed) if gold_fraction > 0 else (real_rows, None)
    alignment = alignment or AlignmentConfig(max_tokens=120)
    plans = build_labelset_plans(sample_label_mentions(pack, per_label, seed), pack, list(variants), alignment, seed)
    out = Path(out)
    write_text(out / PLANS, "".join(p.model_dump_json() + "\n" for p in plans))
    with nullcontext(engine) if engine is not None else make_engine(engine_config or EngineConfig()) as active:
        generate_plans(plans, active, out, alignment.retries, alignment.chunk_size)
    by_id = {g["id"]: g for g in read_jsonl(out / GENERATIONS)}
    rows = [r for p in plans if by_id.get(p.id, {}).get("parsed") for r in sentence_rows(p, by_id[p.id]["parsed"])]
    synthetic = pd.DataFrame(rows, columns=["variant", "text", "label"])
    labels = sorted(real_rows["label"].unique())
    training = {v: synthetic.loc[synthetic["variant"] == v, ["text", "label"]] for v in variants}
    if gold is not None:
        training = {"gold": gold, **{v: pd.concat([df, gold]) for v, df in training.items()}}
    figures = {}
    for name, train in training.items():
        train = train[train["label"].isin(labels)]
        model = make_classifier(classifier, seed=seed).fit(train["text"].tolist(), train["label"].tolist())
        scores = classification_metrics(test["label"].tolist(), model.predict(test["text"].tolist()), labels)
        figures[name] = {
            "n_train": int(len(train)),
            **{k: scores[k] for k in METRIC_KEYS},
            "per_label": scores["per_label"],
        }
    metrics = {
        "tstr": figures,
        "generation": {
            v: {"requests": sum(p.variant == v for p in plans),
                "failed": sum(p.variant == v and bool(by_id.get(p.id, {}).get("error")) for p in plans),
                "sentences": int((synthetic["variant"] == v).sum())}
            for v in variants
        },  # fmt: skip
        "setup": {"real": str(real), "pack": pack.name, "classifier": classifier, "per_label": per_label,
                  "gold_fraction": gold_fraction, "test_rows": int(len(test)), "seed": seed},  # fmt: skip
    }
    write_json(out / "metrics.json", metrics)
    return metrics
