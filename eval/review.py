"""Clinician review: the items a reviewer reads, the sample drawn from them (risky items first, then every cell of
the strata), the verdicts recorded in `review.jsonl`, their figures, the release gate's review checks and the
sign-off (`approve`).

An item is one accepted sentence (`sentences.parquet`), its id the sentence id. A verdict names the hash of the
text it was given on: once the text changes (the run was generated again) the verdict no longer counts for it.
`review.jsonl` is only ever appended to (synced line by line); a reviewer's later verdict on an item stands
beside the earlier one, and only the latest of each reviewer counts. Verdicts of several reviewers on one item
all count: an item is implausible (unsafe) when any reviewer says so.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from dualalign.alignment.phi import PhiDetector
from dualalign.errors import DataError, DualAlignError
from dualalign.eval.config import ReviewConfig
from dualalign.io import append_jsonl, content_hash, read_jsonl, stable_hash, write_json
from dualalign.runfolder import COHORT, ENCOUNTERS, GENERATIONS, NOTES, PLANS, REVIEW, SENTENCES, RunFolder
from dualalign.trajectories.pack import ConditionPack

VERDICTS = ("plausible", "implausible", "unsafe")
REASONS = {  # the reasons a reviewer may pick, per verdict (and a free comment)
    "plausible": (),
    "implausible": ("contradicts the profile or stage", "not what was planned", "clinically absurd",
                    "not clinical language", "other"),
    "unsafe": ("harmful or dangerous content", "identifies a person (PHI)", "stigmatising or offensive", "other"),
}  # fmt: skip
PHI_FLOOR = 0.1  # a PHI detector hit scored at least this, under the detector's limit, makes an item risky
GATE_FIGURES = ("label_similarity", "similarity", "term_match", "expresses_label", "grounded", "copies_example",
                "near_duplicate", "passed")  # fmt: skip


class ApprovalRefused(DualAlignError):
    """A release check fails (or cannot be made), and no override gave a reason: no sign-off is recorded."""


def text_hash(text: str) -> str:
    return stable_hash(text)


def review_items(run: RunFolder, pack: ConditionPack, threshold: float) -> pd.DataFrame:
    """One row per accepted sentence: its text and hash, what it was planned from (profile, stage, planned label
    and term, variant), its note when the note has other sentences (an encounter's section: the encounter's note
    and its conversation), the gate's figures, and its distance to the
    grounding `threshold` (`label_margin`: label similarity less the threshold; `threshold_distance`: the nearest
    of label and term similarity to it)."""
    from dualalign.alignment.plans import read_plans
    from dualalign.generate.records import read_generations

    path = run.file(SENTENCES)
    if not path.is_file():
        raise DataError(f"{run.path}: no {SENTENCES} to review (run the generate stage first)")
    items = pd.read_parquet(path).rename(columns={"sentence_id": "id"})
    plans = {p.id: p for p in read_plans(run.file(PLANS))} if run.file(PLANS).is_file() else {}
    records = {r.id: r for r in read_generations(run.file(GENERATIONS))} if run.file(GENERATIONS).is_file() else {}
    notes = pd.read_parquet(run.file(NOTES)).set_index("plan_id") if run.file(NOTES).is_file() else None
    names = {label_id: label.name for label_id, label in pack.labels.items()}
    items["text_hash"] = items["text"].map(text_hash)
    items["label_name"] = items["label"].map(lambda x: names.get(x, x))
    items["planned_label_name"] = items["planned_label"].map(lambda x: names.get(x, x))
    shown = [plans[p].profile if p in plans else None for p in items["plan_id"]]
    items["note"] = items["plan_id"].map(
        lambda p: notes.at[p, "text"] if notes is not None and p in notes.index and notes.at[p, "n_sentences"] > 1
        else None)  # fmt: skip
    items["conversation"] = None
    if run.file(ENCOUNTERS).is_file():  # an encounter's section: its whole note, and the conversation written with it
        encounters = pd.read_parquet(run.file(ENCOUNTERS), columns=["note_id", "variant", "note", "conversation",
                                                                    "profile"])  # fmt: skip
        pairs = {(e.note_id, e.variant): e for e in encounters.itertuples()}
        found = [pairs.get(key) for key in zip(items["note_id"], items["variant"])]
        items["note"] = [e.note if e is not None and e.note else n for e, n in zip(found, items["note"])]
        items["conversation"] = [e.conversation if e is not None and e.conversation else None for e in found]
        # dialogue-first order: a section's plan (asked again with the conversation) is not in the plans: the
        # record holds the profile its encounter was shown
        shown = [s if s is not None or e is None or not e.profile else json.loads(e.profile)
                 for s, e in zip(shown, found)]  # fmt: skip
    cohort = _cohort_profiles(run)
    items["profile_shown"] = [s is not None for s in shown]
    items["profile"] = [p if p is not None else cohort.get(pid) for p, pid in zip(shown, items["patient_id"])]
    items["candidates"] = items["plan_id"].map(lambda p: _candidates(records.get(p)))
    items["label_margin"] = (items["label_similarity"] - threshold).round(4)
    items["threshold_distance"] = np.minimum((items["label_similarity"] - threshold).abs(),
                                             (items["similarity"] - threshold).abs()).round(4)  # fmt: skip
    return items.reset_index(drop=True)


def _cohort_profiles(run: RunFolder) -> dict[str, dict[str, Any]]:
    """Each patient's profile from the cohort, for items whose prompt showed none (the reviewer still reads the
    text as about this patient): demographics and the risk factors the patient has."""
    if not run.file(COHORT).is_file():
        return {}
    cohort = pd.read_parquet(run.file(COHORT))
    flags = [c for c in cohort.columns if cohort[c].dtype == bool]
    sex = {"F": "woman", "M": "man"}
    return {
        str(row["patient_id"]): {"age": row.get("age"), "sex": sex.get(row.get("sex"), row.get("sex")),
                                 "race_ethnicity": row.get("race_ethnicity"),
                                 "education_years": row.get("education_years"),
                                 "risk_factors": [c.replace("_", " ") for c in flags if row[c]]}
        for row in cohort.to_dict("records")
    }  # fmt: skip


def _candidates(record: Any) -> dict[str, Any] | None:
    """How the gate chose the text: candidates judged, and the rejected ones' reasons."""
    if record is None:
        return None
    rejected: dict[str, int] = {}
    for c in record.candidates:
        if c.reason:
            rejected[c.reason] = rejected.get(c.reason, 0) + 1
    return {"judged": len(record.candidates), "rejected": rejected, "attempts": record.attempts}


def phi_near_misses(texts: Sequence[str], pack: ConditionPack) -> list[str | None]:
    """Per text, what the PHI detector finds only below its limit (the gate lets such a text through), or None."""
    limit = PhiDetector.for_pack(pack)
    low = PhiDetector(limit.allow, min_score=PHI_FLOOR)
    out = []
    for text in texts:
        hits = low.find(text)
        out.append("; ".join(f"{h.kind} '{h.text}'" for h in hits) if hits and not limit.contains(text) else None)
    return out


def review_sample(items: pd.DataFrame, cfg: ReviewConfig, seed: int) -> pd.DataFrame:
    """The items to review, in the order shown: `risky_share` of the sample from the risky items (PHI near misses,
    lowest label margin, nearest a threshold, taken in turn), each with why; then the rest drawn at random so that
    every cell of `strata` gets an item before any gets another. `items` needs a `phi` column (`phi_near_misses`)."""
    rng = np.random.default_rng(seed)
    shuffled = items.iloc[rng.permutation(len(items))]  # ties in the rankings below are broken at random
    size = min(cfg.sample_size, len(items))
    rankings = [
        [(i, f"possible PHI under the detector's limit: {shuffled.at[i, 'phi']}")
         for i in shuffled.index[shuffled["phi"].notna()]],
        [(i, f"weakest match to its label (margin {shuffled.at[i, 'label_margin']:+.3f})")
         for i in shuffled.sort_values("label_margin", kind="stable").index],
        [(i, f"close to a gate threshold ({shuffled.at[i, 'threshold_distance']:.3f} away)")
         for i in shuffled.sort_values("threshold_distance", kind="stable").index],
    ]  # fmt: skip
    why: dict[int, str] = {}
    n_risky = round(cfg.risky_share * size)
    while len(why) < n_risky and any(rankings):
        for ranking in rankings:
            while ranking and ranking[0][0] in why:
                ranking.pop(0)
            if ranking and len(why) < n_risky:
                i, reason = ranking.pop(0)
                why[i] = reason
    cells = {key: [i for i in rows.index if i not in why] for key, rows in shuffled.groupby(cfg.strata, sort=True)}
    taken = {key: sum(i in why for i in rows.index) for key, rows in shuffled.groupby(cfg.strata, sort=True)}
    order = list(cells)
    rng.shuffle(order)
    while len(why) < size:
        key = min((k for k in order if cells[k]), key=lambda k: taken[k])
        why[cells[key].pop(0)] = "drawn at random (stratified by " + ", ".join(cfg.strata) + ")"
        taken[key] += 1
    sample = items.loc[list(why)].copy()
    sample["why"] = list(why.values())
    sample["risky"] = [not w.startswith("drawn") for w in why.values()]
    return sample.reset_index(drop=True)


def record_verdict(run: RunFolder, reviewer: str, item: str, text: str, verdict: str, reason: str | None = None,
                   comment: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Append one verdict to the run's `review.jsonl` (synced before it returns) and return it."""
    if verdict not in VERDICTS:
        raise DataError(f"verdict {verdict!r}: not one of {', '.join(VERDICTS)}")
    if reason and reason not in REASONS[verdict]:
        raise DataError(f"reason {reason!r} is not one of a {verdict} verdict's: {', '.join(REASONS[verdict])}")
    if not reviewer.strip():
        raise DataError("a verdict needs the reviewer's name")
    line = {"reviewer": reviewer.strip(), "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "item": item, "text_hash": text_hash(text), "verdict": verdict, "reason": reason or None,
            "comment": comment or None}  # fmt: skip
    append_jsonl(run.file(REVIEW), [line])
    return line


def counted_verdicts(verdicts: list[dict[str, Any]], hashes: dict[str, str]) -> pd.DataFrame:
    """The verdicts that count: on an item of the run whose text is still the one reviewed, the latest of each
    reviewer (columns reviewer, item, verdict, reason, comment, time)."""
    columns = ["reviewer", "item", "verdict", "reason", "comment", "time"]
    valid = [v for v in verdicts if hashes.get(v.get("item")) == v.get("text_hash")]
    if not valid:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(valid).reindex(columns=columns)
    return frame.drop_duplicates(["reviewer", "item"], keep="last").reset_index(drop=True)


def review_figures(verdicts: list[dict[str, Any]], items: pd.DataFrame) -> dict[str, Any]:
    """What the review shows: verdicts given, counted and stale (on a text that has changed since, or is gone),
    items reviewed, implausible and unsafe (by any reviewer),
    the verdicts per variant, and agreement (Cohen's kappa) of each pair of reviewers with items in common."""
    from sklearn.metrics import cohen_kappa_score

    hashes = dict(zip(items["id"], items["text_hash"]))
    counted = counted_verdicts(verdicts, hashes)
    stale = sum(hashes.get(v.get("item")) != v.get("text_hash") for v in verdicts)
    variant = dict(zip(items["id"], items["variant"]))
    by_item = counted.groupby("item")["verdict"].agg(set)
    reviewed = len(by_item)
    implausible = int(sum("implausible" in v for v in by_item))
    by_variant = {
        str(name): {"items": int(rows["item"].nunique()), **{v: int((rows["verdict"] == v).sum()) for v in VERDICTS}}
        for name, rows in counted.assign(variant=counted["item"].map(variant)).groupby("variant", sort=True)
    }  # fmt: skip
    agreement = []
    table = counted.pivot(index="item", columns="reviewer", values="verdict") if len(counted) else pd.DataFrame()
    for a, b in combinations(sorted(table.columns), 2):
        both = table[[a, b]].dropna()
        if len(both) >= 2:
            kappa = cohen_kappa_score(both[a], both[b], labels=list(VERDICTS))
            agreement.append({"reviewers": [a, b], "items": len(both),
                              "kappa": None if np.isnan(kappa) else round(float(kappa), 4)})  # fmt: skip
    return {
        "verdicts": len(verdicts), "counted": len(counted), "stale": stale,
        "reviewers": sorted(counted["reviewer"].unique().tolist()), "reviewed": reviewed,
        "implausible": implausible, "unsafe": int(sum("unsafe" in v for v in by_item)),
        "implausible_share": round(implausible / reviewed, 4) if reviewed else None,
        "by_variant": by_variant, "agreement": agreement,
    }  # fmt: skip


def run_review_figures(run: RunFolder) -> dict[str, Any] | None:
    """The review figures of a run folder from its verdicts and current sentences (None before any verdict)."""
    if not run.file(REVIEW).is_file() or not run.file(SENTENCES).is_file():
        return None
    sentences = pd.read_parquet(run.file(SENTENCES), columns=["sentence_id", "variant", "text"])
    items = pd.DataFrame({"id": sentences["sentence_id"], "variant": sentences["variant"],
                          "text_hash": sentences["text"].map(text_hash)})  # fmt: skip
    return review_figures(read_jsonl(run.file(REVIEW)), items)


def review_checks(figures: dict[str, Any] | None, cfg: ReviewConfig) -> list[dict[str, Any]]:
    """The release gate's review checks, in the privacy checks' form (`section`: where the setting is): not
    applicable unless `cfg.required`; with no verdict yet nothing is reviewed."""
    figures = figures or {"reviewed": 0, "implausible_share": None, "unsafe": 0}
    checks = []
    for name, key, setting, side in (("items reviewed", "reviewed", "min_reviewed", "min"),
                                     ("implausible share", "implausible_share", "max_implausible_share", "max"),
                                     ("items marked unsafe", "unsafe", "max_unsafe", "max")):  # fmt: skip
        limit, figure, why = getattr(cfg, setting), figures[key], None
        if not cfg.required:
            result, why = "not applicable", "the review checks are off (review.required: false)"
        elif figure is None:
            result, why = "missing", "no item has a verdict on its current text"
        else:
            result = "pass" if (figure <= limit if side == "max" else figure >= limit) else "fail"
        checks.append({"check": name, "of": "review", "figure": figure, "limit": f"{'<=' if side == 'max' else '>='} "
                       f"{limit}", "setting": setting, "section": "review", "result": result, "why": why})  # fmt: skip
    return checks


def with_review(summary: dict[str, Any], run: RunFolder, cfg: ReviewConfig) -> dict[str, Any]:
    """The release gate's summary (`release.json`) with the review checks and figures of the run added."""
    from dualalign.eval.release import BLOCKING

    figures = run_review_figures(run)
    checks = [c for c in summary["checks"] if c["of"] != "review"] + review_checks(figures, cfg)
    return {**summary, "checks": checks, "passed": all(c["result"] not in BLOCKING for c in checks), "review": figures}


def texts_hash(run: RunFolder) -> str | None:
    """The hash of the texts a sign-off approves (the sentences and the notes)."""
    return stable_hash([content_hash(run.file(SENTENCES)), content_hash(run.file(NOTES))])


def approve(run: RunFolder, summary: dict[str, Any], by: str, note: str, override: str | None) -> dict[str, Any]:
    """Record a sign-off in the manifest (`approvals`, kept in order), or raise `ApprovalRefused` naming the checks
    that block, unless `override` gives a reason (recorded). `summary`: the gate with its review checks."""
    from dualalign.eval.release import BLOCKING, blocked_lines

    if not by.strip():
        raise DataError("a sign-off needs the approver's name (--by)")
    blocking = [c["check"] for c in summary["checks"] if c["result"] in BLOCKING]
    if blocking and not override:
        raise ApprovalRefused(f"not approved: release checks do not pass for {run.path}:\n"
                              f"{blocked_lines(summary['checks'])}\n"
                              "fix the run or review more, or approve anyway with --override REASON (recorded)")
    figures = summary.get("review") or {}
    approval = {"by": by.strip(), "note": note, "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "texts_hash": texts_hash(run), "failed_checks": blocking, "override": override if blocking else None,
                "reviewed": figures.get("reviewed", 0), "reviewers": figures.get("reviewers", [])}  # fmt: skip
    manifest = run.manifest()
    manifest["approvals"] = [*manifest.get("approvals", []), approval]
    write_json(run.manifest_path, manifest)
    return approval


def current_approval(run: RunFolder) -> dict[str, Any] | None:
    """The latest sign-off of the run's current texts (one given before they were generated again does not count)."""
    current = texts_hash(run)
    return next((a for a in reversed(run.manifest().get("approvals", [])) if a["texts_hash"] == current), None)
