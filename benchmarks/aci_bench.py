"""Real conversation-note pairs measured the way synthetic encounters are: ACI-Bench's train and valid sets against
each of its three test sets, and the accepted synthetic pairs of encounters runs beside them.

    python benchmarks/aci_bench.py [--data ../shared/data/aci_bench] [--snippets OUT.csv] [--run RUN_DIR ...]

Per set: note sections (present, all of them, in order), lengths (median words of notes and conversations, turns,
words per turn), distinct-2 and self-BLEU of notes and conversations, the conversation gate rules passed (without
the PHI rule), grounding across the pair (the encounter's complaints from the metadata as its findings), copying
from the train and valid sets (test sets only); then the labelled snippet set (conversation chunks labelled by
the note section that reports them) per label and set. `--snippets` writes the train+valid snippets (text,label).
`--run` (repeatable) adds a column per variant of a run folder's `encounters.parquet`: its accepted records (note
and conversation both accepted), their planned findings as the findings, measured by the same functions, copying
against ACI-Bench's train and valid sets.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import pandas as pd

from dualalign.alignment.config import ConversationGateConfig
from dualalign.alignment.dialogue import Finding, conversation_reasons, parse_dialogue
from dualalign.errors import DataError
from dualalign.eval.encounters import (
    copying_measures,
    diversity_measures,
    length_measures,
    pair_grounding,
    read_pairs,
    section_measures,
)
from dualalign.eval.snippets import label_snippets
from dualalign.hardware import machine_header
from dualalign.pipeline.runconfig import load_config
from dualalign.runfolder import ENCOUNTERS
from dualalign.trajectories import load_pack

DATA = Path(os.environ.get("DUALALIGN_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
SETS = {"train+valid": ("train", "valid"), "test1": ("clinicalnlp_taskB_test1",),
        "test2": ("clinicalnlp_taskC_test2",), "test3": ("clef_taskC_test3",)}  # fmt: skip


def load(folder: Path, names: tuple[str, ...]) -> pd.DataFrame:
    """The pairs of the named files, with their metadata (age, gender, complaints) joined."""
    parts = [read_pairs(folder / f"{n}.csv").merge(pd.read_csv(folder / f"{n}_metadata.csv"),
                                                   on=["dataset", "encounter_id"], how="left")
             for n in names]  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def complaints(row: pd.Series) -> list[Finding]:
    """The chief and secondary complaints of the metadata as findings ("none" dropped)."""
    items = [row["cc"], *str(row["2nd_complaints"]).split(";")] if isinstance(row["cc"], str) else []
    return [Finding(c.strip()) for c in items if c.strip() and c.strip().lower() not in ("none", "nan")]


def run_pairs(folder: Path) -> dict[str, tuple[pd.DataFrame, list[list[Finding]]]]:
    """`<run folder> <variant>` -> the run's accepted encounter pairs of that variant (dialogue, note) and their planned
    findings (with their lay words from the run's pack)."""
    path = folder / ENCOUNTERS
    if not path.is_file():
        raise DataError(f"{folder}: no {ENCOUNTERS} (run it with alignment.granularity: encounters)")
    table = pd.read_parquet(path)
    pack = load_pack(load_config(folder / "config.yaml").trajectories.pack)  # a finding may be raised in lay words
    out = {}
    for variant, rows in table.groupby("variant", sort=False):
        accepted = rows[rows["status"] == "ok"]
        pairs = accepted.rename(columns={"conversation": "dialogue"})[["dialogue", "note"]].reset_index(drop=True)
        findings = [[Finding(m["term"], pack.lay_words.get(m["term"], ())) for m in p] for p in accepted["planned"]]
        out[f"{folder} {variant}"] = (pairs, findings)
    return out


def measures(pairs: pd.DataFrame, references: pd.DataFrame | None,
             findings: list[list[Finding]] | None = None) -> dict[str, float]:  # fmt: skip
    """The figures of one set of pairs; `findings` per pair (default: the ACI-Bench metadata's complaints)."""
    if pairs.empty:
        return {"encounters": 0}
    notes, convs = pairs["note"].tolist(), pairs["dialogue"].tolist()
    row = {"encounters": len(pairs), **section_measures(notes)}
    for what, stats in length_measures(convs, notes).items():
        row[f"{what} (median)"] = stats["median"]
    row |= {f"notes {k}": v for k, v in diversity_measures(notes).items()}
    row |= {f"conversations {k}": v for k, v in diversity_measures(convs).items()}
    cfg = ConversationGateConfig()
    reasons = [conversation_reasons(parse_dialogue(c), cfg) for c in convs]
    row["conversations passing the gate rules"] = sum(not r for r in reasons) / len(reasons)
    for rule in ("narrator_line", "third_speaker", "not_alternating", "turn_too_long"):
        row[f"  failing {rule}"] = sum(rule in r for r in reasons) / len(reasons)
    if findings is None:
        findings = [complaints(r) for _, r in pairs.iterrows()]
    row |= pair_grounding(convs, notes, findings)
    if references is not None:
        for name, column in (("notes", "note"), ("conversations", "dialogue")):
            copying = copying_measures(pairs[column].tolist(), references[column].tolist(), cfg.copy_ngram)
            row |= {f"{name} vs train+valid: {k}": v for k, v in copying.items()}
    return row


def markdown(table: pd.DataFrame) -> str:
    """A markdown table: the index as the first column, numbers right-aligned (3 decimals unless whole)."""
    cell = lambda v: "—" if pd.isna(v) else f"{v:.0f}" if float(v).is_integer() else f"{v:.3f}"  # noqa: E731
    lines = ["| | " + " | ".join(table.columns) + " |", "|---|" + "---:|" * len(table.columns)]
    lines += [f"| {index} | " + " | ".join(cell(v) for v in row) + " |" for index, row in table.iterrows()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA / "aci_bench")
    parser.add_argument("--snippets", type=Path, help="write the train+valid snippet set here (text,label CSV)")
    parser.add_argument("--run", type=Path, action="append", default=[],
                        help="an encounters run folder whose accepted pairs join the table (repeatable)")
    args = parser.parse_args()
    start = time.perf_counter()
    sets = {name: load(args.data, files) for name, files in SETS.items()}
    synthetic = {name: pairs for folder in args.run for name, pairs in run_pairs(folder).items()}
    dev = sets["train+valid"]
    columns = {name: measures(pairs, None if name == "train+valid" else dev) for name, pairs in sets.items()}
    columns |= {name: measures(pairs, dev, findings) for name, (pairs, findings) in synthetic.items()}
    table = pd.DataFrame(columns)
    snippets = {name: label_snippets(pairs) for name, pairs in sets.items()}
    counts = pd.DataFrame({name: s["label"].value_counts() for name, s in snippets.items()}).fillna(0).astype(int)
    counts = counts.sort_values("train+valid", ascending=False)
    counts.loc["total"] = counts.sum()
    print(machine_header())
    print(f"ACI-Bench pairs from {args.data}" + "".join(f"; accepted synthetic pairs of {r}" for r in args.run)
          + "\n")
    print(markdown(table))
    print("\nLabelled snippets (chunks of 4 turns, labelled by the note section with the highest ROUGE-1)\n")
    print(markdown(counts))
    if args.snippets:
        args.snippets.parent.mkdir(parents=True, exist_ok=True)
        snippets["train+valid"][["text", "label"]].to_csv(args.snippets, index=False)
        print(f"\nwrote {len(snippets['train+valid'])} snippets to {args.snippets}")
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
