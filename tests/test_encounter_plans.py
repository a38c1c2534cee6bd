"""Encounter plans on a hand-made patient with two visits, one before the diagnosis and one after: a plan per note
section and variant, the planned mentions and profile facts in their sections, nothing from after a visit shown at
it, and the conversation planned from the accepted note only."""

import pandas as pd
import pytest

from dualalign.alignment.config import AlignmentConfig
from dualalign.alignment.encounters import SOURCE_REJECTED, build_section_plans, conversation_pieces, encounters_of
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
    unguided = encounters_of(plans)[("p1-late", "unguided")]
    names = [p.name for p in conversation_pieces(unguided, accepted, PACK, AlignmentConfig(), seed=3)]
    assert names == ["opening"] + ["section"] * (len(PACK.encounter.sections) - 2) + ["closing"]
