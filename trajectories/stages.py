"""The stage model: a semi-Markov chain over the pack's ordered stages, with gamma sojourn times.

Times are in years relative to diagnosis (negative before). Each patient gets a stage at diagnosis (from the
profile's `stage_at_diagnosis`, else drawn from the pack), a full gamma duration for every stage, and the
diagnosis placed uniformly inside its stage. Age and risk factors scale the progression hazard: every duration
is divided by the patient's hazard ratio (an accelerated-failure-time model).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import integrate, stats

from dualalign.errors import DataError
from dualalign.trajectories.pack import ConditionPack, Duration
from dualalign.trajectories.profiles import risk_matrix

DAYS_PER_YEAR = 365.25


def progression_hazard_ratios(profiles: pd.DataFrame, pack: ConditionPack) -> np.ndarray:
    """Per patient: age effect x the product of the hazard ratios of the risk factors they have."""
    age = profiles["age"].to_numpy(dtype=float)
    hr = pack.age_effect.hr_per_decade ** ((age - pack.age_effect.reference_age) / 10.0)
    names = list(pack.risk_factors)
    if names:
        log_hr = np.log([pack.risk_factors[n].progression_hr for n in names])
        hr = hr * np.exp(risk_matrix(profiles, names) @ log_hr)
    return hr


def annual_progression_rate(duration: Duration, hazard_ratio: float = 1.0) -> float:
    """P(moving to the next stage within a year) for someone observed at a random time inside the stage.

    For a renewal process this is (1/mean) * integral_0^1 S(u) du, S the survival function of the sojourn time;
    it is the figure a cohort observed at arbitrary visits estimates.
    """
    dist = stats.gamma(duration.gamma_shape, scale=duration.sd**2 / duration.mean / hazard_ratio)
    return float(integrate.quad(dist.sf, 0.0, 1.0)[0] / dist.mean())


@dataclass
class StageTimelines:
    """Sampled stage timelines of N patients over the pack's S stages (years relative to diagnosis)."""

    stage_ids: list[str]
    diagnosis_stage: np.ndarray  # [N] stage index at diagnosis
    entry_years: np.ndarray  # [N, S] when each stage starts (-inf: before any visit; nan: never reached)
    durations: np.ndarray  # [N, S] sampled sojourn times (nan: open-ended stage)
    death_years: np.ndarray  # [N] end of the last stage when the pack says it ends in death, else inf
    hazard_ratio: np.ndarray  # [N]

    def stage_at(self, patient: np.ndarray, years: np.ndarray) -> np.ndarray:
        """Stage index of `patient[i]` at time `years[i]` (times before the first entry are in the first stage)."""
        later = self.entry_years[patient, 1:]
        return (np.nan_to_num(later, nan=np.inf) <= years[:, None]).sum(axis=1)


def diagnosis_stages(profiles: pd.DataFrame, pack: ConditionPack, rng: np.random.Generator) -> np.ndarray:
    """Stage index at diagnosis: the profile's `stage_at_diagnosis` where given, else drawn from the pack."""
    ids = pack.stage_ids
    p = np.array([pack.diagnosis_stage.get(s, 0.0) for s in ids])
    drawn = rng.choice(len(ids), size=len(profiles), p=p / p.sum())
    if "stage_at_diagnosis" not in profiles.columns:
        return drawn
    given = profiles["stage_at_diagnosis"]
    known = given.notna().to_numpy()
    bad = ~given[known].isin(ids)
    if bad.any():
        raise DataError(
            f"profiles: column 'stage_at_diagnosis' has unknown stage {given[known][bad].iloc[0]!r} "
            f"(pack {pack.name!r} stages: {', '.join(ids)})"
        )
    index = {s: i for i, s in enumerate(ids)}
    drawn[known] = given[known].map(index).to_numpy()
    return drawn


def sample_timelines(
    profiles: pd.DataFrame, pack: ConditionPack, seed: int | np.random.Generator = 0
) -> StageTimelines:
    """Sample every patient's stage timeline (vectorised over patients; a loop over the few stages)."""
    rng = np.random.default_rng(seed)
    n, s = len(profiles), len(pack.stages)
    diag = diagnosis_stages(profiles, pack, rng)
    hr = progression_hazard_ratios(profiles, pack)
    durations = np.full((n, s), np.nan)
    for j, stage in enumerate(pack.stages):
        d = stage.duration_years
        if d is not None:
            durations[:, j] = rng.gamma(d.gamma_shape, d.sd**2 / d.mean, size=n) / hr
    u = rng.random(n)
    rows = np.arange(n)
    entry = np.full((n, s), np.nan)
    d_diag = durations[rows, diag]
    entry[rows, diag] = np.where(np.isfinite(d_diag), -u * d_diag, np.where(diag == 0, -np.inf, 0.0))
    for j in range(s - 2, -1, -1):  # stages before diagnosis, walking back
        m = j < diag
        entry[m, j] = entry[m, j + 1] - np.nan_to_num(durations[m, j], nan=np.inf)
    for j in range(1, s):  # stages after diagnosis, walking forward
        m = j > diag
        entry[m, j] = entry[m, j - 1] + durations[m, j - 1]
    death = np.full(n, np.inf)
    if pack.death_after_last_stage and pack.stages[-1].duration_years is not None:
        death = entry[:, -1] + durations[:, -1]
    return StageTimelines(pack.stage_ids, diag, entry, durations, death, hr)
