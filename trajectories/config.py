"""The `trajectories:` section of the run config."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from dualalign.config import StrictModel


class TrajectoryConfig(StrictModel):
    """Which condition pack, which window of notes, how dense the mentions, and where real trajectories are."""

    pack: str = Field("alzheimers", description="a built-in pack name or a path to a pack YAML")
    years_before: float = Field(10.0, gt=0, description="years of notes before diagnosis")
    years_after: float = Field(0.0, ge=0, description="years of notes after diagnosis")
    mention_multiplier: float = Field(1.0, gt=0, description="scales the pack's mentions per note (paper: 5)")
    store: Path | None = Field(None, description="a real-trajectory table (CSV or Parquet); None: the pack's model")
    k_neighbors: int = Field(5, ge=1, description="stored patients a profile's trajectory is drawn from")
    day_jitter: int = Field(
        14, ge=0, description="store retrieval: each copied visit day moves by up to this many days, so that a "
        "timeline is not a real patient's (0: copied as stored; the release gate checks the linkage)",
    )
    embedding_model: str = Field("embedded:minilm-l6", description="sentence encoder of the store's index")
    embedding_weight: float = Field(
        0.3, ge=0, le=1, description="share of the embedding similarity in the retrieval score (rest: profile)"
    )
