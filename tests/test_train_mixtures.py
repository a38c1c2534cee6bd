"""Data mixtures and the seeded comparison, run for real with embedding-logreg on symptom2disease texts.

Stand-ins for the synthetic sets: "guided" is more real text with its true labels (what well-aligned synthetic
data would look like); "unguided" is real text with shuffled labels (data that carries no label signal).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dualalign.errors import ConfigError, DataError
from dualalign.train import LabelledTexts, TrainConfig, build_mixture, run_mixtures
from dualalign.train.mixtures import mixture_names


@pytest.fixture(scope="module")
def sets(shared_data) -> dict[str, LabelledTexts]:
    df = pd.read_csv(shared_data / "symptom2disease_public.csv").sample(frac=1.0, random_state=1)
    by_label = df.groupby("label").cumcount()
    gold, test, synth = df[by_label < 4], df[(by_label >= 4) & (by_label < 14)], df[by_label >= 14].iloc[:240]
    noisy = synth.assign(label=np.random.default_rng(0).permutation(synth["label"].to_numpy()))
    return {"gold": LabelledTexts.from_frame(gold), "test": LabelledTexts.from_frame(test),
            "guided": LabelledTexts.from_frame(synth), "unguided": LabelledTexts.from_frame(noisy)}


def test_build_mixture_sizes_and_seeding(sets):
    gold, guided = sets["gold"], sets["guided"]
    assert build_mixture("gold", gold, {"guided": guided}) is gold
    mix = build_mixture("gold+guided", gold, {"guided": guided}, ratio=2.0, seed=3)
    assert len(mix) == 3 * len(gold) and mix.texts[:len(gold)] == gold.texts
    assert build_mixture("gold+guided", gold, {"guided": guided}, ratio=2.0, seed=3) == mix
    assert build_mixture("gold+guided", gold, {"guided": guided}, ratio=2.0, seed=4).texts != mix.texts
    only = build_mixture("guided", gold, {"guided": guided}, ratio=0.5, seed=0)
    assert len(only) == len(gold) // 2 and set(only.texts) <= set(guided.texts)
    assert len(build_mixture("guided", gold, {"guided": guided}, ratio=None)) == len(guided)
    assert len(build_mixture("guided", gold, {"guided": guided}, ratio=None, cap=10)) == 10
    assert len(build_mixture("guided", gold, {"guided": guided}, ratio=100.0)) == len(guided)  # all there is


def test_mixture_errors(sets):
    with pytest.raises(ConfigError, match="unknown mixture 'gold\\+noise'; known mixtures: gold, gold\\+guided"):
        build_mixture("gold+noise", sets["gold"])
    with pytest.raises(DataError, match="mixture 'unguided' needs unguided synthetic texts"):
        build_mixture("unguided", sets["gold"], {"guided": sets["guided"]})
    with pytest.raises(ConfigError, match="ratio must be >= 0"):
        build_mixture("guided", sets["gold"], {"guided": sets["guided"]}, ratio=-1)
    with pytest.raises(DataError, match="2 texts but 1 labels"):
        LabelledTexts(["a", "b"], ["x"])
    with pytest.raises(DataError, match="no column\\(s\\) \\['label'\\]"):
        LabelledTexts.from_frame(pd.DataFrame({"text": ["a"]}))


@pytest.mark.slow
def test_run_mixtures_tidy_table_and_summary(sets, tmp_path):
    res = run_mixtures("embedding-logreg", sets["gold"], sets["test"],
                       {"guided": sets["guided"], "unguided": sets["unguided"]}, seeds=(0, 1), ratio=2.0)
    t = res.table
    assert list(t.columns) == ["mixture", "seed", "n_train", "accuracy", "macro_f1", "micro_f1",
                               "macro_precision", "macro_recall", "seconds", "synthetic_weight"]
    assert (t["seconds"] > 0).all()
    assert t.groupby("mixture", sort=False)["synthetic_weight"].first().fillna(-1).to_dict() == {
        "gold": -1, "gold+guided": 1.0, "gold+unguided": 1.0, "guided": -1, "unguided": -1}  # gold rows only
    assert list(t["mixture"].unique()) == mixture_names(["guided", "unguided"]) and len(t) == 10
    assert t.set_index("mixture")["n_train"].to_dict() == {
        "gold": 48, "gold+guided": 144, "gold+unguided": 144, "guided": 96, "unguided": 96}
    s = res.summary
    means = s[("macro_f1", "mean")]
    # measured: gold 0.92, gold+guided 0.97, gold+unguided 0.57, guided 0.95, unguided 0.10 (chance 0.08)
    assert means["gold+guided"] > means["gold"] > means["gold+unguided"] > means["unguided"]
    assert means["gold"] > 0.6 and means["unguided"] < 0.3
    assert s[("macro_f1", "sd")].notna().all()
    assert np.asarray(res.confusion["gold"]).sum() == 2 * len(sets["test"])
    metrics = res.to_metrics()
    json.dumps(metrics, allow_nan=False)
    assert metrics["seeds"] == [0, 1] and len(metrics["runs"]) == 10
    assert metrics["summary"]["gold"]["macro_f1"]["mean"] == pytest.approx(means["gold"])
    assert set(metrics["per_label_f1"]["gold"]) == set(metrics["labels"]) and len(metrics["labels"]) == 12
    # the export stage's model cards: one per mixture, the figures of its summary, readable by huggingface_hub
    from huggingface_hub import ModelCard

    from dualalign.eval.cards import write_model_cards
    from dualalign.eval.stage import card_figures
    from dualalign.trajectories import load_pack

    summary = {"figures": card_figures({"classification": metrics})}
    paths = write_model_cards(tmp_path / "model_cards", summary, {"config_hash": "abc"}, load_pack("symptom2disease"))
    assert [p.parent.name for p in paths] == ["gold", "gold_plus_guided", "gold_plus_unguided", "guided", "unguided"]
    card = ModelCard.load(paths[0])
    assert card.data.dualalign == {"config_hash": "abc", "mixture": "gold", "classifier": "embedding-logreg"}
    assert f"| macro_f1 | {means['gold']:.3f} |" in card.text and "(real labelled text only)" in card.text


def test_train_config_defaults_and_validation():
    cfg = TrainConfig()
    assert cfg.classifier == "embedding-logreg" and cfg.seeds == [0, 1, 2] and cfg.ratio == 1.0
    with pytest.raises(ValueError, match="known classifiers: embedding-logreg, encoder, lora-llm"):
        TrainConfig(classifier="svm")
    with pytest.raises(ValueError, match="unknown settings \\['depth'\\]"):
        TrainConfig(classifier="encoder", settings={"depth": 3})
    with pytest.raises(ValueError):
        TrainConfig(mixtures=["gold+noise"])
