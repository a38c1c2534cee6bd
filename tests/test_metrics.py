"""Classification metrics through the shipped `evaluate` module, and diversity and privacy measures on
hand-made inputs whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from dualalign.errors import DataError
from dualalign.eval.diversity import (
    distinct_n,
    embedding_dispersion,
    pairwise_cosine_distance,
    self_bleu,
    sentence_bleu,
)
from dualalign.eval.privacy import copying_measures, longest_shared_ngram, nearest_neighbour_similarity, phi_scan
from dualalign.train.classification import classification_metrics, confusion_matrix, load_metric, metric_path


def test_metric_is_an_evaluate_module_loaded_from_its_file():
    import evaluate

    metric = load_metric("classification_report")
    assert isinstance(metric, evaluate.Metric)
    assert metric_path("classification_report").name == "classification_report.py"
    assert set(metric.features) == {"predictions", "references"}


def test_classification_metrics_known_values():
    m = classification_metrics(["a", "a", "b", "c"], ["a", "b", "b", "c"], labels=["a", "b", "c"])
    assert m["accuracy"] == 0.75 and m["micro_f1"] == 0.75
    assert m["per_label"]["a"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert m["per_label"]["b"]["precision"] == 0.5 and m["per_label"]["b"]["recall"] == 1.0
    assert m["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]


def test_labels_fix_order_and_count_absent_labels():
    m = classification_metrics(["x", "x"], ["x", "x"], labels=["y", "x"])
    assert m["labels"] == ["y", "x"] and m["confusion_matrix"] == [[0, 0], [0, 2]]
    assert m["per_label"]["y"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert confusion_matrix(["b", "a"], ["a", "a"], ["a", "b"]) == [[1, 0], [1, 0]]


def test_bad_metric_inputs_are_data_errors():
    with pytest.raises(DataError, match="predictions contain unknown labels \\['z'\\]"):
        classification_metrics(["a"], ["z"], ["a", "b"])
    with pytest.raises(DataError, match="true labels contain unknown labels"):
        classification_metrics(["q"], ["a"], ["a", "b"])
    with pytest.raises(DataError, match="2 true labels but 1 predictions"):
        classification_metrics(["a", "b"], ["a"], ["a", "b"])
    with pytest.raises(DataError, match="no examples"):
        classification_metrics([], [], ["a"])


def test_distinct_n_of_a_known_list():
    texts = ["the cat sat", "the cat ran"]
    assert distinct_n(texts, 1) == 4 / 6  # the, cat, sat, ran among 6 unigrams
    assert distinct_n(texts, 2) == 3 / 4  # (the cat) twice, (cat sat), (cat ran)
    assert distinct_n(texts, 3) == 1.0
    assert np.isnan(distinct_n(["one two"], 3))


def test_self_bleu_identical_and_disjoint():
    assert self_bleu(["the patient reports a dull headache today"] * 4) == pytest.approx(1.0)
    disjoint = self_bleu(["alpha beta gamma delta", "one two three four", "red green blue black"])
    assert disjoint < 0.05
    partial = self_bleu(["my knee hurts when i walk", "my knee hurts when i run"])
    assert disjoint < partial < 1.0
    # hand-computed: p1 = 5/6, p2 = 4/5, p3 = 3/4, p4 = 2/3, same length
    assert sentence_bleu("my knee hurts when i walk".split(), ["my knee hurts when i run".split()]) == \
        pytest.approx((5 / 6 * 4 / 5 * 3 / 4 * 2 / 3) ** 0.25)
    # brevity penalty: a 2-word hypothesis against a 4-word reference
    assert sentence_bleu(["a", "b"], [["a", "b", "c", "d"]]) == pytest.approx(np.exp(1 - 4 / 2))


def test_pairwise_cosine_distance():
    assert pairwise_cosine_distance(np.array([[1.0, 0.0], [2.0, 0.0]])) == pytest.approx(0.0)
    assert pairwise_cosine_distance(np.array([[1.0, 0.0], [0.0, 3.0]])) == pytest.approx(1.0)
    assert pairwise_cosine_distance(np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])) == pytest.approx(4 / 3)


@pytest.mark.slow
def test_embedding_measures_with_minilm():
    same = ["I have a rash on my arms."] * 3
    assert embedding_dispersion(same) == pytest.approx(0.0, abs=1e-5)
    varied = ["I have a rash on my arms.", "My blood pressure is high.", "The stock market fell today."]
    assert embedding_dispersion(varied) > 0.5
    sims = nearest_neighbour_similarity(["I have a rash on my arms.", "Quarterly earnings were strong."],
                                        ["I have a rash on my arms.", "My chest hurts when I cough."])
    assert sims[0] == pytest.approx(1.0, abs=1e-5) and sims[1] < 0.5
    m = copying_measures(["I have a rash on my arms.", "Quarterly earnings were strong."],
                         ["I have a rash on my arms.", "My chest hurts when I cough."], ngram_threshold=5)
    assert m["longest_shared_ngram_max"] == 7 and m["share_copied_ngram"] == 0.5 and m["share_near_duplicate"] == 0.5


def test_longest_shared_ngram():
    refs = ["my head has a bad headache today and i feel sick", "nothing in common here"]
    texts = ["I have a bad headache today", "zebra", "", "feel sick and tired"]
    assert longest_shared_ngram(texts, refs) == [4, 0, 0, 2]
    assert longest_shared_ngram(["same words exactly"], ["Same words, exactly!"]) == [3]


def test_phi_scan_finds_planted_identifiers():
    texts = [
        "Mr. Johnson called from 555-867-5309 about his knee.",
        "SSN 123-45-6789 was on the form; write to jane.doe@example.org.",
        "Seen by Dr. Priya Patel, MRN: 00123456, phone (212) 555-0199.",
        "The patient reports a headache for 3 days, BP 140/90, on 2024-05-01.",
    ]
    found = phi_scan(texts)
    assert found["name"]["examples"] == ["Mr. Johnson", "Dr. Priya Patel"]
    assert found["phone"]["examples"] == ["555-867-5309", "(212) 555-0199"]
    assert found["ssn"] == {"count": 1, "examples": ["123-45-6789"]}
    assert found["email"]["examples"] == ["jane.doe@example.org"]
    assert found["record_number"]["count"] == 1
    assert found["date"]["examples"] == ["2024-05-01"]  # a full date, found by Presidio; the BP is not a date
    assert found["texts_flagged"]["count"] == 4


def test_phi_scan_finds_what_the_patterns_miss():
    """Presidio (spaCy NER) finds first names, places and specific dates; relative times, years, lower-case
    words and the allowed vocabulary are not PHI."""
    from dualalign.alignment.phi import PhiDetector

    texts = [
        "I live in Springfield and my daughter Sarah helps me with the bills.",
        "On March 3 she got lost driving to the store she has used for years.",
        "I have been forgetting names for the past six months, since 2019.",
        "Her Alzheimer disease has made her forget her tarry stools.",
    ]
    found = phi_scan(texts, PhiDetector(allow=["alzheimer", "disease"]))
    assert found["name"] == {"count": 1, "examples": ["Sarah"]}  # the kin pattern's hit; Presidio's overlaps it
    assert found["location"]["examples"] == ["Springfield"]
    assert found["date"]["examples"] == ["March 3"]
    assert found["texts_flagged"]["count"] == 2


@pytest.mark.parametrize("text, name", [
    ("Patient: My daughter, Emily.", "Emily"),
    ("my wife Mary drives me to the store.", "Mary"),
    ("Her husband is Tom, and he cooks.", "Tom"),
    ("My oldest granddaughter named Chloe visits.", "Chloe"),
    ("Our neighbour, Mary-Ann, checks on me.", "Mary-Ann"),
])
def test_phi_finds_a_given_name_after_a_kin_word(text, name):
    """spaCy's small model misses a lone given name after "my daughter"; the kin pattern finds the name alone."""
    from dualalign.alignment.phi import PhiDetector, PhiHit

    detector = PhiDetector()
    assert detector.find(text) == [PhiHit("name", name)]
    assert detector.contains(text)


@pytest.mark.parametrize("text, names", [
    ("It was my wife, I think, who noticed it first.", []),
    ("Ask my daughter, Doctor, she keeps the list.", []),
    ("My husband, Dr. Lee says it is normal.", ["Dr. Lee"]),  # the title pattern's hit; the kin pattern's "Dr" is none
    ("My son, God bless him, drives me.", []),
    ("I came with my father, Hi Karen said.", ["Karen"]),  # Presidio's hit; "Hi" is none
    ("My wife is Catholic and goes to church.", []),
    ("I came with my daughter.\nDoctor: Good.", []),
    ("My friend Alzheimer's nurse told me.", []),  # the pack's vocabulary is not a name
])
def test_phi_kin_pattern_false_positives(text, names):
    from dualalign.alignment.phi import PhiDetector

    assert [h.text for h in PhiDetector(allow=["alzheimer"]).find(text) if h.kind == "name"] == names


def test_phi_find_reports_presidio_hits_beside_pattern_hits():
    """A pattern hit no longer hides what Presidio finds elsewhere in the text."""
    from dualalign.alignment.phi import PhiDetector, PhiHit

    assert PhiDetector().find("Mr. Johnson moved to Springfield on March 3.") == [
        PhiHit("name", "Mr. Johnson"), PhiHit("location", "Springfield"), PhiHit("date", "March 3")]
