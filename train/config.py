"""The run config's `train:` section: which classifier, its settings, the mixtures, seeds and ratio, and whether to
score robustness."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

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
    synthetic_weight: float | Literal["auto"] = Field(
        1.0, description="sample weight of the synthetic rows of a gold + synthetic mixture (gold rows weigh 1), or "
        "'auto': chosen by cross-validation over the gold rows (never the test rows)")  # fmt: skip
    robustness: bool = Field(True, description="also score each classifier on perturbed copies of the test texts "
                             "(typos, dropped words, first sentence only, lower case: `train.robustness`)")

    @field_validator("synthetic_weight", mode="before")
    @classmethod
    def _weight(cls, value: Any) -> float | str:
        if value == "auto":
            return value
        try:
            weight = float(value)
        except (TypeError, ValueError):
            weight = -1.0
        if not weight >= 0:
            raise ValueError(f"expected a number >= 0 or 'auto', got {value!r}")
        return weight

    @model_validator(mode="after")
    def _known_classifier(self) -> "TrainConfig":
        from dualalign.train.registry import CLASSIFIERS, classifier_problem  # the classifiers' modules (light)

        problem = classifier_problem(self.classifier, self.settings)
        if problem:
            raise ValueError(problem)
        if self.synthetic_weight != 1 and not CLASSIFIERS[self.classifier].takes_weights:
            weighted = ", ".join(name for name, cls in CLASSIFIERS.items() if cls.takes_weights)
            raise ValueError(f"classifier {self.classifier!r} takes no sample weights, so synthetic_weight must be 1 "
                             f"(classifiers that do: {weighted})")  # fmt: skip
        return self
