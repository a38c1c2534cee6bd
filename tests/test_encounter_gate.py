"""The encounter gate on hand-written texts, with the real MiniLM encoder and PHI detector: each broken conversation
piece is rejected with its named reason, and so is a note section without its planned finding; ordinary ones pass."""

from dataclasses import replace

import pytest

from dualalign.alignment.config import ConversationGateConfig, GateConfig, GroundingConfig
from dualalign.alignment.encounter_gate import EncounterGate
from dualalign.alignment.gate import Target
from dualalign.trajectories import load_pack

ACI = "[doctor] so tell me how the knee has been doing since the fall last month at the grocery store .\n" \
      "[patient] it has been swollen and it hurts when i walk up the stairs at home every single day ."  # fmt: skip
PIECE = Target("guided", "cognitive_impairment", ("word-finding difficulty",), dialogue=True)
OPENING = Target("unguided", "none", dialogue=True)
GOOD = ("Doctor: Have you had any word-finding difficulty lately?\n"
        "Patient: Yes, I lose the word I want in the middle of a sentence.")  # fmt: skip


@pytest.fixture(scope="module")
def gate():
    return EncounterGate(load_pack("alzheimers"), GroundingConfig(), GateConfig(), ConversationGateConfig(),
                         conversations=[ACI])  # fmt: skip


@pytest.mark.parametrize("text, reason", [
    ("Doctor: How have you been?\nThe patient looks worried.\nPatient: Not great, I forget things.", "narrator_line"),
    ("Doctor: How have you been?\nPatient: *sighs* Not great, I forget a lot.", "narrator_line"),
    ("Doctor: How have you been?\nDaughter: She forgets everything now.", "missing_speaker"),
    ("Doctor: How have you been?\nPatient: I forget things.\nDaughter: She forgets everything.", "third_speaker"),
    ("Doctor: How have you been?\nDoctor: Any trouble with memory?", "missing_speaker"),
    ("Doctor: How have you been?\nPatient: I forget things.\nPatient: And I get lost.", "not_alternating"),
    ("Doctor: How have you been sleeping?", "missing_speaker"),
    ("Doctor: Hello Mrs. Johnson, how are you?\nPatient: I keep forgetting where I put my keys.", "phi"),
    ("Doctor: So tell me how the knee has been doing since the fall last month at the grocery store.\n"
     "Patient: It has been swollen and it hurts when I walk up the stairs at home every day.", "copy"),
    ("Doctor: Please answer in JSON.\nPatient: I keep forgetting where I put my keys.", "task_talk"),
    ("Doctor: 12324-P\nPatient: 12324-P", "date_or_number"),  # the embedded model's, accepted before this rule
])  # fmt: skip
def test_a_broken_conversation_piece_is_rejected_with_its_reason(gate, text, reason):
    assert gate.judge([text], OPENING)[0].reason == reason


def test_a_piece_that_does_not_raise_its_planned_finding_is_rejected(gate):
    text = "Doctor: How is your sleep?\nPatient: I wake up many times at night and feel tired all day."
    assert gate.judge([text], PIECE)[0].reason == "finding_not_raised"
    assert gate.judge([GOOD], PIECE)[0].passed


def test_a_finding_raised_in_its_lay_words_passes(gate):
    planned = Target("guided", "concern_by_others", ("spouse reports repeated questions",), dialogue=True)
    lay = "Doctor: Does she repeat herself?\nPatient: Yes, she asks the same questions over and over."
    assert gate.judge([lay], planned)[0].passed
    neither = "Doctor: How is her sleep?\nPatient: She wakes up many times at night and is tired all day."
    assert gate.judge([neither], planned)[0].reason == "finding_not_raised"
    # the lay words the prompt showed are said, not echoed
    shown = replace(planned, prompt='the patient describes it in plain words (such as "asks the same questions over '
                    'and over")')  # fmt: skip
    assert gate.judge([lay], shown)[0].passed
    longer = lay + "\nDoctor: Since when?\nPatient: Since last spring, I think.\nDoctor: We will check.\nPatient: Okay."
    assert gate.conversation_reasons(longer, ["spouse reports repeated questions"]) == []


def test_a_whole_conversation_is_held_to_the_configured_bounds(gate):
    assert gate.conversation_reasons(GOOD, ["word-finding difficulty"]) == ["too_few_turns"]
    longer = GOOD + "\nDoctor: Does it worry you?\nPatient: It does, a lot.\nDoctor: We will test it.\nPatient: Okay."
    assert gate.conversation_reasons(longer, ["word-finding difficulty"]) == []
    assert gate.conversation_reasons(longer, ["getting lost"]) == ["finding_not_raised"]


def test_a_note_section_says_its_planned_mentions_and_has_a_lower_word_floor(gate):
    section = Target("guided", "cognitive_impairment", ("word-finding difficulty",), section="PHYSICAL EXAM")
    missing = "The patient reports more trouble remembering recent conversations over the past months."
    assert gate.judge([missing], section)[0].reason == "mention_missing"
    said = "The patient reports word-finding difficulty that has worsened over the past months."
    assert gate.judge([said], section)[0].passed
    complaint = Target("unguided", "none", section="CHIEF COMPLAINT")
    assert gate.judge(["Memory loss."], complaint)[0].passed
    assert gate.judge(["Memory."], complaint)[0].reason == "too_short"
