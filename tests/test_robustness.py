"""Perturbed copies of test texts (`train.robustness`) and their figures in a comparison's summary."""

import random

import numpy as np
import pandas as pd
import pytest

from dualalign.errors import ConfigError
from dualalign.eval.report import comparison_table, render_report, robustness_table
from dualalign.train.mixtures import summary_figures
from dualalign.train.robustness import PERTURBATIONS, perturb, perturbed_copies


@pytest.fixture(scope="module")
def texts(shared_data):
    return pd.read_csv(shared_data / "symptom2disease_public.csv")["text"].sample(60, random_state=0).tolist()


def test_perturbations_are_deterministic_per_seed_and_text(texts):
    first = perturbed_copies(texts, seed=3)
    assert perturbed_copies(texts, seed=3) == first
    assert set(first) == set(PERTURBATIONS) and all(len(c) == len(texts) for c in first.values())
    other = perturbed_copies(texts, seed=4)
    for name in ("typos", "dropped_words"):
        assert other[name] != first[name]  # another seed, other noise
        # a text's copy does not depend on the other texts in the list
        assert perturb(texts[5:1:-1], name, seed=3) == first[name][5:1:-1]
    assert other["lower_case"] == first["lower_case"] and other["first_sentence"] == first["first_sentence"]


def test_perturbations_leave_the_global_generators_alone(texts):
    random.seed(11)
    np.random.seed(11)
    expected = (random.random(), np.random.random())
    random.seed(11)
    np.random.seed(11)
    perturbed_copies(texts[:5], seed=0)
    assert (random.random(), np.random.random()) == expected


def test_each_perturbation_changes_text_as_named(texts):
    copies = perturbed_copies(texts, seed=0)
    words = [t.split() for t in texts]
    typos = [c.split() for c in copies["typos"]]
    # typos: mostly the same number of words, some of them misspelt (one character each)
    changed = [sum(a != b for a, b in zip(w, t, strict=False)) for w, t in zip(words, typos, strict=True)]
    assert sum(c != t for c, t in zip(copies["typos"], texts, strict=True)) > 0.8 * len(texts)
    assert 0.05 < sum(changed) / sum(map(len, words)) < 0.3
    # dropped words: fewer words, each kept word in its order
    dropped = [c.split() for c in copies["dropped_words"]]
    for d, w in zip(dropped, words, strict=True):
        rest = iter(x.lower() for x in w)
        assert all(x.lower() in rest for x in d)  # a subsequence of the words (nlpaug capitalises a new first one)
    assert 0.1 < 1 - sum(map(len, dropped)) / sum(map(len, words)) < 0.3
    # first sentence: a prefix of the text that ends at its first full stop (or the whole text)
    for text, first in zip(texts, copies["first_sentence"], strict=True):
        assert text.strip().startswith(first) and first[-1] in ".!?" or first == text.strip()
    assert sum(len(f) < len(t) for f, t in zip(copies["first_sentence"], texts, strict=True)) > 0.8 * len(texts)
    assert perturb(["Fever. Cough! Rash?  Itch"], "first_sentence") == ["Fever."]
    assert perturb(["no full stop here"], "first_sentence") == ["no full stop here"]
    assert copies["lower_case"] == [t.lower() for t in texts] and copies["lower_case"] != texts
    with pytest.raises(ConfigError, match="unknown perturbation 'shout'"):
        perturb(texts, "shout")


def test_summary_has_perturbed_scores_and_their_drop_per_run(tmp_path):
    table = pd.DataFrame({"mixture": ["gold", "gold", "guided", "guided"], "seed": [0, 1, 0, 1],
                          "n_train": [12, 12, 40, 40], "accuracy": [0.9, 0.8, 0.7, 0.7],
                          "macro_f1": [0.9, 0.8, 0.7, 0.6], "micro_f1": [0.9, 0.8, 0.7, 0.7],
                          "macro_precision": [0.9, 0.8, 0.7, 0.7], "macro_recall": [0.9, 0.8, 0.7, 0.7],
                          "macro_f1_typos": [0.7, 0.7, 0.7, 0.5]})  # fmt: skip
    s = summary_figures(table)
    assert s["gold"]["drop_typos"]["mean"] == pytest.approx(0.15)
    assert s["gold"]["drop_typos"]["sd"] == pytest.approx(np.std([0.2, 0.1], ddof=1))
    assert s["guided"]["macro_f1_typos"]["mean"] == pytest.approx(0.6) and "drop_lower_case" not in s["gold"]
    assert "drop_typos" not in comparison_table(s).columns
    robust = robustness_table(s)
    assert list(robust.columns) == ["macro_f1", "drop: typos"]
    assert robust.loc["guided", "drop: typos"] == "0.050 ± 0.071"
    assert robustness_table(summary_figures(table.drop(columns="macro_f1_typos"))) is None
    page = render_report({"classification": {"classifier": "embedding-logreg", "seeds": [0, 1], "summary": s}}, {},
                         {}, None, tmp_path / "report.html").read_text()  # fmt: skip
    assert "Robustness: macro-F1 lost" in page and "0.050 ± 0.071" in page
