"""Exports of a run's outputs: a Hugging Face dataset folder (Parquet and a card) and FHIR R4 bundles, one per
patient: its Patient and its notes as DocumentReferences, or for an encounters run an Encounter per visit record with
its note and its conversation's transcript as DocumentReferences in the Encounter's context."""

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
LOINC = "http://loinc.org"
NOTE_CODE = {"system": LOINC, "code": "11506-3", "display": "Progress note"}
# LOINC's document ontology has no kind for the transcript of a visit's conversation: its generic "Note", named in
# the type's text
TRANSCRIPT_CODE = {"system": LOINC, "code": "34109-9", "display": "Note"}
AMBULATORY = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB", "display": "ambulatory"}


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


def _attachment(text: str, title: str) -> dict:
    return {"contentType": "text/plain; charset=utf-8", "data": base64.b64encode(text.encode()).decode(),
            "title": title}  # fmt: skip


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
        "content": [{"attachment": _attachment(note["text"], str(note["note_id"]))}],
    }


def encounter_resource(record: dict, patient_urn: str) -> dict:
    """A FHIR Encounter for an encounter record: a finished ambulatory visit on its visit date."""
    day = str(record["visit_date"])
    return {
        "resourceType": "Encounter",
        "id": str(record["encounter_id"]),
        "status": "finished",
        "class": AMBULATORY,
        "type": [{"text": str(record["note_type"])}],
        "subject": {"reference": patient_urn},
        "period": {"start": day, "end": day},
    }


def encounter_documents(record: dict, patient_urn: str, encounter_urn: str) -> list[dict]:
    """The accepted texts of an encounter record as DocumentReferences in the Encounter's context: its note (LOINC
    progress note) if the note was accepted, its conversation's transcript if the conversation was."""
    texts = [("note", record["note"], NOTE_CODE, str(record["note_type"]), record["note_status"]),
             ("transcript", record["conversation"], TRANSCRIPT_CODE, "doctor-patient conversation transcript",
              record["conversation_status"])]  # fmt: skip
    return [
        {
            "resourceType": "DocumentReference",
            "id": f"{record['encounter_id']}-{kind}",
            "status": "current",
            "docStatus": "final",
            "type": {"coding": [code], "text": name},
            "subject": {"reference": patient_urn},
            "date": f"{record['visit_date']}T00:00:00Z",
            "description": f"synthetic {record['variant']} {kind} of encounter {record['note_id']} (dualalign)",
            "content": [{"attachment": _attachment(text, f"{record['note_id']} {kind}")}],
            "context": {"encounter": [{"reference": encounter_urn}]},
        }
        for kind, text, code, name, status in texts if status == "ok"
    ]  # fmt: skip


def fhir_bundles(notes: pd.DataFrame, profiles: pd.DataFrame, diagnosis_date: date,
                 encounters: pd.DataFrame | None = None) -> dict[str, dict]:  # fmt: skip
    """One `collection` Bundle per patient: its Patient and a DocumentReference for each successful note. With an
    encounters run's records (`encounters`), each record whose note or conversation was accepted is instead an
    Encounter with those texts as DocumentReferences (`notes` holds the same notes' sections: not exported twice)."""
    by_patient = {p["patient_id"]: p for p in profiles.to_dict("records")}
    documents: dict[str, list[dict]] = {}
    if encounters is None:
        ok = notes[(notes["status"] == "ok") & notes["patient_id"].notna()]
        for note in ok.sort_values("patient_id", kind="stable").to_dict("records"):
            documents.setdefault(note["patient_id"], []).append(
                {"fullUrl": _urn("DocumentReference", note["plan_id"]),
                 "resource": document_reference(note, _urn("Patient", note["patient_id"]))})  # fmt: skip
    else:
        done = encounters[(encounters["note_status"] == "ok") | (encounters["conversation_status"] == "ok")]
        for record in done.sort_values("patient_id", kind="stable").to_dict("records"):
            patient_urn = _urn("Patient", record["patient_id"])
            encounter_urn = _urn("Encounter", record["encounter_id"])
            entries = [{"fullUrl": encounter_urn, "resource": encounter_resource(record, patient_urn)}]
            entries += [{"fullUrl": _urn("DocumentReference", doc["id"]), "resource": doc}
                        for doc in encounter_documents(record, patient_urn, encounter_urn)]  # fmt: skip
            documents.setdefault(record["patient_id"], []).extend(entries)
    return {
        patient_id: {
            "resourceType": "Bundle",
            "id": str(uuid.uuid5(FHIR_NAMESPACE, f"Bundle/{patient_id}")),
            "type": "collection",
            "entry": [{"fullUrl": _urn("Patient", patient_id),
                       "resource": patient_resource(by_patient[patient_id], diagnosis_date)}, *entries],
        }  # fmt: skip
        for patient_id, entries in sorted(documents.items())
    }


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
