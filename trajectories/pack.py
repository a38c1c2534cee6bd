"""Condition packs: everything condition-specific, in YAML, validated by pydantic.

A *staged* pack (Alzheimer's disease) has ordered stages with durations, a lexicon of terms with stage weights
(and the everyday words a patient or relative would say for each, `lay`: what a conversation may raise it by),
note types with visit rates and risk-factor effects. A *flat* pack is only a label set: each label (a condition
or symptom category, or a note section) with a definition, its terms and a text style (a clinician's sentences, a
patient's words, or `dialogue`: a short doctor-patient exchange). Built-in packs live in `packs/*.yaml`.
"""

from __future__ import annotations

import re
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import AfterValidator, Field, ValidationError, model_validator

from dualalign.config import StrictModel, read_yaml
from dualalign.errors import ConfigError

SNAKE = r"^[a-z][a-z0-9_]*$"
SnakeId = Annotated[str, Field(pattern=SNAKE)]
# How a pack's text is written: a clinician's sentences, a patient's own words, or (flat packs only) a short
# doctor-patient exchange about the label.
Style = Literal["clinician-voice", "patient-voice", "dialogue"]


def _check_icd10cm(code: str) -> str:
    import simple_icd_10_cm as cm

    if not cm.is_valid_item(code):
        raise ValueError(f"{code!r} is not an ICD-10-CM code")
    return code


Icd10Code = Annotated[str, AfterValidator(_check_icd10cm)]


class Cited(StrictModel):
    """A figure's provenance: keys into the pack's `sources`, and/or a note saying it is an assumption."""

    cite: list[str] = Field(default_factory=list)
    assumption: str | None = None


class Duration(Cited):
    """A stage's sojourn time in years at the reference age, drawn from a gamma distribution."""

    mean: float = Field(gt=0)
    sd: float = Field(gt=0)

    @property
    def gamma_shape(self) -> float:
        return (self.mean / self.sd) ** 2


class Stage(Cited):
    id: SnakeId
    name: str
    description: str = ""
    duration_years: Duration | None = Field(None, description="null: open-ended (first or last stage only)")
    mmse: tuple[float, float] | None = Field(None, description="MMSE range [low, high]")
    cdr: list[float] | None = Field(None, description="CDR global scores that map to this stage")
    mentions_per_note: float = Field(gt=0, description="mean symptom mentions in a real note at this stage")
    label_proportions: dict[str, float] = Field(description="label -> share of mentions (normalised)")


class Label(StrictModel):
    name: str
    definition: str
    examples: list[str] = Field(default_factory=list)
    terms: list[str] = Field(default_factory=list, description="flat packs: the label's terms")
    style: Style | None = Field(None, description="text style, overriding the pack's")


class LexiconTerm(StrictModel):
    term: str = Field(min_length=1)
    label: str
    domain: str
    stage_weights: dict[str, Annotated[float, Field(ge=0)]] | str = Field(
        description="stage -> weight (missing stages weigh 0), or the name of one of the pack's weight_profiles"
    )
    frequency: float | None = Field(None, ge=0, le=1, description="annotated frequency (HPO drafts)")
    hpo_id: str | None = None
    lay: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list,
        description="short everyday phrasings a patient or relative would say for the finding (2-7 words, such as "
        "'keeps asking the same thing'): a conversation raises the finding by its term or any of these",
    )


class NoteType(Cited):
    id: SnakeId
    name: str
    visits_per_year: dict[float, Annotated[float, Field(ge=0)]] = Field(
        description="year relative to diagnosis -> visits a year from that year on (piecewise constant)"
    )

    def rate_segments(self) -> tuple[np.ndarray, np.ndarray]:
        """Breakpoints (years) and the rate from each breakpoint on; the first rate also holds before it."""
        years = np.array(sorted(self.visits_per_year), dtype=float)
        return years, np.array([self.visits_per_year[y] for y in sorted(self.visits_per_year)], dtype=float)


class RiskFactorEffect(Cited):
    progression_hr: float = Field(1.0, gt=0, description="hazard ratio of moving to the next stage")
    label_multipliers: dict[str, Annotated[float, Field(gt=0)]] = Field(default_factory=dict)


class AgeEffect(Cited):
    reference_age: float = Field(70, gt=0)
    hr_per_decade: float = Field(1.0, gt=0, description="progression hazard ratio per 10 years above the reference")


class Mentions(Cited):
    minimum: int = Field(1, ge=0, description="every note carries at least this many mentions")


class AgeDistribution(Cited):
    mean: float = Field(gt=0)
    sd: float = Field(gt=0)
    min: float = Field(gt=0)
    max: float = Field(gt=0)


class ReferencePopulation(Cited):
    """Marginals for the built-in demo profile generator (the cohort layer fits the real thing)."""

    age: AgeDistribution
    female: float = Field(ge=0, le=1)
    race_ethnicity: dict[str, Annotated[float, Field(ge=0)]]
    education_years: tuple[float, float] = Field(description="mean, sd")
    risk_factors: dict[SnakeId, Annotated[float, Field(ge=0, le=1)]]


# The sections of an encounter note, in order, where a pack gives none (`alignment.sections` parses and checks them).
NOTE_SECTIONS = ("CHIEF COMPLAINT", "HISTORY OF PRESENT ILLNESS", "REVIEW OF SYSTEMS", "PHYSICAL EXAM", "RESULTS",
                 "ASSESSMENT AND PLAN")  # fmt: skip


class Encounter(StrictModel):
    """How this condition's encounter notes are laid out: the sections in order, and where planned mentions go."""

    sections: list[str] = Field(default_factory=lambda: list(NOTE_SECTIONS), min_length=1)
    routes: dict[str, str] = Field(
        default_factory=dict,
        description="a lexicon term, label id or domain -> the section its mentions go to (a term's route wins over "
        "its label's, a label's over its domain's); unrouted symptoms go to the history of present illness",
    )
    diagnosis_code: Icd10Code | None = Field(None, description="the code the assessment states (default: the first)")


class ConditionPack(StrictModel):
    name: SnakeId
    title: str
    kind: Literal["staged", "flat"] = "staged"
    description: str = ""
    style: Style = Field("clinician-voice", description="text style: clinician-voice, patient-voice or dialogue (flat)")
    icd10cm: list[Icd10Code] = Field(default_factory=list)
    hpo_disease: str | None = None
    sources: dict[str, str] = Field(default_factory=dict, description="citation key -> reference")
    labels: dict[SnakeId, Label] = Field(min_length=1)
    domains: list[SnakeId] = Field(default_factory=list)
    stages: list[Stage] = Field(default_factory=list)
    diagnosis_stage: dict[str, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)
    diagnosis_note_type: str | None = None
    death_after_last_stage: bool = False
    age_effect: AgeEffect = Field(default_factory=AgeEffect)
    risk_factors: dict[SnakeId, RiskFactorEffect] = Field(default_factory=dict)
    note_types: list[NoteType] = Field(default_factory=list)
    mentions: Mentions = Field(default_factory=Mentions)
    weight_profiles: dict[str, dict[str, Annotated[float, Field(ge=0)]]] = Field(default_factory=dict)
    lexicon: list[LexiconTerm] = Field(default_factory=list)
    reference_population: ReferencePopulation | None = None
    encounter: Encounter = Field(default_factory=Encounter)

    @model_validator(mode="after")
    def _cross_check(self) -> ConditionPack:
        problems = self._problems()
        if problems:
            raise ValueError("\n  ".join(problems))
        return self

    def _problems(self) -> list[str]:
        p: list[str] = []
        cited = [(f"stages.{i}", s) for i, s in enumerate(self.stages)]
        cited += [(f"stages.{i}.duration_years", s.duration_years) for i, s in enumerate(self.stages)]
        cited += [(f"note_types.{i}", n) for i, n in enumerate(self.note_types)]
        cited += [(f"risk_factors.{k}", r) for k, r in self.risk_factors.items()]
        cited += [("age_effect", self.age_effect), ("mentions", self.mentions)]
        if self.reference_population:
            cited += [("reference_population", self.reference_population)]
        for where, obj in cited:
            for key in obj.cite if obj else []:
                if key not in self.sources:
                    p.append(f"{where}.cite: unknown source {key!r}")
        for rf, eff in self.risk_factors.items():
            p += [f"risk_factors.{rf}.label_multipliers: unknown label {k!r}" for k in eff.label_multipliers
                  if k not in self.labels]
        p += self._encounter_problems()
        if self.kind == "flat":
            for key in ("stages", "note_types", "lexicon", "diagnosis_stage"):
                if getattr(self, key):
                    p.append(f"{key}: a flat pack has no {key} (use kind: staged)")
            p += [f"labels.{k}.terms: a flat pack needs at least one term per label"
                  for k, lab in self.labels.items() if not lab.terms]
            return p
        if "dialogue" in (self.style, *(lab.style for lab in self.labels.values())):
            p.append("style: dialogue is for flat packs (label sets); a staged pack's notes are clinician-voice")
        p += self._staged_problems()
        return p

    def _encounter_problems(self) -> list[str]:
        enc = self.encounter
        p = [f"encounter.sections: {s!r} is not an upper-case heading" for s in enc.sections
             if not re.fullmatch(r"[A-Z][A-Z &/]*[A-Z]", s)]  # fmt: skip
        if len(set(enc.sections)) != len(enc.sections):
            p.append(f"encounter.sections: repeated sections {enc.sections}")
        keys = {*self.labels, *self.domains, *(t.term for t in self.lexicon)}
        for key, section in enc.routes.items():
            if key not in keys:
                p.append(f"encounter.routes.{key}: not a lexicon term, label or domain of this pack")
            if section not in enc.sections:
                p.append(f"encounter.routes.{key}: {section!r} is not one of encounter.sections")
        if enc.diagnosis_code and self.icd10cm and enc.diagnosis_code not in self.icd10cm:
            p.append(f"encounter.diagnosis_code: {enc.diagnosis_code} is not in icd10cm")
        return p

    def _staged_problems(self) -> list[str]:
        p: list[str] = []
        for key in ("stages", "note_types", "lexicon", "domains"):
            if not getattr(self, key):
                p.append(f"{key}: a staged pack needs {key}")
        ids = [s.id for s in self.stages]
        if len(set(ids)) != len(ids):
            p.append(f"stages: duplicate stage ids {ids}")
        for i, s in enumerate(self.stages):
            if s.duration_years is None and 0 < i < len(self.stages) - 1:
                p.append(f"stages.{i}.duration_years: only the first and last stage may be open-ended")
            if s.mentions_per_note < self.mentions.minimum:
                p.append(f"stages.{i}.mentions_per_note: below mentions.minimum ({self.mentions.minimum})")
            for lab, share in s.label_proportions.items():
                if lab not in self.labels:
                    p.append(f"stages.{i}.label_proportions.{lab}: unknown label")
                elif share < 0:
                    p.append(f"stages.{i}.label_proportions.{lab}: negative share")
            if sum(v for v in s.label_proportions.values() if v > 0) <= 0:
                p.append(f"stages.{i}.label_proportions: no positive share")
        for k in self.diagnosis_stage:
            if k not in ids:
                p.append(f"diagnosis_stage.{k}: unknown stage")
        if self.stages and sum(self.diagnosis_stage.values()) <= 0:
            p.append("diagnosis_stage: needs a positive probability for at least one stage")
        nt_ids = [n.id for n in self.note_types]
        if len(set(nt_ids)) != len(nt_ids):
            p.append(f"note_types: duplicate ids {nt_ids}")
        if self.diagnosis_note_type is not None and self.diagnosis_note_type not in nt_ids:
            p.append(f"diagnosis_note_type: unknown note type {self.diagnosis_note_type!r}")
        for name, prof in self.weight_profiles.items():
            p += [f"weight_profiles.{name}.{k}: unknown stage" for k in prof if k not in ids]
        seen: set[str] = set()
        for i, t in enumerate(self.lexicon):
            if t.label not in self.labels:
                p.append(f"lexicon.{i}.label: unknown label {t.label!r} (term {t.term!r})")
            if t.domain not in self.domains:
                p.append(f"lexicon.{i}.domain: unknown domain {t.domain!r} (term {t.term!r})")
            if isinstance(t.stage_weights, str):
                if t.stage_weights not in self.weight_profiles:
                    p.append(f"lexicon.{i}.stage_weights: unknown weight profile {t.stage_weights!r} (term {t.term!r})")
            else:
                p += [f"lexicon.{i}.stage_weights.{k}: unknown stage (term {t.term!r})" for k in t.stage_weights
                      if k not in ids]
            if t.term.lower() in seen:
                p.append(f"lexicon.{i}.term: duplicate term {t.term!r}")
            seen.add(t.term.lower())
        if p:
            return p
        weights = self.term_weights
        for i, s in enumerate(self.stages):
            for j, lab in enumerate(self.label_ids):
                if s.label_proportions.get(lab, 0) > 0 and not (weights[i][self.term_label == j] > 0).any():
                    p.append(f"stages.{i}.label_proportions.{lab}: no lexicon term has weight in stage {s.id!r}")
        return p

    # Arrays the samplers use (stage order, label order as in the file).
    @cached_property
    def label_ids(self) -> list[str]:
        return list(self.labels)

    @cached_property
    def stage_ids(self) -> list[str]:
        return [s.id for s in self.stages]

    @cached_property
    def label_proportions(self) -> np.ndarray:
        """[stage, label] shares of mentions, each row summing to 1."""
        m = np.array([[max(s.label_proportions.get(lab, 0.0), 0.0) for lab in self.label_ids] for s in self.stages])
        return m / m.sum(axis=1, keepdims=True)

    @cached_property
    def term_label(self) -> np.ndarray:
        return np.array([self.label_ids.index(t.label) for t in self.lexicon], dtype=np.int64)

    @cached_property
    def term_weights(self) -> np.ndarray:
        """[stage, term] weights (0 where a term is not used in a stage)."""
        rows = [self.weight_profiles[t.stage_weights] if isinstance(t.stage_weights, str) else t.stage_weights
                for t in self.lexicon]
        return np.array([[w.get(s, 0.0) for w in rows] for s in self.stage_ids], dtype=float).reshape(
            len(self.stages), len(self.lexicon))

    @cached_property
    def lay_words(self) -> dict[str, tuple[str, ...]]:
        """Lexicon term -> its lay words (terms without any are absent)."""
        return {t.term: tuple(t.lay) for t in self.lexicon if t.lay}

    @cached_property
    def mention_means(self) -> np.ndarray:
        return np.array([s.mentions_per_note for s in self.stages], dtype=float)

    def label_style(self, label: str) -> str:
        return self.labels[label].style or self.style


def builtin_pack_dir() -> Path:
    return Path(str(resources.files("dualalign.trajectories") / "packs"))


def list_packs() -> list[str]:
    """Names of the built-in packs."""
    return sorted(p.stem for p in builtin_pack_dir().glob("*.yaml"))


def pack_from_data(data: object, source: str) -> ConditionPack:
    """Validate pack data; every problem becomes one line of a ConfigError naming `source` and the key."""
    try:
        return ConditionPack.model_validate(data)
    except ValidationError as err:
        lines = [f"{source}: invalid condition pack"]
        for e in err.errors():
            key = ".".join(str(p) for p in e["loc"])
            if not key and e["type"] == "value_error":  # cross-checks: the message names its keys
                lines += [f"  {line.strip()}" for line in e["msg"].removeprefix("Value error, ").splitlines()]
            elif e["type"] == "extra_forbidden":
                lines.append(f"  {key}: unknown key")
            else:
                got = repr(e.get("input"))
                lines.append(f"  {key or '(top level)'}: {e['msg']} (got {got[:80] + '...' if len(got) > 80 else got})")
        raise ConfigError("\n".join(lines)) from None


def resolve_pack_path(name_or_path: str | Path) -> Path:
    """A built-in pack name, or a path to a YAML file."""
    text = str(name_or_path)
    if re.fullmatch(SNAKE, text) and not Path(text).exists():
        path = builtin_pack_dir() / f"{text}.yaml"
        if not path.is_file():
            raise ConfigError(f"unknown pack {text!r}; built-in packs: {', '.join(list_packs())}, or give a YAML path")
        return path
    return Path(text)


def load_pack(name_or_path: str | Path) -> ConditionPack:
    """Load and validate a built-in pack by name (e.g. "alzheimers") or a pack YAML file by path."""
    path = resolve_pack_path(name_or_path)
    return pack_from_data(read_yaml(path), str(path))
