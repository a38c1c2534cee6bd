"""Trajectory sampling from the Alzheimer's pack: 10,000 patients checked against the pack's figures.

Tolerances (10,000 patients, about 430,000 notes):
- mean stage durations (x the patient's hazard ratio): within 2% of the pack mean (about 3 standard errors);
- share of time leaving a stage within a year: within 0.01 of `annual_progression_rate`;
- mentions per note, per stage: within 3% of the pack's mean (x the multiplier);
- label shares per stage: within 0.015 of the pack's proportions (with a risk factor: of the renormalised ones);
- visits per note type over the window: within 4 Poisson standard errors of the pack's rates (0.4% of the
  expected count for primary care, 5% for neuropsychology).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from dualalign.errors import DataError
from dualalign.pipeline.cli import app
from dualalign.trajectories import TrajectoryConfig, load_pack, read_trajectories, sample_trajectories
from dualalign.trajectories.profiles import demo_profiles
from dualalign.trajectories.sample import NOTE_COLUMNS, sample_from_model
from dualalign.trajectories.stage import write_trajectories
from dualalign.trajectories.stages import DAYS_PER_YEAR, annual_progression_rate

N = 10_000


@pytest.fixture(scope="module")
def pack():
    return load_pack("alzheimers")


def reference_profiles(n: int, depression: bool = False) -> pd.DataFrame:
    """Profiles at the pack's reference age; only a depression column (other risk-factor columns missing)."""
    return pd.DataFrame({"patient_id": [f"P{i + 1:05d}" for i in range(n)], "age": 70,
                         "sex": np.where(np.arange(n) % 2, "F", "M"), "depression": depression})


@pytest.fixture(scope="module")
def plain(pack):
    return sample_from_model(reference_profiles(N), pack, years_after=3, seed=11)


@pytest.fixture(scope="module")
def depressed(pack):
    return sample_from_model(reference_profiles(N, depression=True), pack, years_after=3, seed=12)


def label_shares(notes: pd.DataFrame, stage: str, labels: list[str]) -> np.ndarray:
    counts = Counter(m["label"] for ms in notes.loc[notes["stage"] == stage, "mentions"] for m in ms)
    total = sum(counts.values())
    return np.array([counts[lab] / total for lab in labels])


def test_columns_and_ids(plain):
    notes = plain.notes
    assert list(notes.columns) == NOTE_COLUMNS
    assert notes["patient_id"].nunique() == N
    assert notes["note_id"].is_unique
    assert notes["note_id"].iloc[0] == "P00001-N001"
    assert notes["visit_day"].dtype == np.int64
    assert notes["visit_day"].between(np.floor(-10 * DAYS_PER_YEAR), 3 * DAYS_PER_YEAR).all()
    assert (notes.groupby("patient_id")["visit_day"].apply(lambda d: d.is_monotonic_increasing)).all()
    assert np.allclose(notes["age_at_visit"], 70 + notes["visit_day"] / DAYS_PER_YEAR)


def test_mean_stage_durations_match_pack(pack, plain, depressed):
    for sample, hr in ((plain, 1.0), (depressed, pack.risk_factors["depression"].progression_hr)):
        assert np.allclose(sample.timelines.hazard_ratio, hr)
        for j, stage in enumerate(pack.stages):
            d = sample.timelines.durations[:, j]
            assert (d > 0).all()
            assert d.mean() * hr == pytest.approx(stage.duration_years.mean, rel=0.02), stage.id
            assert d.std() * hr == pytest.approx(stage.duration_years.sd, rel=0.05), stage.id


def test_annual_rate_formula_matches_simulation(pack, plain):
    """P(leave within a year | random time in the stage) = E[min(D, 1)] / E[D] for the sampled durations."""
    for j, stage in enumerate(pack.stages):
        d = plain.timelines.durations[:, j]
        assert np.minimum(d, 1).sum() / d.sum() == pytest.approx(annual_progression_rate(stage.duration_years),
                                                                  abs=0.01)


def test_note_stage_follows_timeline(pack, plain):
    notes, tl = plain.notes, plain.timelines
    pid = notes["patient_id"].str[1:].astype(int).to_numpy() - 1
    expected = np.array(pack.stage_ids)[tl.stage_at(pid, notes["visit_day"].to_numpy() / DAYS_PER_YEAR)]
    assert (notes["stage"].to_numpy() == expected).all()
    # stages never go back within a patient
    order = notes["stage"].map({s: i for i, s in enumerate(pack.stage_ids)})
    assert (order.groupby(notes["patient_id"]).diff().fillna(0) >= 0).all()
    # the diagnosis note (day 0, neurology) is in the stage at diagnosis; the drawn shares follow the pack
    dx = notes[(notes["visit_day"] == 0) & (notes["note_type"] == "neurology")].drop_duplicates("patient_id")
    assert len(dx) == N
    assert (dx["stage"].map(pack.stage_ids.index).to_numpy() == tl.diagnosis_stage).all()
    shares = dx["stage"].value_counts(normalize=True)
    for stage, p in pack.diagnosis_stage.items():
        assert shares.get(stage, 0) == pytest.approx(p, abs=0.015)
    # no note after death (end of severe dementia)
    death_day = np.floor(tl.death_years[pid] * DAYS_PER_YEAR)
    assert (notes["visit_day"].to_numpy() <= death_day).all()


def test_mentions_per_note_match_pack(pack, plain):
    per_stage = plain.notes["mentions"].map(len).groupby(plain.notes["stage"]).mean()
    for stage in pack.stages:
        assert per_stage[stage.id] == pytest.approx(stage.mentions_per_note, rel=0.03), stage.id
    assert plain.notes["mentions"].map(len).min() >= pack.mentions.minimum


def test_label_proportions_match_pack(pack, plain):
    for i, stage in enumerate(pack.stage_ids):
        assert np.abs(label_shares(plain.notes, stage, pack.label_ids) - pack.label_proportions[i]).max() < 0.015


def test_depression_raises_neuropsychiatric_mentions(pack, plain, depressed):
    j = pack.label_ids.index("neuropsychiatric_symptoms")
    mult = np.ones(len(pack.label_ids))
    mult[j] = pack.risk_factors["depression"].label_multipliers["neuropsychiatric_symptoms"]
    for i, stage in enumerate(pack.stage_ids):
        expected = pack.label_proportions[i] * mult / (pack.label_proportions[i] * mult).sum()
        got = label_shares(depressed.notes, stage, pack.label_ids)
        assert np.abs(got - expected).max() < 0.015, stage
        assert got[j] > label_shares(plain.notes, stage, pack.label_ids)[j]


def test_terms_follow_lexicon_and_never_repeat_in_a_note(pack, plain):
    lexicon = {t.term: t for t in pack.lexicon}
    weights = dict(zip(pack.stage_ids, pack.term_weights))
    index = {t.term: i for i, t in enumerate(pack.lexicon)}
    for stage, mentions in zip(plain.notes["stage"].to_numpy()[:50_000], plain.notes["mentions"][:50_000]):
        terms = [m["term"] for m in mentions]
        assert len(set(terms)) == len(terms)
        for m in mentions:
            t = lexicon[m["term"]]
            assert (m["label"], m["domain"]) == (t.label, t.domain)
            assert weights[stage][index[m["term"]]] > 0
    # weights matter: within a stage and label, a term of weight 1 is drawn more often than one of weight 0.1
    severe = Counter(m["term"] for ms in plain.notes.loc[plain.notes.stage == "severe_dementia", "mentions"]
                     for m in ms)
    assert severe["dysphagia"] > 3 * severe["insomnia"]  # end (1.0) vs earliest (0.1) weights


def test_visit_rates_match_pack(pack, plain):
    notes = plain.notes[plain.notes["visit_day"] < 0]  # before diagnosis nobody has died
    for nt in pack.note_types:
        years, rates = nt.rate_segments()
        grid = np.arange(-10, 0, 0.001)
        expected = N * np.sum(rates[np.maximum(np.searchsorted(years, grid, side="right") - 1, 0)]) * 0.001
        got = (notes["note_type"] == nt.id).sum()
        assert abs(got - expected) < 4 * np.sqrt(expected), nt.id  # 4 Poisson standard errors
    by_year = plain.notes.assign(year=np.floor(plain.notes.visit_day / DAYS_PER_YEAR))
    neuro = by_year[by_year.note_type == "neurology"].groupby("year").size()
    assert neuro[-1] > 10 * neuro[-10]  # specialist visits rise before diagnosis


def test_mention_multiplier(pack):
    out = sample_from_model(reference_profiles(2000), pack, mention_multiplier=5.0, seed=3).notes
    per_stage = out["mentions"].map(len).groupby(out["stage"]).mean()
    for stage in pack.stages:
        if stage.id in per_stage:
            assert per_stage[stage.id] == pytest.approx(5 * stage.mentions_per_note, rel=0.03), stage.id
    assert all(len({m["term"] for m in ms}) == len(ms) for ms in out["mentions"])


def test_seeded_and_window(pack):
    profiles = demo_profiles(pack, 50, seed=1)
    cfg = TrajectoryConfig(years_before=4, years_after=2)
    a, b = sample_trajectories(profiles, cfg, seed=5), sample_trajectories(profiles, cfg, seed=5)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(sample_trajectories(profiles, cfg, seed=6))
    assert a["visit_day"].min() >= np.floor(-4 * DAYS_PER_YEAR) and a["visit_day"].max() <= 2 * DAYS_PER_YEAR


def test_profiles_contract(pack):
    minimal = pd.DataFrame({"patient_id": ["a", "b"], "age": [66, 90]})  # no sex, no risk-factor columns
    out = sample_trajectories(minimal, TrajectoryConfig(), seed=0)
    assert set(out["patient_id"]) == {"a", "b"}
    given = minimal.assign(stage_at_diagnosis=["mci", None])
    out = sample_trajectories(given, TrajectoryConfig(), seed=0)
    assert out.loc[(out.patient_id == "a") & (out.visit_day == 0), "stage"].iloc[0] == "mci"
    with pytest.raises(DataError, match="'stage_at_diagnosis' has unknown stage 'mild'"):
        sample_trajectories(minimal.assign(stage_at_diagnosis="mild"), TrajectoryConfig(), seed=0)
    with pytest.raises(DataError, match="missing column 'age'"):
        sample_trajectories(minimal.drop(columns="age"), TrajectoryConfig(), seed=0)
    with pytest.raises(DataError, match="duplicate value 'a'"):
        sample_trajectories(pd.concat([minimal, minimal]), TrajectoryConfig(), seed=0)


def test_parquet_round_trip(pack, tmp_path):
    notes = sample_from_model(demo_profiles(pack, 30, seed=2), pack, seed=2).notes
    write_trajectories(tmp_path / "trajectories.parquet", notes)
    back = read_trajectories(tmp_path / "trajectories.parquet")
    assert back["mentions"].tolist() == notes["mentions"].tolist()
    pd.testing.assert_frame_equal(back.drop(columns="mentions"), notes.drop(columns="mentions"))
    import pyarrow.parquet as pq

    assert str(pq.read_schema(tmp_path / "trajectories.parquet").field("mentions").type) == (
        "list<element: struct<label: string, term: string, domain: string>>")


def test_cli_sample_and_show(tmp_path):
    runner = CliRunner()
    out = tmp_path / "traj.parquet"
    result = runner.invoke(app, ["trajectories", "sample", "--pack", "alzheimers", "--n", "5", "--seed", "0",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    notes = read_trajectories(out)
    assert notes["patient_id"].nunique() == 5
    result = runner.invoke(app, ["trajectories", "show", str(out), "--patient", "P00001",
                                 "--diagnosis-date", "2024-01-01"])
    assert result.exit_code == 0, result.output
    first = notes[notes.patient_id == "P00001"].iloc[0]
    assert first["mentions"][0]["term"] in result.output and "P00001-N001" in result.output
    assert "2024-01-01" in result.output  # the diagnosis visit
    profiles = tmp_path / "traj.profiles.parquet"
    again = tmp_path / "again.parquet"
    result = runner.invoke(app, ["trajectories", "sample", "--profiles", str(profiles), "--seed", "0",
                                 "--out", str(again)])
    assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(read_trajectories(again), notes)
    result = runner.invoke(app, ["trajectories", "show", str(out), "--patient", "nobody"])
    assert isinstance(result.exception, DataError)
