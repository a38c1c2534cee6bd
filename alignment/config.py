"""The `alignment:` section of the run config: which variants, what granularity, how to ground."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from dualalign.config import StrictModel

Variant = Literal["guided", "unguided", "statistical", "semantic"]
VARIANTS: tuple[Variant, ...] = ("guided", "unguided", "statistical", "semantic")
MOVED_TO_SAMPLING = {"temperature", "top_p", "max_tokens"}  # keys of this section before `sampling:` existed


class GroundingConfig(StrictModel):
    """How a sentence is checked against what it was asked to say."""

    embedding_model: str = "embedded:minilm-l6"
    threshold: float = Field(0.35, ge=-1, le=1, description="cosine to 'label: term' (or the label definition)")
    copy_threshold: float = Field(0.9, ge=-1, le=1, description="cosine to a pack example: flagged as a copy")
    duplicate_threshold: float = Field(0.95, ge=-1, le=1, description="cosine to another output: near-duplicate")


class GateConfig(StrictModel):
    """The quality gate (`alignment.gate`): what a generated text must be, and how hard to try for one."""

    candidates: int = Field(3, ge=1, le=16, description="candidates sampled per plan; the best that passes is kept")
    rounds: int = Field(2, ge=0, description="extra rounds, with new seeds, for plans whose candidates all failed")
    min_words: int = Field(6, ge=1)
    max_words: int = Field(80, ge=1)
    copy_ngram: int = Field(8, ge=3, description="a run of this many words shared with a reference text is a copy")
    echo_ngram: int = Field(6, ge=3, description="a run of this many prompt words (beyond a planned term) is an echo")
    off_label_margin: float = Field(
        -0.1, ge=-1, le=1,
        description="planned texts: rejected when (planned label's similarity - the nearest other's) is below this; "
        "slightly negative, since labels of one condition overlap (a forgetful patient worries the family too)",
    )
    novelty_weight: float = Field(0.2, ge=0, description="weight of novelty in the best-of-n score")
    keep: int = Field(
        1, ge=1, description="passing candidates kept per plan, best first, each its own sentence (at most "
        "`candidates`): 1 for notes; more where volume helps, as in a training set",
    )  # fmt: skip

    @model_validator(mode="after")
    def _keep_at_most_candidates(self) -> "GateConfig":
        if self.keep > self.candidates:
            raise ValueError(f"keep ({self.keep}) is more than the candidates sampled per plan ({self.candidates})")
        return self


NOTE_FIRST, DIALOGUE_FIRST = "note_first", "dialogue_first"


class ConversationGateConfig(StrictModel):
    """How an encounter's conversation is written (`order`) and the gate rules for it (`alignment.dialogue`)."""

    order: Literal["note_first", "dialogue_first"] = Field(
        NOTE_FIRST, description="granularity `encounters`: note_first writes the note from the plan, then the "
        "conversation from the accepted note (note to dialogue, MedSynth's order); dialogue_first writes the "
        "conversation from the plan, then the note from the accepted conversation (dialogue to note)",
    )  # fmt: skip

    min_turns: int = Field(6, ge=2, description="spoken turns, the doctor's and the patient's together")
    min_turn_words: int = Field(1, ge=1)
    max_turn_words: int = Field(250, ge=1, description="a turn longer than this is a monologue")
    copy_ngram: int = Field(
        20, ge=3, description="a run of this many words shared with a shot or a reference conversation is a copy; "
        "longer than for sentences, since conversations share stock phrases: each ACI-Bench test conversation shares "
        "a median 12 words (90th percentile 20) with the train and valid ones",
    )  # fmt: skip
    references: list[Path] = Field(
        default_factory=list, description="pair tables (CSV or Parquet with a `dialogue` column, such as ACI-Bench's "
        "train.csv) whose conversations a generated one must not copy",
    )  # fmt: skip


class AlignmentConfig(StrictModel):
    variants: list[Variant] = Field(default_factory=lambda: list(VARIANTS), min_length=1)
    granularity: Literal["sentences", "notes", "encounters"] = Field(
        "sentences", description="a plan per planned sentence, per JSON note, or per section of an encounter note "
        "(then the visit's conversation, written from the accepted note: `alignment.encounters`)",
    )
    sentences_per_mention: int = Field(1, ge=1, le=3)
    max_notes_per_patient: int | None = Field(
        None, ge=1, description="keep this many notes per patient, evenly spaced, the latest always (None: all)"
    )
    diagnosis_date: date = Field(date(2024, 1, 1), description="anchor of visit dates; patients spread over a year")
    templates: Path | None = Field(None, description="a folder whose *.j2 files override the built-in templates")
    item_sentences: int = Field(
        3, ge=1, description="a label-set item's reply is cut after this many sentences before it is judged (the "
        "built-in prompt asks for 2 or 3)",
    )  # fmt: skip
    item_turns: int = Field(
        6, ge=2, description="a dialogue-style label-set item's reply is cut after this many turns before it is judged "
        "(the built-in prompt asks for 2 to 6 lines)",
    )  # fmt: skip
    shots: int = Field(1, ge=0, description="example exchanges from the pack's examples of other labels")
    retries: int = Field(2, ge=0, description="retries of an invalid reply, each with a new seed")
    chunk_size: int = Field(64, ge=1, description="plans per engine call; a killed run redoes at most one chunk")
    grounding: GroundingConfig = Field(default_factory=GroundingConfig)
    gate: GateConfig = Field(default_factory=GateConfig)
    conversation: ConversationGateConfig = Field(default_factory=ConversationGateConfig)

    @model_validator(mode="before")
    @classmethod
    def _moved(cls, data: Any) -> Any:
        moved = sorted(MOVED_TO_SAMPLING & set(data)) if isinstance(data, dict) else []
        if moved:
            raise PydanticCustomError("moved_key", "{keys} moved to the `sampling:` section: set {new} there",
                                      {"keys": ", ".join(f"alignment.{k}" for k in moved),
                                       "new": ", ".join(f"sampling.{k}" for k in moved)})  # fmt: skip
        return data

    @model_validator(mode="after")
    def _order_needs_encounters(self) -> "AlignmentConfig":
        if self.conversation.order != NOTE_FIRST and self.granularity != "encounters":
            raise PydanticCustomError(
                "order_needs_encounters", "conversation.order '{order}' orders an encounter's note and conversation: "
                "it needs granularity 'encounters', not '{granularity}'",
                {"order": self.conversation.order, "granularity": self.granularity},
            )
        return self

    @field_validator("variants")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError(f"variants repeat: {v}")
        return v
