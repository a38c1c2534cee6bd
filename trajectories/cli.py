"""`dualalign packs ...` and `dualalign trajectories ...` commands."""

import typer

packs_app = typer.Typer(help="List, show, validate and draft condition packs.", no_args_is_help=True)
trajectories_app = typer.Typer(help="Sample and show symptom trajectories.", no_args_is_help=True)
