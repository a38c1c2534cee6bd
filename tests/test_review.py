"""Clinician review without a model: the sample (risky first, every cell), verdicts that stay beside each other and
stop counting once their text changes, agreement, the review checks of the release gate and the sign-off."""

import json

import numpy as np
import pandas as pd
import pytest

from dualalign.config import validate_model
from dualalign.errors import ConfigError, DataError
from dualalign.eval.config import ReviewConfig
from dualalign.eval.release import blocked_lines
from dualalign.eval.review import (
    ApprovalRefused,
    approve,
    counted_verdicts,
    record_verdict,
    review_checks,
    review_figures,
    review_sample,
    text_hash,
)
from dualalign.io import read_jsonl
from dualalign.runfolder import REVIEW, RunFolder

VARIANTS, LABELS = ("guided", "unguided", "statistical", "semantic"), ("memory", "mood", "function")


def items_frame(n_per_cell: int = 5, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [{"id": f"{v}-{lab}-{k}", "variant": v, "label": lab, "text": f"text {v} {lab} {k}",
             "label_margin": float(rng.uniform(-0.2, 0.4)), "threshold_distance": float(rng.uniform(0, 0.3)),
             "phi": None}
            for v in VARIANTS for lab in LABELS for k in range(n_per_cell)]  # fmt: skip
    frame = pd.DataFrame(rows)
    frame.loc[7, "phi"] = "name 'Smith'"
    frame["text_hash"] = frame["text"].map(text_hash)
    return frame


def test_the_sample_puts_risky_items_first_and_gives_every_cell_items():
    items = items_frame()
    sample = review_sample(items, ReviewConfig(sample_size=30, risky_share=0.2), seed=1)
    assert len(sample) == 30 and sample["id"].is_unique
    assert sample["risky"].tolist() == [True] * 6 + [False] * 24  # 20% of 30, shown first
    assert sample.at[0, "id"] == items.at[7, "id"] and "PHI" in sample.at[0, "why"]  # the PHI near miss leads
    lowest = items.nsmallest(1, "label_margin")["id"].item()
    nearest = items.nsmallest(1, "threshold_distance")["id"].item()
    assert {lowest, nearest} <= set(sample["id"][:6])
    cells = sample.groupby(["variant", "label"]).size()
    assert len(cells) == len(VARIANTS) * len(LABELS) and (cells.min(), cells.max()) == (2, 3)  # 30 over 12 cells


def test_the_sample_is_drawn_by_its_seed():
    items, cfg = items_frame(), ReviewConfig(sample_size=20, risky_share=0.25)
    assert review_sample(items, cfg, 3)["id"].tolist() == review_sample(items, cfg, 3)["id"].tolist()
    assert review_sample(items, cfg, 3)["id"].tolist() != review_sample(items, cfg, 4)["id"].tolist()
    assert len(review_sample(items_frame(n_per_cell=1), cfg, 0)) == 12  # every item when the run has fewer


def test_a_second_verdict_stands_beside_the_first_and_the_latest_of_each_reviewer_counts(tmp_path):
    run = RunFolder(tmp_path)
    record_verdict(run, "A", "s1", "the text", "implausible", "clinically absurd", "odd")
    record_verdict(run, "A", "s1", "the text", "plausible")
    record_verdict(run, "B", "s1", "the text", "unsafe", "other")
    lines = read_jsonl(run.file(REVIEW))
    assert [line["verdict"] for line in lines] == ["implausible", "plausible", "unsafe"]  # appended, none rewritten
    assert set(lines[0]) == {"reviewer", "time", "item", "text_hash", "verdict", "reason", "comment"}
    counted = counted_verdicts(lines, {"s1": text_hash("the text")})
    assert sorted(zip(counted["reviewer"], counted["verdict"])) == [("A", "plausible"), ("B", "unsafe")]


def test_a_verdict_on_a_text_that_changed_no_longer_counts(tmp_path):
    run = RunFolder(tmp_path)
    record_verdict(run, "A", "s1", "the first text", "plausible")
    record_verdict(run, "A", "s2", "another text", "unsafe")
    regenerated = pd.DataFrame({"id": ["s1", "s2"], "variant": ["guided", "guided"],
                                "text_hash": [text_hash("a regenerated text"), text_hash("another text")]})
    figures = review_figures(read_jsonl(run.file(REVIEW)), regenerated)
    assert (figures["verdicts"], figures["counted"], figures["stale"]) == (2, 1, 1)
    assert (figures["reviewed"], figures["unsafe"]) == (1, 1)


@pytest.mark.parametrize("verdict, reason", [("fine", None), ("plausible", "clinically absurd")])
def test_an_unknown_verdict_or_reason_is_refused_and_nothing_is_written(tmp_path, verdict, reason):
    run = RunFolder(tmp_path)
    with pytest.raises(DataError):
        record_verdict(run, "A", "s1", "text", verdict, reason)
    assert not run.file(REVIEW).exists()


def test_figures_per_variant_and_cohens_kappa_of_two_reviewers():
    items = pd.DataFrame({"id": ["a", "b", "c", "d"], "variant": ["guided", "guided", "unguided", "unguided"],
                          "text_hash": [text_hash(x) for x in "abcd"]})  # fmt: skip
    given = {"R1": ["plausible", "plausible", "implausible", "unsafe"],
             "R2": ["plausible", "implausible", "implausible", "unsafe"]}  # fmt: skip
    verdicts = [{"reviewer": r, "item": i, "text_hash": text_hash(i), "verdict": v}
                for r, vs in given.items() for i, v in zip("abcd", vs)]  # fmt: skip
    figures = review_figures(verdicts, items)
    # observed agreement 3/4; by chance 2/4*1/4 + 1/4*2/4 + 1/4*1/4 = 5/16
    assert figures["agreement"] == [{"reviewers": ["R1", "R2"], "items": 4,
                                     "kappa": pytest.approx((0.75 - 5 / 16) / (1 - 5 / 16), abs=1e-4)}]  # fmt: skip
    assert (figures["reviewed"], figures["implausible"], figures["unsafe"]) == (4, 2, 1)
    assert figures["implausible_share"] == 0.5  # an item is implausible when any reviewer says so
    assert figures["by_variant"] == {
        "guided": {"items": 2, "plausible": 3, "implausible": 1, "unsafe": 0},
        "unguided": {"items": 2, "plausible": 0, "implausible": 2, "unsafe": 2},
    }


def test_review_checks_are_off_by_default_and_name_their_setting_when_on():
    assert {c["result"] for c in review_checks(None, ReviewConfig())} == {"not applicable"}
    on = ReviewConfig(required=True, min_reviewed=3, max_implausible_share=0.2)
    checks = review_checks(None, on)
    assert [c["result"] for c in checks] == ["fail", "missing", "pass"]
    assert "items reviewed (review): 0, needs >= 3 (review.min_reviewed)" in blocked_lines(checks)
    figures = {"reviewed": 3, "implausible_share": 0.0, "unsafe": 1}
    assert [c["result"] for c in review_checks(figures, on)] == ["pass", "pass", "fail"]
    assert [c["result"] for c in review_checks({**figures, "unsafe": 0}, on)] == ["pass", "pass", "pass"]


def test_the_review_section_is_validated_like_every_other():
    with pytest.raises(ConfigError, match="review.sampel_size: unknown key"):
        validate_model(dict[str, ReviewConfig], {"review": {"sampel_size": 3}}, "config.yaml")
    with pytest.raises(ConfigError, match="strata"):
        validate_model(ReviewConfig, {"strata": ["colour"]}, "config.yaml")


def test_approve_is_refused_while_a_check_fails_unless_overridden_and_records_who(tmp_path):
    run = RunFolder(tmp_path)
    summary = {"checks": review_checks(None, ReviewConfig(required=True)), "review": None}
    with pytest.raises(ApprovalRefused, match=r"items reviewed \(review\): 0, needs >= 20"):
        approve(run, summary, "Dr. Chen", "looked fine", None)
    assert "approvals" not in run.manifest()
    approval = approve(run, summary, "Dr. Chen", "pilot only", "a pilot release")
    assert approval["override"] == "a pilot release" and "items reviewed" in approval["failed_checks"]
    stored = json.loads(run.manifest_path.read_text())["approvals"]
    assert [(a["by"], a["note"]) for a in stored] == [("Dr. Chen", "pilot only")]
