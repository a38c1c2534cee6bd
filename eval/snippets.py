"""A labelled set of short doctor-patient exchanges from conversation-note pairs: each conversation is cut into
chunks of a few turns, and a chunk is labelled by the note section that reports it, the section with the highest
ROUGE-1 F-measure against it (`rouge-score`, stemmed, stopwords dropped). Only confident chunks are kept: a best
score of at least `min_score`, at least `margin` above the second best section.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import pandas as pd

from dualalign.alignment.dialogue import Turn, parse_dialogue, render_dialogue
from dualalign.alignment.sections import DEFAULT_SECTIONS, UNTITLED, parse_note

# Words that carry no content in either a conversation or a note (function words, fillers, speech tics).
STOPWORDS = frozenset("""
a about after again all also am an and any are as at be because been before being both but by can could did do
does doing don down during each few for from further had has have having he her here hers him his how i if in into
is it its just me more most my no nor not now of off on once only or other our out over own same she should so
some such than that the their them then there these they this those through to too under until up very was we were
what when where which while who whom why will with would you your yours yeah yes okay ok um uh oh like know
right well alright go going gon na wan get got think mean really little bit sure thank thanks hi hello good
patient doctor states reports notes denies n't 's 're 've 'll 'd
""".split())


@dataclass(frozen=True)
class SnippetConfig:
    turns: int = 4  # spoken turns per chunk
    min_score: float = 0.2  # the best section's ROUGE-1 F-measure
    margin: float = 0.05  # over the second best section
    min_words: int = 12  # content is needed to tell sections apart


class _ContentTokenizer:
    """rouge-score's stemmed tokens without `STOPWORDS`, cached (a section is scored against every chunk)."""

    def __init__(self):
        from rouge_score.tokenizers import DefaultTokenizer

        self._tokenizer = DefaultTokenizer(use_stemmer=True)
        self.tokenize = lru_cache(maxsize=4096)(self._tokenize)

    def _tokenize(self, text: str) -> list[str]:
        words = [w for w in text.lower().split() if w.strip(".,?!:;") not in STOPWORDS]
        return self._tokenizer.tokenize(" ".join(words))


def chunks(turns: Sequence[Turn], size: int) -> list[list[Turn]]:
    """Consecutive, non-overlapping windows of `size` spoken turns (a shorter last window is kept)."""
    spoken = [t for t in turns if t.speaker]
    return [spoken[i : i + size] for i in range(0, len(spoken), size)]


def label_snippets(pairs: pd.DataFrame, cfg: SnippetConfig = SnippetConfig(),
                   sections: Sequence[str] = DEFAULT_SECTIONS) -> pd.DataFrame:
    """text (a chunk as `Doctor:` / `Patient:` lines), label (the section's name, lower case), score, margin and
    the pair's row index (`pair`), for the confident chunks of every pair in `pairs` (`dialogue`, `note`)."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1"], tokenizer=_ContentTokenizer())
    rows = []
    for index, dialogue, note in zip(pairs.index, pairs["dialogue"], pairs["note"], strict=True):
        parts = [(name, body) for name, body in parse_note(note, sections) if name != UNTITLED and body]
        if len(parts) < 2:
            continue
        for chunk in chunks(parse_dialogue(dialogue), cfg.turns):
            text = render_dialogue(chunk).strip()
            if sum(t.words() for t in chunk) < cfg.min_words:
                continue
            scores = sorted(((scorer.score(body, text)["rouge1"].fmeasure, name) for name, body in parts),
                            reverse=True)  # fmt: skip
            (best, label), (second, _) = scores[0], scores[1]
            if best >= cfg.min_score and best - second >= cfg.margin:
                rows.append({"text": text, "label": label.lower(), "score": round(best, 4),
                             "margin": round(best - second, 4), "pair": index})  # fmt: skip
    return pd.DataFrame(rows, columns=["text", "label", "score", "margin", "pair"])
