"""Exports of a run's outputs: a Hugging Face dataset folder (Parquet and a card) and FHIR R4 bundles, one per
patient."""

from __future__ import annotations

import base64
import shutil
import tempfile
import uuid
from datetime import date
from pathlib import Path

import pandas as pd

from dualalign.io import write_json

SEX_TO_GENDER = {"F": "female", "M": "male"}
FHIR_NAMESPACE = uuid.UUID("0f5a3d3c-5d2e-4c1c-9b7e-6a1f0e2d4c3b")  # fixed: the same run gives the same ids


def export_dataset(tables: dict[str, pd.DataFrame], out_dir: Path, card: str) -> Path:
    """Save each table as a Hugging Face dataset config (`<name>/train.parquet`) with `card` as the folder's
    README.md (whose YAML front matter names the configs), replaced atomically: `datasets.load_dataset(out_dir,
    name)` opens it, and so does the Hub after an upload."""
    from datasets import Dataset

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        for name, df in tables.items():
            (build / name).mkdir()
            dates = {c: str for c in df.columns if c.endswith("date")}
            Dataset.from_pandas(df.astype(dates), preserve_index=False).to_parquet(str(build / name / "train.parquet"))
        (build / "README.md").write_text(card, encoding="utf-8")
        _swap_in(build, out_dir)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return out_dir


def _urn(*parts: object) -> str:
    return f"urn:uuid:{uuid.uuid5(FHIR_NAMESPACE, '/'.join(map(str, parts)))}"


def patient_resource(profile: dict, as_of: date) -> dict:
    """A FHIR Patient from a profile: gender, and a birth year from the age at diagnosis (no other identifiers)."""
    resource = {"resourceType": "Patient", "id": str(profile["patient_id"]), "active": True}
    if profile.get("sex") in SEX_TO_GENDER:
        resource["gender"] = SEX_TO_GENDER[profile["sex"]]
    if profile.get("age") is not None and not pd.isna(profile["age"]):
        resource["birthDate"] = str(as_of.year - int(profile["age"]))
    return resource


def document_reference(note: dict, patient_urn: str) -> dict:
    """A FHIR DocumentReference carrying a note's text as a base64 text/plain attachment."""
    return {
        "resourceType": "DocumentReference",
        "id": str(note["plan_id"]),
        "status": "current",
        "docStatus": "final",
        "type": {"text": str(note["note_type"])},
        "subject": {"reference": patient_urn},
        "date": f"{note['visit_date']}T00:00:00Z",
        "description": f"synthetic {note['variant']} note {note['note_id']} (dualalign)",
        "content": [
            {
                "attachment": {
                    "contentType": "text/plain; charset=utf-8",
                    "data": base64.b64encode(note["text"].encode()).decode(),
                    "title": str(note["note_id"]),
                }
            }
        ],
    }


def fhir_bundles(notes: pd.DataFrame, profiles: pd.DataFrame, diagnosis_date: date) -> dict[str, dict]:
    """One `collection` Bundle per patient: its Patient and a DocumentReference for each successful note."""
    ok = notes[(notes["status"] == "ok") & notes["patient_id"].notna()]
    by_patient = {p["patient_id"]: p for p in profiles.to_dict("records")}
    bundles = {}
    for patient_id, group in ok.groupby("patient_id", sort=True):
        patient_urn = _urn("Patient", patient_id)
        entries = [{"fullUrl": patient_urn, "resource": patient_resource(by_patient[patient_id], diagnosis_date)}]
        entries += [
            {"fullUrl": _urn("DocumentReference", note["plan_id"]), "resource": document_reference(note, patient_urn)}
            for note in group.to_dict("records")
        ]
        bundles[patient_id] = {
            "resourceType": "Bundle",
            "id": str(uuid.uuid5(FHIR_NAMESPACE, f"Bundle/{patient_id}")),
            "type": "collection",
            "entry": entries,
        }
    return bundles


def write_fhir(bundles: dict[str, dict], out_dir: Path) -> Path:
    """Write `<patient_id>.json` bundles into `out_dir`, swapped in whole (no bundles left from earlier runs)."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        for patient_id, bundle in bundles.items():
            write_json(build / f"{patient_id}.json", bundle)
        _swap_in(build, out_dir)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return out_dir


def _swap_in(build: Path, target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    build.rename(target)
