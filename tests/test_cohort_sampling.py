"""Sampling: exact quotas (a rare stratum included), oversampling, seeds, impossible conditions."""

from __future__ import annotations

import pandas as pd
import pytest

from dualalign.cohorts import CohortConfig, Oversample, Quota, Range, fit_synthesizer, load_reference, sample_profiles
from dualalign.cohorts.sampling import REJECTION_BUDGET, matches
from dualalign.errors import ConfigError

# about 1 in 100,000 profiles: rejection sampling within its budget of draws runs dry
RARE = {"race_ethnicity": "african_american", "sex": "M", "stage_at_diagnosis": "severe_dementia",
        "smoking_status": "current", "age": Range(min=93)}


@pytest.fixture(scope="module")
def reference():
    return load_reference(CohortConfig(spec_rows=3000), seed=0)


@pytest.fixture(scope="module")
def synthesizer(reference):
    return fit_synthesizer(reference, seed=0)


def test_quotas_are_exact_including_a_stratum_too_rare_for_rejection(synthesizer, reference):
    quotas = [Quota(where={"race_ethnicity": "african_american", "sex": "F", "age": {"min": 85}}, count=50),
              Quota(where=RARE, count=10, name="rare")]
    profiles, log = sample_profiles(synthesizer, reference, 300, quotas=quotas, seed=1)
    assert len(profiles) == 300
    assert matches(profiles, quotas[0].where).sum() == 50
    assert matches(profiles, RARE).sum() == 10
    rare = log["strata"][1]
    assert rare["rejection"]["drawn"] == REJECTION_BUDGET and rare["rejection"]["matched"] < 10
    assert rare["method"] in {"conditional", "rejection+conditional"}
    assert log["strata"][0]["method"] == "rejection"


def test_profile_contract_and_stable_ids(synthesizer, reference):
    profiles, _ = sample_profiles(synthesizer, reference, 25, seed=2)
    assert list(profiles["patient_id"][:3]) == ["P00001", "P00002", "P00003"]
    assert profiles["patient_id"].is_unique and profiles.columns[0] == "patient_id"
    assert profiles["age"].dtype == "int64" and set(profiles["sex"]) <= {"F", "M"}
    assert profiles["hypertension"].dtype == bool


def test_same_seed_same_profiles(synthesizer, reference):
    quotas = [Quota(where={"sex": "M", "race_ethnicity": "hispanic"}, count=7)]
    a, _ = sample_profiles(synthesizer, reference, 60, quotas=quotas, seed=5)
    b, _ = sample_profiles(synthesizer, reference, 60, quotas=quotas, seed=5)
    c, _ = sample_profiles(synthesizer, reference, 60, quotas=quotas, seed=6)
    pd.testing.assert_frame_equal(a, b)
    assert not a.drop(columns="patient_id").equals(c.drop(columns="patient_id"))


def test_oversampling_raises_the_share_of_a_rare_group(synthesizer, reference):
    where = {"race_ethnicity": "other"}
    share = matches(reference, where).mean()
    profiles, log = sample_profiles(synthesizer, reference, 400, oversample=[Oversample(where=where, weight=4)],
                                    seed=3)
    expected = round(400 * 4 * share / (4 * share + 1 - share))
    assert matches(profiles, where).sum() == expected == log["strata"][0]["count"]
    assert expected / 400 > 2.5 * share


def test_no_exact_copies_of_reference_rows(synthesizer, reference):
    profiles, log = sample_profiles(synthesizer, reference, 500, seed=4)
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
        sample_profiles(synthesizer, reference, 10, quotas=[Quota(where=where, count=2)])


def test_overlapping_and_oversized_quotas(synthesizer, reference):
    overlapping = [Quota(where={"sex": "F"}, count=2), Quota(where={"age": {"max": 70}}, count=2)]
    with pytest.raises(ConfigError, match=r"quotas\[0\] and cohort\.quotas\[1\] overlap"):
        sample_profiles(synthesizer, reference, 10, quotas=overlapping)
    with pytest.raises(ConfigError, match="ask for 11 profiles, more than n_profiles=10"):
        sample_profiles(synthesizer, reference, 10, quotas=[Quota(where={"sex": "F"}, count=11)])
