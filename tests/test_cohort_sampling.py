"""The cohort synthesizer: exact quotas (a rare stratum included), oversampling, seeds, impossible conditions,
saving and loading."""

from __future__ import annotations

import pandas as pd
import pytest

from dualalign.cohorts import CohortConfig, CohortSynthesizer, Oversample, Quota, Range, load_reference
from dualalign.cohorts.sampling import REJECTION_BUDGET, matches
from dualalign.errors import ConfigError, DataError, DualAlignError

# about 1 in 100,000 profiles: rejection sampling within its budget of draws runs dry
RARE = {"race_ethnicity": "african_american", "sex": "M", "stage_at_diagnosis": "severe_dementia",
        "smoking_status": "current", "age": Range(min=93)}


@pytest.fixture(scope="module")
def reference():
    return load_reference(CohortConfig(spec_rows=3000), seed=0)


@pytest.fixture(scope="module")
def synthesizer(reference):
    return CohortSynthesizer(seed=0).fit(reference)


def test_quotas_are_exact_including_a_stratum_too_rare_for_rejection(synthesizer, reference):
    quotas = [Quota(where={"race_ethnicity": "african_american", "sex": "F", "age": {"min": 85}}, count=50),
              Quota(where=RARE, count=10, name="rare")]
    profiles, log = synthesizer.sample(300, quotas=quotas, seed=1)
    assert len(profiles) == 300
    assert matches(profiles, quotas[0].where).sum() == 50
    assert matches(profiles, RARE).sum() == 10
    rare = log["strata"][1]
    assert rare["rejection"]["drawn"] == REJECTION_BUDGET and rare["rejection"]["matched"] < 10
    assert rare["method"] in {"conditional", "rejection+conditional"}
    assert log["strata"][0]["method"] == "rejection"


def test_profile_contract_and_stable_ids(synthesizer, reference):
    profiles, _ = synthesizer.sample(25, seed=2)
    assert list(profiles["patient_id"][:3]) == ["P00001", "P00002", "P00003"]
    assert profiles["patient_id"].is_unique and profiles.columns[0] == "patient_id"
    assert profiles["age"].dtype == "int64" and set(profiles["sex"]) <= {"F", "M"}
    assert profiles["hypertension"].dtype == bool


def rows(profiles: pd.DataFrame) -> set[tuple]:
    return set(map(tuple, profiles.drop(columns="patient_id").astype(str).to_numpy()))


def test_same_seed_same_profiles_and_other_seeds_mostly_other_profiles(synthesizer):
    quotas = [Quota(where={"sex": "M", "race_ethnicity": "hispanic"}, count=7)]
    a, log_a = synthesizer.sample(60, quotas=quotas, seed=5)
    b, log_b = synthesizer.sample(60, quotas=quotas, seed=5)
    c, _ = synthesizer.sample(60, quotas=quotas, seed=6)
    pd.testing.assert_frame_equal(a, b)
    assert log_a == log_b
    assert len(rows(a) & rows(c)) < 0.5 * len(a)  # not the same profiles reordered
    default, _ = synthesizer.sample(60, quotas=quotas)  # the synthesizer's own seed
    pd.testing.assert_frame_equal(default, synthesizer.sample(60, quotas=quotas, seed=0)[0])


def test_save_and_load_round_trip(synthesizer, tmp_path):
    path = tmp_path / "private" / "synthesizer.pkl"
    synthesizer.save(path)
    loaded = CohortSynthesizer.load(path)
    assert (loaded.kind, loaded.seed) == ("gaussian_copula", 0) and loaded.metadata == synthesizer.metadata
    pd.testing.assert_frame_equal(loaded.training_, synthesizer.training_)
    quotas = [Quota(where={"sex": "F", "age": {"max": 70}}, count=5)]
    pd.testing.assert_frame_equal(loaded.sample(40, quotas=quotas, seed=9)[0],
                                  synthesizer.sample(40, quotas=quotas, seed=9)[0])
    assert [p.name for p in path.parent.iterdir()] == ["synthesizer.pkl"]  # no temporary file left


def test_load_and_use_errors(tmp_path):
    with pytest.raises(DataError, match="no fitted synthesizer; run `dualalign cohort fit` first"):
        CohortSynthesizer.load(tmp_path / "absent.pkl")
    (tmp_path / "other.pkl").write_bytes(__import__("pickle").dumps({"not": "a synthesizer"}))
    with pytest.raises(DataError, match="holds a dict, not a cohort synthesizer"):
        CohortSynthesizer.load(tmp_path / "other.pkl")
    (tmp_path / "torn.pkl").write_bytes(b"\x80\x04")
    with pytest.raises(DataError, match="not a readable cohort synthesizer"):
        CohortSynthesizer.load(tmp_path / "torn.pkl")
    with pytest.raises(DualAlignError, match="not fitted"):
        CohortSynthesizer().sample(5)
    with pytest.raises(ConfigError, match="unknown synthesizer 'gan'"):
        CohortSynthesizer("gan")


def test_oversampling_raises_the_share_of_a_rare_group(synthesizer, reference):
    where = {"race_ethnicity": "other"}
    share = matches(reference, where).mean()
    profiles, log = synthesizer.sample(400, oversample=[Oversample(where=where, weight=4)], seed=3)
    expected = round(400 * 4 * share / (4 * share + 1 - share))
    assert matches(profiles, where).sum() == expected == log["strata"][0]["count"]
    assert expected / 400 > 2.5 * share


def test_no_exact_copies_of_reference_rows(synthesizer, reference):
    profiles, log = synthesizer.sample(500, seed=4)
    keys = set(map(tuple, reference.astype(str).to_numpy()))
    assert not any(tuple(r) in keys for r in profiles[reference.columns].astype(str).to_numpy())
    assert log["exact_copies_rejected"] >= 0


@pytest.mark.parametrize(("where", "pattern"), [
    ({"race_ethnicity": "Martian"}, r"quotas\[0\]\.where\.race_ethnicity: 'Martian' does not occur"),
    ({"bmi": 30}, r"quotas\[0\]\.where\.bmi: no such profile column"),
    ({"age": {"min": 120}}, r"quotas\[0\]\.where\.age: the range age>=120 lies outside"),
    ({"sex": {"min": 1}}, r"a range needs a numeric column"),
])
def test_impossible_conditions(synthesizer, reference, where, pattern):
    with pytest.raises(ConfigError, match=pattern):
        synthesizer.sample(10, quotas=[Quota(where=where, count=2)])


def test_overlapping_and_oversized_quotas(synthesizer, reference):
    overlapping = [Quota(where={"sex": "F"}, count=2), Quota(where={"age": {"max": 70}}, count=2)]
    with pytest.raises(ConfigError, match=r"quotas\[0\] and cohort\.quotas\[1\] overlap"):
        synthesizer.sample(10, quotas=overlapping)
    with pytest.raises(ConfigError, match="ask for 11 profiles, more than n_profiles=10"):
        synthesizer.sample(10, quotas=[Quota(where={"sex": "F"}, count=11)])
