"""What a note may say about its patient: demographics at the visit date, risk factors, implied medications."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

# Common first-line drugs a chart would list for a risk factor (an assumption for realism, not advice).
MEDICATIONS: dict[str, list[str]] = {
    "hypertension": ["lisinopril", "amlodipine"],
    "diabetes": ["metformin"],
    "hyperlipidemia": ["atorvastatin"],
    "depression": ["sertraline"],
    "heart_disease": ["aspirin", "metoprolol"],
    "stroke": ["clopidogrel"],
    "chronic_kidney_disease": [],
    "hearing_loss": [],
}

SEX_WORDS = {"F": "woman", "M": "man"}
NOT_RISK_FACTORS = {"patient_id", "age", "sex", "race_ethnicity", "education_years", "stage_at_diagnosis"}


def risk_factors(profile: dict[str, Any]) -> list[str]:
    """The boolean profile columns that are true, as snake-case names."""
    return sorted(k for k, v in profile.items() if k not in NOT_RISK_FACTORS and isinstance(v, bool | np.bool_) and v)


def profile_context(profile: dict[str, Any], age_at_visit: float) -> dict[str, Any]:
    """The facts a guided or statistical note may use; absent or missing values are left out."""
    factors = risk_factors(profile)
    context: dict[str, Any] = {"age": int(age_at_visit), "risk_factors": [f.replace("_", " ") for f in factors]}
    if profile.get("sex") in SEX_WORDS:
        context["sex"] = SEX_WORDS[profile["sex"]]
    race = profile.get("race_ethnicity")
    if isinstance(race, str) and race and race != "other":
        context["race_ethnicity"] = race.replace("_", " ")
    education = profile.get("education_years")
    if education is not None and not pd.isna(education):
        context["education_years"] = int(education)
    context["medications"] = sorted({m for f in factors for m in MEDICATIONS.get(f, [])})
    return context
