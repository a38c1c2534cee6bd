"""Reference populations: a table (CSV, Parquet, DataFrame) or a population spec, validated before fitting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dualalign.cohorts.config import BUILTIN_PREFIX, CohortConfig
from dualalign.cohorts.sampling import plan_strata
from dualalign.cohorts.spec import builtin_spec_path, draw_reference, load_spec
from dualalign.errors import ConfigError, DataError

SPEC_SUFFIXES = {".yaml", ".yml"}
TABLE_READERS = {".csv": pd.read_csv, ".parquet": pd.read_parquet, ".pq": pd.read_parquet}
NUMERIC_PROFILE_COLUMNS = ("age", "education_years")
SEX_VALUES = {"F", "M"}


def load_reference(cfg: CohortConfig, seed: int = 0, data: pd.DataFrame | None = None) -> pd.DataFrame:
    """The reference population named by `cfg.source` (or `data`), mapped onto the profile columns and validated.

    A population spec is drawn with `seed` (`cfg.spec_rows` rows). Missing values are kept.
    """
    if data is not None:
        return prepare_table(data, cfg, "reference DataFrame")
    path = cfg.source_path()
    if path is None:
        spec_path = builtin_spec_path(cfg.source.removeprefix(BUILTIN_PREFIX))
    elif path.suffix.lower() in SPEC_SUFFIXES:
        spec_path = path
    else:
        return prepare_table(read_table(path), cfg, str(path))
    spec = load_spec(spec_path)
    return validate_reference(draw_reference(spec, cfg.spec_rows, seed), cfg, f"population spec {spec_path}")


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file; every failure is a DataError naming the file."""
    reader = TABLE_READERS.get(path.suffix.lower())
    if reader is None:
        raise DataError(f"{path}: unsupported file type {path.suffix!r} (use .csv, .parquet or a spec .yaml)")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        df = reader(path)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty (no header, no rows)") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as err:
        raise DataError(f"{path}: cannot be parsed: {err}") from None
    # a trailing comma in a CSV header makes an unnamed, empty column: not data
    unnamed_empty = [c for c in df.columns if str(c).startswith("Unnamed: ") and df[c].isna().all()]
    return df.drop(columns=unnamed_empty)


def prepare_table(df: pd.DataFrame, cfg: CohortConfig, label: str) -> pd.DataFrame:
    """Select, deduplicate per subject, rename and recode a table as the config says, then validate it."""
    named = {"cohort.columns": cfg.columns or [], "cohort.column_map": list(cfg.column_map),
             "cohort.order_by": cfg.order_by, "cohort.one_row_per": [cfg.one_row_per] if cfg.one_row_per else []}
    for setting, columns in named.items():
        for column in columns:
            if column not in df.columns:
                raise DataError(f"{label}: column {column!r} named in {setting} not found "
                                f"(columns: {', '.join(map(str, df.columns))})")
    if cfg.one_row_per:
        df = df.sort_values(cfg.order_by, kind="stable") if cfg.order_by else df
        df = df.drop_duplicates(subset=cfg.one_row_per, keep="first")
    if cfg.columns is not None:
        df = df[cfg.columns]
    df = df.rename(columns=cfg.column_map).reset_index(drop=True)
    for column, mapping in cfg.value_map.items():
        if column not in df.columns:
            raise ConfigError(f"cohort.value_map.{column}: no such profile column (columns: {', '.join(df.columns)})")
        df[column] = df[column].map(lambda v: mapping.get(v, v) if pd.notna(v) else v)
    return validate_reference(df, cfg, label)


def validate_reference(df: pd.DataFrame, cfg: CohortConfig, label: str) -> pd.DataFrame:
    """Check what fitting needs: enough rows, no empty column, numeric ages, F/M sex, known sdtype columns."""
    if len(df) < cfg.min_rows:
        raise DataError(f"{label}: {len(df)} rows, fewer than the {cfg.min_rows} needed (cohort.min_rows)")
    duplicated = df.columns[df.columns.duplicated()].tolist()
    if duplicated:
        raise DataError(f"{label}: duplicate columns after renaming: {duplicated}")
    for column in df.columns:
        if df[column].isna().all():
            raise DataError(f"{label}: column {column!r} has no values (all missing); drop it from cohort.columns")
    numeric = [c for c in NUMERIC_PROFILE_COLUMNS if c in df.columns]
    numeric += [c for c, sdtype in cfg.sdtypes.items() if sdtype == "numerical" and c in df.columns]
    for column in numeric:
        df[column] = _as_numeric(df[column], column, label, cfg)
    if "sex" in df.columns:
        bad = sorted(set(df["sex"].dropna().astype(str)) - SEX_VALUES)
        if bad:
            raise DataError(f"{label}: column {_source_name('sex', cfg)!r} (sex) must be F or M, found {bad[:5]}; "
                            "recode it with cohort.value_map")
    for column in cfg.sdtypes:
        if column not in df.columns:
            raise ConfigError(f"cohort.sdtypes.{column}: no such profile column (columns: {', '.join(df.columns)})")
    return df


def split_holdout(reference: pd.DataFrame, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split off a seeded holdout (the privacy baseline); the rest is what the synthesizer is fitted on."""
    n_holdout = int(round(len(reference) * fraction))
    order = np.random.default_rng(seed).permutation(len(reference))
    holdout = reference.iloc[np.sort(order[:n_holdout])].reset_index(drop=True)
    training = reference.iloc[np.sort(order[n_holdout:])].reset_index(drop=True)
    return training, holdout


def prepare_reference(cfg: CohortConfig, seed: int, data: pd.DataFrame | None = None
                      ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The validated reference split into (training, holdout), with the quotas checked against it."""
    training, holdout = split_holdout(load_reference(cfg, seed, data), cfg.holdout_fraction, seed)
    plan_strata(cfg.n_profiles, training, cfg.quotas, cfg.oversample)
    return training, holdout


def _as_numeric(series: pd.Series, column: str, label: str, cfg: CohortConfig) -> pd.Series:
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        values = series
    else:
        values = pd.to_numeric(series, errors="coerce")
        bad = series[values.isna() & series.notna()]
        if len(bad):
            raise DataError(f"{label}: column {_source_name(column, cfg)!r} ({column}) must be numeric, "
                            f"found {bad.iloc[0]!r} ({len(bad)} non-numeric values)")
    if values.notna().all() and (values % 1 == 0).all():
        return values.astype(np.int64)
    return values.astype(float)


def _source_name(column: str, cfg: CohortConfig) -> str:
    """The name a profile column has in the source table."""
    return next((src for src, dst in cfg.column_map.items() if dst == column), column)
