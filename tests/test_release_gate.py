"""The release gate fails closed: a check whose input is missing or unreadable blocks the export and is named; "not
applicable" exists only where the source says the run's config rules the figure out."""

from dualalign.eval.config import PrivacyConfig
from dualalign.eval.release import Missing, blocked_lines, privacy_checks, profile_source, trajectory_source
from dualalign.runfolder import COHORT_REPORT, RunFolder

PROFILES = {"membership_inference_auc": 0.52, "exact_copies": 0, "attribute_disclosure_protection": None,
            "not_applicable": {"attribute_disclosure_protection": "6 profiles, fewer than the 100 ..."}}  # fmt: skip
TRAJECTORIES = {"timeline_linkage": None, "not_applicable": {"timeline_linkage": "no trajectory store"}}
TEXT = {"phi_texts": 0, "copied_share": 0.0, "near_duplicate_share": 0.0}


def results(sources: dict) -> dict[str, str]:
    return {c["check"]: c["result"] for c in privacy_checks(sources, PrivacyConfig())["checks"]}


def test_every_check_passes_or_does_not_apply_with_its_reason():
    gate = privacy_checks({"profiles": PROFILES, "trajectories": TRAJECTORIES, "text": TEXT}, PrivacyConfig())
    assert gate["passed"]
    by_name = {c["check"]: c for c in gate["checks"]}
    assert by_name["timeline linkage"]["result"] == "not applicable"
    assert by_name["timeline linkage"]["why"] == "no trajectory store"
    auc = by_name["membership inference AUC"]
    assert auc["result"] == "pass" and auc["why"] is None


def test_a_missing_source_blocks_and_names_its_checks():
    gate = privacy_checks({"trajectories": TRAJECTORIES, "text": TEXT}, PrivacyConfig())
    assert not gate["passed"]
    assert [c["check"] for c in gate["checks"] if c["result"] == "missing"] == [
        "membership inference AUC", "exact copies of reference rows", "attribute disclosure protection"]
    gate = privacy_checks({"profiles": PROFILES, "trajectories": Missing("no figures"), "text": TEXT}, PrivacyConfig())
    assert "timeline linkage (trajectories): not measured: no figures" in blocked_lines(gate["checks"])


def test_a_figure_absent_without_a_reason_is_missing_not_passed():
    profiles = {k: v for k, v in PROFILES.items() if k != "membership_inference_auc"}
    assert results({"profiles": profiles, "trajectories": TRAJECTORIES, "text": TEXT})[
        "membership inference AUC"] == "missing"  # fmt: skip
    unmeasured_text = {**TEXT, "copied_share": None}
    assert results({"profiles": PROFILES, "trajectories": TRAJECTORIES, "text": unmeasured_text})[
        "texts copying a real text"] == "missing"  # fmt: skip


def test_a_figure_over_its_limit_fails():
    leaky = {**TRAJECTORIES, "timeline_linkage": 1.0}
    gate = privacy_checks({"profiles": PROFILES, "trajectories": leaky, "text": TEXT}, PrivacyConfig())
    assert not gate["passed"]
    assert "timeline linkage (trajectories): 1, needs <= 0.05 (privacy.max_timeline_linkage)" in blocked_lines(
        gate["checks"])  # fmt: skip


def test_an_unreadable_or_absent_cohort_report_is_a_missing_source(tmp_path):
    run = RunFolder(tmp_path)
    assert "is missing" in profile_source(run).why
    run.file(COHORT_REPORT).write_text('{"privacy": {"membership_inf')
    assert "cannot be read" in profile_source(run).why
    assert isinstance(trajectory_source(None), Missing)
