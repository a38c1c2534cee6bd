"""Encounters through `dualalign run` with the embedded model via vLLM: sectioned notes, conversations written from
them, one record per encounter and variant, and a run killed among its conversations resumed exactly once; in
dialogue-first order, the conversation written first and the note from it."""

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import yaml

from dualalign.alignment.config import AlignmentConfig
from dualalign.alignment.dialogue import DOCTOR, PATIENT, parse_dialogue
from dualalign.alignment.encounters import encounters_of
from dualalign.alignment.grounding import term_in_text
from dualalign.alignment.plans import read_plans
from dualalign.alignment.sections import parse_note, section_problems
from dualalign.generate.candidates import SENTENCE_END
from dualalign.generate.encounters import dialogue_first_parts
from dualalign.generate.records import read_generations
from dualalign.io import read_json, read_jsonl
from dualalign.pipeline.run import Pipeline
from dualalign.pipeline.runconfig import RunConfig
from dualalign.runfolder import CONVERSATION_PLANS, CONVERSATIONS, ENCOUNTERS, GENERATIONS, PLANS, RunFolder
from dualalign.trajectories import load_pack

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "dualalign.pipeline.cli"]
PACK = load_pack("alzheimers")
UP_TO_ENCOUNTERS = ("cohort", "trajectories", "plans", "generate", "encounters")


def encounter_config(out_dir, **alignment) -> dict:
    return {
        "seed": 11,
        "out_dir": str(out_dir),
        "cohort": {"n_profiles": 3, "spec_rows": 1000},
        "alignment": {"granularity": "encounters", "variants": ["guided", "unguided"], "max_notes_per_patient": 2,
                      **alignment},  # fmt: skip
        "sampling": {"max_tokens": 96},
    }


@pytest.fixture(scope="module")
def encounter_run(tmp_path_factory, vllm_engine):
    out = tmp_path_factory.mktemp("encounters")
    Pipeline(RunConfig.model_validate(encounter_config(out)), progress=False, engine=vllm_engine).run_all(
        UP_TO_ENCOUNTERS)  # fmt: skip
    return out, pd.read_parquet(out / ENCOUNTERS)


def test_every_encounter_and_variant_has_one_record_accepted_or_with_reasons(encounter_run):
    out, table = encounter_run
    plans = read_plans(out / PLANS)
    assert len(table) == len({(p.note_id, p.variant) for p in plans}) == 3 * 2 * 2
    assert table["encounter_id"].is_unique
    assert ((table["status"] == "ok") | table["gate_reasons"].map(len).gt(0)).all()
    for row in table.itertuples():
        assert len(row.sections) == len(PACK.encounter.sections)
        assert all(s["status"] == "ok" or len(s["reasons"]) for s in row.sections)
        assert all(p["status"] == "ok" or len(p["reasons"]) for p in row.pieces)
    figures = read_json(out / "metrics.json")["encounters"]
    assert sum(f["encounters"] for f in figures.values()) == len(table)


def test_a_note_has_its_sections_in_order(encounter_run):
    _, table = encounter_run
    notes = table[table["note"] != ""]
    assert len(notes) >= len(table) // 2
    for row in notes.itertuples():
        pairs = parse_note(row.note, PACK.encounter.sections)
        assert not section_problems(pairs, PACK.encounter.sections, required=())
        assert [name for name, _ in pairs] == [s["section"] for s in row.sections if s["status"] == "ok"]


def test_a_planned_mention_lands_in_its_section(encounter_run):
    _, table = encounter_run
    landed = 0
    for row in table[table["variant"] == "guided"].itertuples():
        texts = dict(parse_note(row.note, PACK.encounter.sections)) if row.note else {}
        for mention in row.planned:
            if mention["section"] in texts:
                assert term_in_text(mention["term"], texts[mention["section"]]), (mention, texts)
                landed += 1
    assert landed >= 1


def test_a_conversation_alternates_and_raises_its_findings_or_is_recorded_rejected(encounter_run):
    _, table = encounter_run
    written = table[table["conversation"] != ""]
    assert len(written) >= 1
    for row in written.itertuples():
        turns = parse_dialogue(row.conversation)
        if row.conversation_status == "ok":
            speakers = [t.speaker for t in turns]
            assert speakers[0] == DOCTOR and set(speakers) == {DOCTOR, PATIENT}
            assert all(a != b for a, b in zip(speakers, speakers[1:]))
            if row.variant == "guided":
                assert all(term_in_text(m["term"], row.conversation) for m in row.planned)
        else:
            assert len(row.conversation_reasons) or any(p["status"] != "ok" for p in row.pieces)


def test_a_piece_that_ends_after_the_doctors_turn_is_judged_with_the_patients_answer(encounter_run):
    """Every judged candidate of a piece whose first turn is the doctor's, finished, has the patient's answer: the
    embedded model mostly stops after the doctor's turn, and such a reply is asked again for the answer (one whose
    answer is cut off at max_tokens before a sentence ends is not judged: it is recorded `cut_off`)."""
    out, _ = encounter_run
    pieces = {p.id: p for p in read_plans(out / CONVERSATION_PLANS)}
    judged = [c for r in read_generations(out / CONVERSATIONS) if pieces[r.id].answer for c in r.candidates
              if c.reason not in ("cut_off", "engine")]  # fmt: skip
    first_doctor = [parse_dialogue(c.text) for c in judged]
    first_doctor = [t for t in first_doctor if t and t[0].speaker == DOCTOR and SENTENCE_END.search(t[0].text)]
    assert len(first_doctor) >= len(judged) // 2
    assert all(PATIENT in {t.speaker for t in turns} for turns in first_doctor)


def test_nothing_after_an_earlier_visit_is_shown_at_it(encounter_run):
    """What the note's requests show (the conversation's show the note's own text): no later stage."""
    out, table = encounter_run
    order = [s.id for s in PACK.stages]
    plans = read_plans(out / PLANS)
    checked = 0
    for _, rows in table[table["variant"] == "guided"].groupby("patient_id"):
        visits = rows.sort_values("visit_date")
        for early in visits.iloc[:-1].itertuples():
            later = [PACK.stages[i].name.lower() for i in range(order.index(early.stage) + 1, len(order))]
            shown = " ".join(m.content.lower() for p in plans if p.note_id == early.note_id for m in p.messages)
            assert shown and not any(name in shown for name in later), (early.stage, later)
            assert {m["term"] for m in early.planned} == {m.term for p in plans if p.note_id == early.note_id
                                                          for m in p.mentions}  # its own mentions only
            checked += 1
    assert checked >= 1


def test_a_run_killed_among_its_conversations_resumes_exactly_once(tmp_path):
    # exactly-once is about the file, not the text: one candidate per plan and one plan per chunk; every step in a
    # process of its own, so only one engine is loaded at a time
    data = encounter_config(tmp_path / "run", max_notes_per_patient=1, chunk_size=1,
                            gate={"candidates": 1, "rounds": 0})  # fmt: skip
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(data))
    run = [*CLI, "run", str(config_path), "--stages"]
    first = subprocess.run([*run, "cohort,trajectories,plans,generate"], capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stderr[-2000:]
    conversations = tmp_path / "run" / CONVERSATIONS
    proc = subprocess.Popen([*run, "encounters"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        if conversations.exists() and len(conversations.read_text().splitlines()) >= 2:
            break
        time.sleep(0.5)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    written = len(read_jsonl(conversations))
    planned = read_plans(tmp_path / "run" / CONVERSATION_PLANS)
    assert 2 <= written < len(planned)
    finished = subprocess.run([*run, "encounters"], capture_output=True, text=True, timeout=900)
    assert finished.returncode == 0, finished.stderr[-2000:]
    ids = [r["id"] for r in read_jsonl(conversations)]
    assert len(ids) == len(set(ids)) == len(planned)
    assert set(ids) == {p.id for p in read_plans(tmp_path / "run" / CONVERSATION_PLANS)}
    table = pd.read_parquet(tmp_path / "run" / ENCOUNTERS)
    assert sum(len(pieces) for pieces in table["pieces"]) >= len(planned)


@pytest.fixture(scope="module")
def dialogue_first_run(tmp_path_factory, vllm_engine):
    out = tmp_path_factory.mktemp("dialogue-first")
    data = encounter_config(out, variants=["guided"], max_notes_per_patient=1, conversation={"order": "dialogue_first"})
    data["cohort"]["n_profiles"] = 2
    Pipeline(RunConfig.model_validate(data), progress=False, engine=vllm_engine).run_all(UP_TO_ENCOUNTERS)
    return out, pd.read_parquet(out / ENCOUNTERS)


def test_in_dialogue_first_order_the_note_is_written_from_the_accepted_conversation(dialogue_first_run):
    out, table = dialogue_first_run
    assert len(table) == 2 and set(table["order"]) == {"dialogue_first"}
    assert {r["id"] for r in read_jsonl(out / CONVERSATIONS)} == {p.id for p in read_plans(out / CONVERSATION_PLANS)}
    config = yaml.safe_load((out / "config.yaml").read_text())
    cfg = AlignmentConfig.model_validate(config["alignment"])
    _, asked = dialogue_first_parts(encounters_of(read_plans(out / PLANS)), RunFolder(out), PACK, cfg, config["seed"])
    generations = {g.id: g for g in read_generations(out / GENERATIONS)}
    for row in table.itertuples():
        assert row.status == "ok" or len(row.gate_reasons)
        assert [s["section"] for s in row.sections] == PACK.encounter.sections
        assert all(part["status"] == "ok" or len(part["reasons"]) for part in (*row.sections, *row.pieces))
        if row.conversation_status != "ok":
            assert len(row.conversation_reasons) or any(p["status"] != "ok" for p in row.pieces)
        for part, recorded in zip(asked[(row.note_id, row.variant)], row.sections):
            if part.plan is None:  # no accepted piece: no section is written
                assert not row.conversation and recorded["status"] == "skipped"
                continue
            assert row.conversation.strip() in part.plan.prompt and part.plan.id in generations
            assert recorded["text"] == (generations[part.plan.id].text if recorded["status"] == "ok" else "")
        pairs = parse_note(row.note, PACK.encounter.sections) if row.note else []
        assert not section_problems(pairs, PACK.encounter.sections, required=())
        assert [name for name, _ in pairs] == [s["section"] for s in row.sections if s["status"] == "ok"]
    assert (table["conversation"] != "").any()


def test_a_dialogue_first_section_is_reviewed_with_its_note_conversation_and_the_profile_shown(dialogue_first_run):
    from dualalign.eval.review import review_items

    out, table = dialogue_first_run
    items = review_items(RunFolder(out), PACK, threshold=0.3)
    assert len(items) == sum(s["status"] == "ok" for sections in table["sections"] for s in sections)
    by_key = table.set_index(["note_id", "variant"])
    for item in items.to_dict("records"):
        record = by_key.loc[(item["note_id"], item["variant"])]
        assert item["text"] in record["note"] and item["note"] == record["note"]
        assert item["conversation"] == (record["conversation"] or None)
        assert item["profile_shown"] and item["profile"] == json.loads(record["profile"])  # guided: shown the profile
