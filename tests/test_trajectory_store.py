"""The trajectory store: known-answer retrieval on a small hand-made store, with the real MiniLM encoder."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from dualalign.encoders import load_sentence_encoder
from dualalign.errors import DataError
from dualalign.trajectories import TrajectoryConfig, load_pack, sample_trajectories
from dualalign.trajectories.stage import source_figures
from dualalign.trajectories.store import TrajectoryStore, notes_to_table

# patient -> (age, sex, risk factors, [(day, note type, stage, [(label, term), ...]), ...])
PATIENTS = {
    "A": (70, "F", {"depression"}, [
        (-900, "primary_care", "mci", [("cognitive_impairment", "forgetfulness"),
                                       ("cognitive_impairment", "repeats questions")]),
        (-200, "neurology", "mild_dementia", [("functional_impairment", "trouble managing finances")]),
        (0, "neurology", "mild_dementia", [("concern_by_others", "spouse reports repeated questions")]),
    ]),
    "B": (85, "M", set(), [
        (-400, "geriatrics", "moderate_dementia", [("neuropsychiatric_symptoms", "visual hallucinations"),
                                                   ("neuropsychiatric_symptoms", "wandering")]),
        (0, "neurology", "moderate_dementia", [("neuropsychiatric_symptoms", "aggression")]),
    ]),
    "C": (72, "F", {"hypertension"}, [
        (-3000, "primary_care", "prodromal", [("physiological_changes", "insomnia")]),
        (0, "neurology", "mci", [("physiological_changes", "weight loss")]),
    ]),
    "D": (60, "M", {"diabetes"}, [
        (-100, "primary_care", "mci", [("cognitive_impairment", "word-finding difficulty")]),
        (0, "neurology", "mci", []),
    ]),
    "E": (78, "F", {"stroke"}, [
        (-50, "primary_care", "mild_dementia", [("functional_impairment", "needs help bathing"),
                                                ("physiological_changes", "urinary incontinence")]),
    ]),
}


def store_table() -> pd.DataFrame:
    rows = []
    factors = ["depression", "hypertension", "diabetes", "stroke"]
    for pid, (age, sex, rf, notes) in PATIENTS.items():
        profile = {"patient_id": pid, "age": age, "sex": sex, **{f: f in rf for f in factors}}
        for day, note_type, stage, mentions in notes:
            base = {**profile, "visit_day": day, "note_type": note_type, "stage": stage}
            rows += [{**base, "label": lab, "term": term} for lab, term in mentions] or [
                {**base, "label": None, "term": None}]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def pack():
    return load_pack("alzheimers")


@pytest.fixture(scope="module")
def encoder():
    """The real embedded all-MiniLM-L6-v2, loaded once for this module."""
    return load_sentence_encoder("embedded:minilm-l6")


@pytest.fixture(scope="module")
def store(pack, encoder):
    return TrajectoryStore(store_table(), pack).build_index(encoder)


def profile_like(pid: str, **changes) -> pd.DataFrame:
    age, sex, rf, _ = PATIENTS[pid]
    row = {"patient_id": "Q1", "age": age, "sex": sex, "depression": "depression" in rf,
           "hypertension": "hypertension" in rf, "diabetes": "diabetes" in rf, "stroke": "stroke" in rf}
    return pd.DataFrame([{**row, **changes}])


def test_store_groups_notes_and_derives_stage_at_diagnosis(store):
    assert len(store.notes) == sum(len(n) for *_, n in PATIENTS.values())
    assert store.notes.loc[store.notes.patient_id == "D", "mentions"].map(len).tolist() == [1, 0]
    stage = store.patients.set_index("patient_id")["stage_at_diagnosis"].to_dict()
    assert stage == {"A": "mild_dementia", "B": "moderate_dementia", "C": "mci", "D": "mci", "E": "mild_dementia"}
    a = store.patients.set_index("patient_id").loc["A", "summary"]
    assert a.startswith("Woman aged 70 at diagnosis with depression.") and "repeats questions" in a


def test_profile_only_retrieval_known_order(store):
    """With the embedding off, ranks and scores follow the documented profile similarity exactly."""
    nb = store.neighbors(profile_like("A"), k=5, embedding_weight=0.0)
    assert nb["patient_id"].tolist() == ["A", "C", "E", "B", "D"]
    # C: age 2 years off, same sex, 2 of the pack's 6 risk factors disagree (depression, hypertension)
    expected_c = (math.exp(-2 / 5) + 1 + 4 / 6) / 3
    assert nb["score"].tolist()[:2] == pytest.approx([1.0, expected_c])
    expected_d = (math.exp(-10 / 5) + 0 + 4 / 6) / 3
    assert nb["score"].iloc[-1] == pytest.approx(expected_d)


def test_retrieval_each_patient_finds_itself(store):
    for pid in PATIENTS:
        nb = store.neighbors(profile_like(pid), k=2)  # default mix: 0.7 profile + 0.3 embedding
        assert nb["patient_id"].iloc[0] == pid


def test_stage_at_diagnosis_breaks_ties(store):
    # a 65-year-old man without risk factors sits between B and D; stage at diagnosis picks the one that matches
    base = {"age": 72.5, "sex": "M", "depression": False, "hypertension": False, "diabetes": False,
            "stroke": False}
    for stage, want in (("moderate_dementia", "B"), ("mci", "D")):
        q = pd.DataFrame([{"patient_id": "Q", **base, "stage_at_diagnosis": stage}])
        assert store.neighbors(q, k=1, embedding_weight=0.0)["patient_id"].iloc[0] == want


def test_embedding_index_finds_symptoms(store):
    """The MiniLM index: a free-text symptom query finds the patient whose trajectory has those symptoms."""
    q = profile_like("C")
    cases = {
        "B": "sees things that are not there, hallucinating, wanders off and becomes aggressive",
        "E": "needs assistance with bathing and has urinary incontinence",
        "A": "keeps forgetting things and repeating the same questions; cannot manage money",
    }
    for want, text in cases.items():
        nb = store.neighbors(q, k=5, embedding_weight=1.0, texts=[text])
        assert nb["patient_id"].iloc[0] == want, (text, nb)


def test_sample_copies_the_neighbour_shifted_to_the_profile(store):
    q = profile_like("B", patient_id="NEW", age=80)
    out = store.sample(q, k=1, embedding_weight=0.0, seed=0)
    assert out["visit_day"].tolist() == [-400, 0]
    assert out["note_id"].tolist() == ["NEW-N001", "NEW-N002"]
    assert out["age_at_visit"].tolist() == pytest.approx([80 - 400 / 365.25, 80])
    assert [m["term"] for m in out["mentions"].iloc[0]] == ["visual hallucinations", "wandering"]
    assert out["mentions"].iloc[0][0]["domain"] == "neuropsychiatric"
    # the window drops older notes
    short = store.sample(profile_like("C"), k=1, embedding_weight=0.0, years_before=1, seed=0)
    assert short["visit_day"].tolist() == [0]


def test_store_validation(pack):
    table = store_table()
    with pytest.raises(DataError, match="column 'label' has unknown value 'mood'"):
        TrajectoryStore(table.assign(label=table["label"].where(table.index != 0, "mood")), pack)
    with pytest.raises(DataError, match="column 'stage' has unknown value 'early'"):
        TrajectoryStore(table.assign(stage="early"), pack)
    with pytest.raises(DataError, match="missing column 'visit_day'"):
        TrajectoryStore(table.drop(columns="visit_day"), pack)
    with pytest.raises(DataError, match="'age' differs within patient 'A'"):
        TrajectoryStore(table.assign(age=np.arange(len(table))), pack)


def test_model_filled_store_and_pipeline(pack, encoder, tmp_path):
    """Without real trajectories the store is filled from the pack's model; the pipeline reads a store file."""
    store = TrajectoryStore.from_model(pack, 40, seed=4)
    assert store.patients["patient_id"].nunique() == 40
    path = tmp_path / "store.parquet"
    store.table.to_parquet(path)
    profiles = store.patients[["patient_id", "age", "sex", *pack.risk_factors]].head(5)
    cfg = TrajectoryConfig(store=path, k_neighbors=1, embedding_weight=0.0, day_jitter=0)
    out = sample_trajectories(profiles, cfg, seed=0)
    # k=1 on an identical profile, without jitter, returns the stored patient's own notes: every timeline links
    for pid in profiles["patient_id"]:
        own = store.notes[store.notes.patient_id == pid]
        got = out[out.patient_id == pid]
        assert got["visit_day"].tolist() == own["visit_day"].tolist()
        assert got["mentions"].tolist() == own["mentions"].tolist()
    assert source_figures(out, cfg)["timeline_linkage"] == 1.0
    # the multiplier tops up mentions from the model, never repeating a term in a note
    store.build_index(encoder)
    dense = store.sample(profiles, k=3, mention_multiplier=3.0, seed=1)
    base = store.sample(profiles, k=3, seed=1)
    assert dense["mentions"].map(len).sum() == pytest.approx(3 * base["mentions"].map(len).sum(), rel=0.15)
    assert all(len({m["term"] for m in ms}) == len(ms) for ms in dense["mentions"])


def test_day_jitter_unlinks_copied_timelines(pack, tmp_path):
    """Store retrieval copies a real patient's visit days; the default jitter moves each day by up to 14 days,
    and then (almost) no sampled timeline equals a stored one."""
    store = TrajectoryStore.from_model(pack, 60, seed=2)
    path = tmp_path / "store.parquet"
    store.table.to_parquet(path)
    profiles = store.patients[["patient_id", "age", "sex", *pack.risk_factors]]
    cfg = TrajectoryConfig(store=path, k_neighbors=1, embedding_weight=0.0)
    assert cfg.day_jitter == 14
    out = sample_trajectories(profiles, cfg, seed=0)
    copied = sample_trajectories(profiles, cfg.model_copy(update={"day_jitter": 0}), seed=0)
    assert all(g["visit_day"].is_monotonic_increasing for _, g in out.groupby("patient_id"))
    span = out.groupby("patient_id")["visit_day"].agg(["min", "max", "size"])
    stored = copied.groupby("patient_id")["visit_day"].agg(["min", "max", "size"])
    assert (span["size"] == stored["size"]).all()  # the same notes, only their dates moved
    assert (span[["min", "max"]] - stored[["min", "max"]]).abs().to_numpy().max() <= 14
    assert (out["visit_day"].to_numpy() != copied["visit_day"].to_numpy()).mean() > 0.9
    assert source_figures(copied, cfg)["timeline_linkage"] == 1.0
    assert source_figures(out, cfg)["timeline_linkage"] <= 0.05


def test_notes_to_table_round_trip(pack):
    from dualalign.trajectories.profiles import demo_profiles
    from dualalign.trajectories.sample import sample_from_model

    profiles = demo_profiles(pack, 10, seed=0)
    notes = sample_from_model(profiles, pack, seed=0).notes
    store = TrajectoryStore(notes_to_table(notes, profiles), pack)
    rebuilt = store.notes.sort_values(["patient_id", "visit_day"], kind="stable").reset_index(drop=True)
    assert len(rebuilt) == len(notes)
    assert sorted(map(len, rebuilt["mentions"])) == sorted(map(len, notes["mentions"]))
