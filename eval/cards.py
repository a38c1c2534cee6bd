"""Cards a reviewer reads: the dataset card (`dataset/README.md`, Hugging Face's format: YAML front matter the Hub
and `datasets` read, then the text) and a short model card per classifier the evaluation trained."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from dualalign.io import write_text
from dualalign.trajectories.pack import ConditionPack

SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"))


def _render(template: str, **context: Any) -> str:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)  # fmt: skip
    return env.get_template(template).render(**context)


def _card(front: dict[str, Any], body: str) -> str:
    return "---\n" + yaml.safe_dump(front, sort_keys=False, allow_unicode=True) + "---\n\n" + body


def dataset_card(summary: dict[str, Any], provenance: dict[str, Any], pack: ConditionPack,
                 cohort: dict[str, Any], rows: dict[str, int],
                 encounters: dict[str, dict[str, int]] | None = None) -> str:  # fmt: skip
    """The dataset card of a run's `dataset/`: its configs (one per table), provenance, every privacy check with
    its figure, the figures of the text (`encounters`: an encounters run's records accepted per variant), the
    clinician review and its sign-off (`provenance["approval"]`), intended use and limitations."""
    size = next((name for limit, name in SIZE_CATEGORIES if rows["sentences"] < limit), "n>1M")
    front = {
        "pretty_name": f"dualalign synthetic {pack.title} text",
        "language": ["en"],
        "license": "other",
        "tags": ["synthetic", "clinical", "dualalign", pack.name],
        "task_categories": ["text-classification"],
        "size_categories": [size],
        "configs": [
            {"config_name": name, "data_files": [{"split": "train", "path": f"{name}/train.parquet"}],
             **({"default": True} if name == "sentences" else {})}
            for name in rows
        ],  # fmt: skip
        "dualalign": {"config_hash": provenance["config_hash"], "seed": provenance["seed"],
                      "model": provenance["engine"]["model"], "pack": pack.name,
                      "privacy_checks_passed": summary["passed"], "release_override": provenance.get("override"),
                      "approved_by": (provenance.get("approval") or {}).get("by")},
    }  # fmt: skip
    body = _render("dataset_card.md.j2", summary=summary, provenance=provenance, pack=pack, cohort=cohort, rows=rows,
                   encounters=encounters)  # fmt: skip
    return _card(front, body)


def write_model_cards(folder: Path, summary: dict[str, Any], provenance: dict[str, Any],
                      pack: ConditionPack) -> list[Path]:  # fmt: skip
    """`<folder>/<mixture>/README.md` for each mixture the evaluation trained a classifier on (none without gold)."""
    classification = summary["figures"].get("classification")
    shutil.rmtree(folder, ignore_errors=True)  # no card left from an earlier run's mixtures
    if not classification:
        return []
    paths = []
    for mixture, figures in classification["summary"].items():
        front = {
            "language": ["en"],
            "tags": ["text-classification", "clinical", "dualalign", pack.name],
            "datasets": ["synthetic (this run's dataset/)"] if mixture != "gold" else [],
            "metrics": ["f1", "accuracy"],
            "dualalign": {"config_hash": provenance["config_hash"], "mixture": mixture,
                          "classifier": classification["classifier"]},
        }  # fmt: skip
        body = _render("model_card.md.j2", mixture=mixture, figures=figures, classification=classification,
                       provenance=provenance, pack=pack)  # fmt: skip
        path = Path(folder) / mixture.replace("+", "_plus_") / "README.md"
        write_text(path, _card(front, body))
        paths.append(path)
    return paths
