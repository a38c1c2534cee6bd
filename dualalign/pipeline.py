"""`dualalign run`: cohort -> trajectories -> plans -> generation -> evaluation, each stage skipped when its config and
inputs are unchanged, each writing its artifacts atomically into the run folder."""

from __future__ import annotations

import logging

import yaml

from dualalign.alignment.stage import plans_stage
from dualalign.cohorts.stage import cohort_stage
from dualalign.eval.stage import evaluation_stage
from dualalign.generate.engine import Engine
from dualalign.generate.stage import generation_stage
from dualalign.io import stable_hash, write_text
from dualalign.runconfig import RunConfig
from dualalign.runfolder import CONFIG, RunFolder, Timer
from dualalign.stage import Stage
from dualalign.trajectories.stage import trajectory_stage

log = logging.getLogger(__name__)

STAGES = ("cohort", "trajectories", "plans", "generate", "evaluate")


class Pipeline:
    """Runs the stages of one config in one run folder."""

    def __init__(self, config: RunConfig, force: bool = False, progress: bool = True, engine: Engine | None = None):
        """`engine`: an already loaded engine to generate with (else one is made from `config.engine`)."""
        self.config = config
        self.engine = engine
        self.run = RunFolder(config.out_dir)
        self.force = force
        self.progress = progress
        write_text(self.run.file(CONFIG), yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))

    def stages(self) -> list[Stage]:
        """The stages in order (names as in `STAGES`), each given its own config section."""
        c, run = self.config, self.run
        return [
            cohort_stage(c.cohort, c.seed, run),
            trajectory_stage(c.trajectories, c.seed, run),
            plans_stage(c.alignment, c.trajectories.pack, c.seed, run),
            generation_stage(c, run, self.progress, self.engine),
            evaluation_stage(c.evaluation, c.trajectories.pack, c.seed, run),
        ]

    def run_stage(self, stage: Stage) -> bool:
        """Run `stage` unless it is done with the same key; record it. Returns whether it ran."""
        key = self.run.stage_key(stage.config, [p for p in stage.inputs if p.is_file()])
        if not self.force and self.run.is_done(stage.name, key):
            log.info("stage %s: unchanged, skipped", stage.name)
            return False
        with Timer() as timer:
            stage.run()
        self.run.record(stage.name, key, stage.outputs, timer.seconds, self.config.seed)
        return True

    def run_all(self, stages: tuple[str, ...] = STAGES) -> None:
        for stage in self.stages():
            if stage.name in stages:
                self.run_stage(stage)
                self.run.update_metrics("run", self.run_summary())

    def run_summary(self) -> dict:
        """The `run` section of metrics.json: the config's hash, the seed and each recorded stage's seconds."""
        recorded = self.run.manifest()["stages"]
        return {
            "config_hash": stable_hash(self.config.model_dump(mode="json")),
            "seed": self.config.seed,
            "stage_seconds": {name: recorded[name]["seconds"] for name in STAGES if name in recorded},
        }
