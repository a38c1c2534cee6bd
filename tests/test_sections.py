"""Encounter note sections on real ACI-Bench notes: parsing (header variants), rendering, the presence and order
check, and the routing of planned mentions and profile facts to sections."""

from types import SimpleNamespace

import pandas as pd
import pytest

from dualalign.alignment.sections import (
    DEFAULT_SECTIONS,
    UNTITLED,
    SectionRouter,
    heading,
    parse_note,
    render_note,
    section_problems,
)
from dualalign.config import read_yaml
from dualalign.errors import ConfigError
from dualalign.trajectories.pack import load_pack, pack_from_data, resolve_pack_path


@pytest.fixture(scope="module")
def notes(shared_data) -> list[str]:
    folder = shared_data / "aci_bench"
    return pd.concat([pd.read_csv(folder / f"{n}.csv") for n in ("train", "valid")])["note"].tolist()


def reasons(pairs, **kw) -> list[str]:
    return [p.reason for p in section_problems(pairs, **kw)]


def test_every_real_note_parses_with_its_sections_in_order(notes):
    for note in notes:
        pairs = parse_note(note)
        assert pairs[0][0] != UNTITLED and all(body for _, body in pairs)
        assert not section_problems(pairs, required=(), allow_other=True), note[:200]
    names = [{n for n, _ in parse_note(note)} for note in notes]
    assert all("ASSESSMENT AND PLAN" in n for n in names)  # "ASSESSMENT" + "PLAN" and "IMPRESSION" + "PLAN" merged
    assert sum("CHIEF COMPLAINT" in n for n in names) > 0.8 * len(notes)


def test_header_variants_are_read_as_their_section(notes):
    short = next(n for n in notes if n.startswith("CC:"))  # CC: / HPI: / EXAM / IMPRESSION / PLAN
    assert [n for n, _ in parse_note(short)][:2] == ["CHIEF COMPLAINT", "HISTORY OF PRESENT ILLNESS"]
    assert heading("Physical examination:") == "PHYSICAL EXAM" and heading("Results:") == "RESULTS"
    assert heading("Musculoskeletal") is None and heading("COPD.") is None and heading("MSK:") is None
    assert heading("PLAN", sections=("ASSESSMENT", "PLAN")) == "PLAN"  # a pack's own heading is kept as it is


def test_render_then_parse_gives_the_same_sections(notes):
    for note in notes[:20]:
        pairs = parse_note(note)
        assert parse_note(render_note(pairs)) == pairs


def test_broken_notes_get_the_named_problem(notes):
    pairs = parse_note(notes[0])
    listed = [p for p in pairs if p[0] in DEFAULT_SECTIONS]
    assert reasons(pairs) == ["unknown_section"] * (len(pairs) - len(listed)) + (
        ["missing_section"] * (len(DEFAULT_SECTIONS) - len(listed)))
    assert reasons(listed[::-1], required=()) == ["out_of_order"] * (len(listed) - 1)
    assert reasons(listed + listed[:1], required=()) == ["repeated_section", "out_of_order"]
    assert reasons(parse_note("Memory is worse.\n\n" + render_note(listed)), required=()) == ["untitled_text"]
    assert reasons([*listed, ("RESULTS", "")], required=()) == ["empty_section", "repeated_section", "out_of_order"]
    assert reasons(listed[1:], required=[listed[0][0]]) == ["missing_section"]


def mention(term, label, domain):
    return SimpleNamespace(term=term, label=label, domain=domain)


def test_mentions_and_facts_go_where_a_clinician_writes_them():
    router = SectionRouter(load_pack("alzheimers"))
    assert router.mention(mention("word-finding difficulty", "cognitive_impairment", "language")) == \
        "HISTORY OF PRESENT ILLNESS"
    assert router.mention(mention("insomnia", "physiological_changes", "physiological_changes")) == "REVIEW OF SYSTEMS"
    assert router.mention(mention("slowed gait", "physiological_changes", "physiological_changes")) == "PHYSICAL EXAM"
    assert router.mention(mention("MMSE 22/30", "cognitive_impairment", "memory")) == "RESULTS"
    assert router.fact("age") == router.fact("sex") == router.fact("comorbidities") == "HISTORY OF PRESENT ILLNESS"
    assert router.fact("diagnosis") == "ASSESSMENT AND PLAN"
    assert router.diagnosis("mild_dementia") == "Alzheimer's disease, mild dementia (ICD-10-CM G30.9)"


def pack_with(encounter: dict):
    data = read_yaml(resolve_pack_path("alzheimers"))
    return pack_from_data({**data, "encounter": encounter}, "test pack")


def test_a_pack_gives_its_own_sections_and_routes():
    sections = ["CHIEF COMPLAINT", "HISTORY OF PRESENT ILLNESS", "PAST MEDICAL HISTORY", "MEDICATIONS", "ASSESSMENT",
                "PLAN"]
    router = SectionRouter(pack_with({"sections": sections, "routes": {"memory": "ASSESSMENT"}}))
    assert router.fact("comorbidities") == "PAST MEDICAL HISTORY" and router.fact("medications") == "MEDICATIONS"
    assert router.mention(mention("misplaces objects", "cognitive_impairment", "memory")) == "ASSESSMENT"
    assert router.fact("diagnosis") == "ASSESSMENT"
    assert router.mention(mention("MoCA 21/30", "cognitive_impairment", "language")) == "HISTORY OF PRESENT ILLNESS"
    brief = SectionRouter(pack_with({"sections": ["CHIEF COMPLAINT", "ASSESSMENT AND PLAN"]}))
    with pytest.raises(ConfigError, match="no section for test_score"):
        brief.mention(mention("MoCA 21/30", "cognitive_impairment", "language"))
    with pytest.raises(ConfigError, match="encounter.routes.memory: 'RESULTS' is not one of encounter.sections"):
        pack_with({"sections": sections, "routes": {"memory": "RESULTS"}})
    with pytest.raises(ConfigError, match="encounter.routes.smell: not a lexicon term"):
        pack_with({"routes": {"smell": "RESULTS"}})
