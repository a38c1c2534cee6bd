"""Labelled real conversation snippets from ACI-Bench for `dualalign tstr` with a dialogue-style pack: each
conversation cut into chunks of 4 turns, a chunk labelled by the note section that reports it
(`dualalign.eval.snippets.label_snippets`), kept where that section is a label of the pack.

    python benchmarks/aci_snippets.py [--data ../shared/data/aci_bench] [--pack aci_sections] [--out runs/aci_snippets]

Writes `test.csv` (the three test sets: the set scored on) and `dev.csv` (train and valid), columns text, label
(the pack's label names), set; prints the labels per set and the snippets left out for labels outside the pack.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from aci_bench import DATA, SETS, load

from dualalign.eval.snippets import label_snippets
from dualalign.trajectories.pack import load_pack

SPLITS = {"dev": ("train+valid",), "test": ("test1", "test2", "test3")}


def snippet_sets(folder: Path, pack: str) -> tuple[dict[str, pd.DataFrame], pd.Series]:
    """(split -> text, label, set of the pack's labels; the left-out snippets' labels, counted)."""
    names = {label.name for label in load_pack(pack).labels.values()}
    out, left_out = {}, []
    for split, sets in SPLITS.items():
        parts = [label_snippets(load(folder, SETS[s])).assign(set=s) for s in sets]
        table = pd.concat(parts, ignore_index=True)[["text", "label", "set"]]
        keep = table["label"].isin(names)
        out[split] = table[keep].reset_index(drop=True)
        left_out.append(table.loc[~keep, "label"])
    return out, pd.concat(left_out).value_counts()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA / "aci_bench")
    parser.add_argument("--pack", default="aci_sections")
    parser.add_argument("--out", type=Path, default=Path("runs/aci_snippets"))
    args = parser.parse_args()
    sets, left_out = snippet_sets(args.data, args.pack)
    args.out.mkdir(parents=True, exist_ok=True)
    for split, table in sets.items():
        table.to_csv(args.out / f"{split}.csv", index=False)
        print(f"{args.out / f'{split}.csv'}: {len(table)} snippets")
    print(pd.DataFrame({split: t["label"].value_counts() for split, t in sets.items()}).fillna(0).astype(int))
    print(f"left out (labels outside {args.pack}): {left_out.to_dict()}")


if __name__ == "__main__":
    main()
