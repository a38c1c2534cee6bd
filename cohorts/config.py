"""The `cohort:` section of the run config: where the reference comes from, how it is fitted and sampled."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from dualalign.config import StrictModel

BUILTIN_PREFIX = "builtin:"
Scalar = str | int | float | bool


class Range(StrictModel):
    """An inclusive numeric range; either end may be open."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.min is None and self.max is None:
            raise ValueError("a range needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


# column -> one value, a list of accepted values, or a numeric range
Where = dict[str, Range | list[Scalar] | Scalar]


class Quota(StrictModel):
    """Exactly `count` profiles in the stratum `where` (e.g. {sex: F, race_ethnicity: Black, age: {min: 85}})."""

    where: Where = Field(min_length=1)
    count: int = Field(ge=1)
    name: str | None = None


class Oversample(StrictModel):
    """Make the stratum `where` `weight` times as frequent among the profiles as in the reference."""

    where: Where = Field(min_length=1)
    weight: float = Field(gt=0)
    name: str | None = None


class CohortConfig(StrictModel):
    """Reference population, synthesizer and sampling plan for the patient profiles."""

    source: str = Field(
        "builtin:alzheimers_us",
        description="builtin:<name>, a CSV/Parquet table, or a population-spec YAML",
    )
    # table sources: what to keep and how to map it onto the profile contract
    columns: list[str] | None = Field(None, description="source columns to keep (before renaming)")
    column_map: dict[str, str] = Field(default_factory=dict, description="source column -> profile column")
    value_map: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="profile column -> {source value: profile value}"
    )
    one_row_per: str | None = Field(None, description="keep one row per value of this column (e.g. a subject id)")
    order_by: list[str] = Field(default_factory=list, description="sort before one_row_per keeps the first row")
    min_rows: int = Field(20, ge=2)
    # population-spec sources: how many reference rows to draw
    spec_rows: int = Field(5000, ge=10)
    # fitting
    synthesizer: Literal["gaussian_copula", "ctgan", "tvae"] = "gaussian_copula"
    synthesizer_args: dict[str, Any] = Field(default_factory=dict, description="e.g. {epochs: 300} for CTGAN/TVAE")
    sdtypes: dict[str, str] = Field(default_factory=dict, description="profile column -> SDV sdtype override")
    holdout_fraction: float = Field(0.2, ge=0, lt=1, description="reference rows kept out of fitting for privacy")
    # sampling
    n_profiles: int = Field(8, ge=1)
    quotas: list[Quota] = Field(default_factory=list)
    oversample: list[Oversample] = Field(default_factory=list)
    reject_copies: bool = Field(True, description="redraw profiles identical to a reference row")
    # report
    min_quality: float = Field(0.8, ge=0, le=1)
    known_columns: list[str] = Field(
        default_factory=lambda: ["age", "sex", "race_ethnicity", "education_years"],
        description="attribute disclosure: what an attacker knows of a real person (those present are used)",
    )
    sensitive_columns: list[str] | None = Field(
        None, description="attribute disclosure: the columns the attacker guesses, each on its own (None: all others)"
    )
    plots: bool = True

    def source_path(self) -> Path | None:
        """The source as a path (relative to the working directory), or None for a built-in spec."""
        if self.source.startswith(BUILTIN_PREFIX):
            return None
        return Path(self.source).expanduser()
