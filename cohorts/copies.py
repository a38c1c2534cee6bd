"""Exact copies: synthetic rows identical to a reference row on every shared column (missing equals missing)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def row_keys(df: pd.DataFrame, columns: list[str]) -> pd.Series:
    """One hash per row over `columns`; numbers compare by value (12 == 12.0), missing values compare equal."""
    normalised = {}
    for column in columns:
        values = df[column]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            normalised[column] = values.astype(float).round(9).map(lambda v: "" if np.isnan(v) else repr(v))
        else:
            normalised[column] = values.map(lambda v: "" if pd.isna(v) else str(v))
    return pd.util.hash_pandas_object(pd.DataFrame(normalised, index=df.index), index=False)


def copy_mask(synthetic: pd.DataFrame, reference: pd.DataFrame) -> pd.Series:
    """True for each synthetic row that exactly copies some reference row."""
    columns = [c for c in reference.columns if c in synthetic.columns]
    return row_keys(synthetic, columns).isin(set(row_keys(reference, columns)))


def count_exact_copies(synthetic: pd.DataFrame, reference: pd.DataFrame) -> int:
    return int(copy_mask(synthetic, reference).sum())
