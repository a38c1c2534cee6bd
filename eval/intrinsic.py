"""Intrinsic measures of generated text, per variant, from the sentences table (and profiles, references).

Sentences columns: text, label, variant, planned_label, planned_term, grounded (bool), patient_id.
Profiles columns: patient_id, age, sex. References: real texts (gold or exemplars) to check copying against.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from dualalign.alignment.phi import PhiDetector
from dualalign.errors import DataError
from dualalign.eval.diversity import distinct_n, embedding_dispersion, self_bleu
from dualalign.eval.faithfulness import demographic_agreement, plan_measures
from dualalign.eval.privacy import copying_measures, phi_scan

SENTENCE_COLUMNS = ("text", "label", "variant", "planned_label", "planned_term", "grounded", "patient_id")
PROFILE_COLUMNS = ("patient_id", "age", "sex")


def require_columns(df: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(f"{what} table: missing column(s) {missing}; columns: {list(df.columns)}")


def intrinsic_measures(sentences: pd.DataFrame, profiles: pd.DataFrame | None = None,
                       references: Sequence[str] | None = None, model: str = "embedded:minilm-l6",
                       max_texts: int = 500, seed: int = 0, phi: PhiDetector | None = None
                       ) -> dict[str, dict[str, Any]]:
    """Per variant: size, plan faithfulness, grounding, demographics, diversity, copying and a PHI scan.

    The plan is the variant's own planned rows, or every variant's planned rows for a variant without a plan
    (unguided). `phi`: the PHI detector (one allowing the pack's words, say). Self-BLEU and embedding dispersion
    use at most `max_texts` texts per variant, drawn with `seed`.
    """
    require_columns(sentences, SENTENCE_COLUMNS, "sentences")
    if profiles is not None:
        require_columns(profiles, PROFILE_COLUMNS, "profiles")
    if sentences.empty:
        raise DataError("sentences table: no rows")
    pooled_plan = sentences[sentences["planned_label"].notna()]
    out: dict[str, dict[str, Any]] = {}
    for variant, rows in sentences.groupby("variant", sort=True):
        texts = rows["text"].astype(str).tolist()
        own_plan = rows[rows["planned_label"].notna()]
        m: dict[str, Any] = {"sentences": len(rows), "patients": int(rows["patient_id"].nunique())}
        m |= plan_measures(rows, own_plan if len(own_plan) else pooled_plan)
        m["grounding_rate"] = float(rows["grounded"].astype(bool).mean())
        if profiles is not None:
            m |= demographic_agreement(rows, profiles)
        m |= {f"distinct_{n}": distinct_n(texts, n) for n in (1, 2, 3)}
        m["self_bleu"] = self_bleu(texts, max_texts=max_texts, seed=seed)
        m["embedding_dispersion"] = embedding_dispersion(texts, model, max_texts=max_texts, seed=seed)
        if references:
            m |= copying_measures(texts, references, model)
        m["phi"] = phi_scan(texts, phi)
        out[str(variant)] = {k: _clean(v) for k, v in m.items()}
    return out


def intrinsic_table(measures: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """One row per variant, one column per scalar measure; the PHI scan becomes `phi_<kind>` counts."""
    rows = {}
    for variant, m in measures.items():
        row = {k: v for k, v in m.items() if k != "phi"}
        row |= {f"phi_{kind}": hit["count"] for kind, hit in m.get("phi", {}).items()}
        rows[variant] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("variant")


def _clean(value: Any) -> Any:
    """JSON-friendly: NaN becomes None."""
    return None if isinstance(value, float) and math.isnan(value) else value
