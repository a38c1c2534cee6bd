"""Acceptance: 1,000 profiles from OASIS (real) and from the built-in spec, through the config and the CLI."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from dualalign.cohorts import CohortConfig, CohortSynthesizer, build_cohort, count_exact_copies, prepare_reference
from dualalign.cohorts.report import cohort_report
from dualalign.eval.config import PrivacyConfig
from dualalign.eval.release import privacy_checks
from dualalign.io import read_json
from dualalign.pipeline.cohort_cli import app, load_section
from dualalign.runfolder import SYNTHESIZER

OASIS_SECTION = {
    "one_row_per": "Subject ID",
    "order_by": ["Visit"],
    "columns": ["Group", "M/F", "Age", "EDUC", "SES", "MMSE", "CDR", "eTIV", "nWBV", "ASF"],
    "column_map": {"M/F": "sex", "Age": "age", "EDUC": "education_years"},
    "sdtypes": {"CDR": "categorical"},
    "n_profiles": 1000,
    "quotas": [{"where": {"sex": "F", "Group": "Converted"}, "count": 40}],
}


@pytest.fixture(scope="module")
def oasis_config(shared_data, tmp_path_factory):
    path = tmp_path_factory.mktemp("oasis") / "config.yaml"
    section = {"source": str(shared_data / "oasis_longitudinal.csv"), **OASIS_SECTION}
    path.write_text(yaml.safe_dump({"seed": 11, "out_dir": str(path.parent / "run"), "cohort": section}))
    return path


@pytest.fixture(scope="module")
def oasis_run(oasis_config):
    """`dualalign cohort fit`, `sample`, `report` on the OASIS config."""
    runner = CliRunner()
    outputs = [runner.invoke(app, [cmd, "--config", str(oasis_config)]) for cmd in ("fit", "sample", "report")]
    for result in outputs:
        assert result.exit_code == 0, result.output + repr(result.exception)
    cfg, seed, out_dir = load_section(oasis_config)
    return cfg, seed, out_dir, outputs[-1].output


def test_oasis_acceptance(oasis_run):
    cfg, seed, out_dir, shown = oasis_run
    report = read_json(out_dir / "cohort_report.json")
    profiles = pd.read_parquet(out_dir / "cohort.parquet")
    assert len(profiles) == 1000 and profiles["patient_id"].is_unique
    assert report["quality"]["score"] >= 0.80
    assert report["diagnostic"]["score"] >= 0.95
    training, holdout = prepare_reference(cfg, seed)
    assert count_exact_copies(profiles, training) == 0 == report["privacy"]["exact_copies"]
    assert report["checks"] == {"quality >= 0.8": True, "no exact copies of reference rows": True}
    assert report["rows"] == {"reference": 120, "holdout": 30, "profiles": 1000}
    assert profiles["SES"].isna().any()  # missing SES modelled, not dropped
    assert ((profiles["sex"] == "F") & (profiles["Group"] == "Converted")).sum() == 40
    # privacy against the holdout baseline: synthetic rows are no closer to training rows than real unseen ones
    assert report["privacy"]["dcr_synthetic_median"] >= 0.5 * report["privacy"]["dcr_holdout_median"]
    assert 0 <= report["privacy"]["dcr_overfitting_protection"] <= 1
    # a distance-based membership-inference attack does no better than chance (30 members, 30 non-members)
    assert 0.3 <= report["privacy"]["membership_inference_auc"] <= 0.7
    # an attacker who knows age, sex and education guesses Group, SES, MMSE, CDR, ... no better than chance allows
    assert report["privacy"]["attribute_disclosure_known"] == ["age", "sex", "education_years"]
    assert set(report["privacy"]["attribute_disclosure_by_column"]) == {"Group", "SES", "MMSE", "CDR", "eTIV", "nWBV",
                                                                        "ASF"}  # fmt: skip
    assert report["privacy"]["attribute_disclosure_protection"] >= 0.6
    gate = privacy_checks({"profiles": report["privacy"]}, PrivacyConfig())  # the release gate's profile checks pass
    assert {c["check"]: c["result"] for c in gate["checks"] if c["of"] == "profiles"} == dict.fromkeys(
        ["membership inference AUC", "exact copies of reference rows", "attribute disclosure protection"], "pass")
    assert (out_dir / "cohort_plots" / "age.png").stat().st_size > 1000
    assert "quality: score" in shown and "pass" in shown


def test_membership_inference_catches_profiles_that_copy_their_training_rows(oasis_run):
    cfg, seed, out_dir, _ = oasis_run
    training, holdout = prepare_reference(cfg, seed)
    metadata = CohortSynthesizer.load(out_dir / SYNTHESIZER).metadata
    leaky = training.sample(frac=1, random_state=0).reset_index(drop=True)  # "sampling" that returns its rows
    report = cohort_report(training, leaky, metadata, holdout=holdout, seed=seed)
    assert report["privacy"]["membership_inference_auc"] > 0.95
    assert report["privacy"]["attribute_disclosure_protection"] < 0.45  # the copies give sensitive values away
    assert report["privacy"]["exact_copies"] > 0
    gate = privacy_checks({"profiles": report["privacy"]}, PrivacyConfig())
    failed = [c["check"] for c in gate["checks"] if c["result"] == "fail"]
    assert not gate["passed"]
    assert failed == ["membership inference AUC", "exact copies of reference rows", "attribute disclosure protection"]


def test_saved_synthesizer_loads_back_and_report_shows(oasis_run):
    cfg, seed, out_dir, _ = oasis_run
    synthesizer = CohortSynthesizer.load(out_dir / SYNTHESIZER)
    assert synthesizer.kind == cfg.synthesizer and synthesizer.seed == seed
    profiles, _ = synthesizer.sample(5, seed=seed)
    assert len(profiles) == 5 and set(profiles.columns) == {"patient_id", *synthesizer.training_.columns}
    shown = CliRunner().invoke(app, ["report", "--out", str(out_dir)])
    assert shown.exit_code == 0 and "no exact copies" in shown.output


def test_builtin_spec_acceptance_and_same_seed(tmp_path):
    cfg = CohortConfig(n_profiles=1000, plots=False)
    profiles = build_cohort(cfg, tmp_path / "a", seed=0)
    report = read_json(tmp_path / "a" / "cohort_report.json")
    assert report["quality"]["score"] >= 0.80
    assert report["privacy"]["exact_copies"] == 0 and all(report["checks"].values())
    assert {"cohort.parquet", "cohort_report.json"} <= {p.name for p in (tmp_path / "a").iterdir()}
    assert (tmp_path / "a" / SYNTHESIZER).is_file()  # in private/, apart from what may be shared
    pd.testing.assert_frame_equal(profiles, pd.read_parquet(tmp_path / "a" / "cohort.parquet"))
    small = CohortConfig(n_profiles=50, spec_rows=1000, plots=False)
    pd.testing.assert_frame_equal(build_cohort(small, tmp_path / "b", 3), build_cohort(small, tmp_path / "c", 3))


def test_ctgan_by_config(tmp_path):
    cfg = CohortConfig(synthesizer="ctgan", synthesizer_args={"epochs": 2, "batch_size": 100}, spec_rows=300,
                       n_profiles=20, plots=False)
    profiles = build_cohort(cfg, tmp_path, seed=0)
    assert len(profiles) == 20 and read_json(tmp_path / "cohort_report.json")["synthesizer"] == "ctgan"
