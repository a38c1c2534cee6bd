"""Plans: variants differ only in their alignment; ids are content hashes; templates can be overridden."""

from datetime import date

import pytest

from dualalign.alignment.config import AlignmentConfig
from dualalign.alignment.plans import build_labelset_plans, build_note_plans, select_notes
from dualalign.errors import ConfigError
from dualalign.generate import SamplingConfig
from dualalign.generate.candidates import plan_request
from dualalign.trajectories import demo_profiles, load_pack, sample_label_mentions, sample_trajectories
from dualalign.trajectories.config import TrajectoryConfig


@pytest.fixture(scope="module")
def pack():
    return load_pack("alzheimers")


@pytest.fixture(scope="module")
def cohort(pack):
    profiles = demo_profiles(pack, 3, seed=1)
    return profiles, sample_trajectories(profiles, TrajectoryConfig(), seed=1)


def plans_for(pack, cohort, **cfg):
    profiles, notes = cohort
    return build_note_plans(profiles, notes, pack, AlignmentConfig(max_notes_per_patient=2, **cfg), seed=3)


def test_variants_share_sentence_label_and_seed_but_not_alignment(pack, cohort):
    plans = plans_for(pack, cohort)
    _, notes = cohort
    planned = sum(len(m) for m in notes.groupby("patient_id").tail(2)["mentions"])  # latest two notes, per mention
    assert len(plans) == 4 * planned
    by_unit: dict[int, dict] = {}
    for p in plans:
        by_unit.setdefault(p.seed, {})[p.variant] = p
    assert len(by_unit) == planned
    for variants in by_unit.values():
        assert len({p.id for p in variants.values()}) == 4
        assert len({(p.note_id, tuple(p.labels), p.mentions[0].term) for p in variants.values()}) == 1
        guided, unguided = variants["guided"], variants["unguided"]
        statistical, semantic = variants["statistical"], variants["semantic"]
        prompt = {v: p.prompt for v, p in variants.items()}
        term = guided.mentions[0].term
        age = f"{guided.profile['age']}-year-old"
        assert age in prompt["guided"] and age in prompt["statistical"]
        assert "year-old" not in prompt["unguided"] and "year-old" not in prompt["semantic"]
        assert term in prompt["guided"] and term in prompt["semantic"]
        assert term not in prompt["unguided"] and term not in prompt["statistical"]
        label_name = pack.labels[guided.labels[0]].name.lower()
        assert all(label_name in text for text in prompt.values())  # every variant is told the label it writes
        assert "stage" in prompt["semantic"] and "stage" not in prompt["unguided"]
        assert "JSON" not in prompt["guided"] and guided.stop == ["\n"] and guided.n_sentences == 1
        assert guided.prompted and semantic.prompted and not unguided.prompted and not statistical.prompted
        assert unguided.profile is None and statistical.profile == guided.profile
        shots = [m for m in guided.messages[1:-1] if m.role == "assistant"]
        assert len(shots) == 1 and shots[0].content in {e for lab in pack.labels.values() for e in lab.examples}
        assert [m.content for m in guided.messages[:-1]] == [m.content for m in unguided.messages[:-1]]
        assert guided.reply_start == ""  # clinician voice: the model starts its own reply


def test_whole_notes_ask_for_labelled_json(pack, cohort):
    plans = plans_for(pack, cohort, granularity="notes")
    assert all(p.structured and "JSON" in p.prompt and not p.reply_start for p in plans)
    assert all(plan_request(p, SamplingConfig(max_tokens=64)).sampling.max_tokens >= 384 for p in plans)


def test_plan_ids_are_stable_and_depend_on_content(pack, cohort):
    first, again = plans_for(pack, cohort), plans_for(pack, cohort)
    assert [p.id for p in first] == [p.id for p in again]
    later = plans_for(pack, cohort, diagnosis_date=date(2025, 6, 1))
    assert not {p.id for p in first} & {p.id for p in later}


def test_select_notes_keeps_the_latest_and_spreads_the_rest(cohort):
    _, notes = cohort
    kept = select_notes(notes, 3)
    for pid, group in kept.groupby("patient_id"):
        original = notes[notes["patient_id"] == pid]
        assert len(group) == 3
        assert group["visit_day"].max() == original["visit_day"].max()
        assert group["visit_day"].min() == original["visit_day"].min()


def test_templates_override_file_by_file(pack, cohort, tmp_path):
    (tmp_path / "sentence.j2").write_text("CUSTOM for {{ condition }}")
    plans = plans_for(pack, cohort, templates=tmp_path, variants=["guided"])
    assert plans[0].prompt.startswith("CUSTOM ")
    assert "clinician" in plans[0].messages[0].content  # system.j2 still the built-in one


def test_labelset_plans_and_variant_checks(pack):
    items = sample_label_mentions(pack, 2, seed=0)
    plans = build_labelset_plans(items, pack, ["guided", "unguided"], AlignmentConfig(), seed=0)
    assert len(plans) == len(items) * 2
    guided = [p for p in plans if p.variant == "guided"]
    assert all(p.labels == [p.mentions[0].label] for p in plans)
    assert all(m.term in p.messages[1].content for p in guided for m in p.mentions)
    assert all(p.stop == ["\n\n"] and "JSON" not in p.messages[1].content for p in plans)
    with pytest.raises(ConfigError, match="guided and unguided only"):
        build_labelset_plans(items, pack, ["semantic"], AlignmentConfig(), seed=0)


def test_labelset_replies_start_alike_and_only_guided_starts_with_its_term(tmp_path):
    pack = load_pack("symptom2disease")
    items = sample_label_mentions(pack, 3, seed=0)
    plans = build_labelset_plans(items, pack, ["guided", "unguided"], AlignmentConfig(), seed=0)
    for guided, unguided in zip(plans[::2], plans[1::2], strict=True):
        term = guided.mentions[0].term
        assert guided.messages[-1].role == "assistant" and guided.reply_start.endswith(" " + term)
        assert unguided.reply_start == guided.reply_start.removesuffix(" " + term)  # the same opening, no term
        assert guided.prompt == guided.messages[-2].content and term not in unguided.reply_start
    assert len({p.reply_start for p in plans[1::2]}) > 1  # openings vary by item
    (tmp_path / "reply_start.j2").write_text("")  # a user's template can turn reply starts off
    plain = build_labelset_plans(items, pack, ["guided"], AlignmentConfig(templates=tmp_path), seed=0)
    assert all(p.messages[-1].role == "user" and p.reply_start == "" for p in plain)


def test_duplicate_variants_are_a_config_error():
    with pytest.raises(ValueError, match="variants repeat"):
        AlignmentConfig(variants=["guided", "guided"])


@pytest.mark.parametrize("granularity", ["sentences", "notes"])
def test_sparse_profiles_render(pack, cohort, granularity):
    """Missing race, sex and education (an 'other' race, a NaN) leave those words out instead of failing."""
    profiles, notes = cohort
    sparse = profiles.assign(race_ethnicity="other", sex=None, education_years=float("nan"))
    plans = build_note_plans(sparse, notes, pack, AlignmentConfig(max_notes_per_patient=1, granularity=granularity,
                                                                  variants=["guided"]), seed=0)  # fmt: skip
    for p in plans:
        prompt = p.prompt
        assert "-year-old patient" in prompt or "-year-old person" in prompt, prompt
        assert "other patient" not in prompt and " nan" not in prompt and "None" not in prompt
