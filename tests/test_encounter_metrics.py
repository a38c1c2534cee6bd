"""Pair measures and the labelled snippet set on real ACI-Bench pairs: sections, lengths, diversity, grounding
across the pair, copying (rouge-score), and the pair-table reader."""

import numpy as np
import pandas as pd
import pytest

from dualalign.alignment.dialogue import Finding
from dualalign.alignment.grounding import tokens
from dualalign.alignment.sections import parse_note, render_note
from dualalign.errors import DataError
from dualalign.eval.encounters import (
    copying_measures,
    diversity_measures,
    length_measures,
    pair_grounding,
    read_pairs,
    section_measures,
)
from dualalign.eval.snippets import SnippetConfig, label_snippets


@pytest.fixture(scope="module")
def folder(shared_data):
    return shared_data / "aci_bench"


@pytest.fixture(scope="module")
def train(folder) -> pd.DataFrame:
    return read_pairs(folder / "train.csv").merge(pd.read_csv(folder / "train_metadata.csv"))


def complaints(table: pd.DataFrame) -> list[list[Finding]]:
    return [[Finding(c.strip()) for c in [cc, *more.split(";")] if c.strip() and c.strip() != "none"]
            for cc, more in zip(table["cc"], table["2nd_complaints"].fillna(""))]


def test_read_pairs_reads_csv_and_parquet_and_names_what_is_missing(folder, train, tmp_path):
    assert len(train) == 67 and {"dialogue", "note", "encounter_id"} <= set(train.columns)
    renamed = train.rename(columns={"dialogue": "conversation"})
    renamed.to_parquet(tmp_path / "pairs.parquet")
    back = read_pairs(tmp_path / "pairs.parquet", dialogue="conversation")
    assert back["dialogue"].tolist() == train["dialogue"].tolist()
    with pytest.raises(DataError, match="no column 'dialogue'"):
        read_pairs(tmp_path / "pairs.parquet")
    train.assign(note=None).to_csv(tmp_path / "empty.csv", index=False)
    with pytest.raises(DataError, match="67 rows without a dialogue or a note"):
        read_pairs(tmp_path / "empty.csv")


def test_section_measures_tell_real_notes_from_reordered_ones(train):
    real = section_measures(train["note"])
    assert real["in order"] == 1.0 and real["has assessment and plan"] == 1.0
    reordered = [render_note(parse_note(n)[::-1]) for n in train["note"]]
    assert section_measures(reordered)["in order"] < 0.1
    assert section_measures(reordered)["sections present"] == real["sections present"]


def test_lengths_and_diversity(train):
    lengths = length_measures(train["dialogue"], train["note"])
    assert lengths["note words"]["median"] == np.median([len(tokens(n)) for n in train["note"]])
    assert lengths["conversation words"]["median"] > lengths["note words"]["median"]  # notes condense the talk
    assert lengths["turns"]["p10"] <= lengths["turns"]["median"] <= lengths["turns"]["p90"]
    notes = train["note"].tolist()[:20]
    real = diversity_measures(notes)
    repeated = diversity_measures(notes[:2] * 10)
    assert real["distinct-2"] > repeated["distinct-2"] and real["self-BLEU"] < 0.5 < repeated["self-BLEU"]


def test_grounding_across_the_pair_drops_when_pairs_are_mismatched(train):
    findings = complaints(train)
    aligned = pair_grounding(train["dialogue"], train["note"], findings)
    shifted = pair_grounding(np.roll(train["dialogue"].to_numpy(), 1), train["note"], findings)
    assert aligned["note findings raised in conversation"] > 0.8
    assert shifted["note findings raised in conversation"] < aligned["note findings raised in conversation"] - 0.3
    assert aligned["findings in note"] == shifted["findings in note"]


def test_copying_measures_find_a_copied_note(folder, train):
    test = read_pairs(folder / "clef_taskC_test3.csv")["note"].tolist()[:5]
    fresh = copying_measures(test, train["note"])
    copied = copying_measures(train["note"].tolist()[:5], train["note"])
    assert copied["nearest ROUGE-2 precision"] == 1.0 and copied["share with a shared run >= 20"] == 1.0
    assert fresh["nearest ROUGE-2 precision"] < 0.9 and fresh["longest shared run"] < copied["longest shared run"]


def test_snippets_are_labelled_by_the_section_that_reports_them(train):
    snippets = label_snippets(train)
    cfg = SnippetConfig()
    assert {"history of present illness", "physical exam", "assessment and plan"} <= set(snippets["label"])
    assert (snippets["score"] >= cfg.min_score).all() and (snippets["margin"] >= cfg.margin).all()
    for row in snippets.itertuples():
        assert row.label.upper() in {name for name, _ in parse_note(train.loc[row.pair, "note"])}
        assert row.text.startswith(("Doctor:", "Patient:", "Companion:"))
    shuffled = train.assign(note=np.roll(train["note"].to_numpy(), 1))
    assert len(label_snippets(shuffled)) < 0.5 * len(snippets)  # a chunk matches the note written from it
