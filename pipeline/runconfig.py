"""The run config: one section per layer, one seed, one output folder."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from dualalign.alignment.config import AlignmentConfig
from dualalign.cohorts.config import CohortConfig
from dualalign.config import StrictModel, load_model_yaml
from dualalign.eval.config import EvaluationConfig, PrivacyConfig
from dualalign.generate.registry import EngineConfig
from dualalign.generate.sampling import SamplingConfig
from dualalign.trajectories.config import TrajectoryConfig


class RunConfig(StrictModel):
    """A whole run: one seed for every random choice, one output folder, one section per layer."""

    seed: int = 0
    out_dir: Path = Path("runs/default")
    cohort: CohortConfig = Field(default_factory=CohortConfig)
    trajectories: TrajectoryConfig = Field(default_factory=TrajectoryConfig)
    alignment: AlignmentConfig = Field(default_factory=AlignmentConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)


def load_config(path: str | Path) -> RunConfig:
    """Load a run config from YAML; every problem is one ConfigError naming the file and the key."""
    return load_model_yaml(RunConfig, path)
