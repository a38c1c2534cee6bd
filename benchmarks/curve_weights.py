"""How good is `synthetic_weight: auto`? Over a finished learning curve (`dualalign tstr --gold-per-label ...`),
score gold + each variant at every weight of the grid on each draw's test rows (which `auto` never sees), and
compare the weight `auto` chose with the best one in hindsight.

    python benchmarks/curve_weights.py runs/curves

Reads the curve's `metrics.json` (its setup and chosen weights) and each seed's `sentences.parquet`; generates
nothing. Prints per k and variant: macro-F1 at each fixed weight, with `auto`'s choice, and the hindsight best
(mean over draws and seeds).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from dualalign.eval.gold import per_label_split, read_labelled
from dualalign.io import read_json
from dualalign.runfolder import METRICS, SENTENCES
from dualalign.train.classification import classification_metrics
from dualalign.train.mixtures import LabelledTexts
from dualalign.train.weighting import WEIGHT_GRID, fit_weighted
from dualalign.trajectories.pack import load_pack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="the folder of a finished `dualalign tstr --gold-per-label` run")
    args = parser.parse_args()
    metrics = read_json(args.out / METRICS)
    setup, runs = metrics["setup"], pd.DataFrame(metrics["runs"])
    pack = load_pack(setup["pack"])
    real = read_labelled(Path(setup["real"]), setup["text_column"], setup["label_column"], pack)
    labels = sorted(set(real["label"]) | set(pack.label_ids))
    train = setup["train"]
    rows = []
    for seed in setup["seeds"]:
        sentences = pd.read_parquet(args.out / f"seed-{seed}" / SENTENCES)
        for k in setup["gold_per_label"]:
            for draw in range(setup["draws"]):
                test, gold = per_label_split(real, k, (seed, k, draw))
                for variant in setup["variants"]:
                    synthetic = LabelledTexts.from_frame(sentences[sentences["variant"] == variant])
                    chosen = runs[(runs["seed"] == seed) & (runs["k"] == k) & (runs["draw"] == draw)
                                  & (runs["mixture"] == f"gold+{variant}")]["synthetic_weight"].item()  # fmt: skip
                    for weight in WEIGHT_GRID:
                        model = fit_weighted(train["classifier"], train["settings"], seed,
                                             LabelledTexts.from_frame(gold), synthetic, weight)  # fmt: skip
                        f1 = classification_metrics(test["label"], model.predict(test["text"].tolist()), labels)
                        rows.append({"k": k, "variant": variant, "seed": seed, "draw": draw, "weight": weight,
                                     "macro_f1": f1["macro_f1"], "chosen": weight == chosen})  # fmt: skip
    table = pd.DataFrame(rows)
    by_weight = table.pivot_table(index=["k", "variant"], columns="weight", values="macro_f1", aggfunc="mean")
    by_weight["auto"] = table[table["chosen"]].groupby(["k", "variant"])["macro_f1"].mean()
    best = table.loc[table.groupby(["k", "variant", "seed", "draw"])["macro_f1"].idxmax()]
    by_weight["hindsight best"] = best.groupby(["k", "variant"])["macro_f1"].mean()
    print(by_weight.round(3).to_string())


if __name__ == "__main__":
    main()
