"""Classifiers trained and scored on real patient-written text (symptom2disease, 12 labels), never mocked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dualalign.errors import ConfigError, DataError, DualAlignError
from dualalign.train import CLASSIFIERS, EmbeddingLogReg, make_classifier
from dualalign.train.classification import classification_metrics

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """One intra-op thread: on a 2-core machine shared with other jobs, two threads that wait on each other were
    measured 9x slower (LoRA, 3 steps: 87 s with 2 threads, 9.5 s with 1)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def s2d(shared_data) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A stratified split: 20 texts per label to train, 10 other texts per label to test."""
    df = pd.read_csv(shared_data / "symptom2disease_public.csv").sample(frac=1.0, random_state=0)
    train = df.groupby("label").head(20)
    test = df.drop(train.index).groupby("label").head(10)
    return train, test


def macro_f1(model, test: pd.DataFrame) -> float:
    labels = sorted(test["label"].unique())
    return classification_metrics(test["label"].tolist(), model.predict(test["text"].tolist()), labels)["macro_f1"]


@pytest.fixture(scope="module")
def logreg(s2d) -> EmbeddingLogReg:
    train, _ = s2d
    return make_classifier("embedding-logreg", seed=0).fit(train["text"].tolist(), train["label"].tolist())


def test_embedding_logreg_beats_chance_on_real_text(logreg, s2d):
    _, test = s2d
    score = macro_f1(logreg, test)
    # measured 0.99 on this split (chance is 1/12 = 0.08)
    assert score > 0.85
    proba = logreg.predict_proba(test["text"].tolist())
    assert proba.shape == (len(test), 12)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert logreg.classes_ == sorted(test["label"].unique())
    assert [logreg.classes_[i] for i in proba.argmax(axis=1)] == logreg.predict(test["text"].tolist())
    assert logreg.score(test["text"].tolist(), test["label"].tolist()) > 0.85


def test_embedding_logreg_is_seeded_and_reuses_the_encoder(s2d, logreg):
    from dualalign.encoders import load_sentence_encoder

    train, test = s2d
    again = EmbeddingLogReg(seed=0).fit(train["text"].tolist(), train["label"].tolist())
    np.testing.assert_allclose(again.predict_proba(test["text"].tolist()[:20]),
                               logreg.predict_proba(test["text"].tolist()[:20]), atol=1e-6)
    assert load_sentence_encoder.cache_info().currsize == 1


def test_bad_training_data_is_a_clear_error(logreg):
    clf = make_classifier("embedding-logreg")
    with pytest.raises(DataError, match="empty training set"):
        clf.fit([], [])
    with pytest.raises(DataError, match="at least two classes.*only \\['Migraine'\\]"):
        clf.fit(["my head throbs", "light hurts my eyes"], ["Migraine", "Migraine"])
    with pytest.raises(DataError, match="3 texts but 2 labels"):
        clf.fit(["a", "b", "c"], ["x", "y"])
    with pytest.raises(DataError, match=r"texts\[1\]: expected a string"):
        clf.fit(["a", None], ["x", "y"])
    with pytest.raises(DualAlignError, match="not fitted"):
        clf.predict(["a"])
    with pytest.raises(DataError, match="\\['Gout'\\] were not in the training data"):
        logreg.score(["my big toe is red and swollen"], ["Gout"])
    assert logreg.predict([]) == [] and logreg.predict_proba([]).shape == (0, 12)


def test_registry_names_and_settings():
    assert set(CLASSIFIERS) == {"embedding-logreg", "encoder", "lora-llm"}
    known = "known classifiers: embedding-logreg, encoder, lora-llm"
    with pytest.raises(ConfigError, match=f"unknown classifier 'svm'; {known}"):
        make_classifier("svm")
    with pytest.raises(ConfigError, match="unknown settings \\['epochz'\\]"):
        make_classifier("encoder", epochz=3)
    clf = make_classifier("encoder", epochs=2, lr=3e-5)
    assert clf.get_params()["epochs"] == 2 and clf.get_params()["lr"] == 3e-5
    assert "EncoderClassifier(model='embedded:minilm-l6'" in repr(clf)


def test_encoder_fine_tuning_beats_chance(s2d):
    train, test = s2d
    clf = make_classifier("encoder", epochs=4, lr=2e-4, batch_size=16, max_length=64, seed=0)
    clf.fit(train["text"].tolist(), train["label"].tolist())
    assert type(clf.model_).__name__ == "BertForSequenceClassification"
    assert clf.model_.config.id2label[0] == clf.classes_[0]
    # measured 0.96 on this split after 60 steps (chance 0.08)
    assert macro_f1(clf, test) > 0.6
    assert np.mean(clf.loss_history_[-5:]) < np.mean(clf.loss_history_[:5]) - 0.5
    proba = clf.predict_proba(test["text"].tolist()[:5])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)


def test_lora_llm_trains_and_scores_label_likelihoods(s2d):
    train, test = s2d
    labels = ["Chicken pox", "Common Cold", "Migraine"]
    tiny_train = train[train["label"].isin(labels)].groupby("label").head(4)
    tiny_test = test[test["label"].isin(labels)].groupby("label").head(2)
    clf = make_classifier("lora-llm", epochs=3, lr=1e-3, batch_size=4, max_length=96, seed=0)
    clf.fit(tiny_train["text"].tolist(), tiny_train["label"].tolist())
    assert len(clf.loss_history_) == 9  # 12 texts, batches of 4, 3 epochs
    # the answer-token loss falls: measured 3.2 at the first step, about 0.4 in the last epoch
    assert np.mean(clf.loss_history_[-3:]) < 0.6 * clf.loss_history_[0]
    assert clf.model_.peft_config["default"].r == 8
    proba = clf.predict_proba(tiny_test["text"].tolist())
    assert proba.shape == (len(tiny_test), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    pred = clf.predict(tiny_test["text"].tolist())
    assert set(pred) <= set(labels)
    # a text's prompt runs once, its cache shared by every label's answer: the scores of each whole sequence
    import torch

    text, whole = tiny_test["text"].iloc[0], []
    with torch.inference_mode():
        for label in clf.classes_:
            ids, target = clf._encode(text, label)
            logits = clf.model_(input_ids=torch.tensor([ids])).logits[0, :-1].float()
            logp = torch.log_softmax(logits, dim=-1).gather(-1, torch.tensor(ids[1:])[:, None]).squeeze(-1)
            whole.append(float(logp[torch.tensor(target[1:]) != -100].sum()))
    expected = np.exp(np.array(whole) - max(whole))
    np.testing.assert_allclose(clf.predict_proba([text])[0], expected / expected.sum(), rtol=1e-3, atol=1e-5)
    prompt = clf.prompt("I have a fever")
    assert "labels: Chicken pox, Common Cold, Migraine." in prompt and prompt.index("Migraine") < prompt.index("fever")
