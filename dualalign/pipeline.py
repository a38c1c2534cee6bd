"""`dualalign run`: cohort -> trajectories -> plans -> generation -> evaluation, each stage skipped when its config and
inputs are unchanged, each writing its artifacts atomically into the run folder."""

from __future__ import annotations

import logging
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from rich.console import Console

from dualalign.alignment.plans import PLANS, build_note_plans
from dualalign.alignment.prompts import BUILTIN as BUILTIN_TEMPLATES
from dualalign.generate.engine import Engine
from dualalign.io import read_json, write_text
from dualalign.logs import log_to
from dualalign.runconfig import RunConfig
from dualalign.runfolder import RunFolder, Timer

log = logging.getLogger(__name__)

CONSOLE = Console(stderr=True)
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
        write_text(self.run.path / "config.yaml", yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))

    def _stage(self, name: str, section: Any, inputs: list[Path], work, own_bar: bool = False) -> bool:
        """Run `work()` unless the stage is done with the same key; record it. Returns whether it ran.

        `work()` returns the output names, or (output names, extra manifest fields). A spinner shows while it runs
        unless the stage draws its own progress bar (`own_bar`); one line says how it ended."""
        key = self.run.stage_key({"section": section, "seed": self.config.seed}, [p for p in inputs if p.is_file()])
        if not self.force and self.run.is_done(name, key):
            log.info("stage %s: unchanged, skipped", name)
            self._say(f"[dim]- {name}: unchanged, skipped[/]")
            return False
        spinner = CONSOLE.status(f"{name} ...") if self.progress and not own_bar else nullcontext()
        with Timer() as timer, spinner:
            result = work()
        outputs, extra = result if isinstance(result, tuple) else (result, {})
        self.run.record(name, key, outputs, timer.seconds, self.config.seed, **extra)
        self._say(f"[green]v[/] {name} ({timer.seconds:.1f} s)")
        return True

    def _say(self, line: str) -> None:
        if self.progress:
            CONSOLE.print(line, highlight=False)

    def cohort(self) -> None:
        from dualalign.cohorts import build_cohort

        cfg = self.config.cohort
        source = Path(cfg.source)
        self._stage(
            "cohort",
            cfg.model_dump(mode="json"),
            [source],
            lambda: (build_cohort(cfg, self.run.path, self.config.seed), ["cohort.parquet", "cohort_report.json"])[1],
        )
        self.run.update_metrics("cohort", _cohort_summary(read_json(self.run.path / "cohort_report.json")))

    def trajectories(self) -> None:
        from dualalign.trajectories import sample_trajectories, write_trajectories
        from dualalign.trajectories.pack import resolve_pack_path

        cfg = self.config.trajectories

        def work() -> list[str]:
            profiles = pd.read_parquet(self.run.path / "cohort.parquet")
            notes = sample_trajectories(profiles, cfg, self.config.seed)
            write_trajectories(self.run.path / "trajectories.parquet", notes)
            return ["trajectories.parquet"]

        inputs = [self.run.path / "cohort.parquet", resolve_pack_path(cfg.pack)]
        inputs += [Path(cfg.store)] if cfg.store else []
        self._stage("trajectories", cfg.model_dump(mode="json"), inputs, work)

    def plans(self) -> None:
        from dualalign.trajectories import load_pack, read_trajectories
        from dualalign.trajectories.pack import resolve_pack_path

        cfg = self.config.alignment

        def work() -> list[str]:
            profiles = pd.read_parquet(self.run.path / "cohort.parquet")
            notes = read_trajectories(self.run.path / "trajectories.parquet")
            plans = build_note_plans(profiles, notes, load_pack(self.config.trajectories.pack), cfg, self.config.seed)
            write_text(self.run.path / PLANS, "".join(p.model_dump_json() + "\n" for p in plans))
            return [PLANS]

        templates = sorted(BUILTIN_TEMPLATES.glob("*.j2"))
        templates += sorted(Path(cfg.templates).glob("*.j2")) if cfg.templates else []
        inputs = [self.run.path / "trajectories.parquet", resolve_pack_path(self.config.trajectories.pack), *templates]
        self._stage("plans", cfg.model_dump(mode="json", exclude={"grounding"}), inputs, work)

    def generate(self) -> None:
        from dualalign.eval.gold import read_labelled
        from dualalign.generate.run import run_generation_stage
        from dualalign.trajectories import load_pack
        from dualalign.trajectories.pack import resolve_pack_path

        ev = self.config.evaluation
        section = {
            "engine": self.config.engine.model_dump(mode="json"),
            "alignment": self.config.alignment.model_dump(mode="json"),
        }
        inputs = [self.run.path / PLANS, resolve_pack_path(self.config.trajectories.pack)]
        inputs += [Path(ev.gold)] if ev.gold else []

        def work():
            pack = load_pack(self.config.trajectories.pack)
            gold = read_labelled(ev.gold, ev.text_column, ev.label_column, pack) if ev.gold else None
            references = [] if gold is None else gold["text"].tolist()
            return run_generation_stage(self.config, self.run, self.progress, self.engine, references)

        self._stage("generate", section, inputs, work, own_bar=True)

    def evaluate(self) -> None:
        from dualalign.eval.stage import evaluate_run

        cfg = self.config.evaluation
        inputs = [self.run.path / "sentences.parquet", self.run.path / "cohort.parquet"]
        inputs += [Path(cfg.gold)] if cfg.gold else []
        section = {"evaluation": cfg.model_dump(mode="json"), "pack": self.config.trajectories.pack}
        self._stage("evaluate", section, inputs, lambda: evaluate_run(self.config, self.run))

    def run_all(self, stages: tuple[str, ...] = STAGES) -> None:
        """Run the named stages in pipeline order; every log line of the run goes to its `dualalign.log`."""
        with log_to(self.run.path):
            for name in STAGES:
                if name in stages:
                    getattr(self, name)()


def _cohort_summary(report: dict) -> dict:
    return {k: report[k] for k in ("synthesizer", "quality", "diagnostic", "privacy", "checks") if k in report}
