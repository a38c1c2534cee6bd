"""`dualalign cohort ...` commands: fit, sample, report, reading the `cohort:` section of the run config."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from dualalign.cohorts.config import CohortConfig
from dualalign.errors import DataError
from dualalign.runfolder import COHORT, COHORT_REPORT, COHORT_SAMPLING, SYNTHESIZER

app = typer.Typer(help="Fit population synthesizers and sample patient profiles.", no_args_is_help=True)
console = Console()

CONFIG = typer.Option(..., "--config", "-c", help="Run config YAML (its `cohort:` section, `seed`, `out_dir`).")
OUT = typer.Option(None, "--out", "-o", help="Run folder (default: out_dir of the config).")


def load_section(path: Path) -> tuple[CohortConfig, int, Path]:
    """The `cohort:` section, seed and out_dir of a run config."""
    from dualalign.pipeline.runconfig import load_config

    run = load_config(path)
    return run.cohort, run.seed, Path(run.out_dir)


@app.command()
def fit(config: Path = CONFIG, out: Optional[Path] = OUT) -> None:
    """Load or draw the reference population, fit the synthesizer, save it as private/synthesizer.pkl."""
    from dualalign.cohorts.reference import prepare_reference
    from dualalign.cohorts.synthesizer import CohortSynthesizer
    from dualalign.runfolder import Timer

    cfg, seed, out_dir = load_section(config)
    out_dir = out or out_dir
    with Timer() as timer:
        training, holdout = prepare_reference(cfg, seed)
        synthesizer = CohortSynthesizer.from_config(cfg, seed).fit(training)
    synthesizer.save(out_dir / SYNTHESIZER)
    console.print(f"fitted {cfg.synthesizer} on {len(training)} reference rows x {training.shape[1]} columns "
                  f"({len(holdout)} held out) in {timer.seconds:.1f} s -> {out_dir / SYNTHESIZER}")


@app.command()
def sample(config: Path = CONFIG, out: Optional[Path] = OUT,
           n: Optional[int] = typer.Option(None, "--n", "-n", min=1, help="Profiles (default: cohort.n_profiles).")
           ) -> None:
    """Sample profiles from the fitted synthesizer, honouring quotas; writes cohort.parquet."""
    from dualalign.cohorts.synthesizer import CohortSynthesizer
    from dualalign.io import write_json, write_parquet

    cfg, seed, out_dir = load_section(config)
    out_dir = out or out_dir
    synthesizer = CohortSynthesizer.load(out_dir / SYNTHESIZER)
    profiles, sampling = synthesizer.sample(n or cfg.n_profiles, quotas=cfg.quotas, oversample=cfg.oversample,
                                            seed=seed, reject_copies=cfg.reject_copies)
    write_parquet(out_dir / COHORT, profiles)
    write_json(out_dir / COHORT_SAMPLING, sampling)
    console.print(f"{len(profiles)} profiles -> {out_dir / COHORT}")
    for entry in sampling["strata"]:
        console.print(f"  {entry['name']}: {entry['count']} by {entry['method']}")


@app.command()
def report(config: Optional[Path] = typer.Option(None, "--config", "-c", help="Run config: recompute the report."),
           out: Optional[Path] = OUT) -> None:
    """Compute cohort_report.json from cohort.parquet (with --config) and show it; without --config, show it."""
    from dualalign.io import read_json

    if config is None:
        if out is None:
            raise typer.BadParameter("give --config to compute the report, or --out to show an existing one")
        path = out / COHORT_REPORT
        if not path.is_file():
            raise DataError(f"{path}: no cohort report; run `dualalign cohort report --config ...` first")
        show_report(read_json(path))
        return
    import pandas as pd

    from dualalign.cohorts.reference import prepare_reference
    from dualalign.cohorts.report import build_report, write_report
    from dualalign.cohorts.synthesizer import CohortSynthesizer

    cfg, seed, out_dir = load_section(config)
    out_dir = out or out_dir
    synthesizer = CohortSynthesizer.load(out_dir / SYNTHESIZER)
    cohort_path, sampling_path = out_dir / COHORT, out_dir / COHORT_SAMPLING
    if not cohort_path.is_file():
        raise DataError(f"{cohort_path}: no profiles; run `dualalign cohort sample` first")
    sampling = read_json(sampling_path) if sampling_path.is_file() else {}
    training, holdout = prepare_reference(cfg, seed)
    result, plots = build_report(cfg, synthesizer.metadata, training, holdout, pd.read_parquet(cohort_path),
                                 sampling, seed)
    write_report(out_dir, result, plots)
    show_report(result)
    console.print(f"-> {out_dir / COHORT_REPORT}")


def show_report(result: dict[str, Any]) -> None:
    """Print the headline figures of a cohort report as a rich table."""
    table = Table(title="cohort report")
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows = result["rows"]
    table.add_row("reference rows (holdout)", f"{rows['reference']} ({rows['holdout']})")
    table.add_row("profiles", str(rows["profiles"]))
    for section in ("quality", "diagnostic"):
        for key, value in result[section].items():
            if isinstance(value, float):
                table.add_row(f"{section}: {key}", f"{value:.3f}")
    privacy = result["privacy"]
    for key, value in privacy.items():
        if isinstance(value, (int, float)):
            table.add_row(f"privacy: {key}", f"{value:.3f}" if isinstance(value, float) else str(value))
    known = ", ".join(privacy.get("attribute_disclosure_known", []))
    for column, score in privacy.get("attribute_disclosure_by_column", {}).items():
        table.add_row(f"privacy: disclosure of {column} from {known}", f"{score:.3f}")
    for entry in result.get("sampling", {}).get("strata", []):
        table.add_row(f"stratum: {entry['name']}", f"{entry['count']} ({entry['method']})")
    for check, passed in result["checks"].items():
        table.add_row(f"check: {check}", "[green]pass[/]" if passed else "[red]FAIL[/]")
    console.print(table)
