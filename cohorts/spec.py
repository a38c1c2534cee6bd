"""Population specs: published marginals and associations (YAML) from which a seeded reference table is drawn.

A spec is a small Bayesian network: variables are drawn in the order written, each from its parents.
- categorical: weights that are the product of factors (each a table, optionally by one earlier variable);
- boolean: a marginal prevalence, shaped by odds ratios by earlier variables (the intercept is calibrated so
  the drawn prevalence matches the published one);
- numeric: uniform within a range per value of an earlier variable, or normal with shifts, clipped, rounded;
- derived: a boolean that is true when an earlier variable takes one of the listed values.
Every figure names its source: a key of `sources`, or `assumption` for a figure chosen by the spec's author.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from dualalign.config import StrictModel, load_model_yaml
from dualalign.errors import ConfigError

ASSUMPTION = "assumption"


class Factor(StrictModel):
    """Weights for the values of a categorical variable, optionally one table per value of `by`."""

    source: str
    note: str | None = None
    by: str | None = None
    values: dict[str, float] | dict[str, dict[str, float]]


class Effect(StrictModel):
    """Odds ratios (boolean) or mean shifts (numeric) per value of an earlier variable `by`."""

    by: str
    values: dict[str, float]
    source: str
    note: str | None = None


class Categorical(StrictModel):
    kind: Literal["categorical"]
    factors: list[Factor] = Field(min_length=1)
    missing: float = Field(0.0, ge=0, lt=1)
    keep: bool = True


class Boolean(StrictModel):
    kind: Literal["boolean"]
    prevalence: float = Field(gt=0, lt=1)
    source: str
    note: str | None = None
    odds_ratios: list[Effect] = Field(default_factory=list)
    keep: bool = True


class Numeric(StrictModel):
    kind: Literal["numeric"]
    source: str
    note: str | None = None
    integer: bool = True
    by: str | None = None
    ranges: dict[str, tuple[float, float]] | None = Field(None, description="uniform within a range per `by` value")
    mean: float | None = None
    sd: float | None = Field(None, gt=0)
    shifts: list[Effect] = Field(default_factory=list)
    min: float | None = None
    max: float | None = None
    missing: float = Field(0.0, ge=0, lt=1)
    keep: bool = True

    @model_validator(mode="after")
    def _one_shape(self) -> Numeric:
        if (self.ranges is None) == (self.mean is None or self.sd is None):
            raise ValueError("give either `by` + `ranges` or `mean` + `sd`")
        if self.ranges is not None and self.by is None:
            raise ValueError("`ranges` needs `by`")
        return self


class Derived(StrictModel):
    kind: Literal["derived"]
    source: str
    note: str | None = None
    by: str
    true_for: list[str] = Field(min_length=1)
    keep: bool = True


Variable = Annotated[Categorical | Boolean | Numeric | Derived, Field(discriminator="kind")]


class PopulationSpec(StrictModel):
    """Published figures for a population, with their sources."""

    name: str
    description: str = ""
    sources: dict[str, str] = Field(description="source id -> citation")
    variables: dict[str, Variable] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_references(self) -> PopulationSpec:
        seen: list[str] = []
        for name, var in self.variables.items():
            for source, parent in _sources_and_parents(var):
                if source != ASSUMPTION and source not in self.sources:
                    raise ValueError(f"variables.{name}: source {source!r} is not in `sources` nor 'assumption'")
                if parent is not None and parent not in seen:
                    raise ValueError(f"variables.{name}: depends on {parent!r}, which is not an earlier variable")
            seen.append(name)
        return self


def _sources_and_parents(var: Categorical | Boolean | Numeric | Derived) -> list[tuple[str, str | None]]:
    if isinstance(var, Categorical):
        return [(f.source, f.by) for f in var.factors]
    if isinstance(var, Boolean):
        return [(var.source, None)] + [(e.source, e.by) for e in var.odds_ratios]
    if isinstance(var, Numeric):
        return [(var.source, var.by)] + [(e.source, e.by) for e in var.shifts]
    return [(var.source, var.by)]


def builtin_spec_path(name: str) -> Path:
    """The packaged spec `cohorts/data/<name>.yaml`."""
    path = Path(str(resources.files("dualalign.cohorts").joinpath("data", f"{name}.yaml")))
    if not path.is_file():
        available = sorted(p.stem for p in path.parent.glob("*.yaml"))
        raise ConfigError(f"cohort.source: no built-in population spec {name!r} (available: {available})")
    return path


def load_spec(path: str | Path) -> PopulationSpec:
    return load_model_yaml(PopulationSpec, path)


def draw_reference(spec: PopulationSpec, n: int, seed: int) -> pd.DataFrame:
    """Draw `n` rows from the spec, seeded; helper variables with `keep: false` are dropped."""
    rng = np.random.default_rng(seed)
    table: dict[str, np.ndarray] = {}
    for name, var in spec.variables.items():
        try:
            table[name] = _draw(var, table, n, rng)
        except (KeyError, ValueError) as err:
            raise ConfigError(f"population spec {spec.name!r}, variables.{name}: {err}") from None
    columns = {}
    for name, var in spec.variables.items():
        values = table[name]
        if isinstance(var, Numeric) and var.integer and not np.isnan(values).any():
            values = values.astype(np.int64)
        if var.keep:
            columns[name] = values
    return pd.DataFrame(columns)


def _draw(var: Categorical | Boolean | Numeric | Derived, table: dict[str, np.ndarray], n: int,
          rng: np.random.Generator) -> np.ndarray:
    if isinstance(var, Categorical):
        return _draw_categorical(var, table, n, rng)
    if isinstance(var, Boolean):
        return _draw_boolean(var, table, n, rng)
    if isinstance(var, Numeric):
        return _draw_numeric(var, table, n, rng)
    return np.isin(_keys(table[var.by]), var.true_for)


def _keys(values: np.ndarray) -> np.ndarray:
    """A parent's values as strings, the way specs name them ("True", "85+"); missing values become ""."""
    return np.array(["" if pd.isna(v) else str(v) for v in values], dtype=object)


def _factor_weights(factor: Factor, levels: list[str], table: dict[str, np.ndarray], n: int) -> np.ndarray:
    """An (n, len(levels)) matrix of this factor's weights for each row."""
    if factor.by is None:
        return np.tile([float(factor.values.get(level, 0.0)) for level in levels], (n, 1))
    parent = _keys(table[factor.by])
    weights = np.zeros((n, len(levels)))
    for value, row in factor.values.items():
        if not isinstance(row, dict):
            raise ValueError(f"factor by {factor.by!r} needs one table per value, got {row!r} for {value!r}")
        weights[parent == value] = [float(row.get(level, 0.0)) for level in levels]
    unknown = set(parent[parent != ""]) - set(factor.values)
    if unknown:
        raise ValueError(f"factor by {factor.by!r} has no table for {sorted(map(str, unknown))}")
    return weights


def _draw_categorical(var: Categorical, table: dict[str, np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    levels: list[str] = []
    for factor in var.factors:
        rows = factor.values.values() if factor.by else [factor.values]
        for row in rows:
            levels += [level for level in row if level not in levels]
    weights = np.ones((n, len(levels)))
    for factor in var.factors:
        weights *= _factor_weights(factor, levels, table, n)
    totals = weights.sum(axis=1, keepdims=True)
    if (totals <= 0).any():
        raise ValueError("all weights are zero for some rows")
    cumulative = np.cumsum(weights / totals, axis=1)
    index = (rng.random((n, 1)) > cumulative).sum(axis=1).clip(max=len(levels) - 1)
    values = np.array(levels, dtype=object)[index]
    values[rng.random(n) < var.missing] = None
    return values


def _draw_boolean(var: Boolean, table: dict[str, np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    log_odds = np.zeros(n)
    for effect in var.odds_ratios:
        parent = _keys(table[effect.by])
        for value, ratio in effect.values.items():
            log_odds[parent == value] += np.log(ratio)
    intercept = _calibrate_intercept(log_odds, var.prevalence)
    p = 1.0 / (1.0 + np.exp(-(intercept + log_odds)))
    return rng.random(n) < p


def _calibrate_intercept(log_odds: np.ndarray, prevalence: float) -> float:
    """The intercept that makes the mean probability equal to `prevalence` (bisection)."""
    low, high = -30.0, 30.0
    for _ in range(100):
        mid = (low + high) / 2
        if np.mean(1.0 / (1.0 + np.exp(-(mid + log_odds)))) < prevalence:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def _draw_numeric(var: Numeric, table: dict[str, np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    if var.ranges is not None:
        parent = _keys(table[var.by])
        low, high = np.full(n, np.nan), np.full(n, np.nan)
        for value, (lo, hi) in var.ranges.items():
            low[parent == value], high[parent == value] = lo, hi
        if np.isnan(low[parent != ""]).any():
            raise ValueError(f"no range for some values of {var.by!r}")
        top = high + 1 if var.integer else high  # integers: uniform over lo..hi inclusive
        values = low + rng.random(n) * (top - low)
    else:
        mean = np.full(n, var.mean)
        for effect in var.shifts:
            parent = _keys(table[effect.by])
            for value, shift in effect.values.items():
                mean[parent == value] += shift
        values = rng.normal(mean, var.sd)
    values = np.clip(values, var.min if var.min is not None else -np.inf, var.max if var.max is not None else np.inf)
    values = np.floor(values) if var.integer and var.ranges is not None else values
    values = np.round(values) if var.integer else values
    values[rng.random(n) < var.missing] = np.nan
    return values
