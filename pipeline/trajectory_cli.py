"""`dualalign packs ...` and `dualalign trajectories ...` commands."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from dualalign.errors import ConfigError, DualAlignError

packs_app = typer.Typer(help="List, show, validate, calibrate and draft condition packs.", no_args_is_help=True)
trajectories_app = typer.Typer(help="Sample and show symptom trajectories.", no_args_is_help=True)
console = Console()


@packs_app.command("list")
def packs_list() -> None:
    """List the built-in packs."""
    from dualalign.trajectories.pack import list_packs, load_pack

    table = Table("name", "title", "kind", "labels", "stages", "terms")
    for name in list_packs():
        p = load_pack(name)
        n_terms = len(p.lexicon) or sum(len(lab.terms) for lab in p.labels.values())
        table.add_row(name, p.title, p.kind, str(len(p.labels)), str(len(p.stages)), str(n_terms))
    console.print(table)


@packs_app.command("show")
def packs_show(pack: str = typer.Argument(..., help="built-in name or YAML path")) -> None:
    """Show a pack: labels, stages, note types, lexicon and risk-factor effects."""
    from collections import Counter

    from dualalign.trajectories.pack import load_pack
    from dualalign.trajectories.stages import annual_progression_rate

    p = load_pack(pack)
    console.print(f"[bold]{p.title}[/] ({p.name}, {p.kind}, style {p.style})  ICD-10-CM: {', '.join(p.icd10cm) or '-'}")
    labels = Table("label", "name", "style", "definition", title="labels")
    for k, lab in p.labels.items():
        labels.add_row(k, lab.name, p.label_style(k), lab.definition)
    console.print(labels)
    if p.stages:
        stages = Table("stage", "mean y", "sd y", "rate/y", "MMSE", "CDR", "mentions", *p.label_ids, title="stages")
        for i, s in enumerate(p.stages):
            d = s.duration_years
            stages.add_row(s.id, f"{d.mean:g}" if d else "open", f"{d.sd:g}" if d else "-",
                           f"{annual_progression_rate(d):.2f}" if d else "-",
                           "-" if s.mmse is None else f"{s.mmse[0]:g}-{s.mmse[1]:g}",
                           ",".join(f"{c:g}" for c in s.cdr or []) or "-", f"{s.mentions_per_note:g}",
                           *(f"{x:.2f}" for x in p.label_proportions[i]))
        console.print(stages)
        visits = Table("note type", "visits a year from year (relative to diagnosis)", title="note types")
        for n in p.note_types:
            visits.add_row(n.id, "  ".join(f"{y:g}: {r:g}" for y, r in sorted(n.visits_per_year.items())))
        console.print(visits)
        by = Counter((t.domain, t.label) for t in p.lexicon)
        lex = Table("domain", "label", "terms", title=f"lexicon ({len(p.lexicon)} terms)")
        for (dom, lab), n in sorted(by.items()):
            lex.add_row(dom, lab, str(n))
        console.print(lex)
    else:
        terms = Table("label", "terms", title="terms")
        for k, lab in p.labels.items():
            terms.add_row(k, ", ".join(lab.terms))
        console.print(terms)
    if p.risk_factors:
        rf = Table("risk factor", "progression HR", "label multipliers", title="risk-factor effects")
        for k, e in p.risk_factors.items():
            rf.add_row(k, f"{e.progression_hr:g}", ", ".join(f"{a} x{b:g}" for a, b in e.label_multipliers.items()))
        console.print(rf)


@packs_app.command("validate")
def packs_validate(packs: list[str] = typer.Argument(..., help="built-in names or YAML paths")) -> None:
    """Validate packs; every problem names the file and the key. Exit 2 if any fails."""
    from dualalign.trajectories.pack import load_pack

    failed = []
    for name in packs:
        try:
            p = load_pack(name)
        except DualAlignError as err:
            console.print(f"[red]invalid[/] {err}", highlight=False)
            failed.append(name)
            continue
        console.print(f"[green]ok[/] {name}: {p.kind} pack {p.name!r}, {len(p.labels)} labels, "
                      f"{len(p.stages)} stages, {len(p.lexicon)} lexicon terms")
    if failed:
        raise ConfigError(f"{len(failed)} of {len(packs)} packs failed validation: {', '.join(failed)}")


@packs_app.command("new")
def packs_new(
    from_hpo: str = typer.Option(..., "--from-hpo", help="OMIM:<n> or ORPHA:<n>"),
    out: Path = typer.Option(..., "--out", help="where to write the pack YAML"),
    name: str | None = typer.Option(None, help="pack name (default: from the disease name)"),
) -> None:
    """Draft a pack from the Human Phenotype Ontology (offline), validate it and write it."""
    import yaml

    from dualalign.io import write_text
    from dualalign.trajectories.hpo import draft_pack_from_hpo
    from dualalign.trajectories.pack import pack_from_data

    data = draft_pack_from_hpo(from_hpo, name)
    p = pack_from_data(data, f"draft of {from_hpo}")
    write_text(out, yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120))
    console.print(f"wrote {out}: {p.title}, {len(p.labels)} labels, {len(p.lexicon)} phenotype terms")


@packs_app.command("calibrate")
def packs_calibrate(
    oasis: Path = typer.Option(..., "--oasis", help="OASIS-2 longitudinal CSV (Subject ID, MR Delay, CDR, Age)"),
    pack: str = typer.Option("alzheimers", help="built-in name or YAML path"),
    json_out: Path | None = typer.Option(None, "--json", help="also write the table as JSON"),
    fit_out: Path | None = typer.Option(None, "--fit-out", help="write the pack with fitted stage durations"),
) -> None:
    """Print the pack's annual stage-transition rates next to the rates observed in a real cohort."""
    import yaml

    from dualalign.io import write_json, write_text
    from dualalign.trajectories.calibration import calibrated_pack_data, calibration_table, read_visits
    from dualalign.trajectories.pack import load_pack

    p = load_pack(pack)
    table = calibration_table(read_visits(oasis), p)
    out = Table("stage", "CDR", "intervals", "events", "person-y", "mean age", "observed rate/y (95% CI)",
                "pack mean y", "pack rate/y", "pack rate at cohort age", "fitted mean y",
                title=f"{p.name}: annual progression, pack vs {oasis.name}")
    for r in table.to_dict("records"):
        seen = r["intervals"] > 0
        out.add_row(r["stage"], r["cdr"], str(r["intervals"]), str(r["events"]), f"{r['person_years']:.1f}",
                    f"{r['mean_age']:.1f}" if seen else "-",
                    f"{r['observed_rate']:.3f} ({r['observed_low']:.3f}-{r['observed_high']:.3f})" if seen else "-",
                    f"{r['pack_mean_years']:g}", f"{r['pack_rate']:.3f}",
                    f"{r['pack_rate_at_cohort_age']:.3f}" if seen else "-",
                    f"{r['fitted_mean_years']:.1f}" if seen else "-")
    console.print(out)
    if json_out:
        write_json(json_out, table.to_dict("records"))
    if fit_out:
        write_text(fit_out, yaml.safe_dump(calibrated_pack_data(p, table), sort_keys=False, allow_unicode=True))
        console.print(f"wrote {fit_out}")


@trajectories_app.command("sample")
def trajectories_sample(
    out: Path = typer.Option(..., "--out", help="parquet file for the notes"),
    pack: str = typer.Option("alzheimers", help="built-in name or YAML path"),
    n: int = typer.Option(5, "--n", min=1, help="demo profiles to draw (without --profiles)"),
    profiles: Path | None = typer.Option(None, "--profiles", help="a profile table (parquet or CSV)"),
    seed: int = typer.Option(0, help="seed for every draw"),
    years_before: float = typer.Option(10.0, help="years of notes before diagnosis"),
    years_after: float = typer.Option(0.0, help="years of notes after diagnosis"),
    mention_multiplier: float = typer.Option(1.0, "--multiplier", help="scale mentions per note"),
    store: Path | None = typer.Option(None, help="real-trajectory table to retrieve from"),
    k: int = typer.Option(5, help="neighbours to draw from (with --store)"),
) -> None:
    """Sample trajectories (one row per note) for demo profiles or a profile table, and write them."""
    import time

    from dualalign.io import write_parquet
    from dualalign.trajectories.config import TrajectoryConfig
    from dualalign.trajectories.pack import load_pack
    from dualalign.trajectories.profiles import demo_profiles
    from dualalign.trajectories.stage import sample_trajectories, write_trajectories
    from dualalign.trajectories.store import read_table

    cfg = TrajectoryConfig(pack=pack, years_before=years_before, years_after=years_after,
                           mention_multiplier=mention_multiplier, store=store, k_neighbors=k)
    table = read_table(profiles) if profiles else demo_profiles(load_pack(pack), n, seed)
    start = time.perf_counter()
    notes = sample_trajectories(table, cfg, seed)
    took = time.perf_counter() - start
    write_trajectories(out, notes)
    n_mentions = int(notes["mentions"].map(len).sum()) if len(notes) else 0
    console.print(f"wrote {out}: {table['patient_id'].nunique()} patients, {len(notes)} notes, "
                  f"{n_mentions} mentions ({took:.2f} s)")
    if profiles is None:
        write_parquet(out.with_name(out.stem + ".profiles.parquet"), table)
        console.print(f"wrote the demo profiles beside it: {out.stem}.profiles.parquet")


@trajectories_app.command("show")
def trajectories_show(
    path: Path = typer.Argument(..., help="a trajectories parquet file"),
    patient: str | None = typer.Option(None, help="patient id (default: the first)"),
    diagnosis_date: str | None = typer.Option(None, help="YYYY-MM-DD to print calendar dates"),
) -> None:
    """A readable timeline of one patient: dates, note types, stages and planned mentions."""
    import pandas as pd

    from dualalign.errors import DataError
    from dualalign.trajectories.stage import read_trajectories

    if not path.is_file():
        raise DataError(f"{path}: no such file")
    notes = read_trajectories(path)
    patient = patient or (str(notes["patient_id"].iloc[0]) if len(notes) else None)
    rows = notes[notes["patient_id"] == patient]
    if rows.empty:
        raise DataError(f"{path}: no notes for patient {patient!r}")
    dx = pd.Timestamp(diagnosis_date) if diagnosis_date else None
    first = rows.groupby("stage", sort=False)["visit_day"].min()
    console.print(f"[bold]patient {patient}[/]: {len(rows)} notes, "
                  f"{int(rows['mentions'].map(len).sum())} planned mentions; first note per stage: "
                  + ", ".join(f"{s} day {d}" for s, d in first.items()), highlight=False, soft_wrap=True)
    for r in rows.itertuples():
        when = "" if dx is None else f"{(dx + pd.Timedelta(days=int(r.visit_day))).date()}  "
        console.print(f"{when}day {r.visit_day:>6} ({r.visit_day / 365.25:+5.1f} y, age {r.age_at_visit:5.1f})  "
                      f"{r.note_id:<14} {r.note_type:<16} [cyan]{r.stage}[/]", highlight=False, soft_wrap=True)
        for m in r.mentions:
            console.print(f"      {m['label']:<26} {m['term']}", highlight=False, soft_wrap=True)
