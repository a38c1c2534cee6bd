"""The trajectory stage: profiles in, one row per planned note out (and its parquet file)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from dualalign.encoders import load_sentence_encoder
from dualalign.io import write_parquet
from dualalign.runfolder import COHORT, TRAJECTORIES
from dualalign.stage import Stage, StageResult
from dualalign.trajectories.config import TrajectoryConfig
from dualalign.trajectories.pack import load_pack, resolve_pack_path
from dualalign.trajectories.sample import NOTE_COLUMNS, sample_from_model
from dualalign.trajectories.store import TrajectoryStore


def read_store(cfg: TrajectoryConfig) -> TrajectoryStore | None:
    """The config's trajectory store (None without one)."""
    return None if cfg.store is None else TrajectoryStore.read(cfg.store, load_pack(cfg.pack))


def sample_trajectories(profiles: pd.DataFrame, cfg: TrajectoryConfig, seed: int,
                        store: TrajectoryStore | None = None) -> pd.DataFrame:  # fmt: skip
    """One row per note: patient_id, note_id, visit_day, age_at_visit, note_type, stage, mentions.

    With `cfg.store` the trajectories are retrieved from the k nearest stored patients (of `store`, when it is
    already read); without it they are sampled from the pack's model (what a store filled from the model would
    give, without the detour).
    """
    window = {"years_before": cfg.years_before, "years_after": cfg.years_after,
              "mention_multiplier": cfg.mention_multiplier, "seed": seed}
    if cfg.store is None:
        return sample_from_model(profiles, load_pack(cfg.pack), **window).notes
    store = store or read_store(cfg)
    if cfg.embedding_weight > 0:
        store.build_index(load_sentence_encoder(cfg.embedding_model))
    return store.sample(profiles, k=cfg.k_neighbors, embedding_weight=cfg.embedding_weight,
                        day_jitter=cfg.day_jitter, **window)  # fmt: skip


def source_figures(notes: pd.DataFrame, cfg: TrajectoryConfig, store: TrajectoryStore | None = None) -> dict:
    """Where the trajectories came from and, from a store, how many could be linked back to a stored patient. Without
    a store the linkage check does not apply, and the figures say why."""
    if cfg.store is None:
        return {"source": f"pack {cfg.pack} model", "timeline_linkage": None,
                "not_applicable": {"timeline_linkage": "no trajectory store (trajectories.store is not set): "
                                                       "timelines are sampled from the pack's model"}}  # fmt: skip
    linkage = (store or read_store(cfg)).linkage(notes, cfg.years_before, cfg.years_after)
    return {"source": str(cfg.store), "day_jitter": cfg.day_jitter, "timeline_linkage": linkage}


def write_trajectories(path: str | Path, notes: pd.DataFrame) -> None:
    """Write the notes table atomically (mentions become parquet list<struct<label, term, domain>>)."""
    write_parquet(path, notes[NOTE_COLUMNS])


def read_trajectories(path: str | Path) -> pd.DataFrame:
    """Read a notes table back, with `mentions` as Python lists of dicts again."""
    notes = pd.read_parquet(path)
    notes["mentions"] = [list(m) if isinstance(m, (list, np.ndarray)) else [] for m in notes["mentions"]]
    return notes


@dataclass(kw_only=True)
class TrajectoryStage(Stage):
    """Profiles of the cohort in, `trajectories.parquet` out, and the `trajectories` figures (source, linkage);
    reads the pack (and the store, if one is given)."""

    name: ClassVar[str] = "trajectories"
    reads: ClassVar[tuple[str, ...]] = (COHORT,)
    writes: ClassVar[tuple[str, ...]] = (TRAJECTORIES,)
    figures: ClassVar[tuple[str, ...]] = ("trajectories",)
    trajectories: TrajectoryConfig

    def files(self) -> tuple[Path, ...]:
        cfg = self.trajectories
        return (resolve_pack_path(cfg.pack), *((Path(cfg.store),) if cfg.store else ()))

    def execute(self) -> StageResult:
        cfg = self.trajectories
        store = read_store(cfg)  # read once: sampled from, then checked for linkage
        notes = sample_trajectories(pd.read_parquet(self.run.file(COHORT)), cfg, self.seed, store)
        write_trajectories(self.run.file(TRAJECTORIES), notes)
        return StageResult(figures={"trajectories": source_figures(notes, cfg, store)})
