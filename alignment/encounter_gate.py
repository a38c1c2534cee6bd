"""The quality gate of an encounter: note sections as the sentence gate judges them (`alignment.gate`, section rules),
and conversations by the dialogue rules (`alignment.dialogue`).

A piece of a conversation (`Target.dialogue`) is rejected with the first reason that fires: the gate's surface patterns
that fit speech (placeholder, garbled, file_or_address, date_or_number, task_talk, refusal); then the dialogue rules
with the piece's bounds (two turns at least, the doctor's and the patient's): narrator_line, missing_speaker,
third_speaker (the plans have no companion), not_alternating, too_few_turns, turn_too_short, turn_too_long,
finding_not_raised (the planned term, or one of its lay words from the pack's lexicon, where the piece was shown a
term), copy (of a reference conversation, or a run of `gate.copy_ngram` words of a pack example or gold text), phi;
then prompt_echo (a run of the prompt's words outside the planned term and its lay words: the note section read out).
A whole conversation, its pieces joined, is checked again by the dialogue rules with the configured bounds
(`alignment.conversation`), every planned finding it was shown counted, by its term or lay words.

A dialogue-style label-set item's exchange (`Target.exchange`) is judged like a piece, except that its planned terms
need not all be raised (they count in its score, as for a label-set sentence); then, as a label-set sentence is: a
near-copy of a reference by meaning (`copy`), a near-duplicate of an exchange accepted before (`near_duplicate`), and,
where it was shown its terms, a meaning nearer another label than its own (`off_label`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from dualalign.alignment.config import ConversationGateConfig, GateConfig, GroundingConfig
from dualalign.alignment.dialogue import REASONS, Finding, conversation_reasons, parse_dialogue, spoken_text
from dualalign.alignment.gate import PATTERNS, Candidate, QualityGate, Target, shared_run
from dualalign.alignment.grounding import tokens
from dualalign.trajectories.pack import ConditionPack

SPEECH_PATTERNS = ("placeholder", "garbled", "file_or_address", "date_or_number", "task_talk", "refusal")


class EncounterGate(QualityGate):
    """`QualityGate` that also judges conversation pieces and label-set exchanges. `conversations`: reference
    conversations (such as ACI-Bench's) that no generated one may copy."""

    def __init__(self, pack: ConditionPack, grounding: GroundingConfig, cfg: GateConfig,
                 conversation: ConversationGateConfig, references: Sequence[str] = (),
                 conversations: Sequence[str] = ()):  # fmt: skip
        super().__init__(pack, grounding, cfg, references)
        self.conversation = conversation
        self.piece_rules = conversation.model_copy(update={"min_turns": 2})
        self.conversations = [spoken_text(parse_dialogue(c)) for c in conversations]

    def judge(self, texts: Sequence[str], target: Target) -> list[Candidate]:
        """A conversation piece by the piece rules, scored by the planned findings raised and novelty; a note section or
        a label-set exchange as the sentence gate judges (an exchange's surface rules being the piece rules)."""
        if not target.dialogue or target.exchange:
            return super().judge(texts, target)
        out = []
        findings = self.findings(target.terms)
        for text in (t.strip() for t in texts):
            raised = [f.raised_in(text) for f in findings]
            score = self.cfg.novelty_weight * self._novelty(text, target.variant) + (
                sum(raised) / len(raised) if raised else 0.0)  # fmt: skip
            out.append(Candidate(text, self.piece_reason(text, target), round(score, 4)))
        return out

    def surface_reason(self, text: str, target: Target) -> str | None:
        return self.piece_reason(text, target) if target.dialogue else super().surface_reason(text, target)

    def piece_reason(self, text: str, target: Target) -> str | None:
        """The first rule a conversation piece breaks, or None."""
        reason = next((r for r in SPEECH_PATTERNS if PATTERNS[r].search(text)), None)
        if reason:
            return reason
        turns = parse_dialogue(text)
        findings = [] if target.exchange else self.findings(target.terms)
        reasons = conversation_reasons(turns, self.piece_rules, findings, self.conversations, self.phi)
        spoken = tokens(spoken_text(turns))
        if any(shared_run(spoken, ref, self.cfg.copy_ngram) for ref in self._reference_words):
            reasons.append("copy")
        if reasons:
            return min(reasons, key=REASONS.index)
        said = (*target.terms, *(lay for f in findings for lay in f.lay))  # the prompt's wording by design
        return "prompt_echo" if self._echoes_prompt(spoken_text(turns), replace(target, terms=said)) else None

    def conversation_reasons(self, text: str, terms: Sequence[str]) -> list[str]:
        """Every dialogue rule a whole conversation breaks (`alignment.conversation`), `terms` the planned findings
        it must raise; PHI and copies were checked piece by piece."""
        return conversation_reasons(parse_dialogue(text), self.conversation, self.findings(terms),
                                    self.conversations)  # fmt: skip

    def findings(self, terms: Sequence[str]) -> list[Finding]:
        """The planned findings of `terms`, each with its lay words from the pack's lexicon."""
        return [Finding(t, self.pack.lay_words.get(t, ())) for t in terms]
