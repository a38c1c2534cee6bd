"""The generation stage: plans in, `generations.jsonl` out, appended as results arrive, resumable after a kill."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from dualalign.alignment.grounding import Grounder
from dualalign.alignment.plans import Plan, read_plans
from dualalign.alignment.schema import reply_model
from dualalign.errors import EngineError
from dualalign.generate.engine import Engine, make_engine
from dualalign.generate.export import export_dataset, fhir_bundles, write_fhir
from dualalign.generate.outputs import build_outputs, generation_figures
from dualalign.generate.records import GenerationRequest, GenerationResult
from dualalign.generate.structured import generate_structured
from dualalign.io import append_jsonl, read_json, read_jsonl, repair_jsonl, stable_hash, write_json, write_parquet
from dualalign.runfolder import COHORT, DATASET, FHIR, GENERATIONS, NOTES, PLANS, SENTENCES, RunFolder
from dualalign.trajectories.pack import load_pack

if TYPE_CHECKING:
    from dualalign.runconfig import RunConfig

log = logging.getLogger(__name__)


@dataclass
class GenerationSummary:
    planned: int
    resumed: int  # finished in an earlier, interrupted run
    generated: int
    failed: int  # of all finished requests, those recorded as failures


def plan_request(plan: Plan) -> GenerationRequest:
    """The engine request for a plan: its messages and sampling settings."""
    return GenerationRequest(
        id=plan.id, messages=plan.messages, max_tokens=plan.max_tokens, temperature=plan.temperature,
        top_p=plan.top_p, seed=plan.seed,
    )


def generate_plans(
    plans: Sequence[Plan],
    engine: Engine,
    out_dir: Path,
    retries: int = 2,
    chunk_size: int = 64,
    progress: bool = True,
) -> GenerationSummary:
    """Generate every plan not yet in `out_dir/generations.jsonl`; each result is appended as it arrives.

    Plans are sent in chunks of `chunk_size`, one engine call each, every plan with its own reply schema. A killed
    run loses at most the chunk in flight; started again, it skips the ids already written, so every id ends up
    there exactly once.
    """
    path = Path(out_dir) / GENERATIONS
    repair_jsonl(path)
    done = {r["id"] for r in read_jsonl(path)}
    todo = [p for p in plans if p.id not in done]
    by_id = {p.id: p for p in plans}

    def record(result: GenerationResult) -> None:
        append_jsonl(path, [{**result.model_dump(), "variant": by_id[result.id].variant}])
        bar.advance(task)

    with Progress(
        TextColumn("generating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), disable=not progress
    ) as bar:
        task = bar.add_task("generate", total=len(todo))
        for start in range(0, len(todo), chunk_size):
            chunk = todo[start : start + chunk_size]
            schemas = [reply_model(*p.schema_key) for p in chunk]  # one engine call, a schema per request
            try:
                generate_structured(engine, [plan_request(p) for p in chunk], schemas, retries, on_result=record)
            except EngineError as err:
                raise EngineError(f"{err}\nresults so far are kept in {path}; run again to resume") from err
    finished = read_jsonl(path)
    return GenerationSummary(
        planned=len(plans),
        resumed=len(done & by_id.keys()),
        generated=len(todo),
        failed=sum(1 for r in finished if r["id"] in by_id and r.get("error")),
    )


def run_generation_stage(
    config: "RunConfig", run: RunFolder, progress: bool = True, engine: Engine | None = None
) -> list[str]:
    """The pipeline's generation stage: generate (resuming), then write notes, sentences, exports and figures.

    `engine`: an already loaded engine (else one is made from `config.engine` and closed after). Generations made
    under other engine settings or retries are moved aside (kept, renamed with their key), not mixed with new ones.
    """
    plans = read_plans(run.path / PLANS)
    key = stable_hash({"engine": config.engine.model_dump(mode="json"), "retries": config.alignment.retries})
    meta_path, gen_path = run.path / "generations.meta.json", run.path / GENERATIONS
    if gen_path.exists() and meta_path.exists() and read_json(meta_path)["key"] != key:
        old = read_json(meta_path)["key"]
        gen_path.rename(run.path / f"generations.{old}.jsonl")
        log.warning("engine settings changed: earlier generations kept as generations.%s.jsonl", old)
    write_json(meta_path, {"key": key, "engine": config.engine.model_dump(mode="json")})

    done = {r["id"] for r in read_jsonl(gen_path)}
    if any(p.id not in done for p in plans):
        cfg = config.alignment
        with nullcontext(engine) if engine is not None else make_engine(config.engine) as active:
            summary = generate_plans(plans, active, run.path, cfg.retries, cfg.chunk_size, progress)
        log.info("generation: %s", summary)
    pack = load_pack(config.trajectories.pack)
    notes, sentences = build_outputs(plans, read_jsonl(gen_path), Grounder(pack, config.alignment.grounding))
    write_parquet(run.file(NOTES), notes)
    write_parquet(run.file(SENTENCES), sentences)
    export_dataset({"notes": notes, "sentences": sentences}, run.file(DATASET))
    profiles = pd.read_parquet(run.file(COHORT))
    write_fhir(fhir_bundles(notes, profiles, config.alignment.diagnosis_date), run.file(FHIR))
    run.update_metrics("generation", generation_figures(notes, sentences))
    return [GENERATIONS, NOTES, SENTENCES, DATASET, FHIR]
