"""The evaluation stage: intrinsic measures per variant, the downstream comparison when gold data is
given, the privacy checks of the release gate, and `report.html`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pandas as pd

from dualalign.alignment.phi import PhiDetector
from dualalign.eval.config import EvaluationConfig, PrivacyConfig
from dualalign.eval.gold import read_labelled, stratified_split
from dualalign.eval.intrinsic import intrinsic_measures
from dualalign.eval.release import privacy_checks, profile_source, text_source, trajectory_source
from dualalign.eval.report import encounter_pairs, render_report
from dualalign.eval.review import current_approval, run_review_figures
from dualalign.io import write_json
from dualalign.runfolder import (
    COHORT,
    COHORT_PLOTS,
    COHORT_REPORT,
    ENCOUNTERS,
    REJECTIONS,
    RELEASE,
    REPORT,
    SENTENCES,
    RunFolder,
)
from dualalign.stage import Stage, StageResult
from dualalign.train.mixtures import LabelledTexts, run_mixtures
from dualalign.train.robustness import perturbed_copies
from dualalign.trajectories.pack import ConditionPack, load_pack, resolve_pack_path


@dataclass(kw_only=True)
class EvaluationStage(Stage):
    """Reads the sentences and the cohort (the intrinsic measures), the pack (its examples are references for the
    privacy figures), gold, and for the release gate's checks the cohort report and the trajectories' figures; a
    check whose input is missing or unreadable fails closed; for the report, the encounter records and figures of an
    encounters run. Writes the report and `release.json`."""

    name: ClassVar[str] = "evaluate"
    reads: ClassVar[tuple[str, ...]] = (SENTENCES, COHORT)
    reads_if_present: ClassVar[tuple[str, ...]] = (COHORT_REPORT, REJECTIONS, COHORT_PLOTS, ENCOUNTERS)
    reads_figures: ClassVar[tuple[str, ...]] = ("cohort", "trajectories", "generation", "encounters")
    writes: ClassVar[tuple[str, ...]] = (REPORT, RELEASE)
    figures: ClassVar[tuple[str, ...]] = ("intrinsic", "classification", "privacy")
    evaluation: EvaluationConfig
    privacy: PrivacyConfig
    pack: str

    def files(self) -> tuple[Path, ...]:
        return (resolve_pack_path(self.pack), *((Path(self.evaluation.gold),) if self.evaluation.gold else ()))

    def execute(self) -> StageResult:
        figures = evaluate_run(self.evaluation, self.privacy, self.pack, self.seed, self.run)
        return StageResult(figures=figures)


def evaluate_run(ev: EvaluationConfig, privacy: PrivacyConfig, pack_ref: str, seed: int, run: RunFolder) -> dict:
    """The `intrinsic`, `classification` (with gold data) and `privacy` figures; writes the privacy checks with the
    figures the cards show (`release.json`) and the report."""
    pack = load_pack(pack_ref)
    sentences = pd.read_parquet(run.file(SENTENCES))
    profiles = pd.read_parquet(run.file(COHORT))
    references = [e for label in pack.labels.values() for e in label.examples]
    gold = read_labelled(ev.gold, ev.text_column, ev.label_column, pack) if ev.gold else None
    if gold is not None:
        references += gold["text"].tolist()
    figures: dict = {}
    if not sentences.empty:
        figures["intrinsic"] = intrinsic_measures(sentences, profiles, references, seed=seed,
                                                  phi=PhiDetector.for_pack(pack))  # fmt: skip
    if gold is not None:
        train, test = stratified_split(gold, ev.test_fraction, seed)
        synthetic = sentences[sentences["passed"]] if ev.passed_only else sentences
        by_variant = {v: LabelledTexts.from_frame(rows) for v, rows in synthetic.groupby("variant", sort=False)}
        t = ev.train
        perturbed = perturbed_copies(test["text"].astype(str).tolist(), seed) if t.robustness else None
        results = run_mixtures(
            t.classifier, LabelledTexts.from_frame(train), LabelledTexts.from_frame(test), by_variant, t.mixtures,
            t.seeds, t.ratio, t.cap, t.settings, t.synthetic_weight, perturbed,
        )  # fmt: skip
        figures["classification"] = results.to_metrics()
    sources = {"profiles": profile_source(run), "trajectories": trajectory_source(run.figures("trajectories")),
               "text": text_source(figures.get("intrinsic", {}))}  # fmt: skip
    figures["privacy"] = privacy_checks(sources, privacy)
    metrics = {**run.metrics(), **figures}
    write_json(run.file(RELEASE), {**figures["privacy"], "figures": card_figures(metrics)})
    write_report(run, pack, ev.examples_per_cell, metrics)
    return figures


def card_figures(metrics: dict) -> dict:
    """What the dataset and model cards show besides the checks: per variant the size, grounding, label
    expression and diversity of the text; the downstream comparison, if one was run."""
    generation, intrinsic = metrics.get("generation", {}), metrics.get("intrinsic", {})
    text = {
        variant: {"sentences": m["sentences"], "grounding_rate": generation.get(variant, {}).get("grounding_rate"),
                  "label_expression_rate": generation.get(variant, {}).get("label_expression_rate"),
                  "distinct_2": m.get("distinct_2"), "self_bleu": m.get("self_bleu")}
        for variant, m in intrinsic.items()
    }  # fmt: skip
    c = metrics.get("classification")
    classification = {k: c[k] for k in ("classifier", "labels", "seeds", "summary")} if c else None
    return {"text": text, "classification": classification}


def write_report(run: RunFolder, pack: ConditionPack, examples_per_cell: int = 3, metrics: dict | None = None) -> Path:
    """Render `report.html` from the run's figures (`metrics`, else its metrics.json), tables, example sentences,
    random encounter pairs (an encounters run), cohort plots and the clinician review (its verdicts and sign-off,
    if any)."""
    metrics = run.metrics() if metrics is None else metrics
    tables = {}
    if "generation" in metrics:
        tables["Generation: requests, failures and checks per variant"] = pd.DataFrame(metrics["generation"]).T.drop(
            columns=["failures_by_kind", "rejections_by_reason"], errors="ignore")  # fmt: skip
    if "cohort" in metrics:
        cohort = pd.json_normalize(metrics["cohort"]).T.rename(columns={0: "value"})
        tables["Cohort: fidelity and privacy (SDMetrics)"] = cohort
    examples: dict[str, dict[str, list[str]]] = {}
    sentences_path = run.file(SENTENCES)
    if examples_per_cell and sentences_path.exists():
        sentences = pd.read_parquet(sentences_path)
        for (label, variant), rows in sentences.groupby(["label", "variant"], sort=True):
            name = pack.labels[label].name if label in pack.labels else label
            drawn = rows.sample(min(examples_per_cell, len(rows)), random_state=0)  # random, not chosen
            examples.setdefault(name, {})[variant] = drawn["text"].tolist()
    rejected: dict[str, list[str]] = {}
    if run.file(REJECTIONS).exists():
        rejections = pd.read_parquet(run.file(REJECTIONS))
        for reason, rows in rejections.groupby("reason", sort=True):
            drawn = rows.sample(min(max(examples_per_cell, 1), len(rows)), random_state=0)
            rejected[reason] = [f"{v}: {t}" for v, t in zip(drawn["variant"], drawn["text"])]
    pairs = None
    if examples_per_cell and run.file(ENCOUNTERS).exists():
        pairs = encounter_pairs(pd.read_parquet(run.file(ENCOUNTERS)), examples_per_cell, lay=pack.lay_words)
    plots = {p.stem.replace("_", " "): p.read_bytes() for p in sorted(run.file(COHORT_PLOTS).glob("*.png"))}
    review = {"figures": run_review_figures(run), "approval": current_approval(run)}
    return render_report(metrics, tables, examples, plots, run.file(REPORT), rejected, pairs, review)
