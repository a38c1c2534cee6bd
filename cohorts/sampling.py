"""Sampling profiles: exact quotas per stratum, oversampled rare groups, stable ids, no copies of reference rows.

Each stratum is filled first by rejection (unconditional draws that fall in it, within a budget of draws), then,
if that runs dry, by SDV's conditional sampling with condition values drawn from the stratum (GaussianCopula
conditions its copula on them; CTGAN its conditional vector). The rest of the profiles are drawn outside every
stratum. Fewer rows than asked is always an error naming the stratum and what each method found.

Seeding: SDV 2.0 has no public sampling seed. `reset_sampling()` (public) restarts the synthesizer's own stream of
rows, the same for every seed, and the seed then picks which rows of that stream are drawn: 1 in `THINNING`, at
random. So the same seed gives the same profiles, and two seeds share about 1 / THINNING of their draws.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dualalign.cohorts.config import Oversample, Quota, Range, Where
from dualalign.cohorts.copies import copy_mask
from dualalign.errors import ConfigError, DataError

log = logging.getLogger(__name__)

TABLE = "cohort"  # the SDV table name of the profiles
THINNING = 4  # rows of SDV's stream per draw; the seed picks which one
REJECTION_BUDGET = 20_000  # unconditional draws per stratum before conditional sampling takes over
CONDITIONAL_ROUNDS = 5
CONDITIONAL_TRIES = 20  # SDV's max_tries_per_batch within one conditional round
REMAINDER_ROUNDS = 20


@dataclass
class Stratum:
    """A quota (or an oversampled group turned into one): exactly `count` profiles matching `where`."""

    name: str
    where: Where
    count: int
    setting: str


def matches(df: pd.DataFrame, where: Where) -> pd.Series:
    """True for rows matching every condition (a value, a list of values, or a Range); missing never matches."""
    mask = pd.Series(True, index=df.index)
    for column, cond in where.items():
        values = df[column]
        if isinstance(cond, Range):
            if cond.min is not None:
                mask &= values >= cond.min
            if cond.max is not None:
                mask &= values <= cond.max
        else:
            mask &= values.isin(cond if isinstance(cond, list) else [cond])
    return mask.fillna(False).astype(bool)


def describe(where: Where) -> str:
    parts = []
    for column, cond in where.items():
        if isinstance(cond, Range):
            bounds = [f"{column}>={cond.min:g}" if cond.min is not None else "",
                      f"{column}<={cond.max:g}" if cond.max is not None else ""]
            parts.append(", ".join(b for b in bounds if b))
        else:
            parts.append(f"{column} in {cond}" if isinstance(cond, list) else f"{column}={cond}")
    return ", ".join(parts)


def check_where(where: Where, reference: pd.DataFrame, setting: str) -> None:
    """A ConfigError if a condition cannot be met: unknown column, unseen category, range outside the data."""
    for column, cond in where.items():
        key = f"{setting}.where.{column}"
        if column not in reference.columns:
            raise ConfigError(f"{key}: no such profile column (columns: {', '.join(reference.columns)})")
        values = reference[column].dropna()
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        if isinstance(cond, Range):
            if not numeric:
                raise ConfigError(f"{key}: a range needs a numeric column; {column!r} is not numeric")
            low, high = values.min(), values.max()
            if (cond.min is not None and cond.min > high) or (cond.max is not None and cond.max < low):
                raise ConfigError(f"{key}: the range {describe({column: cond})} lies outside the reference's "
                                  f"values ({low:g} to {high:g}), so no profile can meet it")
            continue
        observed = set(values.unique())
        for value in cond if isinstance(cond, list) else [cond]:
            if numeric and isinstance(value, (int, float)) and not isinstance(value, bool):
                if not values.min() <= value <= values.max():
                    raise ConfigError(f"{key}: {value!r} lies outside the reference's values "
                                      f"({values.min():g} to {values.max():g})")
            elif value not in observed or isinstance(value, bool) != pd.api.types.is_bool_dtype(values):
                shown = ", ".join(sorted(map(str, observed))[:20])
                raise ConfigError(f"{key}: {value!r} does not occur in the reference (values: {shown})")


def plan_strata(
    n: int, reference: pd.DataFrame, quotas: Sequence[Quota] = (), oversample: Sequence[Oversample] = ()
) -> list[Stratum]:
    """Validate quotas and oversampling against the reference and turn both into exact per-stratum counts.

    An oversampled group with reference share p and weight w gets round(n * w p / (w p + 1 - p)) profiles.
    """
    strata = []
    for i, quota in enumerate(quotas):
        setting = f"cohort.quotas[{i}]"
        check_where(quota.where, reference, setting)
        strata.append(Stratum(quota.name or describe(quota.where), quota.where, quota.count, setting))
    for i, group in enumerate(oversample):
        setting = f"cohort.oversample[{i}]"
        check_where(group.where, reference, setting)
        share = float(matches(reference, group.where).mean())
        if share == 0:
            raise ConfigError(f"{setting}: no reference row has {describe(group.where)}; use a quota instead")
        weighted = group.weight * share / (group.weight * share + 1 - share)
        strata.append(Stratum(group.name or describe(group.where), group.where, max(1, round(n * weighted)), setting))
    for i, a in enumerate(strata):
        for b in strata[i + 1:]:
            if _may_overlap(a.where, b.where):
                raise ConfigError(f"{a.setting} and {b.setting} overlap ({a.name!r} / {b.name!r}); "
                                  "strata must be disjoint so that each count is exact")
    total = sum(s.count for s in strata)
    if total > n:
        raise ConfigError(f"cohort.quotas: the strata ask for {total} profiles, more than n_profiles={n}")
    return strata


def sample_profiles(
    synthesizer: Any,
    reference: pd.DataFrame,
    n: int,
    *,
    quotas: Sequence[Quota] = (),
    oversample: Sequence[Oversample] = (),
    seed: int = 0,
    reject_copies: bool = True,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """`n` profiles from a fitted SDV synthesizer, with ids P00001... and exact counts in every stratum; returns them
    and a log of what was done. `CohortSynthesizer.sample` runs this."""
    strata = plan_strata(n, reference, quotas, oversample)
    sampler = _Sampler(synthesizer, reference, seed, reject_copies)
    parts, entries = [], []
    for stratum in strata:
        rows, entry = sampler.fill(stratum)
        parts.append(rows)
        entries.append(entry)
    rest, rest_entry = sampler.remainder(n - sum(s.count for s in strata), [s.where for s in strata])
    parts.append(rest)
    profiles = pd.concat(parts, ignore_index=True)
    profiles = profiles.iloc[np.random.default_rng(seed).permutation(len(profiles))].reset_index(drop=True)
    sampling_log = {
        "n_profiles": n,
        "seed": seed,
        "strata": entries,
        "remainder": rest_entry,
        "reject_copies": reject_copies,
        "exact_copies_rejected": sampler.copies_rejected,
    }
    return to_profiles(profiles), sampling_log


def to_profiles(df: pd.DataFrame) -> pd.DataFrame:
    """Apply the profile contract: `patient_id` first (P00001, ...), whole-number ages as int."""
    df = df.reset_index(drop=True)
    if "age" in df.columns and df["age"].notna().all():
        df["age"] = df["age"].round().astype(np.int64)
    width = max(5, len(str(len(df))))
    ids = [f"P{i:0{width}d}" for i in range(1, len(df) + 1)]
    return pd.concat([pd.Series(ids, name="patient_id"), df.drop(columns="patient_id", errors="ignore")], axis=1)


class _Sampler:
    def __init__(self, synthesizer: Any, reference: pd.DataFrame, seed: int, reject_copies: bool):
        self.synthesizer = synthesizer
        self.reference = reference
        self.reject_copies = reject_copies
        self.rng = np.random.default_rng(seed)
        self.copies_rejected = 0
        synthesizer.reset_sampling()

    def _keep(self, df: pd.DataFrame) -> pd.DataFrame:
        if not self.reject_copies or df.empty:
            return df
        mask = copy_mask(df, self.reference)
        self.copies_rejected += int(mask.sum())
        return df[~mask]

    def _draw(self, k: int) -> pd.DataFrame:
        """`k` unconditional rows: `k` of the next `THINNING * k` rows of SDV's stream, picked by the seed."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stream = self.synthesizer.sample(num_rows=THINNING * k)[TABLE]
        picked = np.sort(self.rng.choice(len(stream), size=min(k, len(stream)), replace=False))
        return self._keep(stream.iloc[picked].reset_index(drop=True))

    def fill(self, stratum: Stratum) -> tuple[pd.DataFrame, dict[str, Any]]:
        need, parts = stratum.count, []
        share = float(matches(self.reference, stratum.where).mean())
        batch = int(min(REJECTION_BUDGET, max(1000, 2 * need / max(share, 1e-6))))
        drawn = found = 0
        while found < need and drawn < REJECTION_BUDGET:
            k = min(batch, REJECTION_BUDGET - drawn)
            hits = (d := self._draw(k))[matches(d, stratum.where)]
            drawn += k
            found += len(hits)
            parts.append(hits)
        entry: dict[str, Any] = {"name": stratum.name, "setting": stratum.setting, "where": describe(stratum.where),
                                 "count": need, "reference_share": round(share, 6),
                                 "rejection": {"drawn": drawn, "matched": found}}
        got = min(found, need)
        if got < need:
            conditional, errors, requested = self._conditional(stratum.where, need - got)
            parts.append(conditional)
            entry["conditional"] = {"requested": requested, "returned": len(conditional), "errors": errors}
            got += len(conditional)
            log.info("stratum %s: rejection found %d of %d, conditional sampling added %d",
                     stratum.name, found, need, len(conditional))
        entry["method"] = "rejection" if "conditional" not in entry else (
            "conditional" if found == 0 else "rejection+conditional")
        if got < need:
            cond = entry.get("conditional", {})
            raise DataError(
                f"{stratum.setting} ({stratum.name}): only {got} of {need} profiles could be sampled. Rejection "
                f"sampling found {found} in {drawn} draws (reference share {share:.4%}); SDV conditional sampling "
                f"returned {cond.get('returned', 0)} of {cond.get('requested', 0)} requested"
                + (f" ({cond['errors'][-1]})" if cond.get("errors") else "")
                + ". Widen the stratum or lower its count."
            )
        return pd.concat(parts, ignore_index=True).head(need), entry

    def _conditional(self, where: Where, need: int) -> tuple[pd.DataFrame, list[str], int]:
        from sdv.sampling import DataFrameCondition

        parts, errors, requested, got = [], [], 0, 0
        for _ in range(CONDITIONAL_ROUNDS):
            ask = math.ceil((need - got) * 1.2) + 2
            requested += ask
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    out = self.synthesizer.sample_from_conditions(
                        [DataFrameCondition(self._condition_values(where, ask))],
                        max_tries_per_batch=CONDITIONAL_TRIES)[TABLE]
            except Exception as err:  # SDV raises ValueError/SamplingError when rejection runs dry
                errors.append(f"{type(err).__name__}: {err}".strip())
                continue
            out = self._keep(out[matches(out, where)])
            parts.append(out)
            got += len(out)
            if got >= need:
                break
        rows = pd.concat(parts, ignore_index=True).head(need) if parts else pd.DataFrame()
        return rows, errors, requested

    def _condition_values(self, where: Where, k: int) -> pd.DataFrame:
        """`k` rows of condition values inside the stratum: joint from the reference rows in it, if any,
        else each column on its own from the reference values that meet its condition."""
        columns = list(where)
        inside = self.reference.loc[matches(self.reference, where), columns]
        if len(inside):
            return inside.iloc[self.rng.integers(0, len(inside), k)].reset_index(drop=True)
        values = {}
        for column in columns:
            pool = self.reference.loc[matches(self.reference, {column: where[column]}), column].dropna()
            values[column] = pool.to_numpy()[self.rng.integers(0, len(pool), k)]
        return pd.DataFrame(values)

    def remainder(self, k: int, strata: list[Where]) -> tuple[pd.DataFrame, dict[str, Any]]:
        """`k` unconditional profiles outside every stratum."""
        parts, drawn, found = [], 0, 0
        for _ in range(REMAINDER_ROUNDS):
            if found >= k:
                break
            batch = max(100, math.ceil((k - found) * 1.3))
            d = self._draw(batch)
            outside = pd.Series(True, index=d.index)
            for where in strata:
                outside &= ~matches(d, where)
            drawn += batch
            found += int(outside.sum())
            parts.append(d[outside])
        if found < k:
            raise DataError(f"cohort.n_profiles: only {found} of the {k} profiles outside the quota strata could be "
                            f"sampled in {drawn} draws; the strata cover (almost) the whole population")
        rows = pd.concat(parts, ignore_index=True).head(k) if parts else pd.DataFrame()
        return rows, {"count": k, "drawn": drawn, "method": "unconditional"}


def _may_overlap(a: Where, b: Where) -> bool:
    return all(_intersects(a[c], b[c]) for c in a.keys() & b.keys())


def _intersects(x: Any, y: Any) -> bool:
    if isinstance(x, Range) and isinstance(y, Range):
        return max(x.min if x.min is not None else -math.inf, y.min if y.min is not None else -math.inf) <= min(
            x.max if x.max is not None else math.inf, y.max if y.max is not None else math.inf)
    if isinstance(y, Range):
        x, y = y, x
    values = y if isinstance(y, list) else [y]
    if isinstance(x, Range):
        return any((x.min is None or v >= x.min) and (x.max is None or v <= x.max) for v in values)
    return bool(set(x if isinstance(x, list) else [x]) & set(values))
