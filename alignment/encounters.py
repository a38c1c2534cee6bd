"""Encounter plans (granularity `encounters`): a visit's note written section by section, then the visit's
doctor-patient conversation written from the accepted note (note to dialogue, MedSynth's order), piece by piece.

Section plans (`build_section_plans`, the plans stage): one plain-text request per section of the pack's note
(`pack.encounter.sections`) and variant, each with a begun reply in the clinician's voice. The planned mentions go to
their sections (`alignment.sections.SectionRouter`); the profile's age, sex, comorbidities and medications go to their
sections where the variant shows the profile; the stage and diagnosis open the assessment where it shows the trajectory.
Unguided: the condition and the note type only. Only what is known at the visit is shown: its own stage and mentions,
and the condition's name (in any variant) only from the diagnosis on (`visit_day` >= 0); before it, the assessment
states the stage alone, without the diagnosis or its code.

Conversation plans (`conversation_pieces`, after the note's sections are judged): short pieces that a small model can
write, each a begun reply "Doctor:" cut at the next doctor's turn (one that ends after the doctor's turn is asked
again for the patient's answer): an opening from the chief complaint (the doctor's greeting given, the patient's
answer written); an exchange per planned finding from the section it was written in (variants shown the mentions;
the prompt gives the finding's first lay words from the pack's lexicon), or one per middle section (the others); a
closing from the assessment and plan. A piece whose section was rejected is not planned: `conversation_pieces` names
it with the reason `source_section_rejected`.

Dialogue-first order (`alignment.conversation.order`): the same pieces are planned from the plan alone (no section's
text: the planned finding, the note type and, where the variant shows the profile, who the patient is), before any
note; then each section plan is asked again with the accepted
conversation put before its request (`note_from_conversation`), so the routing, the facts known at the visit and the
begun replies are the section plans'. With no accepted piece, no section is planned (`source_conversation_rejected`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from dualalign.alignment.config import AlignmentConfig
from dualalign.alignment.context import profile_context
from dualalign.alignment.plans import (
    USES_PROFILE,
    USES_TRAJECTORY,
    Plan,
    PlannedMention,
    _conversation,
    derived_seed,
    finish,
    notes_with_profiles,
    visit_date,
)
from dualalign.alignment.prompts import and_join, render
from dualalign.alignment.schema import NO_LABEL
from dualalign.alignment.sections import CC, PLAN, SectionRouter
from dualalign.errors import ConfigError
from dualalign.trajectories.pack import ConditionPack

SECTION_SENTENCES = {CC: 1, "HISTORY OF PRESENT ILLNESS": 4}  # a section's reply is cut after this many (else 3)
CONVERSATION_STOP = ["\nDoctor:", "\n\n"]  # a piece is one doctor's turn and what answers it
# The begun reply of a piece; the opening's greeting is given (the embedded model, left to open, wrote codes such as
# "Doctor: 12324-P"), and the patient answers it from the chief complaint. Another piece whose reply ends after the
# doctor's turn (as 172 of the embedded model's 217 replies without a patient did) is asked again for the patient's
# answer, begun (`generate.candidates.answered`).
PIECE_START, OPENING_START, ANSWER_START = "Doctor:", "Doctor: Hello, what brings you in today?\nPatient:", "Patient:"
SOURCE_REJECTED = "source_section_rejected"
CONVERSATION_REJECTED = "source_conversation_rejected"


def build_section_plans(profiles: pd.DataFrame, notes: pd.DataFrame, pack: ConditionPack, cfg: AlignmentConfig,
                        seed: int) -> list[Plan]:  # fmt: skip
    """A plan per section of every selected note, in each configured variant."""
    if pack.kind != "staged":
        raise ConfigError(f"pack {pack.name!r} is a flat label set: encounters need a staged pack")
    router = SectionRouter(pack)
    stage_names = {s.id: s.name for s in pack.stages}
    note_names = {n.id: n.name.lower() for n in pack.note_types}
    system = render("system.j2", cfg.templates, style=pack.style)
    plans = []
    for note, profile in notes_with_profiles(profiles, notes, cfg):
        diagnosed = int(note["visit_day"]) >= 0
        mentions = [PlannedMention(**{**m, "section": router.mention(PlannedMention(**m))}) for m in note["mentions"]]
        note_type = note_names.get(note["note_type"], note["note_type"])
        for variant in cfg.variants:
            shown = profile_context(profile, note["age_at_visit"]) if variant in USES_PROFILE else None
            aligned = variant in USES_TRAJECTORY
            facts = _profile_facts(shown, router) if shown else {}
            assessment = None
            if aligned:
                assessment = router.diagnosis(note["stage"]) if diagnosed else stage_names[note["stage"]]
            for section in router.sections:
                routed = [m for m in mentions if m.section == section]
                terms = [m.term for m in routed] if aligned else []
                prompt = render("section.j2", cfg.templates, section=section, note_type=note_type,
                                condition=pack.title if diagnosed else None, facts=facts.get(section, []),
                                terms=terms)  # fmt: skip
                start = render("section_start.j2", cfg.templates, section=section, term=terms[0] if terms else None,
                               who=_who(shown), diagnosis=assessment if section == PLAN else None)
                plans.append(finish({
                    "variant": variant, "kind": "section", "granularity": "encounters",
                    "patient_id": note["patient_id"], "note_id": note["note_id"], "note_type": note["note_type"],
                    "visit_date": visit_date(note, cfg, seed), "stage": note["stage"], "profile": shown,
                    "mentions": routed, "prompted": aligned, "n_sentences": max(1, len(routed)),
                    "max_sentences": SECTION_SENTENCES.get(section, 3),
                    "labels": list(dict.fromkeys(m.label for m in routed)) or [NO_LABEL],
                    "sections": list(router.sections), "section": section, "style": pack.style,
                    "messages": _conversation(system, prompt, start),
                    "seed": derived_seed(seed, note["note_id"], section), "stop": ["\n"],
                }))  # fmt: skip
    return plans


def _fact_phrases(shown: dict) -> dict[str, str]:
    """The profile's comorbidities and medications as short phrases ("history of ...", "takes ...")."""
    parts = {"comorbidities": ("history of ", shown.get("risk_factors")),
             "medications": ("takes ", shown.get("medications"))}  # fmt: skip
    return {fact: start + and_join(items) for fact, (start, items) in parts.items() if items}


def _profile_facts(shown: dict, router: SectionRouter) -> dict[str, list[str]]:
    """The profile's facts as short phrases, by the section each goes to."""
    facts: dict[str, list[str]] = {}
    for fact, phrase in _fact_phrases(shown).items():
        facts.setdefault(router.fact(fact), []).append(phrase)
    return facts


def _who(shown: dict | None) -> str | None:
    """"a 78-year-old woman", the start of the history where the variant shows the profile."""
    if not shown:
        return None
    age = shown["age"]
    article = "an" if str(age).startswith("8") or age in (11, 18) else "a"
    return f"{article} {age}-year-old {shown.get('sex', 'patient')}"


def _patient(shown: dict | None) -> str | None:
    """"a 71-year-old woman with a history of hypertension who takes amlodipine", where the variant shows the
    profile."""
    if not shown:
        return None
    phrases = _fact_phrases(shown)
    said = [f"with a {phrases['comorbidities']}"] if "comorbidities" in phrases else []
    said += [f"who {phrases['medications']}"] if "medications" in phrases else []
    return " ".join([_who(shown), *said])


@dataclass(frozen=True)
class Piece:
    """One piece of an encounter's conversation: its plan, or why it was not planned (`skipped`)."""

    name: str  # opening, finding, section or closing
    section: str
    term: str | None
    plan: Plan | None = None
    skipped: str | None = None


def conversation_pieces(sections: Sequence[Plan], accepted: dict[str, str] | None, pack: ConditionPack,
                        cfg: AlignmentConfig, seed: int) -> list[Piece]:  # fmt: skip
    """The pieces of one encounter's conversation, in order, from its section plans (one note, one variant) and
    the accepted text of each section (`accepted`: section -> text; a rejected section is absent), or from the plan
    alone (`accepted` None: dialogue-first order)."""
    first, order = sections[0], [p.section for p in sections]
    aligned = first.prompted
    specs: list[tuple[str, str, PlannedMention | None]] = [("opening", order[0], None)]
    if aligned:
        specs += [("finding", p.section, m) for p in sections for m in p.mentions]
    else:
        specs += [("section", s, None) for s in order[1:-1]]
    specs.append(("closing", order[-1], None))
    system = render("system.j2", cfg.templates, style="conversation")
    patient = _patient(first.profile) if accepted is None else None  # note-first: the note's text says it
    note_type = next((n.name.lower() for n in pack.note_types if n.id == first.note_type), first.note_type)
    pieces = []
    for i, (name, section, mention) in enumerate(specs):
        term = mention.term if mention else None
        if accepted is not None and section not in accepted:
            pieces.append(Piece(name, section, term, skipped=SOURCE_REJECTED))
            continue
        prompt = render("conversation.j2", cfg.templates, section=section, note_type=note_type,
                        source=accepted[section] if accepted is not None else None, piece=name, term=term,
                        lay=pack.lay_words.get(term, ()) if term else (), patient=patient)  # fmt: skip
        plan = finish({
            "variant": first.variant, "kind": "conversation", "granularity": "encounters",
            "patient_id": first.patient_id, "note_id": first.note_id, "note_type": first.note_type,
            "visit_date": first.visit_date, "stage": first.stage, "profile": first.profile,
            "mentions": [mention] if mention else [], "prompted": mention is not None, "n_sentences": 2,
            "labels": [mention.label] if mention else [NO_LABEL], "section": section, "piece": name,
            "style": "conversation",
            "messages": _conversation(system, prompt, OPENING_START if name == "opening" else PIECE_START),
            "answer": None if name == "opening" else ANSWER_START,
            "seed": derived_seed(seed, first.note_id, "conversation", i), "stop": CONVERSATION_STOP,
        })  # fmt: skip
        pieces.append(Piece(name, section, term, plan=plan))
    return pieces


def note_from_conversation(sections: Sequence[Plan], conversation: str, cfg: AlignmentConfig) -> list[Piece]:
    """Dialogue-first order: each section plan of one encounter asked again with its accepted `conversation` (the
    pieces joined) before its request; none where no piece was accepted."""
    out = []
    for plan in sections:
        if not conversation:
            out.append(Piece("section", plan.section, None, skipped=CONVERSATION_REJECTED))
            continue
        source = render("note_source.j2", cfg.templates, conversation=conversation.strip())
        messages = [m.model_copy(update={"content": f"{source}\n{m.content}"}) if m.role == "user" else m
                    for m in plan.messages]  # fmt: skip
        fields = plan.model_dump(mode="json", exclude={"id"}) | {"messages": [m.model_dump() for m in messages]}
        out.append(Piece("section", plan.section, None, plan=finish(fields)))
    return out


def encounters_of(plans: Sequence[Plan]) -> dict[tuple[str, str], list[Plan]]:
    """Section plans grouped by encounter (note id, variant), in plan order."""
    out: dict[tuple[str, str], list[Plan]] = {}
    for plan in plans:
        if plan.kind == "section":
            out.setdefault((plan.note_id, plan.variant), []).append(plan)
    return out
