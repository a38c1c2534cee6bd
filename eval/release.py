"""The release gate: every privacy check of a run against the thresholds of its `privacy:` section, and the
export stage it guards. `dataset/` (with its card), `fhir/` and the classifiers' model cards are written only when
every check passes, or under an override the user gives, which the manifest and the dataset card record."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from dualalign.errors import DataError, DualAlignError
from dualalign.eval.cards import dataset_card, write_model_cards
from dualalign.eval.config import PrivacyConfig, ReviewConfig
from dualalign.eval.review import current_approval, with_review
from dualalign.generate.export import export_dataset, fhir_bundles, write_fhir
from dualalign.io import read_json
from dualalign.runfolder import (
    COHORT,
    COHORT_REPORT,
    DATASET,
    ENCOUNTERS,
    FHIR,
    MODEL_CARDS,
    NOTES,
    RELEASE,
    REVIEW,
    SENTENCES,
    RunFolder,
)
from dualalign.stage import Stage, StageResult
from dualalign.trajectories.pack import load_pack, resolve_pack_path

# check name -> (the source of its figure, the figure's name there, the `privacy:` setting it is held to, "max"/"min")
CHECKS: dict[str, tuple[str, str, str, str]] = {
    "membership inference AUC": ("profiles", "membership_inference_auc", "max_membership_auc", "max"),
    "exact copies of reference rows": ("profiles", "exact_copies", "max_exact_copies", "max"),
    "attribute disclosure protection": ("profiles", "attribute_disclosure_protection", "min_disclosure_protection",
                                        "min"),
    "timeline linkage": ("trajectories", "timeline_linkage", "max_timeline_linkage", "max"),
    "texts with PHI": ("text", "phi_texts", "max_phi_texts", "max"),
    "texts copying a real text": ("text", "copied_share", "max_copied_share", "max"),
    "texts near-duplicating a real text": ("text", "near_duplicate_share", "max_near_duplicate_share", "max"),
}  # fmt: skip
BLOCKING = ("fail", "missing")  # a check with either result stops the export: the gate fails closed


class ReleaseBlocked(DualAlignError):
    """A privacy check failed or could not be made, and no override was given: nothing is exported."""


@dataclass(frozen=True)
class Missing:
    """A source of figures that could not be read: why, and which stage makes it."""

    why: str


Source = dict[str, Any] | Missing


def profile_source(run: RunFolder) -> Source:
    """The profile checks' figures: the `privacy` block of the cohort stage's `cohort_report.json`."""
    path = run.file(COHORT_REPORT)
    if not path.is_file():
        return Missing(f"{COHORT_REPORT} is missing (the cohort stage writes it)")
    try:
        privacy = read_json(path)["privacy"]
    except (ValueError, KeyError, TypeError) as err:
        return Missing(f"{COHORT_REPORT} cannot be read ({type(err).__name__}: {err}); run the cohort stage again")
    return privacy if isinstance(privacy, dict) else Missing(f"{COHORT_REPORT}: its privacy block is not a mapping")


def trajectory_source(figures: dict[str, Any] | None) -> Source:
    """The linkage check's figures: the trajectories stage's section of metrics.json."""
    if not isinstance(figures, dict):
        return Missing("metrics.json has no trajectories figures (the trajectories stage writes them)")
    return figures


def text_source(intrinsic: dict[str, Any]) -> Source:
    """The text checks' figures, over every variant: texts with PHI, and the shares of texts that copy or
    near-duplicate a real text (weighted by each variant's size)."""
    if not intrinsic:
        return Missing("no generated text was measured (sentences.parquet has no rows)")
    sizes = {v: m["sentences"] for v, m in intrinsic.items()}

    def share(key: str) -> float | None:
        values = [(m.get(key), sizes[v]) for v, m in intrinsic.items()]
        if any(x is None for x, _ in values) or not sum(sizes.values()):
            return None
        return sum(x * n for x, n in values) / sum(sizes.values())

    return {"phi_texts": sum(m["phi"]["texts_flagged"]["count"] for m in intrinsic.values()),
            "copied_share": share("share_copied_ngram"), "near_duplicate_share": share("share_near_duplicate")}


def privacy_checks(sources: dict[str, Source], cfg: PrivacyConfig) -> dict[str, Any]:
    """Each check with its figure, its limit and its result: "pass", "fail", "not applicable" (its source says why:
    the run's config rules the figure out) or "missing" (its source, or the figure in it, could not be read). The run
    may be released only when no check failed or is missing."""
    checks = []
    for name, (about, key, setting, side) in CHECKS.items():
        source, limit = sources.get(about, Missing(f"no {about} figures were given")), getattr(cfg, setting)
        figure, why = None, None
        if isinstance(source, Missing):
            result, why = "missing", source.why
        elif (figure := source.get(key)) is not None:
            result = "pass" if (figure <= limit if side == "max" else figure >= limit) else "fail"
        elif key in source.get("not_applicable", {}):
            result, why = "not applicable", source["not_applicable"][key]
        else:
            result, why = "missing", f"the {about} figures have no {key}"
        checks.append({"check": name, "of": about, "figure": figure, "limit": f"{'<=' if side == 'max' else '>='} "
                       f"{limit}", "setting": setting, "result": result, "why": why})  # fmt: skip
    return {"passed": all(c["result"] not in BLOCKING for c in checks), "checks": checks}


def blocked_lines(checks: list[dict[str, Any]]) -> str:
    """One line per blocking check: a failed one with its figure and limit, a missing one with what is missing."""
    return "\n".join(
        f"  {c['check']} ({c['of']}): {c['figure']:.4g}, needs {c['limit']} "
        f"({c.get('section', 'privacy')}.{c['setting']})"
        if c["result"] == "fail" else f"  {c['check']} ({c['of']}): not measured: {c['why']}"
        for c in checks if c["result"] in BLOCKING
    )  # fmt: skip


def release(run: RunFolder, provenance: dict[str, Any], pack_ref: str, diagnosis_date: date,
            override: str | None, review: ReviewConfig | None = None) -> dict[str, Any]:  # fmt: skip
    """Write the exports if the run's checks (`release.json`, and the review checks of `review`) pass or `override`
    gives a reason; else remove any exports an earlier run left and raise `ReleaseBlocked` naming the failed checks.
    The card shows the review figures and the sign-off of the current texts, if any. Returns the manifest entry."""
    summary = with_review(read_json(run.file(RELEASE)), run, review or ReviewConfig())
    blocking = [c for c in summary["checks"] if c["result"] in BLOCKING]
    if blocking and not override:
        for name in (DATASET, FHIR, MODEL_CARDS):
            shutil.rmtree(run.file(name), ignore_errors=True)
        raise ReleaseBlocked(f"release checks did not pass, nothing exported from {run.path}:\n"
                             f"{blocked_lines(summary['checks'])}\n"
                             "fix the run, or export anyway with --release-override REASON (recorded)")  # fmt: skip
    record = {"failed_checks": [c["check"] for c in blocking], "override": override if blocking else None}
    tables = {"sentences": pd.read_parquet(run.file(SENTENCES)), "notes": pd.read_parquet(run.file(NOTES))}
    encounters = pd.read_parquet(run.file(ENCOUNTERS)) if run.file(ENCOUNTERS).exists() else None
    if encounters is not None:
        tables["encounters"] = encounters
    pack = load_pack(pack_ref)
    cohort = profile_source(run)
    if isinstance(cohort, Missing):  # only under an override: the card cannot describe the cohort
        raise DataError(f"no dataset card: {cohort.why}")
    signed = {**provenance, **record, "approval": current_approval(run)}
    card = dataset_card(summary, signed, pack, read_json(run.file(COHORT_REPORT)),
                        {name: len(table) for name, table in tables.items()},
                        None if encounters is None else encounter_counts(encounters))  # fmt: skip
    export_dataset(tables, run.file(DATASET), card)
    write_fhir(fhir_bundles(tables["notes"], pd.read_parquet(run.file(COHORT)), diagnosis_date, encounters),
               run.file(FHIR))  # fmt: skip
    write_model_cards(run.file(MODEL_CARDS), summary, provenance, pack)
    return {"release": record}


def encounter_counts(encounters: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Per variant: encounter records, and those whose note, conversation, or both were accepted."""
    return {
        str(variant): {"records": len(rows), "accepted": int((rows["status"] == "ok").sum()),
                       "notes": int((rows["note_status"] == "ok").sum()),
                       "conversations": int((rows["conversation_status"] == "ok").sum())}
        for variant, rows in encounters.groupby("variant", sort=False)
    }  # fmt: skip


@dataclass(kw_only=True)
class ExportStage(Stage):
    """Reads the checks and figures the evaluation wrote (`release.json`), the outputs it exports (with the encounter
    records of an encounters run), the cohort report and the pack (for the cards); `provenance` (the config's hash,
    the engine, the seed) goes on the cards."""

    name: ClassVar[str] = "export"
    reads: ClassVar[tuple[str, ...]] = (RELEASE, NOTES, SENTENCES, COHORT, COHORT_REPORT)
    reads_if_present: ClassVar[tuple[str, ...]] = (ENCOUNTERS, REVIEW)
    writes: ClassVar[tuple[str, ...]] = (DATASET, FHIR)
    pack: str
    diagnosis_date: date
    provenance: dict[str, Any]
    override: str | None = None
    review: ReviewConfig = field(default_factory=ReviewConfig)

    def files(self) -> tuple[Path, ...]:
        return (resolve_pack_path(self.pack),)

    def execute(self) -> StageResult:
        return StageResult(manifest=release(self.run, self.provenance, self.pack, self.diagnosis_date, self.override,
                                                self.review))
