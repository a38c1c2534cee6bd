"""The generation stage under bad replies. Whole JSON notes: invalid JSON, cut-off JSON and unknown labels are
retried with new seeds, then recorded as failures with a reason and counted. Plain-text sentences: candidates the
quality gate rejects are regenerated with new seeds until the plan gets a passing one or the rounds are spent;
the best passing candidate is kept; what stays rejected is recorded with every candidate's reason. The run
completes and loses nothing.

The engines here are scripted stand-ins (fault injection): the real engines are tested elsewhere."""

import json

import pytest
from pydantic import ValidationError

from dualalign.alignment.config import AlignmentConfig, GateConfig, GroundingConfig
from dualalign.alignment.gate import QualityGate
from dualalign.alignment.grounding import Grounder
from dualalign.alignment.plans import build_labelset_plans, build_note_plans
from dualalign.errors import EngineError
from dualalign.generate.engine import Engine
from dualalign.generate.outputs import build_outputs, generation_figures
from dualalign.generate.records import GenerationRecord, GenerationResult, TriedCandidate, read_generations
from dualalign.generate.run import generate_plans
from dualalign.generate.sampling import SamplingConfig
from dualalign.runfolder import GENERATIONS
from dualalign.trajectories import demo_profiles, load_pack, sample_label_mentions, sample_trajectories
from dualalign.trajectories.config import TrajectoryConfig

SAMPLING = SamplingConfig()

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
            reply = {"sentences": [{"section": "Subjective", "text": "He repeats questions.", "label": LABEL}]}
            text, finish = json.dumps(reply), "stop"
            if fault == "not_json":
                text = "Sure! Here are the sentences: he repeats questions."
            elif fault == "cut_off":
                text, finish = text[:25], "length"
            elif fault == "unknown_label":
                reply["sentences"][0]["label"] = "headache"
                text = json.dumps(reply)
            results.append(GenerationResult(id=r.id, text=text, finish_reason=finish, seed=r.seed, completion_tokens=9))
            if on_result:
                on_result(results[-1])
        return results


def two_patient_plans(pack, cfg: AlignmentConfig):
    profiles = demo_profiles(pack, 2, seed=0)
    return build_note_plans(profiles, sample_trajectories(profiles, TrajectoryConfig(), seed=0), pack, cfg, seed=0)


def gate(pack) -> QualityGate:
    return QualityGate(pack, GroundingConfig(), GateConfig())


def test_bad_json_notes_are_retried_then_recorded_and_counted(tmp_path):
    pack = load_pack("alzheimers")
    cfg = AlignmentConfig(max_notes_per_patient=2, variants=["guided"], granularity="notes", chunk_size=2)
    plans = two_patient_plans(pack, cfg)
    faults = {plans[0].id: "not_json", plans[1].id: "cut_off", plans[2].id: "unknown_label"}
    engine = ScriptedEngine(faults)
    summary = generate_plans(plans, engine, tmp_path, gate(pack), cfg, SAMPLING, progress=False)
    assert summary.planned == len(plans) and summary.failed == 3
    records = {r.id: r for r in read_generations(tmp_path / GENERATIONS)}
    assert set(records) == {p.id for p in plans}  # every plan ends as output or recorded failure
    assert all(engine.calls[pid] == 3 for pid in faults)  # first try + 2 retries
    assert all(records[pid].attempts == 3 for pid in faults)
    assert records[plans[0].id].error.startswith("invalid JSON reply")
    assert records[plans[1].id].error.startswith("cut off at max_tokens")
    assert "headache" in records[plans[2].id].error
    assert all(records[p.id].error is None for p in plans[3:])
    kinds = [records[plans[i].id].error_kind for i in range(3)]
    assert kinds == ["invalid_json", "cut_off", "schema"]

    notes_df, sentences, rejections = build_outputs(plans, list(records.values()), Grounder(pack, GroundingConfig()),
                                                    gate(pack))  # fmt: skip
    figures = generation_figures(plans, list(records.values()), sentences, rejections)["guided"]
    assert figures["failed"] == 3
    assert figures["failures_by_kind"] == {"invalid_json": 1, "cut_off": 1, "schema": 1}
    # "He repeats questions." is 3 words: the gate rejects it in every note, so nothing reaches the sentences
    assert figures["sentences"] == 0 and figures["rejections_by_reason"] == {"too_short": len(plans) - 3}

    again = generate_plans(plans, ScriptedEngine({}), tmp_path, gate(pack), cfg, SAMPLING, progress=False)  # none left
    assert again.generated == 0 and again.resumed == len(plans)
    assert len(read_generations(tmp_path / GENERATIONS)) == len(plans)


GOOD = [
    "She often loses her train of thought mid-sentence and struggles to find common words in conversation.",
    "Her husband has taken over the household bills after several payments were missed this spring.",
    "He was unsteady on the stairs and has fallen twice at home since the previous appointment.",
    "Over recent weeks he has become withdrawn, sleeping late and skipping his usual church group.",
    "She could not recall any of the three words after five minutes and misnamed the current season.",
    "His daughter now lays out his pills each morning because he doubled doses twice last month.",
    "At night she wanders the hallway looking for her late mother and becomes tearful when redirected.",
    "He no longer cooks for himself after leaving the stove on twice, and meals are delivered daily.",
    "Appetite is poor; she eats half her meals and her clothes have become noticeably loose.",
    "He insists neighbours are taking his tools and has called the police about it twice.",
]


class TextEngine(Engine):
    """Plain-text replies by (plan, attempt, candidate), parsed from request ids `<plan>#<attempt>.<candidate>`."""

    name = "scripted-text"

    def __init__(self, script):
        self.script = script
        self.requests = 0

    def generate(self, requests, on_result=None):
        results = []
        for r in requests:
            plan, _, rest = r.id.partition("#")
            attempt, candidate = map(int, rest.split(".")) if rest else (0, 0)
            self.requests += 1
            text = self.script(plan, attempt, candidate)
            results.append(GenerationResult(id=r.id, text=text, finish_reason="stop", seed=r.seed, completion_tokens=5))
        return results


def test_rejected_candidates_are_regenerated_until_one_passes_or_the_rounds_are_spent(tmp_path):
    pack = load_pack("alzheimers")
    cfg = AlignmentConfig(max_notes_per_patient=1, variants=["unguided"], gate=GateConfig(candidates=2, rounds=2))
    plans = two_patient_plans(pack, cfg)
    late, never = plans[0].id, plans[1].id
    index = {p.id: i for i, p in enumerate(plans)}
    assert len(plans) <= len(GOOD)

    def script(plan, attempt, candidate):
        if plan == never or (plan == late and attempt < 2):
            bad = ["Name: [X] Date: [Date] Title: [X] Visit: [X]", "This is a response in the format of JSON."]
            return bad[candidate]
        return GOOD[index[plan]]

    engine = TextEngine(script)
    generate_plans(plans, engine, tmp_path, gate(pack), cfg, SAMPLING, progress=False)
    records = {r.id: r for r in read_generations(tmp_path / GENERATIONS)}
    assert set(records) == {p.id for p in plans}
    assert records[late].error is None and records[late].attempts == 3 and records[late].text == GOOD[0]
    assert records[never].error.startswith("rejected: no candidate passed the quality gate")
    assert records[never].error_kind == "rejected" and records[never].attempts == 3
    assert {c.reason for c in records[never].candidates} == {"placeholder", "task_talk"}
    assert len(records[never].candidates) == 2 * 3  # two candidates in each of three rounds
    assert engine.requests == 2 * len(plans) + 2 * 2 * 2  # two plans went round twice more

    notes_df, sentences, rejections = build_outputs(plans, list(records.values()), Grounder(pack, GroundingConfig()),
                                                    gate(pack))  # fmt: skip
    assert never not in set(sentences["plan_id"]) and late in set(sentences["plan_id"])
    assert not sentences["text"].str.contains(r"\[X\]|JSON").any()  # rejected text reaches no output
    figures = generation_figures(plans, list(records.values()), sentences, rejections)["unguided"]
    assert figures["failed"] == 1 and figures["failures_by_kind"] == {"rejected": 1}
    assert figures["rejections_by_reason"] == {"placeholder": 3, "task_talk": 3, **figures["rejections_by_reason"]}


def test_best_of_n_keeps_the_grounded_candidate(tmp_path):
    pack = load_pack("alzheimers")
    cfg = AlignmentConfig(max_notes_per_patient=1, variants=["guided"], gate=GateConfig(candidates=3, rounds=0))
    plans = two_patient_plans(pack, cfg)
    terms = {p.id: p.mentions[0].term for p in plans}

    def script(plan, attempt, candidate):
        off_topic = "The weather was pleasant and she enjoyed a long walk in the park with her grandchildren today."
        grounded = f"On examination she shows {terms[plan]}, noted again at this visit by the clinician."
        return [off_topic, grounded, "Patient was seen."][candidate]

    generate_plans(plans, TextEngine(script), tmp_path, gate(pack), cfg, SAMPLING, progress=False)
    for record in read_generations(tmp_path / GENERATIONS):
        assert record.text.startswith(f"On examination she shows {terms[record.id]}"), record


def test_kept_candidates_become_sentences_of_their_own(tmp_path):
    pack = load_pack("alzheimers")
    cfg = AlignmentConfig(max_notes_per_patient=1, variants=["unguided"],
                          gate=GateConfig(candidates=3, rounds=0, keep=2))  # fmt: skip
    plans = two_patient_plans(pack, cfg)[:3]
    index = {p.id: i for i, p in enumerate(plans)}

    def script(plan, attempt, candidate):
        first, second = GOOD[2 * index[plan]], GOOD[2 * index[plan] + 1]
        return [first, first.replace(" often", ""), second][candidate]  # the second is a near-copy of the first

    generate_plans(plans, TextEngine(script), tmp_path, gate(pack), cfg, SAMPLING, progress=False)
    records = read_generations(tmp_path / GENERATIONS)
    for r in records:
        kept = [r.text, *r.more]
        assert len(kept) == 2 and GOOD[2 * index[r.id] + 1] in kept, kept  # never both near-copies
    _, sentences, _ = build_outputs(plans, records, Grounder(pack, GroundingConfig()), gate(pack))
    assert len(sentences) == 2 * len(plans) and sentences["sentence_id"].is_unique


def test_the_text_is_the_start_of_the_reply_and_its_continuation(tmp_path):
    pack = load_pack("symptom2disease")
    cfg = AlignmentConfig(gate=GateConfig(candidates=1, rounds=0))
    [plan, _] = build_labelset_plans(sample_label_mentions(pack, 1, seed=0).head(1), pack, ["guided", "unguided"],
                                     cfg, seed=0)  # fmt: skip
    continuation = ", and the red patches on my elbows crack and bleed when I bend my arms."
    generate_plans([plan], TextEngine(lambda *_: continuation), tmp_path, gate(pack), cfg, SAMPLING, progress=False)
    [record] = read_generations(tmp_path / GENERATIONS)
    assert plan.reply_start and record.text == plan.reply_start + continuation


def test_a_label_set_reply_is_cut_after_its_sentences_before_it_is_judged(tmp_path):
    """A small model rarely stops after the 2 or 3 sentences asked for; what follows drifts (and once ran past
    `max_words`, rejecting the whole text). The first `item_sentences` are judged and kept."""
    pack = load_pack("symptom2disease")
    cfg = AlignmentConfig(item_sentences=2, gate=GateConfig(candidates=1, rounds=0))
    [plan, _] = build_labelset_plans(sample_label_mentions(pack, 1, seed=0).head(1), pack, ["guided", "unguided"],
                                     cfg, seed=0)  # fmt: skip
    first = " on my elbows that cracks and bleeds. It itches most at night."
    drift = " I hope you have a great day. " + "You are going to be fine, right? " * 12
    generate_plans([plan], TextEngine(lambda *_: first + drift), tmp_path, gate(pack), cfg, SAMPLING, progress=False)
    [record] = read_generations(tmp_path / GENERATIONS)
    assert record.error is None and record.text == plan.reply_start + first


def test_a_generation_record_has_one_shape_and_known_error_kinds():
    rejected = GenerationRecord(id="p", variant="guided", error="rejected: no candidate passed", error_kind="rejected",
                                candidates=[TriedCandidate(text="x", reason="too_short")])  # fmt: skip
    assert GenerationRecord.model_validate_json(rejected.model_dump_json()) == rejected and not rejected.texts
    with pytest.raises(ValidationError, match="error_kind"):
        GenerationRecord(id="p", variant="guided", error="x", error_kind="gone")
    with pytest.raises(ValidationError, match="together"):
        GenerationRecord(id="p", variant="guided", error="x")


def test_an_engine_that_works_on_more_requests_at_once_gets_larger_chunks(tmp_path):
    """An actor pool (capacity: replicas x batch size) gets at least that many requests per call, so none idles."""
    pack = load_pack("alzheimers")
    cfg = AlignmentConfig(max_notes_per_patient=2, variants=["guided", "unguided"], chunk_size=2,
                          gate=GateConfig(candidates=2, rounds=0))  # fmt: skip
    plans = two_patient_plans(pack, cfg)
    calls = []

    class Pool(TextEngine):
        capacity = 12

        def generate(self, requests, on_result=None):
            calls.append(len(requests))
            return super().generate(requests, on_result)

    generate_plans(plans, Pool(lambda plan, attempt, k: GOOD[k]), tmp_path, gate(pack), cfg, SAMPLING, progress=False)
    assert len(plans) > 6 and calls[0] == 12  # 6 plans x 2 candidates, not chunk_size's 2 plans
    assert sum(calls) == 2 * len(plans)
    assert sorted(r.id for r in read_generations(tmp_path / GENERATIONS)) == sorted(p.id for p in plans)


class StoppingEngine(Engine):
    """Replies in the clinician's or the speakers' voice, and fails (as a dead server does) at request `stop_at`."""

    name = "stopping"

    def __init__(self, stop_at: int | None = None):
        self.stop_at, self.calls = stop_at, 0

    def generate(self, requests, on_result=None):
        results = []
        for r in requests:
            self.calls += 1
            if self.calls == self.stop_at:
                raise EngineError("the server went away", results)
            spoken = r.messages[-1].content.startswith("Doctor:")
            text = f" How are you today, case {self.calls}?\nPatient: Not well, doctor, for reason {self.calls}." \
                if spoken else f" is noted at visit step {self.calls} and reviewed with the patient."  # fmt: skip
            results.append(GenerationResult(id=r.id, text=text, finish_reason="stop", seed=r.seed, completion_tokens=9))
            if on_result:
                on_result(results[-1])
        return results


@pytest.mark.parametrize("stop_at", [3, 10])  # among the conversation's 8 pieces; among the note's sections
def test_a_dialogue_first_generation_stopped_midway_resumes_exactly_once(tmp_path, stop_at):
    from dualalign.alignment.encounters import build_section_plans
    from dualalign.alignment.stage import write_plans
    from dualalign.generate import EngineConfig
    from dualalign.generate.run import run_generation_stage
    from dualalign.io import read_jsonl
    from dualalign.runfolder import CONVERSATION_PLANS, CONVERSATIONS, PLANS, RunFolder

    pack = load_pack("alzheimers")
    cfg = AlignmentConfig(granularity="encounters", variants=["guided"], max_notes_per_patient=1, chunk_size=1,
                          conversation={"order": "dialogue_first"}, gate={"candidates": 1, "rounds": 0})  # fmt: skip
    profiles = demo_profiles(pack, 1, seed=0)
    run = RunFolder(tmp_path)
    sections = build_section_plans(profiles, sample_trajectories(profiles, TrajectoryConfig(), seed=0), pack, cfg, 0)
    write_plans(run.file(PLANS), sections)
    args = (cfg, EngineConfig(), SAMPLING, "alzheimers", run, "key", False)
    with pytest.raises(EngineError, match="run again to resume"):
        run_generation_stage(*args, StoppingEngine(stop_at), seed=5)
    written = {name: [r["id"] for r in read_jsonl(run.file(name))] for name in (CONVERSATIONS, GENERATIONS)
               if run.file(name).exists()}  # fmt: skip
    assert 0 < sum(map(len, written.values())) < stop_at
    run_generation_stage(*args, StoppingEngine(), seed=5)
    pieces = [r["id"] for r in read_jsonl(run.file(CONVERSATIONS))]
    planned = {p["id"] for p in read_jsonl(run.file(CONVERSATION_PLANS))}
    assert len(pieces) == len(set(pieces)) and set(pieces) == planned
    assert bool(written.get(GENERATIONS)) == (stop_at > len(planned))
    asked = [r["id"] for r in read_jsonl(run.file(GENERATIONS))]
    assert len(asked) == len(set(asked)) == len(sections) and not set(asked) & {p.id for p in sections}
    assert all(set(written.get(name, [])) <= set(ids) for name, ids in ((CONVERSATIONS, pieces), (GENERATIONS, asked)))
