"""Statistical layer: reference populations, the cohort synthesizer (SDV), conditional sampling, fidelity and privacy.

`build_cohort(cfg, out_dir, seed)` runs the whole stage; the pieces are `prepare_reference` (or `load_reference`
and `split_holdout`), `CohortSynthesizer` (`fit`, `sample`, `save`, `load`) and `cohort_report`. SDV and
SDMetrics are imported only when a method needs them.
"""

from dualalign.cohorts.config import CohortConfig, Oversample, Quota, Range
from dualalign.cohorts.copies import count_exact_copies
from dualalign.cohorts.reference import load_reference, prepare_reference, split_holdout
from dualalign.cohorts.report import cohort_report, column_plots
from dualalign.cohorts.sampling import plan_strata
from dualalign.cohorts.spec import PopulationSpec, draw_reference, load_spec
from dualalign.cohorts.stage import build_cohort
from dualalign.cohorts.synthesizer import CohortSynthesizer

__all__ = [
    "CohortConfig", "Oversample", "Quota", "Range", "PopulationSpec", "CohortSynthesizer",
    "build_cohort", "load_reference", "prepare_reference", "split_holdout", "load_spec", "draw_reference",
    "plan_strata", "cohort_report", "column_plots", "count_exact_copies",
]
