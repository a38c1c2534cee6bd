"""Doctor-patient conversations: parse `Doctor:` / `Patient:` turns (and ACI-Bench's `[doctor]` / `[patient]` tags),
render them, and the gate rules for a conversation, each a pure function returning a named reason or None.

Rules, in the order `conversation_reasons` lists them: `narrator_line` (a line without a speaker, a narrator's
line, or a stage direction such as "(laughs)" or "*examines the knee*"), `patient_third_person` (the patient
speaks of "the patient", as a note does: none of ACI-Bench's 1,807 train patient turns does), `missing_speaker`
(the doctor or the patient never speaks), `third_speaker` (anyone else, unless the plan has a companion: then one
other speaker), `not_alternating` (one speaker twice in a row), `too_few_turns`, `turn_too_short`, `turn_too_long`,
`finding_not_raised` (a planned finding whose term or lay words appear in no turn), `copy` (a run of `copy_ngram`
words shared with a shot or a reference text), `phi` (`alignment.phi`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from dualalign.alignment.config import ConversationGateConfig
from dualalign.alignment.gate import shared_run
from dualalign.alignment.grounding import term_in_text, tokens
from dualalign.alignment.phi import PhiDetector

DOCTOR, PATIENT, COMPANION = "Doctor", "Patient", "Companion"
NARRATOR = ""  # the speaker of a line without one
TAGS = {"doctor": DOCTOR, "patient": PATIENT, "patient_guest": COMPANION}  # ACI-Bench's speaker tags
NARRATOR_NAMES = {"narrator", "note", "scene", "setting", "description", "action", "stage directions"}
SPEAKER_LINE = re.compile(
    r"^\s*(?:\[(?P<tag>[a-z_ ]{1,30})\]|\**(?P<name>[A-Z][A-Za-z]*(?: [A-Za-z]+){0,2})\**\s*:\**)\s*(?P<text>.*)$"
)
INLINE_TURN = re.compile(r"(?<=[.!?\"”])\s+(?=(?:Doctor|Patient):\s)")  # a second turn begun on the same line
QUOTED = re.compile(r'^"([^"]*)"$')  # a turn written in quotes: `Doctor: "How are you?"`
STAGE_DIRECTION = re.compile(r"\*[^*\n]{1,80}\*|\((?:[a-z]+[ ,]*){1,8}\)|^\s*\[[^\]]*\]\s*$")
THE_PATIENT = re.compile(r"\bthe patient\b", re.IGNORECASE)
REASONS = ("narrator_line", "patient_third_person", "missing_speaker", "third_speaker", "not_alternating",
           "too_few_turns", "turn_too_short", "turn_too_long", "finding_not_raised", "copy", "phi")  # fmt: skip


@dataclass(frozen=True)
class Turn:
    speaker: str  # DOCTOR, PATIENT, another speaker's name, or NARRATOR
    text: str

    def words(self) -> int:
        return len(tokens(self.text))


@dataclass(frozen=True)
class Finding:
    """A planned finding the conversation must raise: its term, or any of its lay words."""

    term: str
    lay: tuple[str, ...] = ()

    def raised_in(self, text: str) -> bool:
        return any(term_in_text(t, text) for t in (self.term, *self.lay))


def parse_dialogue(text: str) -> list[Turn]:
    """One turn per non-blank line: `Doctor: ...`, `[doctor] ...` (ACI-Bench), another named speaker, or a line
    without a speaker (a `NARRATOR` turn). A `Doctor:` or `Patient:` after a sentence's end begins a turn of its own
    (`Doctor: "How are you?" Patient: "Fine."`); a turn's enclosing quotes, and its speaker's name said again
    (`Patient: Patient: ...`), are dropped."""
    turns = []
    for line in (part for line in text.splitlines() for part in INLINE_TURN.split(line)):
        if not line.strip():
            continue
        m = SPEAKER_LINE.match(line)
        if m is None:
            turns.append(Turn(NARRATOR, line.strip()))
        elif m.group("tag"):
            tag = m.group("tag").strip()
            turns.append(Turn(TAGS.get(tag, tag.replace("_", " ").title()), _unquoted(m.group("text"))))
        else:
            name = m.group("name").strip()
            speaker = NARRATOR if name.lower() in NARRATOR_NAMES else name.title()
            turns.append(Turn(speaker, _unquoted(m.group("text").removeprefix(f"{speaker}:"))))
    return turns


def _unquoted(text: str) -> str:
    m = QUOTED.match(text.strip())
    return m.group(1).strip() if m else text.strip()


def render_dialogue(turns: Sequence[Turn]) -> str:
    """`Speaker: text` lines (a narrator's line as its bare text)."""
    return "\n".join(f"{t.speaker}: {t.text}" if t.speaker else t.text for t in turns) + "\n"


def spoken_text(turns: Sequence[Turn]) -> str:
    """What the speakers say, one turn a line, without their names."""
    return "\n".join(t.text for t in turns if t.speaker)


# --- the rules -------------------------------------------------------------------------------------------------
def narrator_reason(turns: Sequence[Turn]) -> str | None:
    bad = any(not t.speaker or STAGE_DIRECTION.search(t.text) for t in turns)
    return "narrator_line" if bad else None


def voice_reason(turns: Sequence[Turn]) -> str | None:
    bad = any(t.speaker == PATIENT and THE_PATIENT.search(t.text) for t in turns)
    return "patient_third_person" if bad else None


def speaker_reason(turns: Sequence[Turn], companion: bool = False) -> str | None:
    speakers = {t.speaker for t in turns if t.speaker}
    if not {DOCTOR, PATIENT} <= speakers:
        return "missing_speaker"
    return "third_speaker" if len(speakers - {DOCTOR, PATIENT}) > int(companion) else None


def alternation_reason(turns: Sequence[Turn]) -> str | None:
    spoken = [t.speaker for t in turns if t.speaker]
    return "not_alternating" if any(a == b for a, b in zip(spoken, spoken[1:])) else None


def length_reason(turns: Sequence[Turn], cfg: ConversationGateConfig) -> str | None:
    spoken = [t.words() for t in turns if t.speaker]
    if len(spoken) < cfg.min_turns:
        return "too_few_turns"
    if min(spoken) < cfg.min_turn_words:
        return "turn_too_short"
    return "turn_too_long" if max(spoken) > cfg.max_turn_words else None


def findings_reason(turns: Sequence[Turn], findings: Sequence[Finding]) -> str | None:
    text = spoken_text(turns)
    return "finding_not_raised" if any(not f.raised_in(text) for f in findings) else None


def copy_reason(turns: Sequence[Turn], references: Sequence[str], n: int) -> str | None:
    words = tokens(spoken_text(turns))
    return "copy" if any(shared_run(words, tokens(ref), n) for ref in references) else None


def phi_reason(turns: Sequence[Turn], detector: PhiDetector) -> str | None:
    return "phi" if any(detector.contains(t.text) for t in turns if t.text) else None


def conversation_reasons(turns: Sequence[Turn], cfg: ConversationGateConfig, findings: Sequence[Finding] = (),
                         references: Sequence[str] = (), phi: PhiDetector | None = None,
                         companion: bool = False) -> list[str]:
    """Every rule the conversation breaks, in the order of `REASONS` (the first names a rejection); the PHI rule
    runs when a detector is given (it is the slow one)."""
    reasons = [
        narrator_reason(turns), voice_reason(turns), speaker_reason(turns, companion), alternation_reason(turns),
        length_reason(turns, cfg), findings_reason(turns, findings), copy_reason(turns, references, cfg.copy_ngram),
        phi_reason(turns, phi) if phi is not None else None,
    ]  # fmt: skip
    return [r for r in reasons if r is not None]
