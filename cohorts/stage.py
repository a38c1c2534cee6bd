"""The cohort stage: reference -> fitted synthesizer -> profiles -> report, written into the run folder."""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from dualalign.cohorts.config import BUILTIN_PREFIX, CohortConfig
from dualalign.cohorts.reference import load_reference, split_holdout
from dualalign.cohorts.report import cohort_report, column_plots
from dualalign.cohorts.sampling import plan_strata, sample_profiles
from dualalign.cohorts.spec import builtin_spec_path
from dualalign.cohorts.synthesizer import fit_synthesizer, save_synthesizer, table_metadata
from dualalign.io import read_json, write_json, write_parquet
from dualalign.runfolder import COHORT, COHORT_PLOTS, COHORT_REPORT, COHORT_SAMPLING, SYNTHESIZER
from dualalign.stage import Stage, StageResult

log = logging.getLogger(__name__)



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


def build_cohort(cfg: CohortConfig, out_dir: Path, seed: int, data: pd.DataFrame | None = None) -> pd.DataFrame:
    """Load or draw the reference, fit, sample `cfg.n_profiles` profiles honouring quotas, report.

    Writes `private/synthesizer.pkl`, `cohort.parquet`, `cohort_sampling.json`, `cohort_report.json` and
    `cohort_plots/` into `out_dir` only once everything has been computed, so a failure leaves nothing behind.
    """
    out_dir = Path(out_dir)
    training, holdout = prepare_reference(cfg, seed, data)
    synthesizer = fit(cfg, training, seed)
    profiles, sampling = sample(cfg, synthesizer, training, seed)
    result, plots = report(cfg, synthesizer, training, holdout, profiles, sampling, seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_synthesizer(synthesizer, out_dir / SYNTHESIZER)
    write_parquet(out_dir / COHORT, profiles)
    write_json(out_dir / COHORT_SAMPLING, sampling)
    write_report(out_dir, result, plots)
    log.info("cohort: %d profiles, quality %.3f, %d exact copies", len(profiles), result["quality"]["score"],
             result["privacy"]["exact_copies"])
    return profiles


@dataclass(kw_only=True)
class CohortStage(Stage):
    """Reads the cohort source (a table or a population spec); writes the synthesizer (private), the profiles and
    their report, and the `cohort` figures (fidelity and privacy summary)."""

    name: ClassVar[str] = "cohort"
    writes: ClassVar[tuple[str, ...]] = (SYNTHESIZER, COHORT, COHORT_SAMPLING, COHORT_REPORT, COHORT_PLOTS)
    figures: ClassVar[tuple[str, ...]] = ("cohort",)
    cohort: CohortConfig

    def files(self) -> tuple[Path, ...]:
        cfg = self.cohort
        return (cfg.source_path() or builtin_spec_path(cfg.source.removeprefix(BUILTIN_PREFIX)),)

    def outputs(self) -> tuple[str, ...]:
        return self.writes if self.cohort.plots else tuple(n for n in self.writes if n != COHORT_PLOTS)

    def execute(self) -> StageResult:
        build_cohort(self.cohort, self.run.path, self.seed)
        report = read_json(self.run.file(COHORT_REPORT))
        summary = ("synthesizer", "quality", "diagnostic", "privacy", "checks")
        return StageResult(figures={"cohort": {k: report[k] for k in summary if k in report}})
