"""Real labelled text: read and check a table against a pack's labels, and split it reproducibly."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from dualalign.errors import DataError
from dualalign.trajectories.pack import ConditionPack


def read_labelled(path: Path, text_column: str, label_column: str, pack: ConditionPack) -> pd.DataFrame:
    """Columns `text`, `label` (pack label ids). Labels may be given as ids or as the pack's label names."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        df = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except (ValueError, OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise DataError(f"{path}: cannot be read as a table: {err}") from None
    missing = [c for c in (text_column, label_column) if c not in df.columns]
    if missing:
        raise DataError(f"{path}: no column {missing[0]!r} (columns: {', '.join(map(str, df.columns))})")
    df = df[[text_column, label_column]].dropna()
    if df.empty:
        raise DataError(f"{path}: no rows with both {text_column!r} and {label_column!r}")
    by_name = {label.name: label_id for label_id, label in pack.labels.items()} | {k: k for k in pack.labels}
    unknown = sorted(set(df[label_column].astype(str)) - set(by_name))
    if unknown:
        raise DataError(f"{path}: labels not in pack {pack.name!r}: {unknown}")
    return pd.DataFrame({"text": df[text_column].astype(str), "label": df[label_column].astype(str).map(by_name)})


def stratified_split(df: pd.DataFrame, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rest, part): `part` holds about `fraction` of each label's distinct texts (at least one where a label has
    two). Rows that repeat a text go to the same side, so no text is on both sides."""
    rng = np.random.default_rng(seed)
    distinct = df.drop_duplicates("text")
    picked: set[str] = set()
    for _, texts in distinct.groupby("label")["text"]:
        n = len(texts)
        k = min(max(int(round(n * fraction)), 1), n - 1) if n > 1 else 0
        picked.update(rng.choice(texts.to_numpy(), size=k, replace=False))
    mask = df["text"].isin(picked).to_numpy()
    return df[~mask].reset_index(drop=True), df[mask].reset_index(drop=True)


def per_label_split(df: pd.DataFrame, k: int, seed: int | Sequence[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rest, part): `part` holds k distinct texts of each label, drawn with `seed`, and `rest` the rows whose text
    is none of them; a label with k or fewer distinct texts, which would leave none to test on, is a DataError."""
    rng = np.random.default_rng(seed)
    distinct = df.drop_duplicates("text")
    picked: set[str] = set()
    for label, texts in distinct.groupby("label")["text"]:
        if len(texts) <= k:
            raise DataError(f"label {label!r} has {len(texts)} distinct texts: {k} per label as gold leaves none "
                            "to test on")  # fmt: skip
        picked.update(rng.choice(texts.to_numpy(), size=k, replace=False))
    mask = df["text"].isin(picked).to_numpy()
    return df[~mask].reset_index(drop=True), df[mask].drop_duplicates("text").reset_index(drop=True)


def cap_per_label(df: pd.DataFrame, n: int, seed: int | Sequence[int]) -> pd.DataFrame:
    """At most `n` rows of each label, drawn with `seed` (every row of a label that has `n` or fewer), in their
    original order."""
    rng = np.random.default_rng(seed)
    keep = [rng.permutation(rows.to_numpy())[:n] for _, rows in sorted(df.groupby("label").groups.items())]
    return df.loc[np.sort(np.concatenate(keep))].reset_index(drop=True)
