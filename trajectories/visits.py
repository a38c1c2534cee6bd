"""Dated visits: a Poisson process per note type, with piecewise-constant yearly rates relative to diagnosis."""

from __future__ import annotations

import numpy as np

from dualalign.trajectories.pack import ConditionPack
from dualalign.trajectories.stages import DAYS_PER_YEAR


def _segments(years: np.ndarray, rates: np.ndarray, start: float, end: float) -> list[tuple[float, float, float]]:
    """(from, to, rate) pieces covering [start, end); the first rate also holds before the first breakpoint."""
    cuts = np.concatenate([[start], years[(years > start) & (years < end)], [end]])
    pieces = []
    for a, b in zip(cuts[:-1], cuts[1:]):
        idx = max(np.searchsorted(years, a, side="right") - 1, 0)
        pieces.append((float(a), float(b), float(rates[idx])))
    return pieces


def sample_visits(
    pack: ConditionPack,
    n_patients: int,
    years_before: float,
    years_after: float,
    end_years: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Visits of `n_patients` in [-years_before, years_after], cut at each patient's `end_years` (death).

    Returns (patient index, visit day relative to diagnosis, note-type index), sorted by patient then day.
    A visit of the pack's `diagnosis_note_type` is placed on day 0.
    """
    pids, days, types = [], [], []
    for t, note_type in enumerate(pack.note_types):
        years, rates = note_type.rate_segments()
        for a, b, rate in _segments(years, rates, -years_before, years_after):
            if rate <= 0 or b <= a:
                continue
            counts = rng.poisson(rate * (b - a), size=n_patients)
            total = int(counts.sum())
            pids.append(np.repeat(np.arange(n_patients), counts))
            days.append(np.floor((a + (b - a) * rng.random(total)) * DAYS_PER_YEAR).astype(np.int64))
            types.append(np.full(total, t, dtype=np.int64))
    if pack.diagnosis_note_type is not None:
        pids.append(np.arange(n_patients))
        days.append(np.zeros(n_patients, dtype=np.int64))
        dx_type = [n.id for n in pack.note_types].index(pack.diagnosis_note_type)
        types.append(np.full(n_patients, dx_type, dtype=np.int64))
    pid = np.concatenate(pids) if pids else np.zeros(0, dtype=np.int64)
    day = np.concatenate(days) if days else np.zeros(0, dtype=np.int64)
    typ = np.concatenate(types) if types else np.zeros(0, dtype=np.int64)
    alive = day <= np.floor(end_years[pid] * DAYS_PER_YEAR)
    pid, day, typ = pid[alive], day[alive], typ[alive]
    order = np.lexsort((typ, day, pid))
    return pid[order], day[order], typ[order]
