"""The `dualalign` command line. Each layer contributes its own typer sub-app; heavy imports stay inside commands."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from dualalign import __version__, logs
from dualalign.errors import DualAlignError
from dualalign.pipeline.cohort_cli import app as cohort_app
from dualalign.pipeline.generate_cli import models_app
from dualalign.pipeline.generate_cli import register as register_generate
from dualalign.pipeline.review_cli import register as register_review
from dualalign.pipeline.run_cli import register as register_run
from dualalign.pipeline.trajectory_cli import packs_app, trajectories_app

console = Console(stderr=True)

app = typer.Typer(
    name="dualalign",
    help="Synthetic clinical text, statistically and semantically aligned with real patients (DualAlign).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(models_app, name="models")
app.add_typer(cohort_app, name="cohort")
app.add_typer(packs_app, name="packs")
app.add_typer(trajectories_app, name="trajectories")
register_generate(app)
register_run(app)
register_review(app)


@app.callback()
def _root(
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Show every library's log lines too (they always go to the run's log file)."
    ),
) -> None:
    logs.configure(verbose)


@app.command()
def version() -> None:
    """Print the dualalign version."""
    print(__version__)


def main() -> None:
    """Console entry point: user errors become one clear message and exit code 2."""
    try:
        app()
    except DualAlignError as err:
        console.print(f"[bold red]error:[/] {err}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
