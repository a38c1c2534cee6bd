"""The cohort stage: reference -> fitted synthesizer -> profiles -> report, written into the run folder."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from dualalign.cohorts.config import CohortConfig
from dualalign.cohorts.reference import load_reference, split_holdout
from dualalign.cohorts.report import cohort_report, column_plots
from dualalign.cohorts.sampling import plan_strata, sample_profiles
from dualalign.cohorts.synthesizer import fit_synthesizer, save_synthesizer, table_metadata
from dualalign.io import write_json, write_parquet

log = logging.getLogger(__name__)

SYNTHESIZER_FILE = "synthesizer.pkl"
COHORT_FILE = "cohort.parquet"
REPORT_FILE = "cohort_report.json"
SAMPLING_FILE = "cohort_sampling.json"
PLOTS_DIR = "cohort_plots"


def prepare_reference(cfg: CohortConfig, seed: int, data: pd.DataFrame | None = None
                      ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The validated reference split into (training, holdout), with the quotas checked against it."""
    training, holdout = split_holdout(load_reference(cfg, seed, data), cfg.holdout_fraction, seed)
    plan_strata(cfg.n_profiles, training, cfg.quotas, cfg.oversample)
    return training, holdout


def fit(cfg: CohortConfig, training: pd.DataFrame, seed: int) -> Any:
    return fit_synthesizer(training, cfg.synthesizer, seed=seed, synthesizer_args=cfg.synthesizer_args,
                           sdtypes=cfg.sdtypes)


def sample(cfg: CohortConfig, synthesizer: Any, training: pd.DataFrame, seed: int,
           n: int | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    return sample_profiles(synthesizer, training, n or cfg.n_profiles, quotas=cfg.quotas,
                           oversample=cfg.oversample, seed=seed, reject_copies=cfg.reject_copies)


def report(cfg: CohortConfig, synthesizer: Any, training: pd.DataFrame, holdout: pd.DataFrame,
           profiles: pd.DataFrame, sampling: dict[str, Any], seed: int) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The report dict (with what was fitted) and its plots (PNG bytes by file name)."""
    result = cohort_report(training, profiles, table_metadata(synthesizer), holdout=holdout, sampling=sampling,
                           min_quality=cfg.min_quality, seed=seed)
    result = {"source": cfg.source, "synthesizer": cfg.synthesizer, "seed": seed, **result}
    plots = column_plots(training, profiles) if cfg.plots else {}
    result["plots"] = [f"{PLOTS_DIR}/{name}" for name in plots]
    return result, plots


def write_report(out_dir: Path, result: dict[str, Any], plots: dict[str, bytes]) -> None:
    """Write the plots folder (swapped in whole) and then `cohort_report.json`."""
    if plots:
        staging = Path(tempfile.mkdtemp(prefix=f".{PLOTS_DIR}.", dir=out_dir))
        for name, png in plots.items():
            (staging / name).write_bytes(png)
        shutil.rmtree(out_dir / PLOTS_DIR, ignore_errors=True)
        staging.rename(out_dir / PLOTS_DIR)
    write_json(out_dir / REPORT_FILE, result)


def build_cohort(cfg: CohortConfig, out_dir: Path, seed: int, data: pd.DataFrame | None = None) -> pd.DataFrame:
    """Load or draw the reference, fit, sample `cfg.n_profiles` profiles honouring quotas, report.

    Writes `synthesizer.pkl`, `cohort.parquet`, `cohort_sampling.json`, `cohort_report.json` and
    `cohort_plots/` into `out_dir` only once everything has been computed, so a failure leaves nothing behind.
    """
    out_dir = Path(out_dir)
    training, holdout = prepare_reference(cfg, seed, data)
    synthesizer = fit(cfg, training, seed)
    profiles, sampling = sample(cfg, synthesizer, training, seed)
    result, plots = report(cfg, synthesizer, training, holdout, profiles, sampling, seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_synthesizer(synthesizer, out_dir / SYNTHESIZER_FILE)
    write_parquet(out_dir / COHORT_FILE, profiles)
    write_json(out_dir / SAMPLING_FILE, sampling)
    write_report(out_dir, result, plots)
    log.info("cohort: %d profiles, quality %.3f, %d exact copies", len(profiles), result["quality"]["score"],
             result["privacy"]["exact_copies"])
    return profiles
