"""Patient profiles as the trajectory samplers read them, and a small demo generator for standalone use."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dualalign.errors import DataError
from dualalign.trajectories.pack import ConditionPack

REQUIRED = ("patient_id", "age")


def check_profiles(profiles: pd.DataFrame, source: str = "profiles") -> pd.DataFrame:
    """Check the profile columns the samplers need; return the table with `patient_id` as str."""
    for col in REQUIRED:
        if col not in profiles.columns:
            raise DataError(f"{source}: missing column {col!r} (profiles need {', '.join(REQUIRED)})")
    if profiles["patient_id"].duplicated().any():
        dup = profiles["patient_id"][profiles["patient_id"].duplicated()].iloc[0]
        raise DataError(f"{source}: column 'patient_id' has duplicate value {dup!r}")
    age = pd.to_numeric(profiles["age"], errors="coerce")
    if age.isna().any() or (age <= 0).any():
        bad = profiles["age"][age.isna() | (age <= 0)].iloc[0]
        raise DataError(f"{source}: column 'age' needs a positive number for every patient (got {bad!r})")
    out = profiles.copy()
    out["patient_id"] = out["patient_id"].astype(str)
    out["age"] = age.astype(float)
    return out


def risk_matrix(profiles: pd.DataFrame, names: list[str]) -> np.ndarray:
    """[patient, factor] booleans; a missing column or a missing value means the factor is absent."""
    cols = []
    for name in names:
        if name in profiles.columns:
            values = profiles[name].to_numpy(dtype=object)
            known = ~pd.isna(values)
            col = np.zeros(len(profiles), dtype=bool)
            col[known] = values[known].astype(bool)
            cols.append(col)
        else:
            cols.append(np.zeros(len(profiles), dtype=bool))
    return np.stack(cols, axis=1) if cols else np.zeros((len(profiles), 0), dtype=bool)


def demo_profiles(pack: ConditionPack, n: int, seed: int | np.random.Generator = 0) -> pd.DataFrame:
    """`n` profiles drawn independently from the pack's reference-population marginals (no correlations).

    For trying the semantic layer alone; real runs take profiles from the cohort layer.
    """
    pop = pack.reference_population
    if pop is None:
        raise DataError(f"pack {pack.name!r} has no reference_population; pass a profile table instead")
    rng = np.random.default_rng(seed)
    age = np.clip(rng.normal(pop.age.mean, pop.age.sd, n), pop.age.min, pop.age.max).round().astype(int)
    races = list(pop.race_ethnicity)
    p_race = np.array([pop.race_ethnicity[r] for r in races], dtype=float)
    df = pd.DataFrame(
        {
            "patient_id": [f"P{i + 1:05d}" for i in range(n)],
            "age": age,
            "sex": np.where(rng.random(n) < pop.female, "F", "M"),
            "race_ethnicity": np.array(races)[rng.choice(len(races), n, p=p_race / p_race.sum())],
            "education_years": np.clip(rng.normal(*pop.education_years, n), 0, 25).round(),
        }
    )
    for name, prevalence in pop.risk_factors.items():
        df[name] = rng.random(n) < prevalence
    return df
