"""From raw generations to tables: one row per sentence (labelled, checked) and one row per note."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from dualalign.alignment.gate import QualityGate, Target
from dualalign.alignment.grounding import Grounder, term_in_text
from dualalign.alignment.plans import Plan, PlannedMention
from dualalign.generate.records import GenerationRecord

SENTENCE_COLUMNS = [
    "sentence_id", "plan_id", "variant", "kind", "patient_id", "note_id", "note_type", "visit_date", "stage",
    "section", "text", "label", "planned_label", "planned_term",
]  # fmt: skip
NOTE_COLUMNS = [
    "plan_id", "variant", "kind", "patient_id", "note_id", "note_type", "visit_date", "stage", "text",
    "n_sentences", "n_planned", "status", "error", "error_kind", "attempts", "completion_tokens",
]  # fmt: skip
REJECTION_COLUMNS = ["plan_id", "variant", "attempt", "text", "reason"]


def match_mentions(sentences: list[dict], mentions: list[PlannedMention]) -> list[PlannedMention | None]:
    """Pair each sentence with the planned mention it most likely expresses, each mention used at most once:
    first a mention whose term appears in the sentence, then one with the sentence's label, then the next free."""
    free = list(range(len(mentions)))
    pairs: list[PlannedMention | None] = [None] * len(sentences)
    for rule in (
        lambda s, m: term_in_text(m.term, s["text"]),
        lambda s, m: s["label"] == m.label,
        lambda s, m: True,
    ):
        for i, sentence in enumerate(sentences):
            if pairs[i] is None:
                j = next((j for j in free if rule(sentence, mentions[j])), None)
                if j is not None:
                    pairs[i] = mentions[j]
                    free.remove(j)
    return pairs


def plan_fields(plan: Plan) -> dict:
    """The columns a note row and its sentence rows share."""
    return {
        "plan_id": plan.id,
        "variant": plan.variant,
        "kind": plan.kind,
        "patient_id": plan.patient_id,
        "note_id": plan.note_id,
        "note_type": plan.note_type,
        "visit_date": plan.visit_date,
        "stage": plan.stage,
    }


def sentence_rows(plan: Plan, record: GenerationRecord) -> list[dict]:
    """The sentence rows of one generation record: its accepted texts (plain-text plans, label fixed by the plan) or
    its JSON sentences (whole notes, labelled by the model). None for a failed or rejected record."""
    if not record.ok:
        return []
    if not plan.structured:
        texts = record.texts
        replies = [{"text": text, "label": plan.labels[0], "section": plan.section} for text in texts]
        planned = [(plan.labels[0], _realised_term(plan, text) if plan.prompted else None) for text in texts]
    else:
        replies = record.parsed["sentences"]
        matched = match_mentions(replies, plan.mentions) if plan.prompted else [None] * len(replies)
        planned = [(m.label, m.term) if m else (None, None) for m in matched]
    return [
        {
            "sentence_id": f"{plan.id}-s{i + 1:02d}",
            **plan_fields(plan),
            "section": reply.get("section"),
            "text": reply["text"].strip(),
            "label": reply["label"],
            "planned_label": label,
            "planned_term": term,
        }
        for i, (reply, (label, term)) in enumerate(zip(replies, planned))
    ]


def _realised_term(plan: Plan, text: str) -> str | None:
    """The first planned term the text says, else the first planned term."""
    terms = [m.term for m in plan.mentions]
    return next((t for t in terms if term_in_text(t, text)), terms[0] if terms else None)


def note_text(rows: list[dict]) -> str:
    """Sentences joined; for SOAP notes, grouped under their section headings in the order they came."""
    if not rows or rows[0]["section"] is None:
        return " ".join(r["text"] for r in rows)
    sections: dict[str, list[str]] = {}
    for r in rows:
        sections.setdefault(r["section"], []).append(r["text"])
    return "\n".join(f"{name}: {' '.join(texts)}" for name, texts in sections.items())


def gate_structured_rows(rows: list[dict], variant: str, gate: QualityGate) -> tuple[list[dict], list[dict]]:
    """Judge the sentences of a JSON note one by one (they came without candidates): (accepted, rejections)."""
    accepted, rejected = [], []
    for row in rows:
        terms = (row["planned_term"],) if row["planned_term"] else ()
        verdict = gate.judge([row["text"]], Target(variant, row["label"], terms))[0]
        if verdict.passed:
            gate.accept(row["text"], variant)
            accepted.append(row)
        else:
            rejected.append({"plan_id": row["plan_id"], "variant": variant, "attempt": 0, "text": row["text"],
                             "reason": verdict.reason})  # fmt: skip
    return accepted, rejected


def build_outputs(
    plans: Sequence[Plan], generations: Sequence[GenerationRecord], grounder: Grounder, gate: QualityGate
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(notes, sentences, rejections) from the plans and their generation records.

    Sentences are the accepted texts only, with grounding checks; a note joins the accepted sentences of its
    plans (one per planned sentence, or one whole note); every rejected candidate is a row of `rejections`."""
    by_id = {g.id: g for g in generations}
    notes: dict[tuple, dict] = {}
    sentences, rejections = [], []
    for plan in plans:
        g = by_id.get(plan.id)
        if g is None:
            continue  # not generated yet
        rows = sentence_rows(plan, g)
        if plan.structured:
            rows, rejected = gate_structured_rows(rows, plan.variant, gate)
            rejections += rejected
        rejections += [{"plan_id": plan.id, "variant": plan.variant, "attempt": c.attempt, "text": c.text,
                        "reason": c.reason} for c in g.candidates if c.reason]  # fmt: skip
        sentences += rows
        note = notes.setdefault((plan.note_id, plan.variant), {**plan_fields(plan), "rows": [], "n_planned": 0,
                                "errors": [], "kinds": [], "attempts": 1, "completion_tokens": 0})  # fmt: skip
        note["rows"] += rows
        note["n_planned"] += plan.n_sentences
        note["errors"] += [g.error] if g.error else []
        note["kinds"] += [g.error_kind] if g.error else []
        note["attempts"] = max(note["attempts"], g.attempts)
        note["completion_tokens"] += g.completion_tokens
    note_rows = [
        {**{k: v for k, v in n.items() if k not in ("rows", "errors", "kinds")}, "text": note_text(n["rows"]),
         "n_sentences": len(n["rows"]), "status": "ok" if n["rows"] else "failed",
         "error": "; ".join(dict.fromkeys(n["errors"])) or None,
         "error_kind": ", ".join(dict.fromkeys(n["kinds"])) or None}
        for n in notes.values()
    ]  # fmt: skip
    sentences_df = grounder.score(pd.DataFrame(sentences, columns=SENTENCE_COLUMNS))
    return (pd.DataFrame(note_rows, columns=NOTE_COLUMNS), sentences_df,
            pd.DataFrame(rejections, columns=REJECTION_COLUMNS))  # fmt: skip


def generation_figures(plans: Sequence[Plan], generations: Sequence[GenerationRecord], sentences: pd.DataFrame,
                       rejections: pd.DataFrame) -> dict:  # fmt: skip
    """Per variant: plans, accepted, rejected by the gate, failed in the engine, retried, candidates, rejection
    reasons, sentences, grounding and label-expression rates."""
    by_id = {g.id: g for g in generations}
    figures = {}
    for variant in dict.fromkeys(p.variant for p in plans):
        records = [by_id[p.id] for p in plans if p.variant == variant and p.id in by_id]
        sents = sentences[sentences["variant"] == variant]
        reasons = rejections.loc[rejections["variant"] == variant, "reason"].value_counts()
        kinds = pd.Series([r.error_kind for r in records if not r.ok], dtype=object).value_counts()
        figures[variant] = {
            "requests": len(records),
            "accepted": sum(r.ok for r in records),
            "failed": sum(not r.ok for r in records),
            "failures_by_kind": {k: int(v) for k, v in kinds.items()},
            "retried": sum(r.attempts > 1 for r in records),
            "candidates": sum(len(r.candidates) or 1 for r in records),
            "rejections_by_reason": {k: int(v) for k, v in reasons.items()},
            "sentences": int(len(sents)),
            "grounding_rate": round(float(sents["grounded"].mean()), 4) if len(sents) else None,
            "label_expression_rate": round(float(sents["expresses_label"].mean()), 4) if len(sents) else None,
            "term_match_rate": round(float(sents["term_match"].mean()), 4) if len(sents) else None,
            "copies_example": int(sents["copies_example"].sum()),
            "near_duplicates": int(sents["near_duplicate"].sum()),
        }
    return figures
