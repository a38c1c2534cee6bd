"""Grounding with the real MiniLM encoder: planned term and label, claimed label, copies, near-duplicates."""

import pandas as pd
import pytest

from dualalign.alignment.config import GroundingConfig
from dualalign.alignment.grounding import Grounder, term_in_text
from dualalign.alignment.plans import PlannedMention
from dualalign.generate.outputs import match_mentions
from dualalign.trajectories import load_pack


@pytest.fixture(scope="module")
def grounder():
    return Grounder(load_pack("alzheimers"), GroundingConfig())


def row(text, label, planned_label=None, planned_term=None, variant="guided"):
    return {"text": text, "label": label, "planned_label": planned_label, "planned_term": planned_term,
            "variant": variant}  # fmt: skip


def test_term_in_text_matches_word_forms():
    assert term_in_text("repeats questions", "She repeated the same question twice.")
    assert not term_in_text("repeats questions", "She is sleeping poorly.")
    assert not term_in_text("the", "the")  # stopwords alone never match


def test_grounding_decisions(grounder):
    pack = load_pack("alzheimers")
    example = pack.labels["concern_by_others"].examples[0]
    table = pd.DataFrame([
        row("Her daughter says she repeats the same questions all day.", "concern_by_others", "concern_by_others",
            "repeats questions"),
        row("The weather was sunny and the car was washed.", "cognitive_impairment", "cognitive_impairment",
            "word-finding difficulty"),
        row("He repeats questions many times a day.", "physiological_changes", "cognitive_impairment",
            "repeats questions"),
        row("He has trouble finding words in conversation.", "cognitive_impairment", variant="unguided"),
        row("The invoice was paid on time.", "cognitive_impairment", variant="unguided"),
        row(example, "concern_by_others", variant="unguided"),
        row("He has trouble finding words in conversation!", "cognitive_impairment", variant="unguided"),
    ])  # fmt: skip
    scored = grounder.score(table)
    assert scored["grounded"].tolist() == [True, False, False, True, False, True, True]
    # the like-for-like check: does each sentence express the label it claims? (row 3 claims the wrong label)
    assert scored["expresses_label"].tolist() == [True, False, False, True, False, True, True]
    assert scored["term_match"].tolist()[:3] == [True, False, True]
    assert scored["copies_example"].tolist() == [False] * 5 + [True, False]
    assert scored["near_duplicate"].tolist() == [False] * 6 + [True]
    assert scored["passed"].tolist() == [True, False, False, True, False, False, False]


def test_empty_table_scores_to_empty_columns(grounder):
    scored = grounder.score(pd.DataFrame(columns=["text", "label", "planned_label", "planned_term", "variant"]))
    assert scored.empty and "grounded" in scored.columns


def test_sentences_pair_with_mentions_by_term_then_label():
    mentions = [PlannedMention(label="a", term="insomnia"), PlannedMention(label="b", term="apathy")]
    sentences = [{"text": "She seems indifferent.", "label": "b"}, {"text": "Insomnia persists.", "label": "a"}]
    assert match_mentions(sentences, mentions) == [mentions[1], mentions[0]]
    three = sentences + [{"text": "Extra.", "label": "c"}]
    assert match_mentions(three, mentions)[2] is None
