"""From raw generations to tables: one row per sentence (labelled, checked) and one row per note."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from dualalign.alignment.grounding import Grounder, term_in_text
from dualalign.alignment.plans import Plan, PlannedMention

SENTENCE_COLUMNS = [
    "sentence_id", "plan_id", "variant", "kind", "patient_id", "note_id", "note_type", "visit_date", "stage",
    "section", "text", "label", "planned_label", "planned_term",
]  # fmt: skip
NOTE_COLUMNS = [
    "plan_id", "variant", "kind", "patient_id", "note_id", "note_type", "visit_date", "stage", "text",
    "n_sentences", "n_planned", "status", "error", "error_kind", "attempts", "completion_tokens",
]  # fmt: skip


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


def sentence_rows(plan: Plan, parsed: dict) -> list[dict]:
    replies = parsed["sentences"]
    pairs = match_mentions(replies, plan.mentions) if plan.prompted else [None] * len(replies)
    rows = []
    for i, (reply, mention) in enumerate(zip(replies, pairs)):
        rows.append(
            {
                "sentence_id": f"{plan.id}-s{i + 1:02d}",
                **plan_fields(plan),
                "section": reply.get("section"),
                "text": reply["text"].strip(),
                "label": reply["label"],
                "planned_label": mention.label if mention else None,
                "planned_term": mention.term if mention else None,
            }
        )
    return rows


def note_text(rows: list[dict]) -> str:
    """Sentences joined; for SOAP notes, grouped under their section headings in the order they came."""
    if not rows or rows[0]["section"] is None:
        return " ".join(r["text"] for r in rows)
    sections: dict[str, list[str]] = {}
    for r in rows:
        sections.setdefault(r["section"], []).append(r["text"])
    return "\n".join(f"{name}: {' '.join(texts)}" for name, texts in sections.items())


def build_outputs(
    plans: Sequence[Plan], generations: Sequence[dict], grounder: Grounder
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(notes, sentences) from the plans and their generation records; sentences carry grounding checks."""
    by_id = {g["id"]: g for g in generations}
    notes, sentences = [], []
    for plan in plans:
        g = by_id.get(plan.id)
        if g is None:
            continue  # not generated yet
        rows = sentence_rows(plan, g["parsed"]) if g.get("parsed") and not g.get("error") else []
        sentences += rows
        notes.append(
            {
                **plan_fields(plan),
                "text": note_text(rows),
                "n_sentences": len(rows),
                "n_planned": plan.n_sentences,
                "status": "failed" if g.get("error") else "ok",
                "error": g.get("error"),
                "error_kind": error_kind(g),
                "attempts": g.get("attempts", 1),
                "completion_tokens": g.get("completion_tokens", 0),
            }
        )
    sentences_df = grounder.score(pd.DataFrame(sentences, columns=SENTENCE_COLUMNS))
    return pd.DataFrame(notes, columns=NOTE_COLUMNS), sentences_df


def generation_figures(notes: pd.DataFrame, sentences: pd.DataFrame) -> dict:
    """Per variant: requests, failures (and why), sentences, grounding rate, copies, near-duplicates."""
    figures = {}
    for variant, group in notes.groupby("variant"):
        sents = sentences[sentences["variant"] == variant]
        reasons = group.loc[group["status"] == "failed", "error_kind"].value_counts()
        figures[variant] = {
            "requests": int(len(group)),
            "failed": int((group["status"] == "failed").sum()),
            "failures_by_reason": {k: int(v) for k, v in reasons.items()},
            "retried": int((group["attempts"] > 1).sum()),
            "sentences": int(len(sents)),
            "grounding_rate": round(float(sents["grounded"].mean()), 4) if len(sents) else None,
            "label_expression_rate": round(float(sents["expresses_label"].mean()), 4) if len(sents) else None,
            "term_match_rate": round(float(sents["term_match"].mean()), 4) if len(sents) else None,
            "copies_example": int(sents["copies_example"].sum()),
            "near_duplicates": int(sents["near_duplicate"].sum()),
            "passed": int(sents["passed"].sum()),
        }
    return figures


def error_kind(generation: dict) -> str | None:
    """A generation row's `error_kind`; rows written before it existed are classified once here by their message."""
    error = generation.get("error")
    if error is None or generation.get("error_kind"):
        return generation.get("error_kind")
    legacy = {"cut off": "cut_off", "invalid JSON": "invalid_json", "reply does not match": "schema"}
    return next((kind for prefix, kind in legacy.items() if error.startswith(prefix)), "engine")
