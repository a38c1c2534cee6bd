"""The comparison report: one self-contained `report.html` (plots inlined as base64 PNG, no external URLs).

metrics.json schema (what `render_report` reads; every section is optional):

    {
      "run": {"config_hash": str, "seed": int,   # written by the pipeline after each stage
              "stage_seconds": {stage: float}},
      "classification": {                       # MixtureResults.to_metrics()
        "classifier": "embedding-logreg",
        "labels": [str, ...],                   # label order of every matrix below
        "seeds": [int, ...],
        "summary": {mixture: {metric: {"mean": float, "sd": float | null}}},
                                                # metrics: accuracy, macro_f1, micro_f1, macro_precision,
                                                # macro_recall, n_train
        "runs": [{"mixture", "seed", "n_train", "accuracy", "macro_f1", "micro_f1",
                  "macro_precision", "macro_recall", "seconds"}, ...],   # seconds: training and scoring
        "per_label_f1": {mixture: {label: {"mean": float, "sd": float | null}}},
                                                # with train.robustness, summary also has macro_f1_<p> and
                                                # drop_<p> (clean minus perturbed) and runs macro_f1_<p>, for each
                                                # p of train.robustness.PERTURBATIONS
        "confusion": {mixture: {"labels": [str], "matrix": [[int]]}}   # rows true, columns predicted,
                                                                       # summed over seeds
      },
      "generation": {variant: {                 # generate.outputs.generation_figures()
        "requests", "accepted", "failed", "failures_by_kind": {kind: int}, "retried", "candidates",
        "rejections_by_reason": {reason: int},  # every rejected candidate, by alignment.gate.REASONS
        "sentences", "grounding_rate", "label_expression_rate", "term_match_rate", "copies_example",
        "near_duplicates"
      }},
      "encounters": {variant: {                 # generate.encounters.encounter_figures() (granularity encounters)
        "encounters", "order", "accepted", "notes_accepted", "conversations_accepted", "sections_accepted", "sections",
        "pieces_accepted", "pieces_skipped", "pieces", "mean_turns",
        "part_rejections_by_reason": {reason: int}, "conversation_rejections_by_reason": {reason: int}
      }},
      "intrinsic": {variant: {                  # intrinsic_measures(); null where not measurable
        "sentences", "patients",
        "label_tvd", "label_agreement", "term_tvd", "term_realisation", "grounding_rate",
        "age_mentions", "age_agreement", "sex_mentions", "sex_agreement",          # with profiles
        "distinct_1", "distinct_2", "distinct_3", "self_bleu", "embedding_dispersion",
        "longest_shared_ngram_max", "longest_shared_ngram_mean", "share_copied_ngram",  # with references
        "nn_similarity_mean", "nn_similarity_max", "share_near_duplicate",
        "phi": {kind: {"count": int, "examples": [str]}}   # alignment.phi.KINDS and texts_flagged
      }}
    }
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from markupsafe import Markup, escape

from dualalign.alignment.dialogue import Finding, parse_dialogue, spoken_text
from dualalign.alignment.grounding import term_in_text, term_spans
from dualalign.io import write_text
from dualalign.train.robustness import PERTURBATIONS, drop_column, perturbed_column

TEMPLATE = "report.html.j2"


ROBUSTNESS_FIGURES = {f for p in PERTURBATIONS for f in (perturbed_column(p), drop_column(p))}


def _cell(stat: dict[str, float | None], metric: str, digits: int) -> str:
    """A table cell: mean ± sd (sd left out when there is one seed; counts as whole numbers)."""
    if stat.get("mean") is None:
        return "n/a"
    d = 0 if metric == "n_train" else digits
    sd = stat.get("sd")
    return f"{stat['mean']:.{d}f}" + ("" if sd is None else f" ± {sd:.{d}f}")


def comparison_table(summary: dict[str, dict[str, dict[str, float | None]]], digits: int = 3) -> pd.DataFrame:
    """Mixtures x metrics, each cell "mean ± sd" (sd left out when there is one seed); robustness figures apart."""
    return pd.DataFrame({mix: {m: _cell(s, m, digits) for m, s in stats.items() if m not in ROBUSTNESS_FIGURES}
                         for mix, stats in summary.items()}).T  # fmt: skip


def robustness_table(summary: dict[str, dict[str, dict[str, float | None]]], digits: int = 3) -> pd.DataFrame | None:
    """Mixtures x (clean macro-F1, then the drop in macro-F1 on each perturbed copy of the test set); None where no
    perturbed copy was scored."""
    perturbed = [p for p in PERTURBATIONS if any(drop_column(p) in stats for stats in summary.values())]
    if not perturbed:
        return None
    return pd.DataFrame({mix: {"macro_f1": _cell(stats["macro_f1"], "macro_f1", digits),
                               **{f"drop: {p}": _cell(stats[drop_column(p)], p, digits) for p in perturbed}}
                         for mix, stats in summary.items()}).T  # fmt: skip


def figure_to_base64(fig: Any) -> str:
    """A matplotlib figure (or PNG bytes already rendered) as base64-encoded PNG."""
    if isinstance(fig, bytes):
        return base64.b64encode(fig).decode("ascii")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _html_table(df: pd.DataFrame, digits: int = 3) -> str:
    """Counts as whole numbers, other figures to `digits` places."""
    return df.to_html(classes="grid", float_format=lambda v: f"{v:.0f}" if float(v).is_integer() and abs(v) > 1
                      else f"{v:.{digits}f}", na_rep="n/a", escape=True, border=0)  # fmt: skip


def marked(text: str, terms: Sequence[str], lay: Mapping[str, Sequence[str]] | None = None) -> Markup:
    """The text, HTML-escaped, with the words that realise each planned term, or one of its `lay` words
    (`term_spans`), in `<mark>` titled with the term (a span inside an earlier one is not marked again)."""
    spans: dict[tuple[int, int], list[str]] = {}
    for term in terms:
        for phrase in (term, *(lay or {}).get(term, ())):
            for span in term_spans(phrase, text):
                spans.setdefault(span, []).append(term)
    out, last = [], 0
    for (start, end), named in sorted(spans.items()):
        if start < last:
            continue
        out += [escape(text[last:start]), Markup('<mark title="{}">{}</mark>').format("; ".join(named),
                                                                                     text[start:end])]  # fmt: skip
        last = end
    return Markup("").join([*out, escape(text[last:])])


def encounter_pairs(encounters: pd.DataFrame, per_variant: int, seed: int = 0,
                    lay: Mapping[str, Sequence[str]] | None = None) -> dict[str, list[dict[str, Any]]]:  # fmt: skip
    """Variant -> up to `per_variant` encounter records drawn at random (seeded, not chosen) among those with a note
    and a conversation, each with its texts marked where they realise a planned finding, and per finding whether
    the note and the conversation (its spoken turns, where the term or one of its `lay` words counts) raise it."""
    written = encounters[(encounters["note"] != "") & (encounters["conversation"] != "")]
    pairs: dict[str, list[dict[str, Any]]] = {}
    for variant, rows in written.groupby("variant", sort=False):
        for row in rows.sample(min(per_variant, len(rows)), random_state=seed).to_dict("records"):
            terms = [m["term"] for m in row["planned"]]
            findings = [Finding(t, tuple((lay or {}).get(t, ()))) for t in terms]
            spoken = spoken_text(parse_dialogue(row["conversation"]))
            conversation = re.sub(r"(?m)^([A-Z][a-z]+):", r"<b>\1:</b>", str(marked(row["conversation"], terms, lay)))
            pairs.setdefault(str(variant), []).append({
                "patient_id": row["patient_id"], "note_id": row["note_id"], "visit_date": str(row["visit_date"]),
                "stage": row["stage"], "note_type": row["note_type"], "status": row["status"],
                "reasons": list(row["gate_reasons"]),
                "note": Markup(re.sub(r"(?m)^([A-Z][A-Z &/]+)$", r"<b>\1</b>", str(marked(row["note"], terms)))),
                "conversation": Markup(conversation),
                "findings": [{"term": m["term"], "section": m["section"], "in_note": term_in_text(f.term, row["note"]),
                              "in_conversation": f.raised_in(spoken)} for m, f in zip(row["planned"], findings)],
            })  # fmt: skip
    return pairs


def encounter_tables(figures: dict[str, dict[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """From the `encounters` figures: records and parts accepted x variant; rejection reasons x variant, for the
    parts (note sections and conversation pieces) and for whole conversations."""
    by_reason = {"part": "part_rejections_by_reason", "conversation": "conversation_rejections_by_reason"}
    counts = pd.DataFrame(figures).drop(index=[*by_reason.values(), "order"], errors="ignore")
    counts.index = counts.index.str.replace("_", " ")
    reasons = {f"{v} ({what})": f.get(key) for v, f in figures.items() for what, key in by_reason.items()}
    return counts, pd.DataFrame({k: r for k, r in reasons.items() if r}).fillna(0).astype(int)


def render_report(metrics: dict[str, Any], tables: dict[str, pd.DataFrame], examples: dict[str, dict[str, list[str]]],
                  plots: dict[str, Any] | None, out_path: Path, rejected: dict[str, list[str]] | None = None,
                  pairs: dict[str, list[dict[str, Any]]] | None = None,
                  review: dict[str, Any] | None = None) -> Path:  # fmt: skip
    """Write one self-contained HTML report to `out_path` (atomically) and return the path.

    `metrics`: the metrics.json content (schema above); `tables`: extra named tables (e.g. cohort fidelity);
    `examples`: label -> variant -> example sentences; `plots`: title -> matplotlib figure or PNG bytes
    (cohort figures ...); `rejected`: gate reason -> examples of rejected texts; `pairs`: variant -> encounter
    pairs (`encounter_pairs`); `review`: the clinician review's `figures` (`eval.review.review_figures`) and
    `approval` (the sign-off of the current texts), either None.
    """
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from dualalign.eval.intrinsic import intrinsic_table

    classification = metrics.get("classification", {})
    robust = robustness_table(classification["summary"]) if classification.get("summary") else None
    intrinsic = metrics.get("intrinsic", {})
    per_label = classification.get("per_label_f1", {})
    confusion = {
        mix: Markup(_html_table(pd.DataFrame(c["matrix"], index=pd.Index(c["labels"], name="true \\ predicted"),
                                             columns=c["labels"])))
        for mix, c in classification.get("confusion", {}).items()
    }
    reasons = {v: g.get("rejections_by_reason", {}) for v, g in metrics.get("generation", {}).items()}
    gate = pd.DataFrame(reasons).fillna(0).astype(int) if any(reasons.values()) else None
    counts, encounter_reasons = encounter_tables(metrics["encounters"]) if metrics.get("encounters") else (None, None)
    context = {
        "gate": Markup(_html_table(gate.rename_axis("reason"))) if gate is not None else None,
        "rejected": rejected or {},
        "encounters": Markup(_html_table(counts)) if counts is not None else None,
        "encounter_reasons": Markup(_html_table(encounter_reasons.rename_axis("reason")))
        if encounter_reasons is not None and not encounter_reasons.empty else None,
        "encounter_order": next(iter(metrics.get("encounters", {}).values()), {}).get("order"),
        "pairs": pairs or {},
        "privacy": metrics.get("privacy"),
        "review": review or {},
        "run": metrics.get("run", {}),
        "classifier": classification.get("classifier"),
        "seeds": classification.get("seeds", []),
        "headline": Markup(_html_table(comparison_table(classification["summary"])))
        if classification.get("summary") else None,
        "robustness": Markup(_html_table(robust)) if robust is not None else None,
        "per_label": Markup(_html_table(pd.DataFrame(
            {mix: {lab: s["mean"] for lab, s in labs.items()} for mix, labs in per_label.items()})))
        if per_label else None,
        "confusion": confusion,
        "intrinsic": Markup(_html_table(intrinsic_table(intrinsic).T)) if intrinsic else None,
        "phi": {v: {k: hit for k, hit in m.get("phi", {}).items() if hit["examples"]} for v, m in intrinsic.items()},
        "examples": examples,
        "tables": {name: Markup(_html_table(df)) for name, df in tables.items()},
        "plots": {name: figure_to_base64(fig) for name, fig in (plots or {}).items()},
    }
    env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                      autoescape=select_autoescape(["html", "j2"]))
    page = env.get_template(TEMPLATE).render(**context)
    out_path = Path(out_path)
    write_text(out_path, page)
    return out_path
