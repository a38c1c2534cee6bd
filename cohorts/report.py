"""Fidelity and privacy of sampled profiles: SDMetrics quality and diagnostic, distance to closest record
against a holdout baseline, a membership-inference attack, attribute disclosure, exact copies, and one plot per
column."""

from __future__ import annotations

import io
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dualalign.cohorts.config import CohortConfig
from dualalign.cohorts.copies import count_exact_copies
from dualalign.cohorts.synthesizer import seeded_globals
from dualalign.io import write_json
from dualalign.runfolder import COHORT_PLOTS, COHORT_REPORT

DCR_MAX_ROWS = 1000  # rows per side for the distance computations (a seeded subsample beyond that)
DISCLOSURE_MIN_ROWS = 100  # profiles needed for the attribute-disclosure figure


def build_report(cfg: CohortConfig, metadata: dict[str, Any], training: pd.DataFrame, holdout: pd.DataFrame,
                 profiles: pd.DataFrame, sampling: dict[str, Any], seed: int
                 ) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The report the `cohort:` settings ask for (with what was fitted) and its plots (PNG bytes by file name)."""
    result = cohort_report(training, profiles, metadata, holdout=holdout, sampling=sampling,
                           min_quality=cfg.min_quality, known_columns=cfg.known_columns,
                           sensitive_columns=cfg.sensitive_columns, seed=seed)
    result = {"source": cfg.source, "synthesizer": cfg.synthesizer, "seed": seed, **result}
    plots = column_plots(training, profiles) if cfg.plots else {}
    result["plots"] = [f"{COHORT_PLOTS}/{name}" for name in plots]
    return result, plots


def write_report(out_dir: Path, result: dict[str, Any], plots: dict[str, bytes]) -> None:
    """Write the plots folder (swapped in whole) and then `cohort_report.json`."""
    if plots:
        staging = Path(tempfile.mkdtemp(prefix=f".{COHORT_PLOTS}.", dir=out_dir))
        for name, png in plots.items():
            (staging / name).write_bytes(png)
        shutil.rmtree(out_dir / COHORT_PLOTS, ignore_errors=True)
        staging.rename(out_dir / COHORT_PLOTS)
    write_json(out_dir / COHORT_REPORT, result)


def cohort_report(
    reference: pd.DataFrame,
    profiles: pd.DataFrame,
    metadata: dict[str, Any],
    *,
    holdout: pd.DataFrame | None = None,
    sampling: dict[str, Any] | None = None,
    min_quality: float = 0.8,
    known_columns: Sequence[str] = ("age", "sex", "race_ethnicity", "education_years"),
    sensitive_columns: Sequence[str] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Figures comparing the profiles with the reference the synthesizer was fitted on (JSON-serialisable).

    Attribute disclosure: an attacker who knows `known_columns` of a real person guesses each of
    `sensitive_columns` (default: every other column) from the profiles."""
    with warnings.catch_warnings():  # sdmetrics 0.32 deprecates the single-table reports; their API still holds
        warnings.simplefilter("ignore")
        from sdmetrics.reports.single_table import DiagnosticReport, QualityReport

    columns = [c for c in reference.columns if c in profiles.columns]
    synthetic = profiles[columns]
    with warnings.catch_warnings(), seeded_globals(seed):  # SDMetrics' random baseline draws from numpy
        warnings.simplefilter("ignore")
        quality = QualityReport()
        quality.generate(reference, synthetic, metadata, verbose=False)
        diagnostic = DiagnosticReport()
        diagnostic.generate(reference, synthetic, metadata, verbose=False)
        privacy = _privacy(reference, synthetic, holdout, metadata, seed)
        disclosure = _disclosure(reference, synthetic, known_columns, sensitive_columns, seed)
        not_applicable = privacy.pop("not_applicable", {}) | disclosure.pop("not_applicable", {})
        privacy |= disclosure | {"not_applicable": not_applicable}
    shapes = quality.get_details("Column Shapes")
    quality_score = float(quality.get_score())
    return {
        "rows": {"reference": len(reference), "holdout": 0 if holdout is None else len(holdout),
                 "profiles": len(profiles)},
        "quality": {
            "score": quality_score,
            **{_snake(p): float(s) for p, s in quality.get_properties().set_index("Property")["Score"].items()},
            "column_shapes_by_column": {r["Column"]: float(r["Score"]) for _, r in shapes.iterrows()},
        },
        "diagnostic": {
            "score": float(diagnostic.get_score()),
            **{_snake(p): float(s) for p, s in diagnostic.get_properties().set_index("Property")["Score"].items()},
        },
        "privacy": privacy,
        "sampling": sampling or {},
        "checks": {
            f"quality >= {min_quality}": quality_score >= min_quality,
            "no exact copies of reference rows": privacy["exact_copies"] == 0,
        },
    }


def _privacy(reference: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame | None,
             metadata: dict[str, Any], seed: int) -> dict[str, Any]:
    """Exact copies, and distances to closest record (SDMetrics' DCR) against a holdout of real rows.

    With a holdout, training rows are subsampled to the holdout's size, so that a synthesizer that does not
    memorise puts about half of its rows closer to training than to holdout; the score is SDMetrics'
    DCROverfittingProtection formula, min(2 * (1 - closer_to_training), 1). Without a holdout, SDMetrics'
    DCRBaselineProtection compares with uniformly random rows.
    """
    from sdmetrics.single_table import DCRBaselineProtection
    from sdmetrics.single_table.privacy.dcr_utils import calculate_dcr

    rng = np.random.default_rng(seed)
    synth = _subsample(synthetic, DCR_MAX_ROWS, rng)
    result: dict[str, Any] = {"exact_copies": count_exact_copies(synthetic, reference)}
    if holdout is None or holdout.empty:
        baseline = DCRBaselineProtection.compute_breakdown(_subsample(reference, DCR_MAX_ROWS, rng), synth, metadata)
        medians = baseline["median_DCR_to_real_data"]
        return result | {"dcr_baseline_protection": float(baseline["score"]),
                         "dcr_synthetic_median": float(medians["synthetic_data"]),
                         "dcr_random_median": float(medians["random_data_baseline"]),
                         "membership_inference_auc": None,
                         "not_applicable": {"membership_inference_auc": "no held-out reference rows to attack with "
                                                                        "(cohort.holdout_fraction)"}}  # fmt: skip
    hold = _subsample(holdout, DCR_MAX_ROWS, rng)
    training = _subsample(reference, len(hold), rng)
    to_training = calculate_dcr(dataset=synth, reference_dataset=training, metadata=metadata)
    to_holdout = calculate_dcr(dataset=synth, reference_dataset=hold, metadata=metadata)
    holdout_to_training = calculate_dcr(dataset=hold, reference_dataset=training, metadata=metadata)
    closer = float((to_training.to_numpy() < to_holdout.to_numpy()).mean())
    return result | {
        "dcr_synthetic_median": float(to_training.median()),
        "dcr_holdout_median": float(holdout_to_training.median()),
        "closer_to_training_pct": closer,
        "dcr_overfitting_protection": min(2 * (1 - closer), 1.0),
        "membership_inference_auc": _membership_auc(training, hold, synth, metadata),
    }


def _membership_auc(training: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                    metadata: dict[str, Any]) -> float:  # fmt: skip
    """A distance-based membership-inference attack: a real row whose closest synthetic row is nearer is guessed
    to have been in the fitting data. The ROC AUC of that guess over training rows (members) and holdout rows
    (non-members): about 0.5 when the profiles leak nothing, 1.0 when they copy their training rows."""
    from sdmetrics.single_table.privacy.dcr_utils import calculate_dcr
    from sklearn.metrics import roc_auc_score

    members = calculate_dcr(dataset=training, reference_dataset=synthetic, metadata=metadata).to_numpy()
    others = calculate_dcr(dataset=holdout, reference_dataset=synthetic, metadata=metadata).to_numpy()
    truth = np.r_[np.ones(len(members)), np.zeros(len(others))]
    return float(roc_auc_score(truth, -np.r_[members, others]))


def _disclosure(reference: pd.DataFrame, synthetic: pd.DataFrame, known: Sequence[str],
                sensitive: Sequence[str] | None, seed: int) -> dict[str, Any]:  # fmt: skip
    """SDMetrics' DisclosureProtection (the CAP attack) per sensitive column: 1 when the profiles tell the attacker
    no more than the column's own distribution does, near 0 when they give the real value away. Numeric columns
    with more than 10 values are cut into 10 bins. The summary figure is the lowest over the columns; it is not
    measured (None) for fewer than `DISCLOSURE_MIN_ROWS` profiles, where the few rows that match a real person's
    known values make it noise (8 profiles of the built-in spec: 0.47 to 1.0 between columns)."""
    from sdmetrics.single_table import DisclosureProtection

    known = [c for c in known if c in reference.columns]
    targets = [c for c in (sensitive or reference.columns) if c in reference.columns and c not in known]
    why = ("none of cohort.known_columns is a profile column" if not known
           else "no sensitive column besides the known ones (cohort.sensitive_columns)" if not targets
           else f"{len(synthetic)} profiles, fewer than the {DISCLOSURE_MIN_ROWS} that attribute disclosure needs "
                "(cohort.n_profiles)" if len(synthetic) < DISCLOSURE_MIN_ROWS else None)  # fmt: skip
    if why:
        return {"attribute_disclosure_protection": None, "attribute_disclosure_by_column": {},
                "attribute_disclosure_known": known, "not_applicable": {"attribute_disclosure_protection": why}}
    rng = np.random.default_rng(seed)
    real, synth = _subsample(reference, DCR_MAX_ROWS, rng), _subsample(synthetic, DCR_MAX_ROWS, rng)
    continuous = [c for c in reference.columns if pd.api.types.is_numeric_dtype(reference[c])
                  and not pd.api.types.is_bool_dtype(reference[c]) and reference[c].nunique() > 10]  # fmt: skip
    by_column = {}
    for column in targets:
        result = DisclosureProtection.compute_breakdown(real, synth, known, [column],
                                                        continuous_column_names=[c for c in continuous
                                                                                 if c in (*known, column)])
        if not np.isnan(result["score"]):  # nan: a constant column, nothing to disclose
            by_column[column] = float(result["score"])
    figures = {"attribute_disclosure_protection": min(by_column.values(), default=None),
               "attribute_disclosure_by_column": by_column, "attribute_disclosure_known": known}
    if not by_column:
        figures["not_applicable"] = {"attribute_disclosure_protection": "every sensitive column is constant: "
                                                                        "nothing to disclose"}  # fmt: skip
    return figures


def _subsample(df: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    if len(df) <= n:
        return df.reset_index(drop=True)
    return df.iloc[np.sort(rng.choice(len(df), n, replace=False))].reset_index(drop=True)


def column_plots(reference: pd.DataFrame, profiles: pd.DataFrame) -> dict[str, bytes]:
    """One PNG per shared column: reference vs synthetic histogram (numbers) or bar chart (categories)."""
    from matplotlib.figure import Figure

    plots = {}
    for column in (c for c in reference.columns if c in profiles.columns):
        fig = Figure(figsize=(5, 3), dpi=80)
        ax = fig.subplots()
        real, synth = reference[column], profiles[column]
        if pd.api.types.is_numeric_dtype(real) and not pd.api.types.is_bool_dtype(real) and real.nunique() > 10:
            bins = np.histogram_bin_edges(pd.concat([real, synth]).dropna().astype(float), bins=20)
            ax.hist(real.dropna(), bins=bins, density=True, alpha=0.5, label="reference")
            ax.hist(synth.dropna(), bins=bins, density=True, alpha=0.5, label="synthetic")
        else:
            shares = pd.DataFrame({
                "reference": real.astype(str).value_counts(normalize=True),
                "synthetic": synth.astype(str).value_counts(normalize=True),
            }).fillna(0.0).sort_index()
            x = np.arange(len(shares))
            ax.bar(x - 0.2, shares["reference"], width=0.4, label="reference")
            ax.bar(x + 0.2, shares["synthetic"], width=0.4, label="synthetic")
            ax.set_xticks(x, shares.index, rotation=30, ha="right", fontsize=7)
        ax.set_title(column)
        ax.legend(fontsize=7)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        plots[f"{column}.png"] = buffer.getvalue()
    return plots


def _snake(name: str) -> str:
    return name.lower().replace(" ", "_")
