"""Measures of conversation-note pairs (generated or real), made to compare with real pairs such as ACI-Bench: section
presence and order, lengths, diversity, grounding across the pair, and copying from reference texts.

`read_pairs` reads a pair table (CSV or Parquet, one row per encounter with a dialogue and a note column).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from dualalign.alignment.dialogue import Finding, parse_dialogue, spoken_text
from dualalign.alignment.grounding import tokens
from dualalign.alignment.sections import DEFAULT_SECTIONS, parse_note, section_problems
from dualalign.errors import DataError
from dualalign.eval.diversity import distinct_n, self_bleu
from dualalign.eval.privacy import longest_shared_ngram


def read_pairs(path: str | Path, dialogue: str = "dialogue", note: str = "note") -> pd.DataFrame:
    """A pair table with its `dialogue` and `note` columns renamed to "dialogue" and "note" (others kept); rows
    missing either are an error."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such pair table")
    table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    missing = [c for c in (dialogue, note) if c not in table.columns]
    if missing:
        raise DataError(f"{path}: no column {', '.join(map(repr, missing))} (columns: {', '.join(table.columns)})")
    table = table.rename(columns={dialogue: "dialogue", note: "note"})
    empty = table["dialogue"].isna() | table["note"].isna()
    if empty.any():
        raise DataError(f"{path}: {int(empty.sum())} rows without a dialogue or a note (first: row {empty.idxmax()})")
    return table


def summary(values: Sequence[float]) -> dict[str, float]:
    """Mean, median, 10th and 90th percentile (NaN for no values)."""
    v = np.asarray(values, dtype=float)
    if not len(v):
        return {k: float("nan") for k in ("mean", "median", "p10", "p90")}
    return {"mean": float(v.mean()), "median": float(np.median(v)), "p10": float(np.percentile(v, 10)),
            "p90": float(np.percentile(v, 90))}  # fmt: skip


def section_measures(notes: Sequence[str], sections: Sequence[str] = DEFAULT_SECTIONS) -> dict[str, float]:
    """Share of notes with each section, with all of them, with the ones they have in order (none repeated, no
    text before the first heading), and the mean number present."""
    parsed = [parse_note(n, sections) for n in notes]
    present = np.array([[s in {name for name, _ in p} for s in sections] for p in parsed], dtype=float)
    in_order = [not section_problems(p, sections, required=(), allow_other=True) for p in parsed]
    out = {f"has {s.lower()}": float(present[:, i].mean()) for i, s in enumerate(sections)}
    return {**out, "all sections": float(present.all(axis=1).mean()), "in order": float(np.mean(in_order)),
            "sections present": float(present.sum(axis=1).mean())}  # fmt: skip


def length_measures(conversations: Sequence[str], notes: Sequence[str]) -> dict[str, dict[str, float]]:
    """Length distributions in words: notes, conversations (spoken words), turns per conversation, words per turn."""
    turns = [[t for t in parse_dialogue(c) if t.speaker] for c in conversations]
    return {
        "note words": summary([len(tokens(n)) for n in notes]),
        "conversation words": summary([sum(t.words() for t in ts) for ts in turns]),
        "turns": summary([len(ts) for ts in turns]),
        "turn words": summary([t.words() for ts in turns for t in ts]),
    }


def diversity_measures(texts: Sequence[str], seed: int = 0) -> dict[str, float]:
    return {"distinct-2": distinct_n(texts, 2), "self-BLEU": self_bleu(texts, seed=seed)}


def pair_grounding(conversations: Sequence[str], notes: Sequence[str],
                   findings: Sequence[Sequence[Finding]]) -> dict[str, float]:
    """Given each pair's planned findings: the share of those the note states that the conversation raises too, the
    reverse, and the share each side raises at all."""
    in_note, in_conv = [], []
    for conversation, note, planned in zip(conversations, notes, findings, strict=True):
        spoken = spoken_text(parse_dialogue(conversation))
        in_note += [f.raised_in(note) for f in planned]
        in_conv += [f.raised_in(spoken) for f in planned]
    n, c = np.array(in_note, dtype=bool), np.array(in_conv, dtype=bool)
    share = lambda a, b: float(a[b].mean()) if b.any() else float("nan")  # noqa: E731
    return {"note findings raised in conversation": share(c, n), "conversation findings stated in note": share(n, c),
            "findings in note": share(n, np.ones_like(n)), "findings in conversation": share(c, np.ones_like(c))}


def copying_measures(texts: Sequence[str], references: Sequence[str], ngram: int = 20) -> dict[str, float]:
    """How much of the texts comes from reference texts: the mean over texts of the highest ROUGE-2 precision
    against any reference (`rouge-score`: the share of the text's word pairs found in it), the median longest
    run of words shared with a reference, and the share of texts sharing a run of at least `ngram` words."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge2"])
    rouge = [max(scorer.score(ref, text)["rouge2"].precision for ref in references) for text in texts]
    runs = np.asarray(longest_shared_ngram(texts, references), dtype=float)
    return {"nearest ROUGE-2 precision": float(np.mean(rouge)), "longest shared run": float(np.median(runs)),
            f"share with a shared run >= {ngram}": float((runs >= ngram).mean())}  # fmt: skip
