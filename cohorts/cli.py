"""`dualalign cohort ...` commands."""

import typer

app = typer.Typer(help="Fit population synthesizers and sample patient profiles.", no_args_is_help=True)
