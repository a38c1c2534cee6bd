"""Generation plans: one request per planned sentence, label-set item or whole note, and variant, with a stable
content-hash id.

Variants share the note, the planned label and the seed, so that only the alignment differs:
- guided: profile context (statistical alignment) and stage + planned term (semantic alignment);
- unguided: condition, note type and the label's name only (the paper's unguided baseline);
- statistical: profile context only;  semantic: stage and planned term only.
Sentence and label-set plans ask for plain text (the plan fixes the label); where the template gives one, the
start of the reply, which the model continues (`reply_start.j2`: in the patient's voice, an opening the same for
every variant of an item, then the first planned term where the variant was shown it). A label of `dialogue` style
asks for a short doctor-patient exchange about it, begun "Doctor:", after `alignment.shots` example exchanges of
other labels (the same for both variants of an item), and is cut after `alignment.item_turns` turns. Whole notes
(granularity `notes`) ask for JSON sentences labelled by the model.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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
    section: str | None = None  # the encounter-note section it goes to (granularity `encounters`)


class Plan(BaseModel):
    """One generation request and everything needed to check and analyse its reply."""

    id: str
    variant: str
    kind: str  # "note" (a patient's note), "labelset" (an item of a flat label set), or an encounter's "section"
    # or "conversation" piece (granularity `encounters`, `alignment.encounters`)
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
    max_sentences: int | None = None  # a plain-text reply is cut after this many sentences before it is judged
    max_turns: int | None = None  # a dialogue reply (style `dialogue`) is cut after this many turns instead
    labels: list[str]  # the labels a reply may use (one: the plan fixes it; several: a JSON note labels them)
    sections: list[str] = []
    section: str | None = None  # an encounter's section plan: the section it writes; a piece: the one it is from
    piece: str | None = None  # a conversation piece: opening, finding, section or closing
    answer: str | None = None  # a piece: the begun answer ("Patient:") asked for where the reply ends without one
    style: str = "clinician-voice"  # a pack style (clinician-voice, patient-voice, dialogue) or "conversation"
    messages: list[Message]
    seed: int
    stop: list[str] = []  # how the prompt's reply ends; how tokens are drawn is the run's `sampling:` section

    @property
    def structured(self) -> bool:
        """Whether the reply is JSON with model-chosen labels (whole notes) rather than plain text."""
        return self.granularity == "notes"

    @property
    def prompt(self) -> str:
        """The last instruction the model was given."""
        return next(m.content for m in reversed(self.messages) if m.role == "user")

    @property
    def reply_start(self) -> str:
        """The start of the reply that the model continues (the final assistant message), or ""."""
        return self.messages[-1].content if self.messages[-1].role == "assistant" else ""

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


def visit_date(note: dict, cfg: AlignmentConfig, seed: int) -> date:
    """A note's visit date: its day relative to the patient's diagnosis, from a diagnosis date spread over a year
    after `cfg.diagnosis_date`."""
    anchor = cfg.diagnosis_date + timedelta(days=derived_seed(seed, note["patient_id"]) % 365)
    return anchor + timedelta(days=int(note["visit_day"]))


def notes_with_profiles(profiles: pd.DataFrame, notes: pd.DataFrame,
                        cfg: AlignmentConfig) -> Iterator[tuple[dict, dict]]:  # fmt: skip
    """Each selected note (`cfg.max_notes_per_patient`) with its patient's profile; a note whose patient is not in
    the cohort is an error."""
    by_patient = {p["patient_id"]: p for p in profiles.to_dict("records")}
    for note in select_notes(notes, cfg.max_notes_per_patient).to_dict("records"):
        profile = by_patient.get(note["patient_id"])
        if profile is None:
            raise ConfigError(f"note {note['note_id']}: patient {note['patient_id']!r} is not in the cohort")
        yield note, profile


def build_note_plans(
    profiles: pd.DataFrame, notes: pd.DataFrame, pack: ConditionPack, cfg: AlignmentConfig, seed: int
) -> list[Plan]:
    """Plans for every selected note of every patient, in each configured variant: one per planned sentence
    (granularity `sentences`), or one per note (`notes`)."""
    if pack.kind != "staged":
        raise ConfigError(f"pack {pack.name!r} is a flat label set: patient notes need a staged pack")
    stage_names = {s.id: s.name.lower() for s in pack.stages}
    note_names = {n.id: n.name.lower() for n in pack.note_types}
    system = render("system.j2", cfg.templates, style=pack.style)
    plans = []
    for note, profile in notes_with_profiles(profiles, notes, cfg):
        shared = {
            "kind": "note",
            "granularity": cfg.granularity,
            "patient_id": note["patient_id"],
            "note_id": note["note_id"],
            "note_type": note["note_type"],
            "visit_date": visit_date(note, cfg, seed),
            "stage": note["stage"],
            "style": pack.style,
        }
        context = {
            "condition": pack.title,
            "note_type": note_names.get(note["note_type"], note["note_type"]),
            "stage": stage_names[note["stage"]],
        }
        mentions = [PlannedMention(**m) for m in note["mentions"]]
        units = _note_units(mentions, pack, cfg) if cfg.granularity == "notes" else _sentence_units(mentions, cfg)
        for unit_seed, unit_mentions, template, fields in units:
            for variant in cfg.variants:
                profile_shown = profile_context(profile, note["age_at_visit"]) if variant in USES_PROFILE else None
                aligned = variant in USES_TRAJECTORY
                prompt = render(
                    template, cfg.templates, **context, **fields, profile=profile_shown, aligned=aligned,
                    labels={k: v.name for k, v in pack.labels.items()},
                )  # fmt: skip
                start = "" if cfg.granularity == "notes" else render(
                    "reply_start.j2", cfg.templates, style=pack.style, term=unit_mentions[0].term if aligned else None,
                    choice=derived_seed(seed, note["note_id"], unit_seed),
                )  # fmt: skip
                plans.append(finish({
                    **shared,
                    "variant": variant,
                    "profile": profile_shown,
                    "mentions": unit_mentions,
                    "prompted": aligned,
                    "messages": _conversation(system, prompt, start, _shots(
                        pack, unit_mentions, context, cfg, derived_seed(seed, note["note_id"]))),
                    "seed": derived_seed(seed, note["note_id"], unit_seed),
                    **fields["plan"],
                }))  # fmt: skip
    return plans


def _sentence_units(mentions: list[PlannedMention], cfg: AlignmentConfig):
    """One plain-text sentence per planned mention (and repeat): its label fixed, its term shown when aligned."""
    for i, mention in enumerate(mentions):
        for r in range(cfg.sentences_per_mention):
            fields = {"mention": mention.model_dump(), "label_name": None}
            fields["plan"] = {"n_sentences": 1, "max_sentences": 1, "labels": [mention.label], "stop": ["\n"]}
            yield (i, r), [mention], "sentence.j2", fields


def _note_units(mentions: list[PlannedMention], pack: ConditionPack, cfg: AlignmentConfig):
    """One JSON note whose sentences the model labels (with `none` for sentences without a symptom)."""
    n_sentences = max(1, len(mentions)) * cfg.sentences_per_mention
    fields = {"mentions": [m.model_dump() for m in mentions], "n_sentences": n_sentences, "sections": SOAP}
    fields["plan"] = {"n_sentences": n_sentences, "labels": [*pack.label_ids, NO_LABEL], "sections": list(SOAP)}
    yield "note", mentions, "note.j2", fields


def _shots(pack: ConditionPack, mentions: list[PlannedMention], context: dict, cfg: AlignmentConfig,
           seed: int) -> list[Message]:  # fmt: skip
    """`cfg.shots` example exchanges from the pack's examples of labels other than the planned ones (format only:
    the gate rejects copies). The same for every variant of a note, so only the alignment differs."""
    planned = {m.label for m in mentions}
    pool = [(label, e) for label, spec in pack.labels.items() if label not in planned for e in spec.examples]
    if not cfg.shots or not pool or cfg.granularity == "notes":
        return []
    rng = np.random.default_rng(seed)
    shots = []
    for k in rng.choice(len(pool), size=min(cfg.shots, len(pool)), replace=False):
        label, example = pool[k]
        ask = render("sentence.j2", cfg.templates, **context, profile=None, aligned=False, mention=None,
                     label_name=pack.labels[label].name, labels={})  # fmt: skip
        shots += [Message(role="user", content=ask), Message(role="assistant", content=example)]
    return shots


def build_labelset_plans(
    items: pd.DataFrame, pack: ConditionPack, variants: list[str], cfg: AlignmentConfig, seed: int
) -> list[Plan]:
    """Plans for label-set items (text classification), one plain text each: `guided` shows the label's
    definition and terms, `unguided` only its name. Both share each item's seed."""
    unknown = sorted(set(variants) - {"guided", "unguided"})
    if unknown:
        raise ConfigError(f"label-set generation has variants guided and unguided only, not {unknown}")
    plans = []
    for item in items.to_dict("records"):
        style = item["style"]
        system = render("system.j2", cfg.templates, style=style)
        item_seed = derived_seed(seed, item["item_id"])
        dialogue = style == "dialogue"
        shots = _exchange_shots(pack, item["label"], cfg, item_seed) if dialogue else []
        cut = {"max_turns": cfg.item_turns, "stop": []} if dialogue else {"max_sentences": cfg.item_sentences,
                                                                           "stop": ["\n\n"]}  # fmt: skip
        for variant in variants:
            guided = variant == "guided"
            prompt = render(
                "labelset.j2",
                cfg.templates,
                style=style,
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
                        "n_sentences": 1,
                        "labels": [item["label"]],
                        "style": style,
                        "messages": _conversation(system, prompt, render(
                            "reply_start.j2", cfg.templates, style=style, choice=item_seed,
                            term=item["terms"][0] if guided and len(item["terms"]) else None), shots),
                        "seed": item_seed,
                        **cut,
                    }
                )
            )
    return plans


def _exchange_shots(pack: ConditionPack, label: str, cfg: AlignmentConfig, seed: int) -> list[Message]:
    """`cfg.shots` example exchanges for a dialogue-style item: the pack's examples of other labels, each answering
    its label's unguided prompt (format only: the gate rejects copies of them)."""
    pool = [(other, e) for other, spec in pack.labels.items() if other != label for e in spec.examples]
    if not cfg.shots or not pool:
        return []
    shots = []
    for k in np.random.default_rng(seed).choice(len(pool), size=min(cfg.shots, len(pool)), replace=False):
        other, example = pool[k]
        ask = render("labelset.j2", cfg.templates, style="dialogue", label=other, label_name=pack.labels[other].name,
                     definition="", terms=[])  # fmt: skip
        shots += [Message(role="user", content=ask), Message(role="assistant", content=example.strip())]
    return shots


def _conversation(system: str, prompt: str, reply_start: str, shots: Sequence[Message] = ()) -> list[Message]:
    """System, shots, prompt, and the reply's given start if there is one."""
    start = [Message(role="assistant", content=reply_start)] if reply_start else []
    return [Message(role="system", content=system), *shots, Message(role="user", content=prompt), *start]


def read_plans(path) -> list[Plan]:
    """Plans back from a run folder's plans.jsonl."""
    return [Plan.model_validate(r) for r in read_jsonl(path)]
