"""Learning curves (`tstr --gold-per-label`) and the synthetic-row weight (`train.synthetic_weight`) on the public
Symptom2Disease rows, with the real MiniLM encoder and logistic regression. The synthetic text here is the pack's
own terms as sentences ("I have been having <term>."), a stand-in that needs no generation."""

import io
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from dualalign.errors import ConfigError, DataError
from dualalign.eval.curves import curve_figures, curve_plot
from dualalign.eval.gold import per_label_split, read_labelled, stratified_split
from dualalign.eval.scores import FLOOR, ScoreStage
from dualalign.pipeline.run_cli import (
    QUICK,
    QUICK_MINUTES,
    TSTR_DEFAULTS,
    claim_hint,
    console,
    show_robustness,
    tstr_options,
)
from dualalign.runfolder import SENTENCES, RunFolder
from dualalign.train.config import TrainConfig
from dualalign.train.mixtures import LabelledTexts, run_mixtures
from dualalign.train.registry import make_classifier
from dualalign.train.robustness import PERTURBATIONS
from dualalign.train.weighting import WEIGHT_GRID, choose_weight, gold_folds
from dualalign.trajectories.labelset import label_terms
from dualalign.trajectories.pack import load_pack

CLI = [sys.executable, "-m", "dualalign.pipeline.cli"]


@pytest.fixture(scope="module")
def real(shared_data):
    return read_labelled(shared_data / "symptom2disease_public.csv", "text", "label", load_pack("symptom2disease"))


@pytest.fixture(scope="module")
def sentences():
    """Stand-in synthetic sentences: `guided` from each label's terms, `unguided` from its name alone."""
    pack = load_pack("symptom2disease")
    rows = []
    for lab in pack.label_ids:
        terms = label_terms(pack, lab)[0]
        rows += [{"variant": "guided", "label": lab, "text": f"I have been having {t}."} for t in terms]
        rows += [{"variant": "unguided", "label": lab, "text": f"I think I have {pack.labels[lab].name}, {w}."}
                 for w in ("it is bad", "please help", "it started last week")]  # fmt: skip
    return pd.DataFrame(rows)


def test_gold_draws_are_k_per_label_disjoint_from_the_test_rows_and_seeded(real):
    for k in (1, 2, 5, 10):
        test, gold = per_label_split(real, k, (0, k, 0))
        assert (gold["label"].value_counts() == k).all() and gold["label"].nunique() == 12
        assert not set(gold["text"]) & set(test["text"])
        assert len(test) + len(gold) <= len(real) and len(test) >= len(real) - 12 * k - real["text"].duplicated().sum()
        again, other = per_label_split(real, k, (0, k, 0))[1], per_label_split(real, k, (0, k, 1))[1]
        assert again.equals(gold) and set(other["text"]) != set(gold["text"])
    with pytest.raises(DataError, match="label 'jaundice' has 38 distinct texts: 38 per label as gold leaves none"):
        per_label_split(real, 38, 0)


def test_gold_folds_keep_every_label_in_training_or_leave_labels_out():
    labels = [f"l{i}" for i in range(12)]
    for k in (2, 5, 10):
        fold = gold_folds(labels * k, seed=3)
        assert len(set(fold)) == min(4, k)
        for f in set(fold):  # each fold holds rows of every label, and every label keeps rows in training
            held = [lab for lab, g in zip(labels * k, fold, strict=True) if g == f]
            kept = [lab for lab, g in zip(labels * k, fold, strict=True) if g != f]
            assert set(held) == set(labels) and set(kept) == set(labels)
    fold = gold_folds(labels, seed=3)  # one row per label: leave labels out, 3 per fold
    assert sorted(np.bincount(fold)) == [3, 3, 3, 3]


def test_auto_weight_reads_only_gold_rows(real, sentences):
    """The chosen weight depends on the gold and synthetic rows, never on the test rows."""
    test, gold = per_label_split(real, 2, (0, 2, 0))
    guided = LabelledTexts.from_frame(sentences[sentences["variant"] == "guided"])
    halves = [test.iloc[::2], test.iloc[1::2].groupby("label").head(3)]
    results = [run_mixtures("embedding-logreg", LabelledTexts.from_frame(gold), LabelledTexts.from_frame(t),
                            {"guided": guided}, ["gold", "gold+guided"], seeds=[0], ratio=None,
                            synthetic_weight="auto") for t in halves]  # fmt: skip
    weights = [r.table.set_index("mixture").loc["gold+guided", "synthetic_weight"] for r in results]
    gold_texts = LabelledTexts.from_frame(gold)
    assert weights[0] == weights[1] == choose_weight("embedding-logreg", None, 0, gold_texts, guided)
    assert weights[0] in WEIGHT_GRID
    assert results[0].table.set_index("mixture")["n_train"].to_dict() == {"gold": 24, "gold+guided": 24 + len(guided)}
    assert pd.isna(results[0].table.set_index("mixture").loc["gold", "synthetic_weight"])


def test_synthetic_weight_changes_the_fit_and_zero_weight_is_gold_alone(real, sentences):
    _, gold = per_label_split(real, 1, (0, 1, 0))
    guided = sentences[sentences["variant"] == "guided"]
    texts, labels = gold["text"].tolist() + guided["text"].tolist(), gold["label"].tolist() + guided["label"].tolist()
    probe = real["text"].tolist()[:200]

    def proba(weight):
        sample_weight = [1.0] * len(gold) + [weight] * len(guided)
        return make_classifier("embedding-logreg").fit(texts, labels, sample_weight).predict_proba(probe)

    alone = make_classifier("embedding-logreg").fit(gold["text"].tolist(), gold["label"].tolist()).predict_proba(probe)
    assert np.allclose(proba(0.0), alone, atol=1e-3)  # weight 0: the synthetic rows do not count
    assert not np.allclose(proba(0.3), proba(1.0), atol=1e-3)
    with pytest.raises(ConfigError, match="classifier 'encoder' takes no sample weights"):
        make_classifier("encoder").fit(["a", "b"], ["x", "y"], [1.0, 0.5])
    for bad, message in (("heavy", "expected a number >= 0 or 'auto', got 'heavy'"), (-0.5, "got -0.5")):
        with pytest.raises(ValueError, match=message):
            TrainConfig(synthetic_weight=bad)
    with pytest.raises(ValueError, match="'encoder' takes no sample weights, so synthetic_weight must be 1"):
        TrainConfig(classifier="encoder", synthetic_weight="auto")
    assert TrainConfig(synthetic_weight="0.3").synthetic_weight == 0.3


def test_score_stage_curve_rows_per_k_and_draw(shared_data, sentences, tmp_path):
    run = RunFolder(tmp_path)
    sentences.to_parquet(run.file(SENTENCES))
    stage = ScoreStage(run=run, seed=0, real=shared_data / "symptom2disease_public.csv", text_column="text",
                       label_column="label", pack="symptom2disease", gold_fraction=0.0, variants=["guided", "unguided"],
                       train=TrainConfig(synthetic_weight=0.3), encoder="embedded:minilm-l6", gold_per_label=[1, 3],
                       draws=2)  # fmt: skip
    table = pd.DataFrame(stage.execute().figures["scores"]["rows"])
    sets = [FLOOR, "gold", "gold+guided", "gold+unguided", "guided", "unguided"]
    for (k, draw), rows in table.groupby(["k", "draw"]):
        assert rows["mixture"].tolist() == sets
        n = rows.set_index("mixture")["n_train"]
        assert n["gold"] == 12 * k and n["gold+guided"] == 12 * k + n["guided"]
        assert rows["n_test"].nunique() == 1 and rows["n_test"].iloc[0] >= 600 - 12 * k - 21  # 21 repeated texts
        weights = rows.set_index("mixture")["synthetic_weight"]
        assert (weights[["gold+guided", "gold+unguided"]] == 0.3).all() and weights.drop(["gold+guided",
                                                                                          "gold+unguided"]).isna().all()
    assert sorted(set(zip(table["k"], table["draw"], strict=True))) == [(1, 0), (1, 1), (3, 0), (3, 1)]
    # the variant alone trains on the same rows in every draw, but is scored on each draw's test rows
    guided = table[table["mixture"] == "guided"]
    assert guided["n_train"].nunique() == 1 and guided["macro_f1"].nunique() > 1
    curve = curve_figures(table, "k")
    assert list(curve) == ["1", "3"] and list(curve["1"]) == sets
    assert curve["3"]["gold"]["macro_f1"]["mean"] > curve["1"]["gold"]["macro_f1"]["mean"]  # more gold, better
    assert curve["1"]["gold+guided"]["synthetic_weight"] == {"mean": 0.3, "sd": 0.0, "values": [0.3, 0.3]}
    assert "synthetic_weight" not in curve["1"]["gold"]
    # robustness (on by default): every set, k and draw also scored on each perturbed copy of its test rows
    for p in PERTURBATIONS:
        assert table[f"macro_f1_{p}"].between(0, 1).all() and curve["3"]["gold"][f"drop_{p}"]["sd"] is not None
    assert (table["macro_f1_dropped_words"] < table["macro_f1"]).mean() > 0.5  # a fifth of the words gone hurts
    from dualalign.pipeline.run_cli import show_tstr

    with console.capture() as captured:
        show_tstr({"curve": curve, "setup": {"draws": 2, "seeds": [0], "train": {"synthetic_weight": 0.3}}})
    text = " ".join(captured.get().split())  # the title wraps at the test console's width
    assert "learning curve" in text and "2 draws x 1 seeds, synthetic weight 0.3" in text
    assert f"{curve['3']['gold+guided']['macro_f1']['mean']:.3f} ±" in text and "0.30" in text
    with console.capture() as captured:
        show_robustness({"curve": curve})
    text = " ".join(captured.get().split())
    row = f"k=1 guided {curve['1']['guided']['macro_f1']['mean']:.3f} {curve['1']['guided']['drop_typos']['mean']:.3f}"
    assert "robustness" in text and row in " ".join(text.replace("│", " ").split())
    png = curve_plot(curve, "test", "real (gold) rows per label")
    from PIL import Image

    assert Image.open(io.BytesIO(png)).size == (750, 400)


def test_score_stage_synthetic_sizes_score_the_first_items_per_label(shared_data, sentences, tmp_path):
    """`--per-label 1,3`: each size trains on the first n items per label of each variant, on one gold split."""
    run = RunFolder(tmp_path)
    items = sentences.assign(note_id=lambda d: d["label"] + "-" + (d.groupby(["variant", "label"]).cumcount() + 1)
                             .map("{:04d}".format))  # fmt: skip
    items.to_parquet(run.file(SENTENCES))
    stage = ScoreStage(run=run, seed=0, real=shared_data / "symptom2disease_public.csv", text_column="text",
                       label_column="label", pack="symptom2disease", gold_fraction=0.2, variants=["guided", "unguided"],
                       train=TrainConfig(), encoder="embedded:minilm-l6", synthetic_sizes=[1, 3])  # fmt: skip
    scores = stage.execute().figures["scores"]
    table = pd.DataFrame(scores["rows"])
    real = read_labelled(shared_data / "symptom2disease_public.csv", "text", "label", load_pack("symptom2disease"))
    test, _ = stratified_split(real, 0.2, 0)
    assert scores["test_rows"] == len(test) < 500 and sorted(set(table["per_label"])) == [1, 3] and "k" not in table
    rows = table.set_index(["per_label", "mixture"])
    assert rows.loc[(1, "guided"), "n_train"] == rows.loc[(1, "unguided"), "n_train"] == 12
    assert rows.loc[(3, "guided"), "n_train"] == rows.loc[(3, "unguided"), "n_train"] == 36
    assert rows.loc[(3, "gold+guided"), "n_train"] == 36 + rows.loc[(3, "gold"), "n_train"]
    assert rows.loc[(1, "gold"), "macro_f1"] == rows.loc[(3, "gold"), "macro_f1"]  # the same gold and test rows
    curve = curve_figures(table, "per_label")
    assert list(curve) == ["1", "3"] and curve["1"]["guided"]["n_train"]["mean"] == 12
    with console.capture() as captured:
        show_robustness({"synthetic_curve": curve})
    text = " ".join(captured.get().replace("│", " ").split())
    assert f"n=3 guided {curve['3']['guided']['macro_f1']['mean']:.3f}" in text


def test_quick_preset_fills_only_what_the_user_left_out():
    given = {"per_label": None, "seeds": None, "gold_per_label": None, "draws": None, "synthetic_weight": None}
    assert tstr_options(given, quick=True) == QUICK
    assert tstr_options(given, quick=False) == TSTR_DEFAULTS
    mine = given | {"per_label": "10", "draws": 5, "synthetic_weight": "1"}
    assert tstr_options(mine, quick=True) == QUICK | {"per_label": "10", "draws": 5, "synthetic_weight": "1"}
    assert tstr_options(given, quick=True, own_gold=True) == QUICK | {"gold_per_label": "", "draws": None}
    assert tstr_options(given, quick=True, takes_weights=False)["synthetic_weight"] == "1"
    assert {"1", "5"} <= set(QUICK["gold_per_label"].split(",")) and QUICK["seeds"] == "0"


def test_demo_hint_is_a_command_that_parses(shared_data, tmp_path):
    """The command the demo prints runs as printed, with FILE and PACK filled in (here a file the pack lacks a
    label of: the one error comes from the data, after every option parsed)."""
    hint = claim_hint(labelled=False)
    assert f"about {QUICK_MINUTES} minutes" in hint and QUICK_MINUTES > 0  # measured: docs/tstr.md
    command = re.search(r"\[bold\](dualalign tstr .*?)\[/\]", hint).group(1).split()
    foreign = tmp_path / "foreign.csv"
    pd.DataFrame({"text": ["my toe hurts"], "label": ["Gout"]}).to_csv(foreign, index=False)
    filled = [{"FILE": str(foreign), "PACK": "symptom2disease"}.get(word, word) for word in command[1:]]
    result = subprocess.run([*CLI, *filled, "--out", str(tmp_path / "out")], capture_output=True, text=True,
                            timeout=120)  # fmt: skip
    assert result.returncode == 2 and "labels not in pack 'symptom2disease': ['Gout']" in result.stderr, result.stderr


def test_score_stage_cuts_each_test_set_to_test_per_label_rows(shared_data, sentences, tmp_path):
    run = RunFolder(tmp_path)
    sentences.to_parquet(run.file(SENTENCES))
    stage = ScoreStage(run=run, seed=0, real=shared_data / "symptom2disease_public.csv", text_column="text",
                       label_column="label", pack="symptom2disease", gold_fraction=0.0, variants=["guided", "unguided"],
                       train=TrainConfig(), encoder="embedded:minilm-l6", gold_per_label=[1], test_per_label=2)
    table = pd.DataFrame(stage.execute().figures["scores"]["rows"])
    assert (table["n_test"] == 24).all()  # 2 of each of the 12 labels
    assert table["mixture"].tolist() == [FLOOR, "gold", "gold+guided", "gold+unguided", "guided", "unguided"]
    assert (table.set_index("mixture")["seconds"].drop(FLOOR) > 0).all()  # each training set's fit and scoring


def test_tstr_curve_options_fail_with_one_message(shared_data, tmp_path):
    real = str(shared_data / "symptom2disease_public.csv")
    cases = {
        ("--gold-per-label", "1,2", "--gold-fraction", "0.1"): "give one of gold, gold_fraction and gold_per_label, "
                                                                "not gold_fraction and gold_per_label",
        ("--gold-per-label", "1", "--gold", real): "not gold and gold_per_label",
        ("--gold-per-label", "1,x"): "--gold-per-label: expected whole numbers separated by commas, got '1,x'",
        ("--gold-per-label", "0,2"): "gold_per_label: distinct numbers >= 1, got [0, 2]",
        ("--gold-per-label", "50"): "label 'cervical_spondylosis' has 49 distinct texts: 50 per label as gold leaves",
        ("--draws", "3"): "--draws: draws of the gold rows of a learning curve; give --gold-per-label too",
        ("--synthetic-weight", "heavy"): "train.synthetic_weight: Value error, expected a number >= 0 or 'auto'",
        ("--per-label", "2,4", "--gold-per-label", "1"): "one curve at a time: several per_label sizes or gold_per_lab",
        ("--per-label", "4,4"): "per_label: distinct numbers >= 1, got [4, 4]",
        ("--quick", "--per-label", "2,4"): "one curve at a time",  # the preset's gold rows per label, and two sizes
        ("--quick", "--gold-fraction", "0.1", "--draws", "2"): "--draws: draws of the gold rows of a learning curve",
        ("--synthetic-weight", "auto", "--classifier", "encoder"): "classifier 'encoder' takes no sample weights",
    }  # fmt: skip
    for args, message in cases.items():
        command = [*CLI, "tstr", "--real", real, "--labels", "symptom2disease", "--out", str(tmp_path / "out"), *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert result.returncode == 2, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr, (args, result.stderr)
