"""The `evaluation:` section of the run config: intrinsic measures always; a downstream comparison on gold data."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

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


class PrivacyConfig(StrictModel):
    """The release gate: what every privacy check must show before `dataset/` and `fhir/` are written.

    The gate fails closed: a check whose input is missing or unreadable blocks the export. A check is "not
    applicable" only where the run's config rules its figure out (no trajectory store, fewer profiles than attribute
    disclosure needs, no holdout), and the report and dataset card say why."""

    max_membership_auc: float = Field(
        0.6, ge=0.5, le=1, description="profiles: ROC AUC of a distance-based membership-inference attack telling "
        "fitted reference rows from held-out ones (0.5: chance)",
    )  # fmt: skip
    max_exact_copies: int = Field(0, ge=0, description="profiles identical to a reference row")
    min_disclosure_protection: float = Field(
        0.5, ge=0, le=1, description="profiles: SDMetrics DisclosureProtection (CAP attack from age, sex, race and "
        "education) of the most exposed sensitive column; 1: no more than the column's own distribution tells",
    )  # fmt: skip
    max_timeline_linkage: float = Field(
        0.05, ge=0, le=1, description="trajectories: share of patients whose visit timeline equals a stored one"
    )
    max_phi_texts: int = Field(0, ge=0, description="texts in which the PHI detector finds a name, place, date, ...")
    max_copied_share: float = Field(
        0.01, ge=0, le=1, description="texts sharing a run of 8 words with a gold text or pack example"
    )
    max_near_duplicate_share: float = Field(
        0.01, ge=0, le=1, description="texts whose embedding is within cosine 0.95 of a gold text or pack example"
    )


class ReviewConfig(StrictModel):
    """Clinician review (`dualalign review`, `dualalign approve`): which items a reviewer is shown, and the release
    gate's review checks, off unless `required` (their source is the run's `review.jsonl`)."""

    sample_size: int = Field(40, ge=1, description="items in the review sample (every item when the run has fewer)")
    seed: int | None = Field(None, description="draws the sample (None: the run's seed)")
    strata: list[Literal["variant", "label", "note_type", "stage"]] = Field(
        default_factory=lambda: ["variant", "label"], min_length=1,
        description="item columns whose every combination (cell) gets items before any cell gets a second",
    )  # fmt: skip
    risky_share: float = Field(
        0.5, ge=0, le=1, description="share of the sample taken first from the risky items: lowest label margin, "
        "nearest a gate threshold, a PHI detector hit under its limit",
    )  # fmt: skip
    required: bool = Field(False, description="the release gate holds the run to the review checks below")
    min_reviewed: int = Field(20, ge=0, description="items with a verdict on their current text")
    max_implausible_share: float = Field(
        0.1, ge=0, le=1, description="share of reviewed items that some reviewer marked implausible"
    )
    max_unsafe: int = Field(0, ge=0, description="items that some reviewer marked unsafe")
