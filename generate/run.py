"""The generation stage: plans in, `generations.jsonl` out, appended as results arrive, resumable after a kill."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from dualalign.alignment.config import DIALOGUE_FIRST, AlignmentConfig
from dualalign.alignment.gate import QualityGate
from dualalign.alignment.grounding import Grounder
from dualalign.alignment.plans import Plan, read_plans
from dualalign.alignment.schema import reply_model
from dualalign.errors import EngineError
from dualalign.generate.candidates import generate_gated, plan_request
from dualalign.generate.engine import BaseEngineConfig, Engine
from dualalign.generate.outputs import build_outputs, generation_figures
from dualalign.generate.records import GenerationRecord, GenerationResult, read_generations
from dualalign.generate.registry import EngineOnDemand
from dualalign.generate.sampling import SamplingConfig
from dualalign.generate.structured import generate_structured
from dualalign.io import append_jsonl, read_json, repair_jsonl, write_json, write_parquet
from dualalign.runfolder import GENERATIONS, GENERATIONS_META, NOTES, PLANS, REJECTIONS, SENTENCES, RunFolder
from dualalign.trajectories.pack import load_pack

log = logging.getLogger(__name__)


@dataclass
class GenerationSummary:
    planned: int
    resumed: int  # finished in an earlier, interrupted run
    generated: int
    failed: int  # of all finished requests, those recorded as failures


def generate_plans(
    plans: Sequence[Plan],
    engine: Engine,
    out_dir: Path,
    gate: QualityGate,
    cfg: AlignmentConfig,
    sampling: SamplingConfig,
    progress: bool = True,
    name: str = GENERATIONS,
) -> GenerationSummary:
    """Generate every plan not yet in `out_dir/name` (`generations.jsonl`); each record is appended as it is final.

    Every request is sampled by `sampling`. Plans go out in chunks of `cfg.chunk_size` (more where the engine
    works on more requests at once), one engine call each (plus one per extra round of the gate).
    Plain-text plans are sampled `cfg.gate.candidates` times and judged by `gate`, the best passing candidates kept;
    whole JSON notes are validated against their schema and retried `cfg.retries` times. A killed run loses at
    most the chunk in flight; started again, it skips the ids already written (and remembers their accepted texts,
    for the gate's novelty check), so every id ends up there exactly once.
    """
    path = Path(out_dir) / name
    repair_jsonl(path)
    written = read_generations(path)
    for row in written:
        for text in row.texts:
            gate.accept(text, row.variant)
    done = {r.id for r in written}
    todo = [p for p in plans if p.id not in done]
    by_id = {p.id: p for p in plans}
    recorded = set(done)

    def record(row: GenerationRecord) -> None:
        if row.id in recorded:  # exactly once, whatever an engine sends twice
            return
        recorded.add(row.id)
        append_jsonl(path, [row.model_dump(mode="json")])
        bar.advance(task)

    def record_result(result: GenerationResult) -> None:
        record(GenerationRecord.from_result(result, by_id[result.id].variant))

    with Progress(
        TextColumn("generating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), disable=not progress
    ) as bar:
        task = bar.add_task("generate", total=len(todo))
        size = max(cfg.chunk_size, -(-engine.capacity // cfg.gate.candidates))  # keep every replica busy
        for start in range(0, len(todo), size):
            chunk = todo[start : start + size]
            structured = [p for p in chunk if p.structured]
            try:
                if structured:
                    schemas = [reply_model(*p.schema_key) for p in structured]  # one call, a schema per request
                    generate_structured(engine, [plan_request(p, sampling) for p in structured], schemas, cfg.retries,
                                        on_result=record_result)  # fmt: skip
                generate_gated([p for p in chunk if not p.structured], engine, gate, cfg.gate, sampling, record)
            except EngineError as err:
                raise EngineError(f"{err}\nresults so far are kept in {path}; run again to resume") from err
    finished = read_generations(path)
    return GenerationSummary(
        planned=len(plans),
        resumed=len(done & by_id.keys()),
        generated=len(todo),
        failed=sum(1 for r in finished if r.id in by_id and not r.ok),
    )


def claim_generations(folder: Path, key: str, engine_cfg: BaseEngineConfig, sampling: SamplingConfig) -> dict:
    """Key `folder`'s generations by `key`, what decides their text besides the plans: generations made under another
    key are moved aside (kept, renamed with their key), not mixed with new ones. Returns `generations.meta.json` as
    written."""
    meta_path, gen_path = folder / GENERATIONS_META, folder / GENERATIONS
    if gen_path.exists() and meta_path.exists() and read_json(meta_path)["key"] != key:
        old = read_json(meta_path)["key"]
        gen_path.rename(folder / f"generations.{old}.jsonl")
        log.warning("generation settings changed: earlier generations kept as generations.%s.jsonl", old)
    meta = read_json(meta_path) if gen_path.exists() and meta_path.exists() else {}
    meta.update(key=key, engine=engine_cfg.model_dump(mode="json"), sampling=sampling.model_dump())
    write_json(meta_path, meta)
    return meta


def run_generation_stage(
    cfg: AlignmentConfig, engine_cfg: BaseEngineConfig, sampling: SamplingConfig, pack_ref: str, run: RunFolder,
    key: str, progress: bool = True, engine: Engine | None = None, references: Sequence[str] = (), seed: int = 0,
) -> tuple[dict, dict]:
    """The pipeline's generation stage: generate (resuming), then write notes, sentences, rejections and figures.

    Returns the `generation` figures and, for the manifest, what the engine that wrote the generations ran as (its
    dtype and why, and the sampling defaults of its hardware) and the sampling settings it resolved, as in
    `generations.meta.json`.

    `engine`: an already loaded engine (else one is made from `engine_cfg` and closed after). `references`:
    real texts the gate must not let through copies of (the pack's examples always count). `key`: what decides the
    text besides the plans (the stage's `text_key`; `claim_generations`). Granularity `encounters` in dialogue-first
    order: the conversations are generated first, from the plans (`conversations.jsonl`), and the plans generated
    are the section plans asked again with them (`generate.encounters.write_dialogue_first`; `seed` their seeds).
    """
    from dualalign.generate.encounters import encounter_gate, write_dialogue_first  # it generates through this module

    plans = read_plans(run.path / PLANS)
    meta = claim_generations(run.path, key, engine_cfg, sampling)
    meta_path, gen_path = run.path / GENERATIONS_META, run.path / GENERATIONS

    pack = load_pack(pack_ref)
    judge = cache(lambda: encounter_gate(pack, cfg, references))  # made when there is text to judge; it judges
    with EngineOnDemand(engine_cfg, engine) as engines:  # label-set exchanges and conversation pieces too
        if cfg.granularity == "encounters" and cfg.conversation.order == DIALOGUE_FIRST:
            plans = write_dialogue_first(plans, engines, run, judge, pack, cfg, sampling, key, seed, progress)
        done = {r.id for r in read_generations(gen_path)}
        if any(p.id not in done for p in plans):
            summary = generate_plans(plans, engines(), run.path, judge(), cfg, sampling, progress)
            log.info("generation: %s", summary)
        if engines.active is not None:
            write_json(meta_path, {**meta, "loaded": engines.loaded,
                                   "sampled_with": sampling.resolve(engines.active.hardware).model_dump()})  # fmt: skip
    generations = read_generations(gen_path)
    gate = QualityGate(pack, cfg.grounding, cfg.gate, references)  # fresh: JSON notes are judged in order
    notes, sentences, rejections = build_outputs(plans, generations, Grounder(pack, cfg.grounding), gate)
    write_parquet(run.file(NOTES), notes)
    write_parquet(run.file(SENTENCES), sentences)
    write_parquet(run.file(REJECTIONS), rejections)
    meta = read_json(meta_path)
    figures = generation_figures(plans, generations, sentences, rejections)
    return figures, {"engine": meta.get("loaded"), "sampling": meta.get("sampled_with")}
