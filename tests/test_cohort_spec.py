"""The built-in Alzheimer's population spec and the spec format."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from dualalign.cohorts.spec import ASSUMPTION, builtin_spec_path, draw_reference, load_spec
from dualalign.errors import ConfigError


@pytest.fixture(scope="module")
def spec():
    return load_spec(builtin_spec_path("alzheimers_us"))


@pytest.fixture(scope="module")
def drawn(spec):
    return draw_reference(spec, 20_000, seed=3)


def test_every_figure_cites_a_source_or_is_an_assumption(spec):
    raw = yaml.safe_load(builtin_spec_path("alzheimers_us").read_text())
    sources = []
    for var in raw["variables"].values():
        sources += [var["source"]] if "source" in var else []
        sources += [f["source"] for f in var.get("factors", [])]
        sources += [e["source"] for e in var.get("odds_ratios", []) + var.get("shifts", [])]
    assert sources and all(s == ASSUMPTION or s in spec.sources for s in sources)
    assert {"aa_facts", "rajan2021", "blsa"} <= set(sources)


def test_profile_columns_follow_the_contract(drawn):
    assert {"age", "sex", "race_ethnicity", "education_years", "hypertension", "diabetes", "depression",
            "hearing_loss", "smoking", "smoking_status", "stage_at_diagnosis"} <= set(drawn.columns)
    assert "age_band" not in drawn.columns  # helper variable, keep: false
    assert drawn["age"].dtype == "int64" and drawn["age"].between(65, 95).all()
    assert set(drawn["sex"]) == {"F", "M"}
    assert drawn["hypertension"].dtype == bool
    assert set(drawn["stage_at_diagnosis"]) <= {"mci", "mild_dementia", "moderate_dementia", "severe_dementia"}
    assert 0.03 < drawn["education_years"].isna().mean() < 0.07  # missing values kept


def test_drawn_marginals_match_the_published_figures(drawn):
    bands = pd.cut(drawn["age"], [64, 74, 84, 200], labels=["65-74", "75-84", "85+"]).value_counts(normalize=True)
    for band, published in {"65-74": 0.267, "75-84": 0.379, "85+": 0.354}.items():
        assert abs(bands[band] - published) < 0.015
    assert abs((drawn["sex"] == "F").mean() - 4.4 / 7.2) < 0.015
    # odds ratios shape the strata but the intercept keeps the published marginal prevalence
    for column, published in {"hypertension": 0.73, "diabetes": 0.37, "chronic_kidney_disease": 0.444,
                              "hearing_loss": 0.65, "depression": 0.42}.items():
        assert abs(drawn[column].mean() - published) < 0.015, column
    assert abs(drawn["smoking"].mean() - 0.61) < 0.015
    assert (drawn["smoking"] == drawn["smoking_status"].isin(["current", "former"])).all()


def test_associations_from_the_chap_table(drawn):
    # prevalence is higher among African American patients at every age but rises less steeply with age (Rajan 2021:
    # 10.1 -> 54.0 vs 4.3 -> 31.6 per 100), so African American patients are over-represented and younger
    old = drawn.groupby("race_ethnicity")["age"].apply(lambda a: (a >= 85).mean())
    assert old["non_hispanic_white"] > old["african_american"]
    assert (drawn["race_ethnicity"] == "african_american").mean() > 0.09  # above the assumed 65+ population share
    dm = drawn.groupby("race_ethnicity")["diabetes"].mean()
    assert dm["african_american"] > dm["non_hispanic_white"]


def test_same_seed_same_rows(spec):
    pd.testing.assert_frame_equal(draw_reference(spec, 500, 7), draw_reference(spec, 500, 7))
    assert not draw_reference(spec, 500, 7).equals(draw_reference(spec, 500, 8))


def test_unknown_source_and_forward_reference_are_config_errors(tmp_path):
    bad = {"name": "x", "sources": {"a": "A"}, "variables": {
        "sex": {"kind": "categorical", "factors": [{"source": "nowhere", "values": {"F": 1}}]}}}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(bad))
    with pytest.raises(ConfigError, match="nowhere"):
        load_spec(path)
    bad["variables"] = {"flag": {"kind": "boolean", "prevalence": 0.5, "source": "a",
                                 "odds_ratios": [{"by": "sex", "values": {"F": 2}, "source": "a"}]}}
    path.write_text(yaml.safe_dump(bad))
    with pytest.raises(ConfigError, match="not an earlier variable"):
        load_spec(path)


def test_unknown_builtin_is_a_config_error():
    with pytest.raises(ConfigError, match="no built-in population spec 'nope'"):
        builtin_spec_path("nope")
