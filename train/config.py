"""The run config's `train:` section: which classifier, its settings, the mixtures, seeds and ratio."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from dualalign.config import StrictModel

MixtureName = Literal[
    "gold", "gold+guided", "gold+unguided", "gold+statistical", "gold+semantic", "guided", "unguided", "statistical",
    "semantic",
]  # fmt: skip


class TrainConfig(StrictModel):
    classifier: Literal["embedding-logreg", "encoder", "lora-llm"] = "embedding-logreg"
    settings: dict[str, Any] = Field(default_factory=dict, description="constructor settings of the classifier")
    mixtures: list[MixtureName] | None = Field(None, description="default: every mixture whose data exists")
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], min_length=1)
    ratio: float | None = Field(1.0, ge=0, description="synthetic rows per gold row; null: all synthetic rows")
    cap: int | None = Field(None, ge=0, description="at most this many synthetic rows per mixture")
