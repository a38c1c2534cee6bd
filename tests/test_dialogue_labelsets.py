"""Dialogue-style label sets (`style: dialogue`): a flat pack whose labels are written as short doctor-patient
exchanges. Plans ask for an exchange begun "Doctor:" after example exchanges of other labels; a reply is cut after
its turns; the gate judges it by the dialogue rules, not the sentence-voice ones; `tstr` scores the exchanges on real
conversation snippets (ACI-Bench chunks labelled by the note section that reports them)."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from dualalign.alignment.config import AlignmentConfig, ConversationGateConfig, GateConfig, GroundingConfig
from dualalign.alignment.dialogue import REASONS as DIALOGUE_REASONS
from dualalign.alignment.dialogue import conversation_reasons, parse_dialogue
from dualalign.alignment.encounter_gate import SPEECH_PATTERNS, EncounterGate
from dualalign.alignment.plans import build_labelset_plans
from dualalign.errors import ConfigError, DataError
from dualalign.generate.candidates import complete_text, target_of
from dualalign.generate.records import GenerationResult
from dualalign.trajectories import load_pack, sample_label_mentions
from dualalign.trajectories.pack import builtin_pack_dir, pack_from_data

PACK = "aci_sections"
SECTIONS = ["chief complaint", "history of present illness", "review of systems", "past medical history",
            "medications", "family history", "social history", "physical exam", "results", "assessment and plan",
            "instructions"]  # fmt: skip


@pytest.fixture(scope="module")
def pack():
    return load_pack(PACK)


def plans_of(pack, cfg=AlignmentConfig(), n=2):
    return build_labelset_plans(sample_label_mentions(pack, n, seed=0), pack, ["guided", "unguided"], cfg, seed=0)


def test_the_sections_pack_is_a_dialogue_label_set_whose_examples_pass_the_dialogue_rules(pack):
    assert pack.kind == "flat" and pack.style == "dialogue"
    assert [label.name for label in pack.labels.values()] == SECTIONS  # the snippet set's labels, by name
    rules = ConversationGateConfig(min_turns=2)
    for label in pack.labels.values():
        assert label.examples and all(conversation_reasons(parse_dialogue(e), rules) == [] for e in label.examples)


def test_dialogue_is_a_style_of_flat_packs_only():
    alz = yaml.safe_load((builtin_pack_dir() / "alzheimers.yaml").read_text())
    with pytest.raises(ConfigError, match="style: dialogue is for flat packs"):
        pack_from_data({**alz, "style": "dialogue"}, "alz.yaml")
    with pytest.raises(ConfigError, match="style: Input should be"):
        pack_from_data({**alz, "style": "chatty"}, "alz.yaml")
    flat = yaml.safe_load((builtin_pack_dir() / "symptom2disease.yaml").read_text())
    flat["labels"]["psoriasis"]["style"] = "dialogue"  # per label
    mixed = pack_from_data(flat, "flat.yaml")
    assert mixed.label_style("psoriasis") == "dialogue" and mixed.label_style("jaundice") == "patient-voice"


def test_dialogue_plans_ask_for_an_exchange_begun_by_the_doctor_after_example_exchanges(pack):
    cfg = AlignmentConfig(item_turns=5)
    plans = plans_of(pack, cfg)
    for guided, unguided in zip(plans[::2], plans[1::2], strict=True):
        label = pack.labels[guided.labels[0]]
        assert guided.reply_start == unguided.reply_start == "Doctor:"
        assert guided.style == "dialogue" and guided.max_turns == 5 and guided.max_sentences is None
        assert guided.stop == []  # blank lines between turns do not end it; the cut after its turns does
        assert label.definition in guided.prompt and all(m.term in guided.prompt for m in guided.mentions)
        assert label.name in unguided.prompt and label.definition not in unguided.prompt
        assert not any(t in unguided.prompt for t in label.terms)
        assert '"Doctor:"' in guided.prompt and "Doctor:" in guided.messages[0].content  # the system message
        roles = [m.role for m in guided.messages]
        assert roles == ["system", "user", "assistant", "user", "assistant"]  # one shot (alignment.shots: 1)
        shot = guided.messages[2].content
        assert shot in [e for other in pack.labels.values() if other is not label for e in other.examples]
        assert guided.messages[:3] == unguided.messages[:3]  # the same shot: only the alignment differs
    assert len({p.messages[2].content for p in plans}) > 1  # shots vary by item
    no_shots = plans_of(pack, AlignmentConfig(shots=0))
    assert [m.role for m in no_shots[0].messages] == ["system", "user", "assistant"]


def test_sentence_styles_keep_their_plans(pack):
    """A patient-voice label set is not touched by the dialogue style: no shots, cut by sentences."""
    s2d = load_pack("symptom2disease")
    for plan in plans_of(s2d):
        assert plan.max_turns is None and plan.max_sentences == 3 and plan.stop == ["\n\n"]
        assert [m.role for m in plan.messages] == ["system", "user", "assistant"]
        assert not target_of(plan).dialogue


def test_an_exchange_is_judged_as_dialogue(pack):
    plan = plans_of(pack)[0]
    target = target_of(plan)
    assert target.dialogue and target.exchange and target.label == plan.labels[0]
    assert target.terms == tuple(m.term for m in plan.mentions) and not target.patient_voice


def test_an_exchange_is_cut_after_its_turns_and_a_cut_off_turn_at_its_last_sentence():
    reply = " How long?\nPatient: A week.\n\nDoctor: Any fever?\nPatient: No.\nDoctor: Okay.\nPatient: Thanks."
    stop = GenerationResult(id="p", text=reply, finish_reason="stop", seed=0)
    assert complete_text(stop, None, "Doctor:", max_turns=4) == (
        "Doctor: How long?\nPatient: A week.\nDoctor: Any fever?\nPatient: No.")
    cut = GenerationResult(id="p", text=" How long?\nPatient: A week. It hurts wh", finish_reason="length", seed=0)
    assert complete_text(cut, None, "Doctor:", max_turns=6) == "Doctor: How long?\nPatient: A week."
    bare = GenerationResult(id="p", text=" How long?\nPatient: It hurts wh", finish_reason="length", seed=0)
    assert complete_text(bare, None, "Doctor:", max_turns=6) == "Doctor: How long?"
    assert complete_text(GenerationResult(id="p", text="", error="boom", seed=0), None, "Doctor:", 6) is None


def test_a_piece_cut_off_in_its_answer_keeps_the_answers_finished_sentences_or_is_cut_off():
    """A conversation piece (a begun answer "Patient:"): cut at max_tokens, it is judged up to the answer's last
    finished sentence; with none in the answer (or no answer at all), it is not judged (recorded cut_off)."""
    def cut(text):
        return complete_text(GenerationResult(id="p", text=text, finish_reason="length", seed=0), None, "Doctor:",
                             answer="Patient:")  # fmt: skip
    assert cut(" Any falls?\nPatient: I fell once. Then I wa") == "Doctor: Any falls?\nPatient: I fell once."
    assert cut(" Any falls?\nPatient: I fell once and then I wa") is None
    assert cut(" Any falls? Tell me about the last one and wh") is None
    done = GenerationResult(id="p", text=" Any falls?\nPatient: No", finish_reason="stop", seed=0)
    assert complete_text(done, None, "Doctor:", answer="Patient:") == "Doctor: Any falls?\nPatient: No"


# --- the gate, with the real MiniLM encoder and PHI detector -------------------------------------------------------
GOOD = ("Doctor: Has anyone in your family had heart trouble or diabetes?\n"
        "Patient: My mother has diabetes, and my older brother had a stroke last winter.")  # fmt: skip


@pytest.fixture(scope="module")
def gate(pack):
    return EncounterGate(pack, GroundingConfig(), GateConfig(), ConversationGateConfig())


@pytest.mark.parametrize("text, reason", [
    ("Doctor: Does anyone in your family have heart problems?\nThe patient thinks for a moment.\n"
     "Patient: My mother has diabetes.", "narrator_line"),
    ("Doctor: Does anyone in your family have heart problems?\nDoctor: Or diabetes?", "missing_speaker"),
    ("Doctor: Any heart problems in your family?\nPatient: My mother has diabetes.\nPatient: And my brother too.",
     "not_alternating"),
    ("Doctor: Any heart problems in the family?\nPatient: " + "My uncle had one and so did his son. " * 30,
     "turn_too_long"),
    ("Doctor: Hello Mr. Johnson, does heart disease run in your family?\nPatient: My mother has diabetes.", "phi"),
    ("Doctor: Does anyone in your family have heart problems?\n"  # the pack's own example, a shot
     "Patient: My dad had a heart attack in his fifties, and his brother did too.", "copy"),
])  # fmt: skip
def test_a_broken_exchange_is_rejected_by_the_dialogue_rules(gate, text, reason):
    target = target_of(plans_of(load_pack(PACK))[1])  # unguided
    assert gate.judge([text], target)[0].reason == reason


def test_an_exchange_keeps_to_its_label_but_need_not_say_every_term(pack, gate):
    family = next(p for p in plans_of(pack, n=1) if p.labels == ["family_history"] and p.variant == "guided")
    target = target_of(family)
    assert not any(t in GOOD for t in target.terms) or len(target.terms) > 1
    [verdict] = gate.judge([GOOD], target)
    assert verdict.passed, verdict  # not "finding_not_raised", nor a sentence rule ("wrong_voice", "label_echo")
    exam = "Doctor: I'm going to press on your belly now. Does it hurt here?\nPatient: A little, on the right side."
    assert gate.judge([exam], target)[0].reason == "off_label"
    assert gate.judge([exam], target_of(next(p for p in plans_of(pack, n=1) if p.labels == ["physical_exam"]
                                              and p.variant == "guided")))[0].passed  # fmt: skip


# --- tstr on real snippets, with the embedded model ----------------------------------------------------------------
@pytest.mark.slow
def test_tstr_scores_dialogue_exchanges_on_real_conversation_snippets(shared_data, tmp_path, vllm_engine, pack):
    from dualalign.eval.encounters import read_pairs
    from dualalign.eval.snippets import label_snippets
    from dualalign.pipeline.tstr import TstrConfig, run_tstr

    aci = shared_data / "aci_bench"
    names = {label.name for label in pack.labels.values()}

    def snippets(files: list[str], path):
        table = label_snippets(pd.concat([read_pairs(aci / f) for f in files], ignore_index=True))
        table[table["label"].isin(names)][["text", "label"]].to_csv(path, index=False)
        return path

    real = snippets(["clinicalnlp_taskB_test1.csv"], tmp_path / "test.csv")  # one test set: every label, 159 rows
    gold = snippets(["train.csv", "valid.csv"], tmp_path / "dev.csv")
    cfg = TstrConfig(real=real, gold=gold, pack=PACK, out=tmp_path / "out", per_label=1, seeds=[0])
    metrics = run_tstr(cfg, engine=vllm_engine, progress=False)
    assert list(metrics["tstr"]) == ["pack-prototype", "gold", "gold+guided", "gold+unguided", "guided", "unguided"]
    assert metrics["setup"]["test_rows"] == len(pd.read_csv(real))  # every real row scored; gold from its own file
    sentences = pd.read_parquet(tmp_path / "out" / "seed-0" / "sentences.parquet")
    assert len(sentences) > 0
    for text in sentences["text"]:  # accepted exchanges keep the dialogue rules
        turns = parse_dialogue(text)
        assert turns[0].speaker == "Doctor" and 2 <= len(turns) <= AlignmentConfig().item_turns
        assert conversation_reasons(turns, ConversationGateConfig(min_turns=2)) == []
    rejections = pd.read_parquet(tmp_path / "out" / "seed-0" / "rejections.parquet")
    allowed = {*SPEECH_PATTERNS, *DIALOGUE_REASONS, "prompt_echo", "near_duplicate", "off_label", "cut_off", "engine"}
    assert set(rejections["reason"]) <= allowed  # never a sentence-voice rule (wrong_voice, label_echo, too_long)
    for name in ("guided", "unguided"):
        assert metrics["tstr"][name]["n_train"]["mean"] == metrics["generation"]["0"][name]["sentences"]


def test_tstr_gold_is_a_share_of_the_real_file_or_a_file_of_its_own(tmp_path):
    from pydantic import ValidationError

    from dualalign.pipeline.tstr import TstrConfig, real_texts

    real, gold = tmp_path / "test.csv", tmp_path / "dev.csv"
    pd.DataFrame({"text": ["Doctor: Any fever?\nPatient: No."], "label": ["review of systems"]}).to_csv(real)
    pd.DataFrame({"text": ["Doctor: Do you smoke?\nPatient: No."], "label": ["social history"]}).to_csv(gold)
    cfg = TstrConfig(real=real, gold=gold, pack=PACK)
    assert real_texts(cfg) == ["Doctor: Any fever?\nPatient: No.", "Doctor: Do you smoke?\nPatient: No."]
    with pytest.raises(ValidationError, match="not gold and gold_fraction"):
        TstrConfig(real=real, gold=gold, gold_fraction=0.2, pack=PACK)
    pd.DataFrame({"text": ["x"], "label": ["vitals"]}).to_csv(gold)
    with pytest.raises(DataError, match="labels not in pack 'aci_sections': \\['vitals'\\]"):
        real_texts(cfg)
