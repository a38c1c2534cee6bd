"""The release gate: every privacy check of a run against the thresholds of its `privacy:` section, and the
export stage it guards. `dataset/` (with its card), `fhir/` and the classifiers' model cards are written only when
every check passes, or under an override the user gives, which the manifest and the dataset card record."""

from __future__ import annotations

import shutil
from datetime import date
from typing import Any

import pandas as pd

from dualalign.errors import DualAlignError
from dualalign.eval.cards import dataset_card, write_model_cards
from dualalign.eval.config import PrivacyConfig
from dualalign.generate.export import export_dataset, fhir_bundles, write_fhir
from dualalign.io import read_json
from dualalign.runfolder import COHORT, COHORT_REPORT, DATASET, FHIR, MODEL_CARDS, NOTES, RELEASE, SENTENCES, RunFolder
from dualalign.stage import Stage
from dualalign.trajectories.pack import load_pack, resolve_pack_path

# check name -> (where its figure comes from, the `privacy:` setting it is held to, "max" or "min")
CHECKS: dict[str, tuple[str, str, str]] = {
    "membership inference AUC": ("profiles", "max_membership_auc", "max"),
    "exact copies of reference rows": ("profiles", "max_exact_copies", "max"),
    "attribute disclosure protection": ("profiles", "min_disclosure_protection", "min"),
    "timeline linkage": ("trajectories", "max_timeline_linkage", "max"),
    "texts with PHI": ("text", "max_phi_texts", "max"),
    "texts copying a real text": ("text", "max_copied_share", "max"),
    "texts near-duplicating a real text": ("text", "max_near_duplicate_share", "max"),
}


class ReleaseBlocked(DualAlignError):
    """A privacy check failed and no override was given: nothing is exported."""


def privacy_figures(metrics: dict[str, Any]) -> dict[str, float | None]:
    """The figure of each check in `CHECKS` from a run's metrics.json (None where it was not measured)."""
    cohort = metrics.get("cohort", {}).get("privacy", {})
    intrinsic = metrics.get("intrinsic", {})
    sizes = {v: m["sentences"] for v, m in intrinsic.items()}

    def share(key: str) -> float | None:
        values = [(m.get(key), sizes[v]) for v, m in intrinsic.items()]
        if not values or any(x is None for x, _ in values):
            return None
        return sum(x * n for x, n in values) / sum(n for _, n in values)

    return {
        "membership inference AUC": cohort.get("membership_inference_auc"),
        "exact copies of reference rows": cohort.get("exact_copies"),
        "attribute disclosure protection": cohort.get("attribute_disclosure_protection"),
        "timeline linkage": metrics.get("trajectories", {}).get("timeline_linkage"),
        "texts with PHI": sum(m["phi"]["texts_flagged"]["count"] for m in intrinsic.values()) if intrinsic else None,
        "texts copying a real text": share("share_copied_ngram"),
        "texts near-duplicating a real text": share("share_near_duplicate"),
    }


def privacy_checks(metrics: dict[str, Any], cfg: PrivacyConfig) -> dict[str, Any]:
    """Each check with its figure, its limit and its result ("pass", "fail", or "not measured"), and whether
    the run may be released (no check failed)."""
    checks = []
    for name, figure in privacy_figures(metrics).items():
        about, setting, side = CHECKS[name]
        limit = getattr(cfg, setting)
        ok = figure is None or (figure <= limit if side == "max" else figure >= limit)
        result = "not measured" if figure is None else "pass" if ok else "fail"
        rule = f"{'<=' if side == 'max' else '>='} {limit}"
        checks.append({"check": name, "of": about, "figure": figure, "limit": rule, "setting": setting,
                       "result": result})  # fmt: skip
    return {"passed": all(c["result"] != "fail" for c in checks), "checks": checks}


def release(run: RunFolder, provenance: dict[str, Any], pack_ref: str, diagnosis_date: date,
            override: str | None) -> dict[str, Any]:  # fmt: skip
    """Write the exports if the run's checks (`release.json`) pass or `override` gives a reason; else remove any
    exports an earlier run left and raise `ReleaseBlocked` naming the failed checks. Returns the manifest entry."""
    summary = read_json(run.file(RELEASE))
    failed = [c for c in summary["checks"] if c["result"] == "fail"]
    if failed and not override:
        for name in (DATASET, FHIR, MODEL_CARDS):
            shutil.rmtree(run.file(name), ignore_errors=True)
        lines = "\n".join(f"  {c['check']} ({c['of']}): {c['figure']:.4g}, needs {c['limit']} (privacy.{c['setting']})"
                          for c in failed)  # fmt: skip
        raise ReleaseBlocked(f"privacy checks failed, nothing exported from {run.path}:\n{lines}\n"
                             "fix the run, or export anyway with --release-override REASON (recorded)")  # fmt: skip
    record = {"failed_checks": [c["check"] for c in failed], "override": override if failed else None}
    notes, sentences = pd.read_parquet(run.file(NOTES)), pd.read_parquet(run.file(SENTENCES))
    pack = load_pack(pack_ref)
    card = dataset_card(summary, {**provenance, **record}, pack, read_json(run.file(COHORT_REPORT)),
                        {"sentences": len(sentences), "notes": len(notes)})  # fmt: skip
    export_dataset({"sentences": sentences, "notes": notes}, run.file(DATASET), card)
    write_fhir(fhir_bundles(notes, pd.read_parquet(run.file(COHORT)), diagnosis_date), run.file(FHIR))
    write_model_cards(run.file(MODEL_CARDS), summary, provenance, pack)
    return {"release": record}


def export_stage(privacy: PrivacyConfig, provenance: dict[str, Any], pack: str, diagnosis_date: date,
                 run: RunFolder, override: str | None = None) -> Stage:  # fmt: skip
    """Reads the checks and figures the evaluation wrote (`release.json`), the outputs it exports, the cohort
    report and the pack (for the cards); `provenance` (the config's hash, the engine, the seed) goes on the cards.
    """
    config = {"privacy": privacy.model_dump(mode="json"), "provenance": provenance, "pack": pack,
              "diagnosis_date": str(diagnosis_date), "override": override}  # fmt: skip
    inputs = (run.file(RELEASE), run.file(NOTES), run.file(SENTENCES), run.file(COHORT), run.file(COHORT_REPORT),
              resolve_pack_path(pack))  # fmt: skip
    return Stage("export", config, inputs, (DATASET, FHIR),
                 lambda: release(run, provenance, pack, diagnosis_date, override))
