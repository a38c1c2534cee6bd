"""Perturbed copies of test texts, to see how brittle a trained classifier is (`train.robustness`).

Each perturbation maps a text to a noisy or incomplete version of it:

- `typos`: keyboard typos (nlpaug's `KeyboardAug`: one neighbouring key in about 15% of the words),
- `dropped_words`: about 20% of the words deleted (nlpaug's `RandomWordAug(action="delete")`),
- `first_sentence`: the text cut after its first sentence (a one-sentence text stays as it is),
- `lower_case`: the text in lower case.

Perturbations are deterministic: each text is perturbed with a generator seeded by the seed and the text itself,
so the same text gets the same copy in every test set of a seed (and its embedding is computed once). nlpaug draws
from the global `random` and `numpy.random` generators; their states are restored afterwards.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from dualalign.errors import ConfigError
from dualalign.io import stable_hash

PERTURBATIONS = ("typos", "dropped_words", "first_sentence", "lower_case")
TYPO_WORD_SHARE = 0.15
DROPPED_WORD_SHARE = 0.2
# words are split at white space and joined with one space (nlpaug's own tokenizer splits "I've" and "--" apart)
WHITESPACE: dict[str, Any] = {"tokenizer": str.split, "reverse_tokenizer": " ".join}
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")


def perturbed_column(name: str) -> str:
    """The table column of the macro-F1 on the `name` copy of the test texts (e.g. `macro_f1_typos`)."""
    return f"macro_f1_{name}"


def drop_column(name: str) -> str:
    """The summary figure of the macro-F1 lost on the `name` copy: clean minus perturbed, per run (`drop_typos`)."""
    return f"drop_{name}"


def perturb(texts: Sequence[str], name: str, seed: int = 0) -> list[str]:
    """The `name` perturbation of each text (see the module)."""
    if name not in PERTURBATIONS:
        raise ConfigError(f"unknown perturbation {name!r}; known: {', '.join(PERTURBATIONS)}")
    if name == "lower_case":
        return [t.lower() for t in texts]
    if name == "first_sentence":
        return [SENTENCE_END.split(t.strip(), maxsplit=1)[0] for t in texts]
    augment = _augmenter(name)
    out = []
    for text in texts:
        with _seeded(int(stable_hash([seed, name, text])[:8], 16)):
            out.append(augment(text))
    return out


def perturbed_copies(texts: Sequence[str], seed: int = 0) -> dict[str, list[str]]:
    """Every perturbation's copy of `texts`: name -> texts in the same order."""
    return {name: perturb(texts, name, seed) for name in PERTURBATIONS}


def _augmenter(name: str) -> Callable[[str], str]:
    """nlpaug's augmenter for `name`, as text -> text (a text too short to change comes back as it is)."""
    import nlpaug.augmenter.char as nac
    import nlpaug.augmenter.word as naw

    aug: Any
    if name == "typos":
        aug = nac.KeyboardAug(aug_word_p=TYPO_WORD_SHARE, aug_char_max=1, include_special_char=False,
                              include_numeric=False, include_upper_case=False, **WHITESPACE)  # fmt: skip
    else:
        aug = naw.RandomWordAug(action="delete", aug_p=DROPPED_WORD_SHARE, **WHITESPACE)

    def apply(text: str) -> str:
        result = aug.augment(text)
        return result[0] if isinstance(result, list) and result else (result or text)

    return apply


@contextmanager
def _seeded(seed: int):
    """The global `random` and `numpy.random` generators seeded with `seed`, restored on exit."""
    state, np_state = random.getstate(), np.random.get_state()
    random.seed(seed)
    np.random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)
        np.random.set_state(np_state)
