"""The run config's `train:` section: which classifier, its settings, the mixtures, seeds and ratio."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from dualalign.config import StrictModel

MixtureName = Literal[
    "gold", "gold+guided", "gold+unguided", "gold+statistical", "gold+semantic", "guided", "unguided", "statistical",
    "semantic",
]  # fmt: skip


class TrainConfig(StrictModel):
    classifier: str = Field("embedding-logreg", description="a name in `dualalign.train.registry.CLASSIFIERS`")
    settings: dict[str, Any] = Field(default_factory=dict, description="constructor settings of the classifier")
    mixtures: list[MixtureName] | None = Field(None, description="default: every mixture whose data exists")
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], min_length=1)
    ratio: float | None = Field(1.0, ge=0, description="synthetic rows per gold row; null: all synthetic rows")
    cap: int | None = Field(None, ge=0, description="at most this many synthetic rows per mixture")

    @model_validator(mode="after")
    def _known_classifier(self) -> "TrainConfig":
        from dualalign.train.registry import classifier_problem  # imports the classifiers' modules (light)

        problem = classifier_problem(self.classifier, self.settings)
        if problem:
            raise ValueError(problem)
        return self
