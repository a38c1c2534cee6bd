"""The `evaluation:` section of the run config: intrinsic measures always; a downstream comparison on gold data."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from dualalign.config import StrictModel
from dualalign.train.config import TrainConfig


class EvaluationConfig(StrictModel):
    gold: Path | None = Field(None, description="real labelled sentences (CSV/Parquet) for the downstream comparison")
    text_column: str = "text"
    label_column: str = "label"
    test_fraction: float = Field(0.5, gt=0, lt=1, description="share of gold kept apart as the real test set")
    passed_only: bool = Field(True, description="train on synthetic sentences that passed the grounding checks only")
    train: TrainConfig = Field(default_factory=TrainConfig)
    examples_per_cell: int = Field(3, ge=0, description="example sentences per label and variant in the report")
