"""The cohort synthesizer: an SDV single-table synthesizer with the layer's sampler, in SDV's way (construct from
the settings, `fit`, `sample`, `save`, `load`)."""

from __future__ import annotations

import contextlib
import pickle
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dualalign.cohorts.config import CohortConfig, Oversample, Quota
from dualalign.cohorts.sampling import TABLE, sample_profiles
from dualalign.errors import ConfigError, DataError, DualAlignError
from dualalign.io import atomic_path

SYNTHESIZER_CLASSES = {
    "gaussian_copula": "GaussianCopulaSynthesizer",
    "ctgan": "CTGANSynthesizer",
    "tvae": "TVAESynthesizer",
}


class CohortSynthesizer:
    """Fits an SDV synthesizer (`gaussian_copula`, `ctgan` or `tvae`) on a reference and samples profiles from it.

    `synthesizer_args` go to the SDV class, `sdtypes` (column -> sdtype) override the detected metadata, `seed`
    seeds the fit and is the default sampling seed. Fitted attributes: `synthesizer_` (the SDV synthesizer) and
    `training_` (the rows it was fitted on, which quotas are checked against and profiles must not copy).
    """

    def __init__(self, kind: str = "gaussian_copula", *, synthesizer_args: dict[str, Any] | None = None,
                 sdtypes: dict[str, str] | None = None, seed: int = 0):
        if kind not in SYNTHESIZER_CLASSES:
            raise ConfigError(f"cohort.synthesizer: unknown synthesizer {kind!r} "
                              f"(use {', '.join(SYNTHESIZER_CLASSES)})")
        self.kind = kind
        self.synthesizer_args = dict(synthesizer_args or {})
        self.sdtypes = dict(sdtypes or {})
        self.seed = seed

    @classmethod
    def from_config(cls, cfg: CohortConfig, seed: int) -> CohortSynthesizer:
        return cls(cfg.synthesizer, synthesizer_args=cfg.synthesizer_args, sdtypes=cfg.sdtypes, seed=seed)

    def fit(self, training: pd.DataFrame) -> CohortSynthesizer:
        """Fit on the reference rows, seeded."""
        import sdv.single_table

        metadata = build_metadata(training, self.sdtypes)
        cls = getattr(sdv.single_table, SYNTHESIZER_CLASSES[self.kind])
        with seeded_globals(self.seed), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                synthesizer = cls(metadata, **self.synthesizer_args)
            except TypeError as err:
                raise ConfigError(f"cohort.synthesizer_args: {err}") from None
            try:
                synthesizer.fit({TABLE: training})
            except (ValueError, TypeError) as err:  # SDV's InvalidDataError is a ValueError
                raise DataError(f"reference table cannot be fitted by {self.kind}: {err}") from None
        self.synthesizer_, self.training_ = synthesizer, training.reset_index(drop=True)
        return self

    def sample(self, n: int, *, quotas: Sequence[Quota] = (), oversample: Sequence[Oversample] = (),
               seed: int | None = None, reject_copies: bool = True) -> tuple[pd.DataFrame, dict[str, Any]]:
        """`n` profiles with ids P00001..., exact counts in every quota and oversampled stratum, and a log of how
        they were sampled. The same seed (default: the synthesizer's) gives the same profiles."""
        self._check_fitted()
        return sample_profiles(self.synthesizer_, self.training_, n, quotas=quotas, oversample=oversample,
                               seed=self.seed if seed is None else seed, reject_copies=reject_copies)

    @property
    def metadata(self) -> dict[str, Any]:
        """The single-table metadata dict SDMetrics takes."""
        self._check_fitted()
        return self.synthesizer_.get_metadata().to_dict()["tables"][TABLE]

    def save(self, path: str | Path) -> None:
        """Pickle the fitted synthesizer to `path`, atomically."""
        self._check_fitted()
        with atomic_path(path) as tmp:
            tmp.write_bytes(pickle.dumps(self))

    @classmethod
    def load(cls, path: str | Path) -> CohortSynthesizer:
        """A synthesizer written by `save`."""
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: no fitted synthesizer; run `dualalign cohort fit` first")
        try:
            synthesizer = pickle.loads(path.read_bytes())
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as err:
            raise DataError(f"{path}: not a readable cohort synthesizer ({err}); run `dualalign cohort fit` "
                            "again") from None
        if not isinstance(synthesizer, cls):
            raise DataError(f"{path}: holds a {type(synthesizer).__name__}, not a cohort synthesizer; run "
                            "`dualalign cohort fit` again")
        return synthesizer

    def _check_fitted(self) -> None:
        if not hasattr(self, "synthesizer_"):
            raise DualAlignError("the cohort synthesizer is not fitted: call fit(training) first")


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
