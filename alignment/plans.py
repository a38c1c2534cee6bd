"""Generation plans: one request per note (or label-set item) and variant, with a stable content-hash id.

Variants share the note, its sentence count and its seed, so that only the alignment differs:
- guided: profile context (statistical alignment) and stage + planned mentions (semantic alignment);
- unguided: condition and note type only (the paper's unguided baseline);
- statistical: profile context only;  semantic: stage and planned mentions only.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from dualalign.alignment.config import AlignmentConfig
from dualalign.alignment.context import profile_context
from dualalign.alignment.prompts import render
from dualalign.alignment.schema import NO_LABEL
from dualalign.errors import ConfigError
from dualalign.io import read_jsonl, stable_hash
from dualalign.messages import Message
from dualalign.trajectories.pack import ConditionPack

SOAP = ("Subjective", "Objective", "Assessment", "Plan")
USES_PROFILE = {"guided", "statistical"}
USES_TRAJECTORY = {"guided", "semantic"}


class PlannedMention(BaseModel):
    label: str
    term: str
    domain: str | None = None


class Plan(BaseModel):
    """One generation request and everything needed to check and analyse its reply."""

    id: str
    variant: str
    kind: str  # "note" (a patient's note) or "labelset" (an item of a flat label set)
    granularity: str
    patient_id: str | None = None
    note_id: str | None = None
    note_type: str | None = None
    visit_date: date | None = None
    stage: str | None = None
    profile: dict[str, Any] | None = None  # the context shown to the model, if any
    mentions: list[PlannedMention]  # what the trajectory planned (shown only to trajectory-aligned variants)
    prompted: bool  # whether the planned mentions were in the prompt
    n_sentences: int
    labels: list[str]  # the labels a reply may use
    sections: list[str] = []
    messages: list[Message]
    seed: int
    max_tokens: int
    temperature: float
    top_p: float

    @property
    def schema_key(self) -> tuple[tuple[str, ...], tuple[str, ...], int]:
        """The arguments of this plan's reply schema (`alignment.schema.reply_model`)."""
        return tuple(self.labels), tuple(self.sections), self.n_sentences


def finish(fields: dict[str, Any]) -> Plan:
    """A plan whose id is the hash of its content."""
    return Plan(id=stable_hash(fields), **fields)


def derived_seed(seed: int, *parts: Any) -> int:
    return int(stable_hash([seed, *parts], length=8), 16) % (2**31 - 1)


def select_notes(notes: pd.DataFrame, per_patient: int | None) -> pd.DataFrame:
    """At most `per_patient` notes per patient, evenly spaced over the window, the latest always kept."""
    if per_patient is None:
        return notes
    kept = []
    for _, group in notes.sort_values(["patient_id", "visit_day"]).groupby("patient_id", sort=True):
        n = len(group)
        idx = np.unique(np.round(np.linspace(n - 1, 0, min(per_patient, n))).astype(int)) if n else []
        kept.append(group.iloc[sorted(idx)])
    return pd.concat(kept, ignore_index=True) if kept else notes.iloc[:0]


def build_note_plans(
    profiles: pd.DataFrame, notes: pd.DataFrame, pack: ConditionPack, cfg: AlignmentConfig, seed: int
) -> list[Plan]:
    """Plans for every selected note of every patient, in each configured variant."""
    if pack.kind != "staged":
        raise ConfigError(f"pack {pack.name!r} is a flat label set: patient notes need a staged pack")
    by_patient = {p["patient_id"]: p for p in profiles.to_dict("records")}
    stage_names = {s.id: s.name.lower() for s in pack.stages}
    note_names = {n.id: n.name.lower() for n in pack.note_types}
    labels = {k: v for k, v in pack.labels.items()}
    notes_granularity = cfg.granularity == "notes"
    allowed = [*pack.label_ids, NO_LABEL] if notes_granularity else pack.label_ids
    system = render("system.j2", cfg.templates, style=pack.style)
    plans = []
    for note in select_notes(notes, cfg.max_notes_per_patient).to_dict("records"):
        profile = by_patient.get(note["patient_id"])
        if profile is None:
            raise ConfigError(f"note {note['note_id']}: patient {note['patient_id']!r} is not in the cohort")
        mentions = [PlannedMention(**m) for m in note["mentions"]]
        n_sentences = max(1, len(mentions)) * cfg.sentences_per_mention
        anchor = cfg.diagnosis_date + timedelta(days=derived_seed(seed, note["patient_id"]) % 365)
        visit_date = anchor + timedelta(days=int(note["visit_day"]))
        note_seed = derived_seed(seed, note["note_id"])
        for variant in cfg.variants:
            context = profile_context(profile, note["age_at_visit"]) if variant in USES_PROFILE else None
            aligned = variant in USES_TRAJECTORY
            prompt = render(
                "note.j2" if notes_granularity else "sentences.j2",
                cfg.templates,
                condition=pack.title,
                note_type=note_names.get(note["note_type"], note["note_type"]),
                n_sentences=n_sentences,
                profile=context,
                stage=stage_names[note["stage"]] if aligned else None,
                mentions=[m.model_dump() for m in mentions] if aligned else None,
                labels=labels,
                sections=SOAP,
            )
            plans.append(
                finish(
                    {
                        "variant": variant,
                        "kind": "note",
                        "granularity": cfg.granularity,
                        "patient_id": note["patient_id"],
                        "note_id": note["note_id"],
                        "note_type": note["note_type"],
                        "visit_date": visit_date,
                        "stage": note["stage"],
                        "profile": context,
                        "mentions": mentions,
                        "prompted": aligned,
                        "n_sentences": n_sentences,
                        "labels": allowed,
                        "sections": list(SOAP) if notes_granularity else [],
                        "messages": [Message(role="system", content=system), Message(role="user", content=prompt)],
                        "seed": note_seed,
                        "max_tokens": cfg.max_tokens,
                        "temperature": cfg.temperature,
                        "top_p": cfg.top_p,
                    }
                )
            )
    return plans


def build_labelset_plans(
    items: pd.DataFrame, pack: ConditionPack, variants: list[str], cfg: AlignmentConfig, seed: int,
    sentences_per_item: int = 1,
) -> list[Plan]:  # fmt: skip
    """Plans for label-set items (text classification): `guided` shows the label's definition and terms,
    `unguided` only its name. Both share each item's seed and sentence count."""
    unknown = sorted(set(variants) - {"guided", "unguided"})
    if unknown:
        raise ConfigError(f"label-set generation has variants guided and unguided only, not {unknown}")
    plans = []
    for item in items.to_dict("records"):
        style = item["style"]
        system = render("system.j2", cfg.templates, style=style)
        item_seed = derived_seed(seed, item["item_id"])
        for variant in variants:
            guided = variant == "guided"
            prompt = render(
                "labelset.j2",
                cfg.templates,
                n_sentences=sentences_per_item,
                label=item["label"],
                label_name=item["label_name"],
                definition=item["definition"] if guided else "",
                terms=list(item["terms"]) if guided else [],
            )
            plans.append(
                finish(
                    {
                        "variant": variant,
                        "kind": "labelset",
                        "granularity": "sentences",
                        "note_id": item["item_id"],
                        "mentions": [PlannedMention(label=item["label"], term=t) for t in item["terms"]],
                        "prompted": guided,
                        "n_sentences": sentences_per_item,
                        "labels": [item["label"]],
                        "messages": [Message(role="system", content=system), Message(role="user", content=prompt)],
                        "seed": item_seed,
                        "max_tokens": cfg.max_tokens,
                        "temperature": cfg.temperature,
                        "top_p": cfg.top_p,
                    }
                )
            )
    return plans


def read_plans(path) -> list[Plan]:
    """Plans back from a run folder's plans.jsonl."""
    return [Plan.model_validate(r) for r in read_jsonl(path)]
