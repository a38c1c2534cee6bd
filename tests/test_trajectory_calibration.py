"""Calibration of the stage model against the real OASIS-2 longitudinal visits (CDR over MR Delay days)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from dualalign.errors import DataError
from dualalign.pipeline.cli import app
from dualalign.trajectories import load_pack
from dualalign.trajectories.calibration import (
    calibrated_pack_data,
    calibration_table,
    fit_mean_duration,
    observed_transitions,
    read_visits,
)
from dualalign.trajectories.pack import pack_from_data
from dualalign.trajectories.stages import annual_progression_rate


@pytest.fixture(scope="module")
def pack():
    return load_pack("alzheimers")


@pytest.fixture(scope="module")
def visits(shared_data):
    return read_visits(shared_data / "oasis_longitudinal.csv")


def test_observed_transitions_known_counts(visits, pack, shared_data):
    """Counts checked independently against the raw file with a plain loop over subjects."""
    raw = pd.read_csv(shared_data / "oasis_longitudinal.csv").sort_values(["Subject ID", "MR Delay"])
    expected: dict[float, list[float]] = {}
    for _, g in raw.groupby("Subject ID"):
        cdr, days = g["CDR"].tolist(), g["MR Delay"].tolist()
        for a, b, d0, d1 in zip(cdr, cdr[1:], days, days[1:]):
            e = expected.setdefault(a, [0, 0, 0.0])
            e[0] += 1
            e[1] += b > a
            e[2] += (d1 - d0) / 365.25
    obs = observed_transitions(visits, pack).set_index("cdr")
    for cdr, (n, events, py) in expected.items():
        row = obs.loc[f"{cdr:g}"]
        assert (row["intervals"], row["events"]) == (n, events)
        assert row["person_years"] == pytest.approx(py)
    assert obs.loc["0.5", ["intervals", "events"]].tolist() == [70, 13]
    assert obs.loc["0.5", "observed_rate"] == pytest.approx(1 - np.exp(-13 / obs.loc["0.5", "person_years"]))


def test_calibration_table_and_fit(visits, pack):
    table = calibration_table(visits, pack).set_index("stage")
    assert table.loc["mci", "pack_rate"] == pytest.approx(annual_progression_rate(pack.stages[1].duration_years))
    # OASIS-2 progresses more slowly than the pack (a volunteer research cohort); the fit reproduces its rates
    for stage in ("prodromal", "mci", "mild_dementia"):
        row = table.loc[stage]
        assert row["observed_low"] <= row["observed_rate"] <= row["observed_high"]
        duration = pack.stages[pack.stage_ids.index(stage)].duration_years
        hr = pack.age_effect.hr_per_decade ** ((row["mean_age"] - pack.age_effect.reference_age) / 10)
        mean = row["fitted_mean_years"]
        fitted = type(duration)(mean=mean, sd=mean * duration.sd / duration.mean)
        assert annual_progression_rate(fitted, hr) == pytest.approx(row["observed_rate"], abs=1e-6)
    assert np.isnan(table.loc["moderate_dementia", "observed_rate"])  # OASIS-2 has no CDR 2 follow-up
    calibrated = pack_from_data(calibrated_pack_data(pack, table.reset_index()), "calibrated")
    assert calibrated.stages[1].duration_years.mean == pytest.approx(table.loc["mci", "fitted_mean_years"], abs=1e-3)
    assert calibrated.stages[3].duration_years.mean == pack.stages[3].duration_years.mean
    assert np.isnan(fit_mean_duration(0.0, pack.stages[1].duration_years, 1.0))


def test_cli_calibrate_prints_table(shared_data, tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["packs", "calibrate", "--oasis", str(shared_data / "oasis_longitudinal.csv"),
                                 "--json", str(tmp_path / "cal.json"), "--fit-out", str(tmp_path / "fit.yaml")],
                           env={"COLUMNS": "220"})
    assert result.exit_code == 0, result.output
    assert "mild_dementia" in result.output and "0.095" in result.output  # observed MCI rate
    assert load_pack(str(tmp_path / "fit.yaml")).name == "alzheimers"
    bad = tmp_path / "bad.csv"
    bad.write_text("Subject ID,CDR\nx,0\n")
    result = runner.invoke(app, ["packs", "calibrate", "--oasis", str(bad)])
    assert isinstance(result.exception, DataError) and "missing column 'MR Delay'" in str(result.exception)
