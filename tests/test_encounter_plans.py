"""Encounter plans on a hand-made patient with two visits, one before the diagnosis and one after: a plan per note
section and variant, the planned mentions and profile facts in their sections, nothing from after a visit shown at
it, the conversation planned from the accepted note only, and in dialogue-first order the conversation planned from
the plan and the note's sections asked with the accepted conversation."""

import pandas as pd
import pytest

from dualalign.alignment.config import AlignmentConfig
from dualalign.alignment.encounters import (
    CONVERSATION_REJECTED,
    SOURCE_REJECTED,
    build_section_plans,
    conversation_pieces,
    encounters_of,
    note_from_conversation,
)
from dualalign.trajectories import load_pack

PACK = load_pack("alzheimers")
MENTIONS = [
    {"label": "cognitive_impairment", "term": "word-finding difficulty", "domain": "language"},
    {"label": "physiological_changes", "term": "slowed gait", "domain": "physiological_changes"},
    {"label": "physiological_changes", "term": "poor appetite", "domain": "physiological_changes"},
]


@pytest.fixture(scope="module")
def plans():
    profiles = pd.DataFrame([{"patient_id": "p1", "age": 80, "sex": "F", "race_ethnicity": "white",
                              "education_years": 12, "hypertension": True, "diabetes": False}])  # fmt: skip
    notes = pd.DataFrame([
        {"patient_id": "p1", "note_id": "p1-early", "visit_day": -400, "age_at_visit": 78.9,
         "note_type": "primary_care", "stage": "mci", "mentions": MENTIONS[:1]},
        {"patient_id": "p1", "note_id": "p1-late", "visit_day": 30, "age_at_visit": 80.1,
         "note_type": "neurology", "stage": "moderate_dementia", "mentions": MENTIONS},
    ])  # fmt: skip
    return build_section_plans(profiles, notes, PACK, AlignmentConfig(granularity="encounters"), seed=3)


def test_a_plan_per_section_and_variant_with_a_begun_reply(plans):
    sections = PACK.encounter.sections
    assert len(plans) == 2 * 4 * len(sections)
    for plans_of_one in encounters_of(plans).values():
        assert [p.section for p in plans_of_one] == sections
        assert all(p.reply_start and p.messages[-1].role == "assistant" for p in plans_of_one)


def test_planned_mentions_and_profile_facts_go_to_their_sections(plans):
    late = {p.section: p for p in plans if p.note_id == "p1-late" and p.variant == "guided"}
    assert [m.term for m in late["HISTORY OF PRESENT ILLNESS"].mentions] == ["word-finding difficulty"]
    assert [m.term for m in late["REVIEW OF SYSTEMS"].mentions] == ["poor appetite"]  # its domain's route
    assert [m.term for m in late["PHYSICAL EXAM"].mentions] == ["slowed gait"]  # routed by the pack
    assert "slowed gait" in late["PHYSICAL EXAM"].reply_start
    assert "word-finding difficulty" in late["HISTORY OF PRESENT ILLNESS"].prompt
    assert "slowed gait" not in late["HISTORY OF PRESENT ILLNESS"].prompt
    hpi = late["HISTORY OF PRESENT ILLNESS"]
    assert "an 80-year-old woman" in hpi.reply_start and "hypertension" in hpi.prompt and "lisinopril" in hpi.prompt
    assessment = late["ASSESSMENT AND PLAN"].reply_start
    assert "Alzheimer's disease" in assessment and "moderate dementia" in assessment and "G30.9" in assessment


def test_unguided_sees_the_condition_and_note_type_only(plans):
    for p in plans:
        if p.variant == "unguided":
            shown = "\n".join(m.content for m in p.messages)
            assert not p.prompted and p.profile is None
            assert not any(term in shown for term in ("word-finding", "slowed gait", "80-year-old", "hypertension",
                                                      "dementia", "G30"))  # fmt: skip


def test_nothing_after_an_earlier_visit_is_shown_at_it(plans):
    later = [s.name.lower() for s in PACK.stages if s.id in ("mild_dementia", "moderate_dementia", "severe_dementia")]
    early = [p for p in plans if p.note_id == "p1-early"]
    for p in early:
        shown = "\n".join(m.content for m in p.messages).lower()
        assert not any(name in shown for name in later)  # no later stage
        assert "alzheimer" not in shown and "g30" not in shown  # no diagnosis before it is made
        assert {m.term for m in p.mentions} <= {"word-finding difficulty"}  # its own mentions only
    assert any("mild cognitive impairment" in p.reply_start.lower() for p in early if p.variant == "guided")


def test_a_conversation_is_planned_from_the_accepted_note_only(plans):
    guided = encounters_of(plans)[("p1-late", "guided")]
    accepted = {p.section: f"Text of {p.section.lower()}." for p in guided if p.section != "PHYSICAL EXAM"}
    pieces = conversation_pieces(guided, accepted, PACK, AlignmentConfig(granularity="encounters"), seed=3)
    assert [(p.name, p.term) for p in pieces] == [("opening", None), ("finding", "word-finding difficulty"),
                                                  ("finding", "poor appetite"), ("finding", "slowed gait"),
                                                  ("closing", None)]  # fmt: skip
    assert [p.skipped for p in pieces] == [None, None, None, SOURCE_REJECTED, None]
    finding = pieces[1].plan
    assert "Text of history of present illness." in finding.prompt and finding.reply_start == "Doctor:"
    assert finding.prompted and [m.term for m in finding.mentions] == ["word-finding difficulty"]
    assert f'(such as "{PACK.lay_words["word-finding difficulty"][0]}")' in finding.prompt  # the patient's words
    unguided = encounters_of(plans)[("p1-late", "unguided")]
    names = [p.name for p in conversation_pieces(unguided, accepted, PACK, AlignmentConfig(), seed=3)]
    assert names == ["opening"] + ["section"] * (len(PACK.encounter.sections) - 2) + ["closing"]


def test_in_dialogue_first_order_the_conversation_is_planned_from_the_plan_alone(plans):
    cfg = AlignmentConfig(granularity="encounters", conversation={"order": "dialogue_first"})
    guided = encounters_of(plans)[("p1-late", "guided")]
    pieces = conversation_pieces(guided, None, PACK, cfg, seed=3)
    assert [(p.name, p.term, p.skipped) for p in pieces] == [
        ("opening", None, None), ("finding", "word-finding difficulty", None), ("finding", "poor appetite", None),
        ("finding", "slowed gait", None), ("closing", None, None)]  # fmt: skip
    for piece in pieces:
        assert "of a neurology visit" not in piece.plan.prompt  # no note section read out
        assert piece.term is None or piece.term in piece.plan.prompt
    later = [p for p in plans if p.note_id == "p1-early" and p.variant == "guided"]
    shown = " ".join(p.plan.prompt for p in conversation_pieces(later, None, PACK, cfg, seed=3)).lower()
    assert "dementia" not in shown and "alzheimer" not in shown


def test_in_dialogue_first_order_a_variant_shown_the_profile_says_who_the_patient_is(plans):
    cfg = AlignmentConfig(granularity="encounters", conversation={"order": "dialogue_first"})
    prompts = {v: [p.plan.prompt for p in conversation_pieces(s, None, PACK, cfg, seed=3)]
               for (note, v), s in encounters_of(plans).items() if note == "p1-late"}  # fmt: skip
    who = "with an 80-year-old woman with a history of hypertension who takes"
    assert all(who in prompt for v in ("guided", "statistical") for prompt in prompts[v])
    assert not any("80-year-old" in prompt for v in ("unguided", "semantic") for prompt in prompts[v])


def test_in_dialogue_first_order_each_section_is_asked_with_the_accepted_conversation(plans):
    cfg = AlignmentConfig(granularity="encounters", conversation={"order": "dialogue_first"})
    guided = encounters_of(plans)[("p1-late", "guided")]
    conversation = "Doctor: What brings you in?\nPatient: I forget words and I walk slowly.\n"
    parts = note_from_conversation(guided, conversation, cfg)
    assert [p.section for p in parts] == [p.section for p in guided]
    for part, plan in zip(parts, guided):
        assert part.plan.id != plan.id and conversation.strip() in part.plan.prompt
        assert plan.prompt in part.plan.prompt and part.plan.reply_start == plan.reply_start
        assert part.plan.mentions == plan.mentions and part.plan.seed == plan.seed
    assert [p.skipped for p in note_from_conversation(guided, "", cfg)] == [CONVERSATION_REJECTED] * len(guided)
