"""The encounters stage's work (granularity `encounters`): after the note sections are generated and judged, plan
each encounter's conversation from its accepted sections (`alignment.encounters`), generate the pieces through the
encounter gate (appended to `conversations.jsonl` as they are final, resumable after a kill), and write one
encounter record per encounter and variant to `encounters.parquet`. In dialogue-first order
(`alignment.conversation.order`) the generation stage writes the conversations first, planned from the section plans,
and then the sections asked again with them (`write_dialogue_first`); this stage then writes the records only.

An encounter's record holds its note (accepted sections rendered under their headings) and every section with its
status, its conversation (accepted pieces joined) and every piece with its status, the plan it came from (patient,
visit date, stage, the profile shown, the planned mentions with their section), and the gate reasons of every part
that failed and of the whole conversation. Nothing is dropped: a rejected section or piece, or one not written
because its section was rejected, is a part of the record with its reasons.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from dualalign.alignment.config import NOTE_FIRST, AlignmentConfig
from dualalign.alignment.dialogue import parse_dialogue, render_dialogue
from dualalign.alignment.encounter_gate import EncounterGate
from dualalign.alignment.encounters import Piece, conversation_pieces, encounters_of, note_from_conversation
from dualalign.alignment.plans import Plan, read_plans
from dualalign.alignment.sections import render_note
from dualalign.alignment.stage import write_plans
from dualalign.errors import DataError
from dualalign.generate.engine import BaseEngineConfig, Engine
from dualalign.generate.records import GenerationRecord, read_generations
from dualalign.generate.registry import EngineOnDemand
from dualalign.generate.run import generate_plans
from dualalign.generate.sampling import SamplingConfig
from dualalign.io import read_json, stable_hash, write_json, write_parquet
from dualalign.runfolder import CONVERSATION_PLANS, CONVERSATIONS, ENCOUNTERS, GENERATIONS, PLANS, RunFolder
from dualalign.trajectories.pack import ConditionPack, load_pack

log = logging.getLogger(__name__)
META = "conversations.meta.json"


def reference_conversations(paths: Sequence[Path]) -> list[str]:
    """The `dialogue` column of each pair table (CSV or Parquet)."""
    out = []
    for path in map(Path, paths):
        if not path.is_file():
            raise DataError(f"alignment.conversation.references: {path} is not a file")
        table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
        if "dialogue" not in table.columns:
            raise DataError(f"{path}: no 'dialogue' column (columns: {', '.join(table.columns)})")
        out += table["dialogue"].dropna().astype(str).tolist()
    return out


def accepted_sections(sections: Sequence[Plan], generations: dict[str, GenerationRecord]) -> dict[str, str]:
    """Section -> accepted text, for the sections of one encounter whose generation passed the gate."""
    return {p.section: generations[p.id].text for p in sections if p.id in generations and generations[p.id].ok}


def run_encounters_stage(cfg: AlignmentConfig, engine_cfg: BaseEngineConfig, sampling: SamplingConfig, pack_ref: str,
                         run: RunFolder, key: str, seed: int, progress: bool = True, engine: Engine | None = None,
                         references: Sequence[str] = ()) -> tuple[dict, dict | None]:  # fmt: skip
    """Note-first order: plan, generate (resuming) and record the conversations. Either order: write the encounter
    records (dialogue-first: the generation stage wrote the conversations and the notes written from them). Returns
    the `encounters` figures and what the engine ran as (None when every piece was already generated).

    `key`: what decides a piece's text besides its plan; conversations made under another are moved aside (kept,
    renamed with their key), as the generation stage does with its texts."""
    pack = load_pack(pack_ref)
    encounters = encounters_of(read_plans(run.file(PLANS)))
    generations = {g.id: g for g in read_generations(run.file(GENERATIONS))}
    gate = encounter_gate(pack, cfg, references)
    with EngineOnDemand(engine_cfg, engine) as engines:
        if cfg.conversation.order == NOTE_FIRST:
            pieces = {k: conversation_pieces(s, accepted_sections(s, generations), pack, cfg, seed)
                      for k, s in encounters.items()}  # fmt: skip
            generate_conversations(pieces, engines, run, lambda: gate, cfg, sampling, key, progress)
            sections = {k: [Piece("section", p.section, None, plan=p) for p in s] for k, s in encounters.items()}
        else:
            pieces, sections = dialogue_first_parts(encounters, run, pack, cfg, seed)
        loaded = engines.loaded
    records = {r.id: r for r in read_generations(run.file(CONVERSATIONS))}
    rows = [encounter_record(encounters[k], sections[k], pieces[k], generations, records, gate, cfg.conversation.order)
            for k in encounters]  # fmt: skip
    table = pd.DataFrame(rows)
    write_parquet(run.file(ENCOUNTERS), table)
    return encounter_figures(table), loaded


def encounter_gate(pack: ConditionPack, cfg: AlignmentConfig, references: Sequence[str]) -> EncounterGate:
    """The gate of sections and conversation pieces, with the configured reference conversations."""
    return EncounterGate(pack, cfg.grounding, cfg.gate, cfg.conversation, references,
                         reference_conversations(cfg.conversation.references))  # fmt: skip


def generate_conversations(pieces: dict[tuple[str, str], list[Piece]], engines: EngineOnDemand, run: RunFolder,
                           judge: Callable[[], EncounterGate], cfg: AlignmentConfig, sampling: SamplingConfig, key: str,
                           progress: bool) -> None:  # fmt: skip
    """Write the pieces' plans; generate those not yet in `conversations.jsonl` (moved aside first if made under
    another `key`), each appended as it is final, through `judge()`'s gate (asked for only when there is work)."""
    plans = [p.plan for ps in pieces.values() for p in ps if p.plan is not None]
    write_plans(run.file(CONVERSATION_PLANS), plans)
    meta_path, path = run.file(META), run.file(CONVERSATIONS)
    if path.exists() and meta_path.exists() and read_json(meta_path)["key"] != key:
        old = read_json(meta_path)["key"]
        path.rename(run.path / f"conversations.{old}.jsonl")
        log.warning("conversation settings changed: earlier conversations kept as conversations.%s.jsonl", old)
    write_json(meta_path, {"key": key})
    done = {r.id for r in read_generations(path)}
    if any(p.id not in done for p in plans):
        summary = generate_plans(plans, engines(), run.path, judge(), cfg, sampling, progress, name=CONVERSATIONS)
        log.info("conversations: %s", summary)


def dialogue_first_parts(encounters: dict[tuple[str, str], list[Plan]], run: RunFolder, pack: ConditionPack,
                         cfg: AlignmentConfig, seed: int) -> tuple[dict, dict]:  # fmt: skip
    """Dialogue-first order: each encounter's conversation pieces, planned from its section plans alone, and its
    note's sections, planned from the accepted pieces in `conversations.jsonl` (`note_from_conversation`)."""
    pieces = {k: conversation_pieces(s, None, pack, cfg, seed) for k, s in encounters.items()}
    records = {r.id: r for r in read_generations(run.file(CONVERSATIONS))}
    sections = {k: note_from_conversation(s, conversation_text(pieces[k], records), cfg) for k, s in encounters.items()}
    return pieces, sections


def write_dialogue_first(plans: Sequence[Plan], engines: EngineOnDemand, run: RunFolder,
                         judge: Callable[[], EncounterGate], pack: ConditionPack, cfg: AlignmentConfig,
                         sampling: SamplingConfig, key: str, seed: int, progress: bool) -> list[Plan]:  # fmt: skip
    """The generation stage's first half in dialogue-first order: generate (resuming) the conversations planned from
    the section plans; returns the section plans asked again with them, which the stage then generates."""
    encounters = encounters_of(plans)
    generate_conversations({k: conversation_pieces(s, None, pack, cfg, seed) for k, s in encounters.items()},
                           engines, run, judge, cfg, sampling, key, progress)  # fmt: skip
    _, sections = dialogue_first_parts(encounters, run, pack, cfg, seed)
    return [p.plan for ps in sections.values() for p in ps if p.plan is not None]


def conversation_text(pieces: Sequence[Piece], records: dict[str, GenerationRecord]) -> str:
    """The accepted pieces joined into one conversation ("" when none was accepted)."""
    texts = [records[p.plan.id].text for p in pieces if p.plan is not None and p.plan.id in records
             and records[p.plan.id].ok]  # fmt: skip
    return render_dialogue(parse_dialogue("\n".join(texts))) if texts else ""


def _part(record: GenerationRecord | None) -> tuple[str, list[str]]:
    """A generated part's status and, where it was rejected, its candidates' reasons."""
    if record is None:
        return "missing", ["not_generated"]
    if record.ok:
        return "ok", []
    return "rejected", sorted({c.reason for c in record.candidates if c.reason}) or [record.error_kind]


def encounter_record(plans: Sequence[Plan], sections: Sequence[Piece], pieces: Sequence[Piece],
                     generations: dict[str, GenerationRecord], conversations: dict[str, GenerationRecord],
                     gate: EncounterGate, order: str) -> dict:  # fmt: skip
    """One encounter and variant (`plans`: its section plans): its note, conversation, plan, statuses and gate
    reasons, and the `order` they were written in."""
    first = plans[0]
    section_parts = []
    for part in sections:
        status, reasons = _status_of(part, generations)
        text = generations[part.plan.id].text if status == "ok" else ""
        section_parts.append({"section": part.section, "text": text, "status": status, "reasons": reasons})
    piece_parts = []
    for piece in pieces:
        status, reasons = _status_of(piece, conversations)
        text = conversations[piece.plan.id].text if status == "ok" else ""
        piece_parts.append({"piece": piece.name, "section": piece.section, "term": piece.term, "text": text,
                            "status": status, "reasons": reasons})  # fmt: skip
    note_ok = [s for s in section_parts if s["status"] == "ok"]
    conversation = conversation_text(pieces, conversations)
    planned = [m for plan in plans for m in plan.mentions]
    whole = gate.conversation_reasons(conversation, [m.term for m in planned] if first.prompted else [])
    note_status = _status(len(note_ok), len(section_parts))
    conversation_status = _status(sum(p["status"] == "ok" for p in piece_parts), len(piece_parts))
    if conversation_status == "ok" and whole:
        conversation_status = "rejected"
    reasons = [r for part in (*section_parts, *piece_parts) for r in part["reasons"]] + whole
    return {
        "encounter_id": stable_hash([first.note_id, first.variant]),
        "variant": first.variant,
        "order": order,
        "patient_id": first.patient_id,
        "note_id": first.note_id,
        "note_type": first.note_type,
        "visit_date": first.visit_date,
        "stage": first.stage,
        "profile": json.dumps(first.profile) if first.profile else None,
        "planned": [m.model_dump() for m in planned],
        "note": render_note([(s["section"], s["text"]) for s in note_ok]) if note_ok else "",
        "sections": section_parts,
        "note_status": note_status,
        "conversation": conversation,
        "pieces": piece_parts,
        "conversation_status": conversation_status,
        "conversation_reasons": whole,
        "status": "ok" if note_status == conversation_status == "ok" else "rejected",
        "gate_reasons": sorted(set(reasons)),
    }


def _status_of(part: Piece, records: dict[str, GenerationRecord]) -> tuple[str, list[str]]:
    """A planned part's status and reasons: skipped (not planned, with why), or as its generation record has it."""
    return ("skipped", [part.skipped]) if part.plan is None else _part(records.get(part.plan.id))


def _status(ok: int, total: int) -> str:
    return "ok" if ok == total else "failed" if ok == 0 else "incomplete"


def encounter_figures(table: pd.DataFrame) -> dict:
    """Per variant: encounters, the order they were written in, accepted ones (note and conversation), parts
    accepted, reasons counted."""
    figures = {}
    for variant, rows in table.groupby("variant", sort=False):
        sections = [s for parts in rows["sections"] for s in parts]
        pieces = [p for parts in rows["pieces"] for p in parts]
        reasons = pd.Series([r for part in (*sections, *pieces) for r in part["reasons"]], dtype=object)
        whole = pd.Series([r for rs in rows["conversation_reasons"] for r in rs], dtype=object)
        turns = [len(parse_dialogue(c)) for c in rows["conversation"] if c]
        figures[variant] = {
            "encounters": int(len(rows)),
            "order": str(rows["order"].iloc[0]),
            "accepted": int((rows["status"] == "ok").sum()),
            "notes_accepted": int((rows["note_status"] == "ok").sum()),
            "conversations_accepted": int((rows["conversation_status"] == "ok").sum()),
            "sections_accepted": sum(s["status"] == "ok" for s in sections),
            "sections": len(sections),
            "pieces_accepted": sum(p["status"] == "ok" for p in pieces),
            "pieces_skipped": sum(p["status"] == "skipped" for p in pieces),
            "pieces": len(pieces),
            "part_rejections_by_reason": {k: int(v) for k, v in reasons.value_counts().items()},
            "conversation_rejections_by_reason": {k: int(v) for k, v in whole.value_counts().items()},
            "mean_turns": round(sum(turns) / len(turns), 2) if turns else None,
        }
    return figures
