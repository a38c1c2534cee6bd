"""Sectioned encounter notes: parse plain text into ordered (section, text) pairs, render them, check them, and
route each planned fact to the section a clinician writes it in.

A heading is a line of its own (any case, an optional colon): one of the note's sections, an alias of one ("HPI",
"PHYSICAL EXAMINATION", "ASSESSMENT" and "PLAN" for "ASSESSMENT AND PLAN", ...), another common heading ("SOCIAL
HISTORY", "MEDICATIONS", ...), or any other line of two to five upper-case words. Aliases are applied unless the
note's own list names the heading; consecutive parts with one name are merged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from dualalign.errors import ConfigError
from dualalign.trajectories.pack import NOTE_SECTIONS, ConditionPack

DEFAULT_SECTIONS: tuple[str, ...] = NOTE_SECTIONS
CC, HPI, ROS, EXAM, RESULTS, PLAN = NOTE_SECTIONS
ALIASES = {
    "CC": CC, "HPI": HPI, "ROS": ROS, "REVIEW OF SYMPTOMS": ROS, "PHYSICAL EXAMINATION": EXAM, "EXAM": EXAM,
    "EXAMINATION": EXAM, "ASSESSMENT": PLAN, "PLAN": PLAN, "IMPRESSION": PLAN, "IMPRESSION AND PLAN": PLAN,
    "ASSESSMENT & PLAN": PLAN, "A/P": PLAN, "LABS": RESULTS, "PAST HISTORY": "PAST MEDICAL HISTORY",
    "MEDICAL HISTORY": "PAST MEDICAL HISTORY", "PMH": "PAST MEDICAL HISTORY",
    "SURGICAL HISTORY": "PAST SURGICAL HISTORY", "CURRENT MEDICATIONS": "MEDICATIONS", "VITALS REVIEWED": "VITALS",
    "VITAL SIGNS": "VITALS",
}  # fmt: skip
OTHER_HEADINGS = frozenset({
    "PAST MEDICAL HISTORY", "PAST SURGICAL HISTORY", "SOCIAL HISTORY", "FAMILY HISTORY", "MEDICATIONS", "ALLERGIES",
    "VITALS", "INSTRUCTIONS", "PROCEDURE", "ORDERS", "SUBJECTIVE", "OBJECTIVE",
})  # fmt: skip
UNTITLED = ""  # the name of text before the first heading
HEADING = re.compile(r"^\s*([A-Za-z][A-Za-z &/]*?)\s*:?\s*$")
CAPS_HEADING = re.compile(r"[A-Z]+(?: [A-Z&/]+){1,4}")
SCORE = re.compile(r"\b\d+(?:\.\d+)?\s*/\s*\d+\b|\b(?:score|mmse|moca|cdr)\b", re.IGNORECASE)
SECTION_PROBLEMS = ("untitled_text", "empty_section", "unknown_section", "repeated_section", "out_of_order",
                    "missing_section")  # fmt: skip


def heading(line: str, sections: Sequence[str] = DEFAULT_SECTIONS) -> str | None:
    """The section a line opens (its canonical name), or None when the line is not a heading."""
    m = HEADING.match(line)
    if not m:
        return None
    name = re.sub(r"\s+", " ", m.group(1)).upper()
    if name in sections:
        return name
    if name in ALIASES:
        return ALIASES[name]
    if name in OTHER_HEADINGS or CAPS_HEADING.fullmatch(m.group(1)):
        return name
    return None


def parse_note(text: str, sections: Sequence[str] = DEFAULT_SECTIONS) -> list[tuple[str, str]]:
    """The note as ordered (section, text) pairs; text before the first heading is under `UNTITLED`."""
    parts: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        name = heading(line, sections)
        if name is not None and not (parts and parts[-1][0] == name):
            parts.append((name, []))
        elif name is None:
            if not parts:
                parts.append((UNTITLED, []))
            parts[-1][1].append(line)
    pairs = [(name, "\n".join(lines).strip()) for name, lines in parts]
    return [(name, body) for name, body in pairs if name != UNTITLED or body]


def render_note(pairs: Sequence[tuple[str, str]]) -> str:
    """Plain text: each heading on its own line, a blank line, its text, a blank line."""
    return "\n\n".join(f"{name}\n\n{body.strip()}" if name else body.strip() for name, body in pairs) + "\n"


@dataclass(frozen=True)
class SectionProblem:
    reason: str  # one of SECTION_PROBLEMS
    section: str


def section_problems(pairs: Sequence[tuple[str, str]], sections: Sequence[str] = DEFAULT_SECTIONS,
                     required: Sequence[str] | None = None, allow_other: bool = False) -> list[SectionProblem]:
    """What is wrong with a parsed note, in the order of `SECTION_PROBLEMS`: text before the first heading, an
    empty section, a heading outside `sections` (unless `allow_other`), a section twice, a section before one that
    `sections` lists earlier, a `required` section (default: all of `sections`) missing."""
    names = [name for name, _ in pairs]
    problems = [SectionProblem("untitled_text", UNTITLED)] if UNTITLED in names else []
    problems += [SectionProblem("empty_section", name) for name, body in pairs if name and not body]
    if not allow_other:
        problems += [SectionProblem("unknown_section", n) for n in names if n and n not in sections]
    listed = [n for n in names if n in sections]
    problems += [SectionProblem("repeated_section", n) for i, n in enumerate(listed) if n in listed[:i]]
    rank = [sections.index(n) for n in listed]
    problems += [SectionProblem("out_of_order", n) for i, n in enumerate(listed) if i and rank[i] < max(rank[:i])]
    problems += [SectionProblem("missing_section", n) for n in (sections if required is None else required)
                 if n not in names]  # fmt: skip
    return problems


class Mention(Protocol):
    """What routing reads of a planned mention (`alignment.plans.PlannedMention`)."""

    label: str
    term: str
    domain: str | None


# Where a profile fact is written: the first of these sections that the note has.
FACT_SECTIONS = {
    "age": (HPI, CC), "sex": (HPI, CC),
    "comorbidities": ("PAST MEDICAL HISTORY", HPI), "medications": ("MEDICATIONS", HPI, PLAN),
    "test_score": (RESULTS, EXAM, HPI), "diagnosis": (PLAN, "ASSESSMENT"),  # the stage is part of the diagnosis
}  # fmt: skip


class SectionRouter:
    """Routes planned mentions and profile facts to a pack's note sections (`pack.encounter`)."""

    def __init__(self, pack: ConditionPack):
        self.pack = pack
        self.sections = tuple(pack.encounter.sections)
        self.routes = pack.encounter.routes

    def mention(self, mention: Mention) -> str:
        """A mention's section: the pack's route for its term, else its label, else its domain; else a test score
        goes to the results, any other reported finding to the history of present illness."""
        for key in (mention.term, mention.label, mention.domain):
            if key in self.routes:
                return self.routes[key]
        return self.fact("test_score") if SCORE.search(mention.term) else self._first(f"the symptom {mention.term!r}",
                                                                                       (HPI, ROS, CC))

    def fact(self, kind: str) -> str:
        """The section of a profile or visit fact: one of `FACT_SECTIONS`."""
        return self._first(kind, FACT_SECTIONS[kind])

    def _first(self, what: str, candidates: Sequence[str]) -> str:
        for section in candidates:
            if section in self.sections:
                return section
        raise ConfigError(f"pack {self.pack.name!r}: encounter.sections {list(self.sections)} has no section for "
                          f"{what} (one of {list(candidates)})")  # fmt: skip

    def diagnosis(self, stage: str | None = None) -> str:
        """The assessment's diagnosis line: the condition, the stage's name, the pack's ICD-10-CM code."""
        code = self.pack.encounter.diagnosis_code or (self.pack.icd10cm[0] if self.pack.icd10cm else None)
        names = {s.id: s.name for s in self.pack.stages}
        text = self.pack.title + (f", {names[stage].lower()}" if stage in names else "")
        return f"{text} (ICD-10-CM {code})" if code else text
