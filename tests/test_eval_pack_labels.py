"""The symptom2disease pack's labels are the real test set's labels, so synthetic data scores against it."""

from __future__ import annotations

import pandas as pd

from dualalign.trajectories import load_pack


def test_symptom2disease_pack_matches_the_real_label_set(shared_data):
    pack = load_pack("symptom2disease")
    real = set(pd.read_csv(shared_data / "symptom2disease_public.csv", usecols=["label"])["label"])
    assert pack.kind == "flat" and pack.style == "patient-voice"
    assert {lab.name for lab in pack.labels.values()} == real and len(real) == 12
    assert all(10 <= len(lab.terms) <= 20 and lab.definition for lab in pack.labels.values())
    assert "no text of the Symptom2Disease data set was read" in pack.sources["provenance"]
