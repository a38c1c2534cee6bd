"""The run config: one section per layer, one seed, one output folder."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from dualalign.alignment.config import AlignmentConfig
from dualalign.cohorts.config import CohortConfig
from dualalign.config import StrictModel, load_model_yaml
from dualalign.eval.config import EvaluationConfig, PrivacyConfig, ReviewConfig
from dualalign.generate.registry import EngineConfig
from dualalign.generate.sampling import SamplingConfig
from dualalign.runfolder import MANIFEST
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
    review: ReviewConfig = Field(default_factory=ReviewConfig)


def load_config(path: str | Path) -> RunConfig:
    """Load a run config from YAML; every problem is one ConfigError naming the file and the key.

    A run folder's own `config.yaml` (a `manifest.json` beside it) runs in that folder, from whatever directory."""
    config = load_model_yaml(RunConfig, path)
    folder = Path(path).parent
    if (folder / MANIFEST).is_file() and not config.out_dir.is_absolute():
        config = config.model_copy(update={"out_dir": folder / config.out_dir})
    return config


def saved_config(config: RunConfig) -> dict:
    """The config as a run folder keeps it: `out_dir` is the folder itself, and every input given by a relative path
    (the cohort source, a pack file, a store, templates, gold, reference conversations) is made absolute, so the
    saved config runs the same from any directory."""
    data = config.model_dump(mode="json")
    data["out_dir"] = "."
    inputs = {("cohort", "source"): config.cohort.source_path(), ("trajectories", "store"): config.trajectories.store,
              ("alignment", "templates"): config.alignment.templates, ("evaluation", "gold"): config.evaluation.gold}
    if Path(config.trajectories.pack).suffix in {".yaml", ".yml"}:
        inputs[("trajectories", "pack")] = Path(config.trajectories.pack)
    for (section, key), path in inputs.items():
        if path is not None:
            data[section][key] = str(Path(path).expanduser().resolve())
    data["alignment"]["conversation"]["references"] = [
        str(Path(p).expanduser().resolve()) for p in config.alignment.conversation.references]
    return data
