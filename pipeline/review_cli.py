"""`dualalign review` (the local review page of a run) and `dualalign approve` (the sign-off of its release)."""

from __future__ import annotations

import signal
from pathlib import Path

import typer
from rich.console import Console

console = Console()


def _run_config(run_dir: Path):
    from dualalign.errors import DataError
    from dualalign.pipeline.runconfig import load_config

    if not (run_dir / "config.yaml").is_file():
        raise DataError(f"{run_dir}: not a run folder (no config.yaml; run `dualalign run CONFIG` first)")
    return load_config(run_dir / "config.yaml")


def review(
    run_dir: Path = typer.Argument(..., help="A run folder with sentences (from `dualalign run` or `demo`)."),
    reviewer: str = typer.Option(..., "--reviewer", "-r", help="Your name, recorded with every verdict."),
    port: int = typer.Option(8765, help="Port on 127.0.0.1 (0: any free one)."),
) -> None:
    """Serve the review page of a run on 127.0.0.1: one item at a time, beside its plan and gate figures; each
    verdict is appended to the run's review.jsonl. Stop with Ctrl-C."""
    from dualalign.eval.review import phi_near_misses, review_items, review_sample
    from dualalign.eval.review_server import ReviewSession, make_server
    from dualalign.runfolder import RunFolder
    from dualalign.trajectories.pack import load_pack

    config = _run_config(run_dir)
    run, pack = RunFolder(run_dir), load_pack(config.trajectories.pack)
    with console.status("drawing the review sample (the PHI detector reads every text) ..."):
        items = review_items(run, pack, config.alignment.grounding.threshold)
        items["phi"] = phi_near_misses(items["text"].tolist(), pack)
        cfg = config.review
        sample = review_sample(items, cfg, config.seed if cfg.seed is None else cfg.seed)
    session = ReviewSession(run, sample, reviewer, config.alignment.grounding.threshold, run_dir.resolve().name)
    server = make_server(session, port)
    host, bound = server.server_address[:2]
    console.print(f"review page of [bold]{run_dir}[/] ({len(sample)} items, {int(sample['risky'].sum())} risky) "
                  f"for {reviewer}: [link]http://{host}:{bound}/[/link]  (Ctrl-C stops)", highlight=False)
    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, stop)  # also where the shell started it in the background, ignoring Ctrl-C
    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    mine = session.mine()
    console.print(f"stopped; {len(mine)} of {len(sample)} items reviewed by {reviewer} (verdicts in "
                  f"{run.file('review.jsonl')})", highlight=False)  # fmt: skip


def approve(
    run_dir: Path = typer.Argument(..., help="A run folder, evaluated (release.json) and reviewed."),
    by: str = typer.Option(..., "--by", help="Who approves the release (recorded in the manifest and the card)."),
    note: str = typer.Option(..., "--note", help="What the approval says (recorded)."),
    override: str = typer.Option(
        None, help="Approve and export although a release check fails, for this reason (recorded)."
    ),
) -> None:
    """Sign off a run's release: refused while a release check (privacy or review) fails, unless --override gives
    a reason. Records the sign-off in manifest.json, exports again so the dataset card shows it, and re-renders
    the report."""
    from dualalign.errors import DataError
    from dualalign.eval.review import approve as record_approval
    from dualalign.eval.review import with_review
    from dualalign.eval.stage import write_report
    from dualalign.io import read_json
    from dualalign.pipeline.run import Pipeline
    from dualalign.runfolder import RELEASE, RunFolder
    from dualalign.trajectories.pack import load_pack

    config = _run_config(run_dir)
    run = RunFolder(run_dir)
    if not run.file(RELEASE).is_file():
        raise DataError(f"{run_dir}: no {RELEASE} (run the evaluate stage first)")
    summary = with_review(read_json(run.file(RELEASE)), run, config.review)
    approval = record_approval(run, summary, by, note, override)
    Pipeline(config, force=True, release_override=override, save_config=False).run_all(("export",))
    write_report(run, load_pack(config.trajectories.pack), config.evaluation.examples_per_cell)
    what = f" under an override ({', '.join(approval['failed_checks'])} failed)" if approval["override"] else ""
    console.print(f"approved by [bold]{approval['by']}[/]{what}: recorded in {run.manifest_path} and "
                  f"{run_dir / 'dataset' / 'README.md'}", highlight=False)  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command()(review)
    app.command()(approve)
