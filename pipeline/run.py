"""`dualalign run`: cohort -> trajectories -> plans -> generation -> evaluation -> export, each stage skipped when its
config and inputs are unchanged, each writing its artifacts atomically into the run folder."""

from __future__ import annotations

import logging
from contextlib import nullcontext

import yaml
from rich.console import Console

from dualalign.alignment.stage import plans_stage
from dualalign.cohorts.stage import cohort_stage
from dualalign.eval.gold import read_labelled
from dualalign.eval.release import export_stage
from dualalign.eval.stage import evaluation_stage
from dualalign.generate.engine import Engine
from dualalign.generate.stage import generation_stage
from dualalign.io import stable_hash, write_text
from dualalign.logs import log_to
from dualalign.pipeline.runconfig import RunConfig
from dualalign.runfolder import CONFIG, RunFolder, Timer, package_versions
from dualalign.stage import Stage
from dualalign.trajectories.pack import load_pack
from dualalign.trajectories.stage import trajectory_stage

log = logging.getLogger(__name__)
CONSOLE = Console(stderr=True)

STAGES = ("cohort", "trajectories", "plans", "generate", "evaluate", "export")


class Pipeline:
    """Runs the stages of one config in one run folder."""

    def __init__(self, config: RunConfig, force: bool = False, progress: bool = True, engine: Engine | None = None,
                 release_override: str | None = None):  # fmt: skip
        """`engine`: an already loaded engine to generate with (else one is made from `config.engine`).
        `release_override`: the reason to export even though a privacy check failed (recorded)."""
        self.config = config
        self.engine = engine
        self.release_override = release_override
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
            generation_stage(
                c.alignment, c.engine, c.sampling, c.trajectories.pack, c.seed, run, self.progress, self.engine,
                self._gold_texts(),
            ),
            evaluation_stage(c.evaluation, c.privacy, c.trajectories.pack, c.seed, run),
            export_stage(c.privacy, self.provenance(), c.trajectories.pack, c.alignment.diagnosis_date, run,
                         self.release_override),  # fmt: skip
        ]

    def provenance(self) -> dict:
        """What the cards say made the run: the config's hash, the seed, the engine and the package versions."""
        engine = self.config.engine
        return {"config_hash": stable_hash(self.config.model_dump(mode="json")), "seed": self.config.seed,
                "engine": {"kind": engine.kind, "model": engine.model}, "versions": package_versions()}  # fmt: skip

    def run_stage(self, stage: Stage) -> bool:
        """Run `stage` unless it is done with the same key; record it. Returns whether it ran.

        A spinner shows while it runs, unless the stage draws its own progress bar; one line says how it ended."""
        key = self.run.stage_key(stage.config, [p for p in stage.inputs if p.is_file()])
        if not self.force and self.run.is_done(stage.name, key):
            log.info("stage %s: unchanged, skipped", stage.name)
            self._say(f"[dim]- {stage.name}: unchanged, skipped[/]")
            return False
        spinner = CONSOLE.status(f"{stage.name} ...") if self.progress and not stage.own_bar else nullcontext()
        with Timer() as timer, spinner:
            extra = stage.run() or {}
        self.run.record(stage.name, key, stage.outputs, timer.seconds, self.config.seed, **extra)
        self._say(f"[green]v[/] {stage.name} ({timer.seconds:.1f} s)")
        return True

    def run_all(self, stages: tuple[str, ...] = STAGES) -> None:
        """Run the named stages in pipeline order; every log line of the run goes to its `dualalign.log`."""
        with log_to(self.run.path):
            for stage in self.stages():
                if stage.name in stages:
                    self.run_stage(stage)
                    self.run.update_metrics("run", self.run_summary())

    def _gold_texts(self) -> list[str]:
        """The evaluation's real texts, which the quality gate keeps generated text from copying."""
        ev = self.config.evaluation
        if ev.gold is None:
            return []
        return read_labelled(ev.gold, ev.text_column, ev.label_column, load_pack(self.config.trajectories.pack))[
            "text"].tolist()  # fmt: skip

    def _say(self, line: str) -> None:
        if self.progress:
            CONSOLE.print(line, highlight=False)

    def run_summary(self) -> dict:
        """The `run` section of metrics.json: the config's hash, the seed and each recorded stage's seconds."""
        recorded = self.run.manifest()["stages"]
        return {
            "config_hash": self.provenance()["config_hash"],
            "seed": self.config.seed,
            "stage_seconds": {name: recorded[name]["seconds"] for name in STAGES if name in recorded},
        }
