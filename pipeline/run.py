"""`dualalign run`: cohort -> trajectories -> plans -> generation -> evaluation -> export, a list of stages that
declare what they read and write. Each is skipped when its key (derived from those declarations) is unchanged and
its outputs are there; a missing input is one error naming the stage that makes it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import nullcontext

import yaml
from rich.console import Console

from dualalign.alignment.stage import PlansStage
from dualalign.cohorts.stage import CohortStage
from dualalign.eval.gold import read_labelled
from dualalign.eval.release import ExportStage
from dualalign.eval.stage import EvaluationStage
from dualalign.generate.engine import Engine
from dualalign.generate.stage import EncountersStage, GenerationStage
from dualalign.io import stable_hash, write_text
from dualalign.logs import log_to
from dualalign.pipeline.runconfig import RunConfig, saved_config
from dualalign.runfolder import CONFIG, RunFolder, Timer, package_versions
from dualalign.stage import MissingInput, Stage, StageResult
from dualalign.trajectories.pack import load_pack
from dualalign.trajectories.stage import TrajectoryStage

log = logging.getLogger(__name__)
CONSOLE = Console(stderr=True)

STAGES = ("cohort", "trajectories", "plans", "generate", "encounters", "evaluate", "export")  # encounters: if planned


def run_stages(stages: Sequence[Stage], wanted: Sequence[str], force: bool = False, progress: bool = True,
               summary: str | None = None) -> None:  # fmt: skip
    """Run the `wanted` stages of `stages` (a run's stages in order) in their order; every log line goes to the run
    folder's `dualalign.log`. `summary`: a figures section that the pipeline keeps with each stage's seconds."""
    makers = {output: stage.name for stage in stages for output in stage.writes}
    run = stages[0].run
    with log_to(run.path):
        for stage in stages:
            if stage.name in wanted:
                run_stage(stage, makers, force, progress)
                if summary:
                    recorded = run.manifest()["stages"]
                    seconds = {s.name: recorded[s.name]["seconds"] for s in stages if s.name in recorded}
                    run.write_figures({summary: {**(run.figures(summary) or {}), "stage_seconds": seconds}})


def run_stage(stage: Stage, makers: dict[str, str], force: bool = False, progress: bool = True) -> bool:
    """Run `stage` unless it is done with the same key; write its figures, record it. Returns whether it ran.

    A spinner shows while it runs, unless the stage draws its own progress bar; one line says how it ended."""
    run = stage.run
    for name in stage.reads:
        if not run.file(name).exists():
            maker = makers.get(name)
            first = f"; run the {maker} stage first (--stages {maker})" if maker else ""
            raise MissingInput(f"stage {stage.name} needs {name} in {run.path}, which is not there{first}")
    key = stage.key()
    if not force and run.is_done(stage.name, key):
        log.info("stage %s: unchanged, skipped", stage.name)
        _say(progress, f"[dim]- {stage.name}: unchanged, skipped[/]")
        return False
    spinner = CONSOLE.status(f"{stage.name} ...") if progress and not stage.own_bar else nullcontext()
    with Timer() as timer, spinner:
        result = stage.execute() or StageResult()
    undeclared = sorted(set(result.figures) - set(stage.figures))
    unwritten = [name for name in stage.outputs() if not run.file(name).exists()]
    if undeclared or unwritten:
        raise RuntimeError(f"stage {stage.name} broke its declaration: figures {undeclared}, outputs {unwritten}")
    run.write_figures({section: result.figures.get(section) for section in stage.figures})
    run.record(stage.name, key, stage.outputs(), timer.seconds, stage.seed, figures=sorted(result.figures),
               **result.manifest)  # fmt: skip
    _say(progress, f"[green]v[/] {stage.name} ({timer.seconds:.1f} s)")
    return True


def _say(progress: bool, line: str) -> None:
    if progress:
        CONSOLE.print(line, highlight=False)


class Pipeline:
    """The stages of one config in one run folder."""

    def __init__(self, config: RunConfig, force: bool = False, progress: bool = True, engine: Engine | None = None,
                 release_override: str | None = None, save_config: bool = True):  # fmt: skip
        """`engine`: an already loaded engine to generate with (else one is made from `config.engine`).
        `release_override`: the reason to export even though a privacy check failed (recorded). `save_config`:
        write the config into the run folder (`dualalign generate`'s engine overrides are not saved)."""
        self.config = config
        self.engine = engine
        self.release_override = release_override
        self.run = RunFolder(config.out_dir)
        self.force = force
        self.progress = progress
        if save_config:
            write_text(self.run.file(CONFIG), yaml.safe_dump(saved_config(config), sort_keys=False))

    def stages(self) -> list[Stage]:
        """The stages in order (names as in `STAGES`; `encounters` where the granularity is), each given its own
        config sections."""
        c, ev, pack = self.config, self.config.evaluation, self.config.trajectories.pack
        common = {"run": self.run, "seed": c.seed}
        texts = {"alignment": c.alignment, "engine_config": c.engine, "sampling": c.sampling, "pack": pack,
                 "engine": self.engine, "reference_files": (ev.gold,) if ev.gold else (),
                 "references": self._gold_texts, "progress": self.progress}  # fmt: skip
        encounters = [EncountersStage(**texts, **common)] if c.alignment.granularity == "encounters" else []
        return [
            CohortStage(cohort=c.cohort, **common),
            TrajectoryStage(trajectories=c.trajectories, **common),
            PlansStage(alignment=c.alignment, pack=pack, **common),
            GenerationStage(**texts, **common),
            *encounters,
            EvaluationStage(evaluation=ev, privacy=c.privacy, pack=pack, **common),
            ExportStage(pack=pack, diagnosis_date=c.alignment.diagnosis_date, provenance=self.provenance(),
                        override=self.release_override, review=c.review, **common),  # fmt: skip
        ]

    def provenance(self) -> dict:
        """What the cards say made the run: the config's hash, the seed, the engine and the package versions."""
        engine = self.config.engine
        return {"config_hash": stable_hash(saved_config(self.config)), "seed": self.config.seed,
                "engine": {"kind": engine.kind, "model": engine.model}, "versions": package_versions()}  # fmt: skip

    def run_all(self, stages: Sequence[str] = STAGES) -> None:
        """Run the named stages in pipeline order; `metrics.json -> run` keeps the config's hash, the seed and each
        recorded stage's seconds."""
        self.run.write_figures({"run": {"config_hash": self.provenance()["config_hash"], "seed": self.config.seed}})
        run_stages(self.stages(), stages, self.force, self.progress, summary="run")

    def _gold_texts(self) -> list[str]:
        """The evaluation's real texts, which the quality gate keeps generated text from copying."""
        ev = self.config.evaluation
        if ev.gold is None:
            return []
        return read_labelled(ev.gold, ev.text_column, ev.label_column, load_pack(self.config.trajectories.pack))[
            "text"].tolist()  # fmt: skip
