"""Statistical layer: reference populations, SDV synthesizers, conditional sampling, fidelity and privacy.

`build_cohort(cfg, out_dir, seed)` runs the whole stage; the pieces are `load_reference`, `fit_synthesizer`,
`sample_profiles` and `cohort_report`. SDV and SDMetrics are imported only when a function needs them.
"""

from dualalign.cohorts.config import CohortConfig, Oversample, Quota, Range
from dualalign.cohorts.copies import count_exact_copies
from dualalign.cohorts.reference import load_reference, split_holdout
from dualalign.cohorts.report import cohort_report, column_plots
from dualalign.cohorts.sampling import plan_strata, sample_profiles
from dualalign.cohorts.spec import PopulationSpec, draw_reference, load_spec
from dualalign.cohorts.stage import build_cohort
from dualalign.cohorts.synthesizer import fit_synthesizer, load_synthesizer, save_synthesizer

__all__ = [
    "CohortConfig", "Oversample", "Quota", "Range", "PopulationSpec",
    "build_cohort", "load_reference", "split_holdout", "load_spec", "draw_reference",
    "fit_synthesizer", "save_synthesizer", "load_synthesizer",
    "plan_strata", "sample_profiles", "cohort_report", "column_plots", "count_exact_copies",
]
