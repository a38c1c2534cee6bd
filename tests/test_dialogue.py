"""Doctor-patient conversations on real ACI-Bench dialogues: parsing (`[doctor]` tags and `Doctor:` lines),
rendering, and each gate rule rejecting a broken conversation with its named reason."""

import pandas as pd
import pytest

from dualalign.alignment.config import ConversationGateConfig
from dualalign.alignment.dialogue import (
    COMPANION,
    DOCTOR,
    NARRATOR,
    PATIENT,
    Finding,
    Turn,
    conversation_reasons,
    parse_dialogue,
    render_dialogue,
)
from dualalign.alignment.phi import PhiDetector

CFG = ConversationGateConfig()


@pytest.fixture(scope="module")
def pairs(shared_data) -> pd.DataFrame:
    folder = shared_data / "aci_bench"
    return pd.concat([pd.read_csv(folder / f"{n}.csv").merge(pd.read_csv(folder / f"{n}_metadata.csv"))
                      for n in ("train", "valid")], ignore_index=True)


@pytest.fixture(scope="module")
def real(pairs) -> tuple[list[Turn], list[Finding]]:
    """The first real conversation that keeps the structural rules, with its complaints as planned findings."""
    for dialogue, cc, more in zip(pairs["dialogue"], pairs["cc"], pairs["2nd_complaints"].fillna("")):
        turns = parse_dialogue(dialogue)
        if not conversation_reasons(turns, CFG):
            return turns, [Finding(c.strip()) for c in [cc, *more.split(";")] if c.strip()]
    raise AssertionError("no real conversation keeps the structural rules")


def test_real_dialogues_parse_into_turns(pairs):
    for dialogue in pairs["dialogue"]:
        turns = parse_dialogue(dialogue)
        assert len(turns) == sum(bool(line.strip()) for line in dialogue.splitlines())
        assert {t.speaker for t in turns} <= {DOCTOR, PATIENT, COMPANION, NARRATOR}
        assert parse_dialogue(render_dialogue(turns)) == turns
    companions = [d for d in pairs["dialogue"] if "[patient_guest]" in d]
    assert companions and all(COMPANION in {t.speaker for t in parse_dialogue(d)} for d in companions)


@pytest.mark.parametrize("text, turns", [
    ('Doctor: "How is your memory?" Patient: "Worse."', [(DOCTOR, "How is your memory?"), (PATIENT, "Worse.")]),
    ('Doctor: Any falls?\nPatient: Patient: "No."', [(DOCTOR, "Any falls?"), (PATIENT, "No.")]),
    ('Doctor: You said "fine" and "tired"', [(DOCTOR, 'You said "fine" and "tired"')]),
    ("Doctor: Ask the patient: how are you", [(DOCTOR, "Ask the patient: how are you")]),
])  # fmt: skip
def test_a_small_models_turns_are_read_as_turns(text, turns):
    """Two turns on one line are two turns; a turn's enclosing quotes and its speaker said again are dropped."""
    assert [(t.speaker, t.text) for t in parse_dialogue(text)] == turns


def test_a_real_conversation_passes_every_rule(real):
    turns, findings = real
    assert len(findings) >= 2 and [t.speaker for t in turns[:2]] == [DOCTOR, PATIENT]
    assert conversation_reasons(turns, CFG, findings, references=["hi , how are you today ?"],
                                phi=PhiDetector()) == []  # fmt: skip


def broken(turns: list[Turn], at: int, *extra: Turn) -> list[Turn]:
    return [*turns[:at], *extra, *turns[at:]]


@pytest.mark.parametrize("change, reason", [
    (lambda t: broken(t, 2, Turn(t[1].speaker, "and one more thing .")), "not_alternating"),
    (lambda t: broken(t, 2, Turn(NARRATOR, "The doctor examines the patient's knee.")), "narrator_line"),
    (lambda t: broken(t, 2, *parse_dialogue("Narrator: Later that day.")), "narrator_line"),
    (lambda t: broken(t, 2, *parse_dialogue("*The doctor listens to her heart.*")), "narrator_line"),
    (lambda t: [Turn(x.speaker, x.text + " (laughs)") if i == 3 else x for i, x in enumerate(t)], "narrator_line"),
    (lambda t: [Turn(x.speaker, "The patient is diagnosed with it .") if x.speaker == PATIENT else x for x in t],
     "patient_third_person"),
    (lambda t: broken(t, 2, Turn("Nurse", "the blood pressure cuff is ready ."), Turn(t[1].speaker, "okay .")),
     "third_speaker"),
    (lambda t: [x for x in t if x.speaker == DOCTOR][:1], "missing_speaker"),
    (lambda t: t[:4], "too_few_turns"),
    (lambda t: [Turn(x.speaker, " ".join(["word"] * 300)) if i == 2 else x for i, x in enumerate(t)],
     "turn_too_long"),
])
def test_a_broken_conversation_gets_its_named_reason(real, change, reason):
    turns, findings = real
    assert conversation_reasons(change(turns), CFG, findings)[0] == reason


def test_a_companion_is_allowed_when_the_plan_has_one(real):
    turns, _ = real
    with_wife = broken(turns, 2, Turn("Wife", "he has been forgetting things ."), Turn(turns[1].speaker, "okay ."))
    assert conversation_reasons(with_wife, CFG) == ["third_speaker"]
    assert conversation_reasons(with_wife, CFG, companion=True) == []


def test_findings_copies_and_phi(real, pairs):
    turns, findings = real
    assert conversation_reasons(turns, CFG, [*findings, Finding("urinary incontinence")]) == ["finding_not_raised"]
    lay = broken(turns, 2, Turn(DOCTOR, "anything else ?"), Turn(PATIENT, "i have trouble swallowing lately ."))
    assert conversation_reasons(lay, CFG, [Finding("dysphagia")]) == ["finding_not_raised"]
    assert conversation_reasons(lay, CFG, [Finding("dysphagia", lay=("trouble swallowing",))]) == []
    copied = render_dialogue(turns[5:15])
    assert conversation_reasons(turns, CFG, references=[copied]) == ["copy"]
    other = next(d for d in pairs["dialogue"] if parse_dialogue(d) != turns)
    assert conversation_reasons(turns, CFG, references=[other]) == []
    named = broken(turns, 2, Turn(DOCTOR, "and who are you ?"), Turn(PATIENT, "My name is Emily Carter ."))
    assert conversation_reasons(named, CFG, phi=PhiDetector()) == ["phi"]


def test_a_kin_name_rejects_a_conversation_for_phi(real):
    """A lone given name after a kin word (which spaCy's small model misses) names the rejection."""
    turns, _ = real
    piece = parse_dialogue("Doctor: Who helps you at home?\nPatient: My daughter, Emily.")
    assert conversation_reasons(broken(turns, 2, *piece), CFG, phi=PhiDetector()) == ["phi"]
    unnamed = parse_dialogue("Doctor: Who helps you at home?\nPatient: My daughter, mostly.")
    assert conversation_reasons(broken(turns, 2, *unnamed), CFG, phi=PhiDetector()) == []
