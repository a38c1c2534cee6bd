"""Intrinsic measures per variant, and the self-contained HTML report, on hand-made tables."""

from __future__ import annotations

import json

import matplotlib
import pandas as pd
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from dualalign.errors import DataError  # noqa: E402
from dualalign.eval.faithfulness import (  # noqa: E402
    demographic_agreement,
    mentioned_age,
    mentioned_sex,
    plan_measures,
    total_variation,
)
from dualalign.eval.intrinsic import intrinsic_measures, intrinsic_table  # noqa: E402
from dualalign.eval.report import comparison_table, render_report  # noqa: E402


def sentences() -> pd.DataFrame:
    rows = [
        # guided: planned labels and terms, two patients
        ("A 72-year-old woman reports memory loss.", "cognitive", "guided", "cognitive", "memory loss", True, "p1"),
        ("She keeps forgetting names.", "cognitive", "guided", "cognitive", "forgetting names", True, "p1"),
        ("He needs help with bathing.", "functional", "guided", "functional", "help with bathing", True, "p2"),
        ("Aged 60, he is anxious at night.", "cognitive", "guided", "mood", "anxious", False, "p2"),
        # unguided: no plan
        ("The patient is doing well.", "cognitive", "unguided", None, None, False, "p3"),
        ("The patient is doing well.", "cognitive", "unguided", None, None, True, "p3"),
    ]
    return pd.DataFrame(rows, columns=["text", "label", "variant", "planned_label", "planned_term", "grounded",
                                       "patient_id"])


PROFILES = pd.DataFrame({"patient_id": ["p1", "p2", "p3"], "age": [72, 66, 80], "sex": ["F", "M", "F"]})


def test_total_variation():
    assert total_variation({"a": 1, "b": 1}, {"a": 2, "b": 2}) == 0.0
    assert total_variation({"a": 1}, {"b": 5}) == 1.0
    assert total_variation({"a": 3, "b": 1}, {"a": 1, "b": 1}) == pytest.approx(0.25)


def test_age_and_sex_mentions():
    assert mentioned_age("A 72-year-old man") == 72 and mentioned_age("aged 60, she") == 60
    assert mentioned_age("85 y/o female") == 85 and mentioned_age("takes 20 mg daily") is None
    assert mentioned_sex("She forgets") == "F" and mentioned_sex("Mr. Smith walks") == "M"
    assert mentioned_sex("Her husband says he is worried") is None  # mixed cues
    assert mentioned_sex("The patient walks") is None and mentioned_sex("there is heat") is None


def test_demographic_agreement():
    d = demographic_agreement(sentences(), PROFILES)
    # ages: 72 for p1 (agrees), 60 for p2 (profile 66, disagrees)
    assert d["age_mentions"] == 2 and d["age_agreement"] == 0.5
    # sex: woman/she (p1, F: agree twice), he (p2, M: agree twice)
    assert d["sex_mentions"] == 4 and d["sex_agreement"] == 1.0


def test_plan_measures():
    df = sentences()
    guided = df[df["variant"] == "guided"]
    m = plan_measures(guided, guided)
    assert m["label_agreement"] == 0.75  # the 4th row was planned as mood, labelled cognitive
    # labels cognitive 3, functional 1 vs plan cognitive 2, functional 1, mood 1
    assert m["label_tvd"] == pytest.approx(0.25)
    assert m["term_realisation"] == 1.0 and m["term_tvd"] == pytest.approx(0.0)


@pytest.mark.slow
def test_intrinsic_measures_per_variant():
    m = intrinsic_measures(sentences(), PROFILES, references=["The patient is doing well today."])
    assert set(m) == {"guided", "unguided"}
    g, u = m["guided"], m["unguided"]
    assert g["sentences"] == 4 and g["patients"] == 2 and g["grounding_rate"] == 0.75
    assert u["grounding_rate"] == 0.5 and u["label_agreement"] is None  # no plan to agree with
    assert u["label_tvd"] == pytest.approx(0.5)  # all cognitive vs the pooled plan (cognitive 1/2)
    assert u["self_bleu"] == pytest.approx(1.0) and u["distinct_1"] == 0.5
    assert u["embedding_dispersion"] == pytest.approx(0.0, abs=1e-5) and g["embedding_dispersion"] > 0.2
    assert u["longest_shared_ngram_max"] == 5 and u["nn_similarity_max"] > 0.9
    assert g["age_agreement"] == 0.5 and u["sex_mentions"] == 0
    assert g["phi"]["texts_flagged"]["count"] == 0
    json.dumps(m, allow_nan=False)  # JSON-ready: NaN became None
    table = intrinsic_table(m)
    assert list(table.index) == ["guided", "unguided"] and "phi_ssn" in table.columns


def test_intrinsic_measures_need_the_columns():
    with pytest.raises(DataError, match="sentences table: missing column\\(s\\) \\['grounded'\\]"):
        intrinsic_measures(sentences().drop(columns="grounded"))
    with pytest.raises(DataError, match="profiles table: missing column\\(s\\) \\['sex'\\]"):
        intrinsic_measures(sentences(), PROFILES.drop(columns="sex"))


METRICS = {
    "run": {"seed": 0, "pack": "symptom2disease"},
    "classification": {
        "classifier": "embedding-logreg", "labels": ["Migraine", "Pneumonia"], "seeds": [0, 1],
        "summary": {
            "gold": {"macro_f1": {"mean": 0.81234, "sd": 0.0123}, "n_train": {"mean": 40, "sd": 0.0}},
            "gold+guided": {"macro_f1": {"mean": 0.9, "sd": None}, "n_train": {"mean": 80, "sd": 0.0}},
        },
        "per_label_f1": {"gold": {"Migraine": {"mean": 0.8, "sd": 0.1}, "Pneumonia": {"mean": 0.82, "sd": 0.0}}},
        "confusion": {"gold": {"labels": ["Migraine", "Pneumonia"], "matrix": [[17, 3], [4, 16]]}},
    },
    "intrinsic": {"guided": {"sentences": 4, "self_bleu": 0.25, "label_agreement": None,
                             "phi": {"phone": {"count": 1, "examples": ["555-867-5309"]}}}},
}


def test_comparison_table_formats_mean_and_sd():
    table = comparison_table(METRICS["classification"]["summary"])
    assert table.loc["gold", "macro_f1"] == "0.812 ± 0.012"
    assert table.loc["gold+guided", "macro_f1"] == "0.900" and table.loc["gold", "n_train"] == "40 ± 0"


def test_report_is_one_self_contained_file(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([60, 70, 80], [1, 3, 2])
    examples = {"Migraine": {"guided": ["My head <throbs> on one side."], "unguided": ["I feel unwell."]}}
    tables = {"Cohort fidelity": pd.DataFrame({"column": ["age"], "score": [0.93]})}
    out = render_report(METRICS, tables, examples, {"Age at diagnosis": fig}, tmp_path / "report.html")
    plt.close(fig)
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    page = out.read_text()
    assert "http://" not in page and "https://" not in page
    assert page.count("data:image/png;base64,") == 1 and "Age at diagnosis" in page
    assert "0.812 ± 0.012" in page and "gold+guided" in page
    assert "<td>17</td>" in page and "Migraine" in page
    assert "My head &lt;throbs&gt; on one side." in page  # text is escaped
    assert "555-867-5309" in page and "Cohort fidelity" in page and "0.930" in page
    assert "self_bleu" in page and "symptom2disease" in page


def test_report_without_plots_or_results(tmp_path):
    page = render_report({}, {}, {}, None, tmp_path / "r.html").read_text()
    assert "No classification results" in page and "<img" not in page
    assert "https://" not in page
