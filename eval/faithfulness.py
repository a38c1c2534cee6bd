"""Faithfulness of generated sentences to their plan: labels, terms, grounding and patient demographics."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

AGE_PATTERNS = [
    re.compile(r"\b(\d{1,3})[- ](?:year|yr)s?[- ]old\b", re.IGNORECASE),
    re.compile(r"\baged?\s+(\d{1,3})\b", re.IGNORECASE),
    re.compile(r"\b(\d{1,3})\s?(?:yo|y/o|y\.o\.)(?!\w)", re.IGNORECASE),
]
SEX_CUES = {
    "M": re.compile(r"\b(?:he|him|his|himself|mr|man|male|gentleman|boy)\b", re.IGNORECASE),
    "F": re.compile(r"\b(?:she|her|hers|herself|mrs|ms|miss|woman|female|lady|girl)\b", re.IGNORECASE),
}


def total_variation(p: Mapping[str, float] | pd.Series, q: Mapping[str, float] | pd.Series) -> float:
    """Total variation distance between two distributions given as counts or weights (each normalised)."""
    p, q = pd.Series(p, dtype=float), pd.Series(q, dtype=float)
    if p.sum() <= 0 or q.sum() <= 0:
        return float("nan")
    p, q = (p / p.sum()).align(q / q.sum(), fill_value=0.0)
    return float(0.5 * (p - q).abs().sum())


def term_mentions(texts: Iterable[str], terms: Iterable[str]) -> pd.Series:
    """How many texts mention each term (case-insensitive, whole words)."""
    texts = [t.lower() for t in texts]
    return pd.Series({term: sum(bool(re.search(rf"\b{re.escape(term.lower())}\b", t)) for t in texts)
                      for term in terms}, dtype=float)


def plan_measures(variant: pd.DataFrame, plan: pd.DataFrame) -> dict[str, float]:
    """Labels and terms of one variant's sentences against a plan (rows with `planned_label`/`planned_term`).

    - label_tvd: TV distance between the variant's `label` distribution and the plan's `planned_label` one;
    - label_agreement: share of planned rows of the variant whose `label` equals `planned_label`;
    - term_tvd: TV distance between planned terms and the plan's terms found in the variant's texts;
    - term_realisation: share of the variant's rows with a planned term whose text contains that term.
    """
    own = variant[variant["planned_label"].notna()]
    planned_terms = plan["planned_term"].dropna().astype(str)
    has_term = variant[variant["planned_term"].notna()]
    realised = [bool(re.search(rf"\b{re.escape(str(term).lower())}\b", str(text).lower()))
                for text, term in zip(has_term["text"], has_term["planned_term"], strict=True)]
    return {
        "label_tvd": total_variation(variant["label"].value_counts(), plan["planned_label"].value_counts()),
        "label_agreement": float((own["label"] == own["planned_label"]).mean()) if len(own) else float("nan"),
        "term_tvd": total_variation(term_mentions(variant["text"], planned_terms.unique()),
                                    planned_terms.value_counts()) if len(planned_terms) else float("nan"),
        "term_realisation": float(np.mean(realised)) if realised else float("nan"),
    }


def mentioned_age(text: str) -> int | None:
    """An age stated in the text ("72-year-old", "aged 72", "72 yo"), or None."""
    for pattern in AGE_PATTERNS:
        match = pattern.search(text)
        if match and 0 < int(match.group(1)) < 120:
            return int(match.group(1))
    return None


def mentioned_sex(text: str) -> str | None:
    """"F" or "M" when the text's pronouns, titles or nouns point one way only; None when absent or mixed."""
    found = [sex for sex, cue in SEX_CUES.items() if cue.search(text)]
    return found[0] if len(found) == 1 else None


def demographic_agreement(sentences: pd.DataFrame, profiles: pd.DataFrame, age_tolerance: int = 1) -> dict:
    """Among sentences that state an age (a sex), the share that agree with their patient's profile.

    An age agrees when within `age_tolerance` years of the profile's `age`. Sentences whose patient has no
    profile are left out. Returns age_mentions, age_agreement, sex_mentions, sex_agreement.
    """
    said = sentences[["text", "patient_id"]].astype({"patient_id": str})
    known = profiles[["patient_id", "age", "sex"]].astype({"patient_id": str}).drop_duplicates("patient_id")
    merged = said.merge(known, on="patient_id", how="inner")
    ages = merged["text"].map(mentioned_age)
    sexes = merged["text"].map(mentioned_sex)
    age_rows, sex_rows = merged[ages.notna()], merged[sexes.notna()]
    return {
        "age_mentions": int(len(age_rows)),
        "age_agreement": float(((ages[ages.notna()] - age_rows["age"]).abs() <= age_tolerance).mean())
        if len(age_rows) else float("nan"),
        "sex_mentions": int(len(sex_rows)),
        "sex_agreement": float((sexes[sexes.notna()] == sex_rows["sex"].str.upper()).mean())
        if len(sex_rows) else float("nan"),
    }
