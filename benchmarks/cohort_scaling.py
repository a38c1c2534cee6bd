"""Cohort layer scaling: fit and sample times by reference size, and rare-stratum success of plain SDV
conditional sampling against the layer's sampler. Prints a table. Run: python benchmarks/cohort_scaling.py"""

from __future__ import annotations

import sys
import time
import warnings

from rich.console import Console
from rich.table import Table

from dualalign.cohorts import CohortSynthesizer, Quota, draw_reference, load_spec
from dualalign.cohorts.sampling import matches
from dualalign.cohorts.spec import builtin_spec_path

SIZES = (1_000, 10_000, 100_000)
SAMPLE_ROWS = 10_000
RARE = {
    "race_ethnicity": "african_american",
    "sex": "M",
    "stage_at_diagnosis": "severe_dementia",
    "smoking_status": "current",
}
RARE_COUNT = 20
SEEDS = range(3)


def plain_sdv_success(synthesizer: CohortSynthesizer) -> float:
    """Share of tries in which SDV's own sample_from_conditions returns all RARE_COUNT rows (one try per seed; SDV
    has no public sampling seed, so the tries follow each other in its stream from `reset_sampling()`)."""
    from sdv.sampling import Condition

    ok = 0
    synthesizer.synthesizer_.reset_sampling()
    for _ in SEEDS:
        try:
            out = synthesizer.synthesizer_.sample_from_conditions(
                [Condition(column_values=RARE, num_rows=RARE_COUNT)])["cohort"]
            ok += len(out) == RARE_COUNT and bool(matches(out, RARE).all())
        except Exception:  # SDV raises when rejection sampling runs dry
            pass
    return ok / len(SEEDS)


def layer_success(synthesizer: CohortSynthesizer) -> float:
    ok = 0
    for seed in SEEDS:
        try:
            out, _ = synthesizer.sample(100, quotas=[Quota(where=RARE, count=RARE_COUNT)], seed=seed)
            ok += int(matches(out, RARE).sum() == RARE_COUNT)
        except Exception:
            pass
    return ok / len(SEEDS)


def main() -> None:
    warnings.filterwarnings("ignore")
    spec = load_spec(builtin_spec_path("alzheimers_us"))
    table = Table(title=f"cohort scaling (AD spec; sample {SAMPLE_ROWS:,} rows; rare stratum {RARE_COUNT} rows of "
                        "African American men, severe dementia, current smokers)")
    for column in ("synthesizer", "reference rows", "fit s", "sample s", "rare share in reference",
                   "plain SDV conditional success", "layer sampler success"):
        table.add_column(column, justify="right")
    runs = [("gaussian_copula", n, {}) for n in SIZES] + [("ctgan", SIZES[0], {"epochs": 50})]
    for kind, n, args in runs:
        reference = draw_reference(spec, n, seed=0)
        start = time.perf_counter()
        synthesizer = CohortSynthesizer(kind, synthesizer_args=args, seed=0).fit(reference)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        synthesizer.synthesizer_.sample(num_rows=SAMPLE_ROWS)
        sample_s = time.perf_counter() - start
        share = float(matches(reference, RARE).mean())
        print(f"{kind} {n}: fit {fit_s:.1f} s, sample {sample_s:.2f} s", file=sys.stderr)
        table.add_row(f"{kind} {args or ''}".strip(), f"{n:,}", f"{fit_s:.1f}", f"{sample_s:.2f}", f"{share:.4%}",
                      f"{plain_sdv_success(synthesizer):.0%}", f"{layer_success(synthesizer):.0%}")
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
