"""The quality gate: every generated text passes it, or is rejected with one named reason.

Rules, in the order they are checked (the first that fires names the rejection):
- surface rules, for every variant: empty or too short / too long, placeholders (`[X]`, `<name>`), broken
  characters (U+FFFD, left by a character cut in two), list stubs and headings, file names and addresses, dates
  and long digit runs, talk about the task ("JSON", "this response", "2 or 3 sentences"), refusals, role
  confusion (a "patient" who says "I am a doctor"), PHI (names, places, dates, contact details: `alignment.phi`,
  patterns then Presidio), the wrong voice (a clinician's "I", a
  patient's "the patient"), an echo of the prompt (a run of its words outside the planned terms, such as the
  profile read back), an echo of the label (nothing said beyond the label's and the condition's own words);
  before the rules, a patient-voice text that names its own diagnosis has the name replaced by "this" (its
  symptoms still carry the label; the name would make it trivial to read off);
- reference rules: a copy or near-copy of a pack example or a gold text (embedding similarity, or a long shared
  run of words); a near-duplicate of a text already accepted for the same variant;
- for planned mentions only (the semantic half of the alignment): a text whose meaning is nearer another label
  than the planned one; for a section of an encounter note (`Target.section`), which holds mentions of several
  labels, instead a planned term the text does not say (`mention_missing`).

A note section is held to the same surface rules, with a lower word floor (a chief complaint is a phrase); a piece
of a conversation or a dialogue-style label-set exchange (`Target.dialogue`) is judged by
`alignment.encounter_gate.EncounterGate`.

Among the candidates of one plan that pass, the best (or the `keep` best) are kept by `score`: planned term
realised, margin of the planned label over the others, and novelty against what was accepted before.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dualalign.alignment.config import GateConfig, GroundingConfig
from dualalign.alignment.grounding import WORD, term_in_text, tokens
from dualalign.alignment.phi import PhiDetector
from dualalign.alignment.prototypes import LabelPrototypes
from dualalign.encoders import load_sentence_encoder
from dualalign.trajectories.pack import ConditionPack

REASONS = (
    "engine", "cut_off", "too_short", "too_long", "placeholder", "garbled", "list_or_heading", "file_or_address",
    "date_or_number", "task_talk", "refusal", "role_confusion", "phi", "wrong_voice", "prompt_echo",
    "label_echo", "copy", "near_duplicate", "off_label", "mention_missing",
)  # fmt: skip
SECTION_MIN_WORDS = 2  # a note section's floor: "Memory loss." is a chief complaint

PATTERNS: dict[str, re.Pattern] = {
    "placeholder": re.compile(r"\[[^\]]{0,40}\]|<[A-Za-z _/-]{1,30}>|\{\{|\bX{2,}\b|_{3,}"),
    # a broken character (a multi-byte character cut in two by the tokenizer) or a control character
    "garbled": re.compile(r"[\ufffd\x00-\x08\x0b\x0c\x0e-\x1f]"),
    "list_or_heading": re.compile(r"^\s*(?:\d+[.)]|[-*•#>])|:\s*$"),
    "file_or_address": re.compile(
        r"\b[\w-]+\.(?:jpe?g|png|gif|pdf|txt|json|csv|docx?|xlsx?|html?)\b|https?://|www\.|@[\w-]+\.", re.IGNORECASE
    ),
    "date_or_number": re.compile(
        r"\b\d{4}-\d{1,2}-\d{1,2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b|\b(?:19|20)\d{2}\b|\d{5,}|\d{1,3}(?:,\d{3})+|"
        r"\b(?:January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|"
        r"Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.? \d{1,2}(?:st|nd|rd|th)?\b"
    ),
    "task_talk": re.compile(
        r"\bjson\b|\bthis (?:is a )?(?:response|reply|text|prompt|output)\b|\bhere (?:is|are) (?:the|a|your|some)\b|"
        r"\b(?:\d|one|two|three|four|five)(?: or (?:\d|two|three|four))? (?:more |short |other )?sentences?\b|"
        r"\bsentence \d|\bparagraphs?\b|"
        r"\blanguage model\b|\bas an ai\b|\b(?:name|refer to|mention) (?:of )?the (?:illness|disease|condition)\b|"
        r"\bthe (?:note|task|instruction|format)s? (?:says?|asks?|requires?)\b|"
        r"\b(?:do not|don't) (?:say|name|mention)\b",
        re.IGNORECASE,
    ),
    "refusal": re.compile(
        r"\b(?:i'?m|i am) (?:sorry|afraid|unable|not able)\b|\bi (?:can ?not|can't|won't) (?:help|provide|assist|"
        r"answer|do that)\b|\bconsult (?:a|your) (?:doctor|healthcare)",
        re.IGNORECASE,
    ),
    "role_confusion": re.compile(
        r"\b(?:i'?m|i am) (?:a|your|the) (?:doctor|physician|nurse|clinician|healthcare provider)\b|"
        r"\bas (?:a|your) (?:doctor|physician|nurse)\b|\b(?:dear|hello|hi),? (?:doctor|dr)\b",
        re.IGNORECASE,
    ),
}
# A clinician's sentence in the first person, or a patient's in the third, is in the wrong voice.
WRONG_VOICE = {
    False: re.compile(r"\b(?:I|I'm|I've|I'd)\b|\b(?i:my|me)\b"),
    True: re.compile(r"\b(?:the|this|a) patient\b|\b(?:he|she) (?:has|reports|presents|complains)\b|^\s*you\b|"
                     r"\byou(?:'ve| have|'re| are) (?:got|been|a|an|the)\b", re.IGNORECASE),
}
STOPWORDS = frozenset(
    "a an the of in on to and or with for by at from has have had is are was were be been i my me he she his her "
    "they their patient patients this that it its as not no has also very some any".split()
)


@dataclass(frozen=True)
class Candidate:
    """One generated text for a plan, with the gate's verdict and, if it passed, its score."""

    text: str
    reason: str | None = None
    score: float = 0.0

    @property
    def passed(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class Target:
    """What a text was asked to say: its label, the planned term if the prompt showed one, and its style."""

    variant: str
    label: str
    terms: tuple[str, ...] = ()  # the planned terms shown in the prompt (guided, semantic), else none
    patient_voice: bool = False
    prompt: str = ""  # what the model was told: a text that repeats a run of it echoes the prompt
    section: str | None = None  # the encounter-note section the text is written for, if any
    dialogue: bool = False  # a piece of a doctor-patient conversation
    exchange: bool = False  # (with `dialogue`) a label-set item's exchange: its label held, its terms not required


def content_words(text: str) -> set[str]:
    return {w[:5] for w in WORD.findall(text.lower()) if w not in STOPWORDS}


class QualityGate:
    """Checks candidates against the pack, reference texts and what was accepted before. Load once per run.

    `references`: texts that must not be copied (the pack's examples are always included; add gold texts).
    """

    def __init__(self, pack: ConditionPack, grounding: GroundingConfig, cfg: GateConfig,
                 references: Sequence[str] = ()):  # fmt: skip
        self.pack = pack
        self.grounding = grounding
        self.cfg = cfg
        self.encoder = load_sentence_encoder(grounding.embedding_model)
        self.prototypes = LabelPrototypes(pack, grounding.embedding_model)
        self.labels = self.prototypes.labels
        self.references = [e for label in pack.labels.values() for e in label.examples] + list(references)
        self._reference_vectors = self.encoder.embed(self.references)
        self._reference_words = [tokens(r) for r in self.references]
        self.phi = PhiDetector.for_pack(pack)
        self._diagnosis = {lab: _diagnosis_pattern(pack.labels[lab].name) for lab in self.labels}
        self._accepted: dict[str, list[np.ndarray]] = {}

    # --- the rules --------------------------------------------------------------------------------------------
    def surface_reason(self, text: str, target: Target) -> str | None:
        """The first surface rule the text breaks, or None."""
        words = WORD.findall(text.lower())
        if len(words) < (SECTION_MIN_WORDS if target.section else self.cfg.min_words):
            return "too_short"
        if len(words) > self.cfg.max_words:
            return "too_long"
        for reason, pattern in PATTERNS.items():
            if reason == "role_confusion" and not target.patient_voice:
                continue
            if pattern.search(text):
                return reason
        if self.phi.contains(text):
            return "phi"
        if WRONG_VOICE[target.patient_voice].search(text):
            return "wrong_voice"
        if target.prompt and self._echoes_prompt(text, target):
            return "prompt_echo"
        label = self.pack.labels[target.label].name if target.label in self.pack.labels else ""
        known = content_words(" ".join([label, self.pack.title, *target.terms, "symptom finding"]))
        if len(content_words(text) - known) < 2:
            return "label_echo"
        return None

    def _echoes_prompt(self, text: str, target: Target) -> bool:
        """Whether the text shares a run of `echo_ngram` words with the prompt, outside the planned terms (a
        term is the prompt's wording by design: saying it is the task, and terms may be long)."""
        pieces = [text.lower()]
        for term in target.terms:
            pieces = [part for piece in pieces for part in piece.split(term.lower())]
        prompt = WORD.findall(target.prompt.lower())
        return any(shared_run(WORD.findall(piece), prompt, self.cfg.echo_ngram) for piece in pieces)

    def redact(self, text: str, target: Target) -> str:
        """Patient-voice text with its own diagnosis named: the name replaced by "this", so that its symptoms,
        which still carry the label, are kept (the name alone would make the label trivial to read off)."""
        diagnosis = self._diagnosis.get(target.label)
        if not target.patient_voice or diagnosis is None:
            return text
        return diagnosis.sub("this", text)

    def _copies(self, text: str, vector: np.ndarray) -> bool:
        if not self.references:
            return False
        if float((self._reference_vectors @ vector).max()) >= self.grounding.copy_threshold:
            return True
        return any(shared_run(tokens(text), ref, self.cfg.copy_ngram) for ref in self._reference_words)

    def _margin(self, sims: np.ndarray, label: str) -> float:
        """How much nearer a text is to `label` than to the nearest other label (0 for a label outside the pack)."""
        if label not in self.labels:
            return 0.0
        j = self.labels.index(label)
        others = np.delete(sims, j)
        return float(sims[j] - others.max()) if len(others) else float(sims[j])

    # --- judging candidates -----------------------------------------------------------------------------------
    def judge(self, texts: Sequence[str], target: Target) -> list[Candidate]:
        """Verdicts and scores for one plan's candidates (not yet accepted: call `accept` with the chosen one)."""
        texts = [self.redact(t.strip(), target) for t in texts]
        vectors = self.encoder.embed(texts)
        label_sims = self.prototypes.similarities(vectors)
        accepted = np.stack(self._accepted[target.variant]) if self._accepted.get(target.variant) else None
        out = []
        for text, vector, sims in zip(texts, vectors, label_sims, strict=True):
            reason = self.surface_reason(text, target)
            novelty = 1.0 if accepted is None else 1.0 - float((accepted @ vector).max())
            margin = self._margin(sims, target.label)
            if reason is None and self._copies(text, vector):
                reason = "copy"
            if reason is None and novelty <= 1.0 - self.grounding.duplicate_threshold:
                reason = "near_duplicate"
            if reason is None and target.section and not all(term_in_text(t, text) for t in target.terms):
                reason = "mention_missing"
            if reason is None and target.terms and not target.section and margin < self.cfg.off_label_margin:
                reason = "off_label"
            score = self.cfg.novelty_weight * novelty
            if target.terms:
                score += margin + 0.5 * float(np.mean([term_in_text(t, text) for t in target.terms]))
            out.append(Candidate(text, reason, round(score, 4)))
        return out

    def choose(self, candidates: Sequence[Candidate], variant: str, n: int = 1) -> list[Candidate]:
        """Accept the `n` best passing candidates of one plan, best first, skipping one that nearly duplicates a
        candidate chosen before it."""
        chosen: list[Candidate] = []
        for candidate in sorted((c for c in candidates if c.passed), key=lambda c: -c.score):
            if len(chosen) == n:
                break
            if not chosen or self._novelty(candidate.text, variant) > 1.0 - self.grounding.duplicate_threshold:
                self.accept(candidate.text, variant)
                chosen.append(candidate)
        return chosen

    def accept(self, text: str, variant: str) -> None:
        """Remember an accepted text, so later near-duplicates of it are rejected."""
        self._accepted.setdefault(variant, []).append(self.encoder.embed([text])[0])

    def _novelty(self, text: str, variant: str) -> float:
        """1 - the highest similarity to a text accepted for `variant` (1 when there is none)."""
        accepted = self._accepted.get(variant)
        return 1.0 if not accepted else 1.0 - float((np.stack(accepted) @ self.encoder.embed([text])[0]).max())


def shared_run(words: list[str], other: list[str], n: int) -> bool:
    """Whether two word lists share a run of `n` words."""
    grams = {tuple(other[i : i + n]) for i in range(len(other) - n + 1)}
    return any(tuple(words[i : i + n]) in grams for i in range(len(words) - n + 1))


def _diagnosis_pattern(name: str) -> re.Pattern:
    """The diagnosis as a patient might name it: the whole name ("chicken pox", "chickenpox"), or its longest
    word where that word is specific enough to be the diagnosis on its own ("spondylosis", "psoriasis")."""
    words = name.lower().split()
    forms = [r"\s*".join(map(re.escape, words))]
    longest = max(words, key=len)
    if len(longest) >= 7 and len(words) > 1:
        forms.append(re.escape(longest))
    return re.compile(r"\b(?:" + "|".join(forms) + r")\b", re.IGNORECASE)
