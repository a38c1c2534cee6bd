"""The cohort stage: reference -> fitted synthesizer -> profiles -> report, written into the run folder."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pandas as pd

from dualalign.cohorts.config import BUILTIN_PREFIX, CohortConfig
from dualalign.cohorts.reference import prepare_reference
from dualalign.cohorts.report import build_report, write_report
from dualalign.cohorts.spec import builtin_spec_path
from dualalign.cohorts.synthesizer import CohortSynthesizer
from dualalign.io import read_json, write_json, write_parquet
from dualalign.runfolder import COHORT, COHORT_PLOTS, COHORT_REPORT, COHORT_SAMPLING, SYNTHESIZER
from dualalign.stage import Stage, StageResult

log = logging.getLogger(__name__)


def build_cohort(cfg: CohortConfig, out_dir: Path, seed: int, data: pd.DataFrame | None = None) -> pd.DataFrame:
    """Load or draw the reference, fit, sample `cfg.n_profiles` profiles honouring quotas, report.

    Writes `private/synthesizer.pkl`, `cohort.parquet`, `cohort_sampling.json`, `cohort_report.json` and
    `cohort_plots/` into `out_dir` only once everything has been computed, so a failure leaves nothing behind.
    """
    out_dir = Path(out_dir)
    training, holdout = prepare_reference(cfg, seed, data)
    synthesizer = CohortSynthesizer.from_config(cfg, seed).fit(training)
    profiles, sampling = synthesizer.sample(cfg.n_profiles, quotas=cfg.quotas, oversample=cfg.oversample,
                                            reject_copies=cfg.reject_copies)
    result, plots = build_report(cfg, synthesizer.metadata, training, holdout, profiles, sampling, seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    synthesizer.save(out_dir / SYNTHESIZER)
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
