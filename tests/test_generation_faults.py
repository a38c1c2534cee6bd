"""The generation stage under bad replies: invalid JSON, cut-off JSON and unknown labels are retried with new
seeds, then recorded as failures with a reason and counted; the run completes and loses nothing.

The engine here is a scripted stand-in (fault injection): the real engines are tested elsewhere."""

import json

from dualalign.alignment.config import AlignmentConfig, GroundingConfig
from dualalign.alignment.grounding import Grounder
from dualalign.alignment.plans import build_note_plans
from dualalign.generate.engine import Engine
from dualalign.generate.outputs import build_outputs, error_kind, generation_figures
from dualalign.generate.records import GenerationResult
from dualalign.generate.run import generate_plans
from dualalign.io import read_jsonl
from dualalign.runfolder import GENERATIONS
from dualalign.trajectories import demo_profiles, load_pack, sample_trajectories
from dualalign.trajectories.config import TrajectoryConfig

LABEL = "cognitive_impairment"


class ScriptedEngine(Engine):
    """Replies by plan: a valid reply, or one fault that persists on every retry for chosen plans."""

    name = "scripted"

    def __init__(self, faults: dict[str, str]):
        self.faults = faults
        self.calls: dict[str, int] = {}

    def generate(self, requests, on_result=None):
        results = []
        for r in requests:
            self.calls[r.id] = self.calls.get(r.id, 0) + 1
            fault = self.faults.get(r.id)
            text, finish = json.dumps({"sentences": [{"text": "He repeats questions.", "label": LABEL}]}), "stop"
            if fault == "not_json":
                text = "Sure! Here are the sentences: he repeats questions."
            elif fault == "cut_off":
                text, finish = text[:25], "length"
            elif fault == "unknown_label":
                text = json.dumps({"sentences": [{"text": "He repeats questions.", "label": "headache"}]})
            results.append(GenerationResult(id=r.id, text=text, finish_reason=finish, seed=r.seed, completion_tokens=9))
            if on_result:
                on_result(results[-1])
        return results


def test_bad_replies_are_retried_then_recorded_and_counted(tmp_path):
    pack = load_pack("alzheimers")
    profiles = demo_profiles(pack, 2, seed=0)
    notes = sample_trajectories(profiles, TrajectoryConfig(), seed=0)
    cfg = AlignmentConfig(max_notes_per_patient=2, variants=["guided"])
    plans = build_note_plans(profiles, notes, pack, cfg, seed=0)
    faults = {plans[0].id: "not_json", plans[1].id: "cut_off", plans[2].id: "unknown_label"}
    engine = ScriptedEngine(faults)
    summary = generate_plans(plans, engine, tmp_path, retries=2, chunk_size=2, progress=False)
    assert summary.planned == len(plans) and summary.failed == 3
    records = {r["id"]: r for r in read_jsonl(tmp_path / GENERATIONS)}
    assert set(records) == {p.id for p in plans}  # every plan ends as output or recorded failure
    assert all(engine.calls[pid] == 3 for pid in faults)  # first try + 2 retries
    assert all(records[pid]["attempts"] == 3 for pid in faults)
    assert records[plans[0].id]["error"].startswith("invalid JSON reply")
    assert records[plans[1].id]["error"].startswith("cut off at max_tokens")
    assert "headache" in records[plans[2].id]["error"]
    assert all(records[p.id]["error"] is None for p in plans[3:])
    kinds = [records[plans[i].id]["error_kind"] for i in range(3)]
    assert kinds == ["invalid_json", "cut_off", "schema"]

    notes_df, sentences = build_outputs(plans, list(records.values()), Grounder(pack, GroundingConfig()))
    figures = generation_figures(notes_df, sentences)["guided"]
    assert figures["failed"] == 3
    assert figures["failures_by_reason"] == {"invalid_json": 1, "cut_off": 1, "schema": 1}
    assert figures["sentences"] == len(plans) - 3
    assert set(sentences["label"]) <= set(pack.label_ids)

    again = generate_plans(plans, ScriptedEngine({}), tmp_path, progress=False)  # nothing left to do
    assert again.generated == 0 and again.resumed == len(plans)
    assert len(read_jsonl(tmp_path / GENERATIONS)) == len(plans)


def test_rows_written_before_error_kind_are_classified_once_on_read():
    assert error_kind({"error": "cut off at max_tokens=9: not complete JSON"}) == "cut_off"
    assert error_kind({"error": "invalid JSON reply: EOF"}) == "invalid_json"
    assert error_kind({"error": "reply does not match the schema at sentences"}) == "schema"
    assert error_kind({"error": "HTTP 500 from http://x"}) == "engine"
    assert error_kind({"error": "x", "error_kind": "check"}) == "check"
    assert error_kind({"error": None}) is None
