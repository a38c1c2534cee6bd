"""SDV synthesizers: metadata detected then overridden per column, seeded fitting, saving and loading."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dualalign.errors import ConfigError, DataError
from dualalign.io import atomic_path

TABLE = "cohort"
SYNTHESIZER_CLASSES = {
    "gaussian_copula": "GaussianCopulaSynthesizer",
    "ctgan": "CTGANSynthesizer",
    "tvae": "TVAESynthesizer",
}


def build_metadata(reference: pd.DataFrame, sdtypes: dict[str, str] | None = None) -> Any:
    """SDV metadata detected from the reference, with `sdtypes` overrides (column -> sdtype)."""
    from sdv.metadata import Metadata

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        metadata = Metadata.detect_from_dataframes({TABLE: reference})
    for column, sdtype in (sdtypes or {}).items():
        try:
            metadata.update_column(column_name=column, sdtype=sdtype, table_name=TABLE)
        except Exception as err:  # SDV raises several error types for a bad sdtype
            raise ConfigError(f"cohort.sdtypes.{column}: {sdtype!r} is not usable: {err}") from None
    return metadata


def fit_synthesizer(
    reference: pd.DataFrame,
    kind: str = "gaussian_copula",
    *,
    seed: int = 0,
    synthesizer_args: dict[str, Any] | None = None,
    sdtypes: dict[str, str] | None = None,
) -> Any:
    """Fit an SDV synthesizer (`gaussian_copula`, `ctgan` or `tvae`) on the reference, seeded."""
    import sdv.single_table

    if kind not in SYNTHESIZER_CLASSES:
        raise ConfigError(f"cohort.synthesizer: unknown synthesizer {kind!r} (use {', '.join(SYNTHESIZER_CLASSES)})")
    metadata = build_metadata(reference, sdtypes)
    cls = getattr(sdv.single_table, SYNTHESIZER_CLASSES[kind])
    with seeded_globals(seed), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            synthesizer = cls(metadata, **(synthesizer_args or {}))
        except TypeError as err:
            raise ConfigError(f"cohort.synthesizer_args: {err}") from None
        try:
            synthesizer.fit({TABLE: reference})
        except (ValueError, TypeError) as err:  # SDV's InvalidDataError is a ValueError
            raise DataError(f"reference table cannot be fitted by {kind}: {err}") from None
    return synthesizer


def save_synthesizer(synthesizer: Any, path: str | Path) -> None:
    """Save with SDV's own `save` (cloudpickle), atomically."""
    with atomic_path(path) as tmp:
        synthesizer.save(str(tmp))


def load_synthesizer(path: str | Path) -> Any:
    from sdv.utils import load_synthesizer as sdv_load

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no fitted synthesizer; run `dualalign cohort fit` first")
    return sdv_load(str(path))


def table_metadata(synthesizer: Any) -> dict[str, Any]:
    """The single-table metadata dict SDMetrics takes."""
    return synthesizer.get_metadata().to_dict()["tables"][TABLE]


@contextlib.contextmanager
def seeded_globals(seed: int) -> Iterator[None]:
    """Seed numpy's and torch's global generators for a fit (CTGAN/TVAE draw from them), then restore them."""
    import torch  # already imported by sdv

    np_state, torch_state = np.random.get_state(), torch.get_rng_state()
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    try:
        yield
    finally:
        np.random.set_state(np_state)
        torch.set_rng_state(torch_state)
