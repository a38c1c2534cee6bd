"""Check (and fit) the pack's stage model against real longitudinal visits, e.g. OASIS-2 (CDR over days).

Each pair of consecutive visits of a subject is an interval at risk in the stage of its first visit (stages
from the pack's `cdr` lists); it is an event when the second visit is in a later stage. The observed annual
rate is 1 - exp(-events / person-years), with an exact Poisson 95% interval. The pack's rate is the
probability of leaving the stage within a year from a random time inside it (`annual_progression_rate`),
at the reference age and at the cohort's mean age. `fitted_mean_years` is the mean duration (at the
reference age, the pack's coefficient of variation kept) that would reproduce the observed rate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, stats

from dualalign.errors import DataError
from dualalign.trajectories.pack import ConditionPack, Duration
from dualalign.trajectories.stages import DAYS_PER_YEAR, annual_progression_rate

OASIS_COLUMNS = {"subject": "Subject ID", "days": "MR Delay", "cdr": "CDR", "age": "Age"}


def read_visits(path: str | Path, columns: dict[str, str] = OASIS_COLUMNS) -> pd.DataFrame:
    """Visits as (subject, days, cdr, age) from a CSV with OASIS-2's column names (or the ones given)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    raw = pd.read_csv(path)
    missing = [c for c in columns.values() if c not in raw.columns]
    if missing:
        raise DataError(f"{path}: missing column {missing[0]!r} (needs {', '.join(columns.values())})")
    visits = raw[list(columns.values())].set_axis(list(columns), axis=1)
    for col in ("days", "cdr", "age"):
        visits[col] = pd.to_numeric(visits[col], errors="coerce")
    return visits.dropna()


def observed_transitions(visits: pd.DataFrame, pack: ConditionPack) -> pd.DataFrame:
    """Per stage: intervals, events, person-years, mean age, observed annual rate and its 95% interval."""
    stage_of = {cdr: i for i, s in enumerate(pack.stages) for cdr in (s.cdr or [])}
    v = visits.assign(stage=visits["cdr"].map(stage_of)).dropna(subset=["stage"])
    v = v.sort_values(["subject", "days"])
    nxt = v.groupby("subject")[["stage", "days"]].shift(-1)
    pairs = v.assign(next_stage=nxt["stage"], years=(nxt["days"] - v["days"]) / DAYS_PER_YEAR).dropna()
    pairs = pairs[pairs["years"] > 0]
    rows = []
    for i, stage in enumerate(pack.stages):
        p = pairs[pairs["stage"] == i]
        events, py = int((p["next_stage"] > i).sum()), float(p["years"].sum())
        lo = stats.chi2.ppf(0.025, 2 * events) / 2 / py if py and events else 0.0
        hi = stats.chi2.ppf(0.975, 2 * events + 2) / 2 / py if py else np.nan
        rows.append(
            {
                "stage": stage.id,
                "cdr": ",".join(f"{c:g}" for c in stage.cdr or []),
                "intervals": len(p),
                "events": events,
                "person_years": py,
                "mean_age": float(p["age"].mean()) if len(p) else np.nan,
                "observed_rate": 1 - np.exp(-events / py) if py else np.nan,
                "observed_low": 1 - np.exp(-lo) if py else np.nan,
                "observed_high": 1 - np.exp(-hi) if py else np.nan,
            }
        )
    return pd.DataFrame(rows)


def fit_mean_duration(observed_rate: float, duration: Duration, hazard_ratio: float) -> float:
    """The mean duration (reference age, same CV) whose annual rate at `hazard_ratio` equals `observed_rate`."""
    if not 0 < observed_rate < 1:
        return np.nan
    cv = duration.sd / duration.mean

    def gap(log_mean: float) -> float:
        m = float(np.exp(log_mean))
        return annual_progression_rate(Duration(mean=m, sd=cv * m), hazard_ratio) - observed_rate

    return float(np.exp(optimize.brentq(gap, np.log(0.05), np.log(500.0))))


def calibration_table(visits: pd.DataFrame, pack: ConditionPack) -> pd.DataFrame:
    """Pack rates next to observed rates, per stage with a duration and a CDR mapping."""
    obs = observed_transitions(visits, pack)
    eff = pack.age_effect
    out = []
    for row, stage in zip(obs.to_dict("records"), pack.stages):
        d = stage.duration_years
        if d is None or not stage.cdr:
            continue
        hr = eff.hr_per_decade ** ((row["mean_age"] - eff.reference_age) / 10) if row["intervals"] else 1.0
        row |= {
            "pack_mean_years": d.mean,
            "pack_rate": annual_progression_rate(d),
            "pack_rate_at_cohort_age": annual_progression_rate(d, hr) if row["intervals"] else np.nan,
            "fitted_mean_years": fit_mean_duration(row["observed_rate"], d, hr) if row["intervals"] else np.nan,
        }
        out.append(row)
    return pd.DataFrame(out)


def calibrated_pack_data(pack: ConditionPack, table: pd.DataFrame, min_events: int = 1) -> dict:
    """The pack as data with each stage's mean (and sd, CV kept) set to the fitted duration, where the cohort
    saw at least `min_events` transitions; the change is recorded in the stage's `assumption`."""
    data = pack.model_dump(mode="json", exclude_none=True)
    fitted = table.set_index("stage")
    for stage in data["stages"]:
        if stage["id"] not in fitted.index:
            continue
        row = fitted.loc[stage["id"]]
        if row["events"] < min_events or not np.isfinite(row["fitted_mean_years"]):
            continue
        d = stage["duration_years"]
        cv = d["sd"] / d["mean"]
        d["mean"], d["sd"] = round(float(row["fitted_mean_years"]), 3), round(float(row["fitted_mean_years"]) * cv, 3)
        was = pack.stages[pack.stage_ids.index(stage["id"])].duration_years.mean
        d["assumption"] = (f"fitted to {int(row['events'])} transitions in {row['person_years']:.1f} person-years "
                           f"of a calibration cohort (was {was} y)")
    return data
