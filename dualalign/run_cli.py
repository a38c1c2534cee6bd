"""`dualalign run` and `dualalign generate`: the pipeline from a config, or the generation stage of a run folder."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def show_generation(metrics: dict) -> None:
    figures = metrics.get("generation", {})
    table = Table("variant", "requests", "failed", "retried", "sentences", "grounding rate", "copies", "near-dup.")
    for variant, f in figures.items():
        rate = "-" if f["grounding_rate"] is None else f"{f['grounding_rate']:.1%}"
        table.add_row(variant, *map(str, (f["requests"], f["failed"], f["retried"], f["sentences"])), rate,
                      str(f["copies_example"]), str(f["near_duplicates"]))  # fmt: skip
    console.print(table)


def run(
    config: Path = typer.Argument(..., help="Run config YAML."),
    stages: str = typer.Option(",".join(("cohort", "trajectories", "plans", "generate")), help="Stages to run."),
    force: bool = typer.Option(False, help="Run stages even when their config and inputs are unchanged."),
) -> None:
    """Run the pipeline of a config: cohort -> trajectories -> plans -> generate; unchanged stages are skipped."""
    from dualalign.io import read_json
    from dualalign.pipeline import STAGES, Pipeline
    from dualalign.runconfig import load_config

    wanted = tuple(s.strip() for s in stages.split(",") if s.strip())
    unknown = sorted(set(wanted) - set(STAGES))
    if unknown:
        raise typer.BadParameter(f"unknown stages {unknown}; stages: {', '.join(STAGES)}")
    pipeline = Pipeline(load_config(config), force=force)
    pipeline.run_all(wanted)
    show_generation(read_json(pipeline.run.path / "metrics.json"))
    console.print(f"run folder: [bold]{pipeline.run.path}[/]")


def generate(
    run_dir: Path = typer.Argument(..., help="A run folder with plans.jsonl (from `dualalign run`)."),
    engine: str = typer.Option(None, help="Override engine.kind: vllm, openai or transformers."),
    model: str = typer.Option(None, help="Override engine.model."),
    base_url: str = typer.Option(None, help="Override engine.base_url (for --engine openai)."),
) -> None:
    """Generate a run folder's plans (resuming what an interrupted run left), then write its outputs."""
    from dualalign.config import validate_model
    from dualalign.errors import DataError
    from dualalign.io import read_json
    from dualalign.pipeline import Pipeline
    from dualalign.runconfig import RunConfig, load_config

    if not (run_dir / "plans.jsonl").is_file() or not (run_dir / "config.yaml").is_file():
        raise DataError(f"{run_dir}: not a run folder with plans (run `dualalign run CONFIG --stages ...plans` first)")
    config = load_config(run_dir / "config.yaml")
    overrides = {k: v for k, v in {"kind": engine, "model": model, "base_url": base_url}.items() if v is not None}
    data = config.model_dump(mode="json")
    data["engine"].update(overrides)
    data["out_dir"] = str(run_dir)
    pipeline = Pipeline(validate_model(RunConfig, data, "command line"))
    pipeline.generate()
    show_generation(read_json(run_dir / "metrics.json"))


def register(app: typer.Typer) -> None:
    app.command()(run)
    app.command()(generate)
