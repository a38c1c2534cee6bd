"""The generation stage: plans in; generations, notes and sentences (graded against the pack) out. The encounters
stage (granularity `encounters`): the accepted note sections in; conversations and encounter records out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from dualalign.alignment.config import DIALOGUE_FIRST, AlignmentConfig
from dualalign.alignment.stage import template_files
from dualalign.generate.encounters import run_encounters_stage
from dualalign.generate.engine import BaseEngineConfig, Engine
from dualalign.generate.run import run_generation_stage
from dualalign.generate.sampling import SamplingConfig
from dualalign.io import content_hash, stable_hash
from dualalign.runfolder import (
    CONVERSATION_PLANS,
    CONVERSATIONS,
    ENCOUNTERS,
    GENERATIONS,
    NOTES,
    PLANS,
    REJECTIONS,
    SENTENCES,
)  # fmt: skip
from dualalign.stage import Stage, StageResult, keyed, unkeyed
from dualalign.trajectories.pack import resolve_pack_path

DIALOGUE_FIRST_WRITES = (CONVERSATION_PLANS, CONVERSATIONS)  # the generation stage's, in dialogue-first order


@dataclass(kw_only=True)
class GenerationStage(Stage):
    """Reads the plans (which carry the rendered templates), the pack (the gate and grounding check text against its
    labels, definitions and examples) and the real texts the gate keeps generated text from copying
    (`reference_files`, read through `references` only when the stage runs; the reference conversations, which
    dialogue-style exchanges must not copy). Its key covers every rule of the gate (the conversation rules judge
    exchanges), the grounding, the retries, the sampling and the engine's settings that decide the text; how the
    work is chunked does not count, and the alignment settings that shape the plans count through the plans."""

    name: ClassVar[str] = "generate"
    reads: ClassVar[tuple[str, ...]] = (PLANS,)
    writes: ClassVar[tuple[str, ...]] = (GENERATIONS, NOTES, SENTENCES, REJECTIONS)
    figures: ClassVar[tuple[str, ...]] = ("generation",)
    own_bar: ClassVar[bool] = True
    alignment: AlignmentConfig = keyed(include={"conversation", "gate", "grounding", "retries"})  # rest: the plans
    engine_config: BaseEngineConfig = keyed(by=lambda e: e.text_settings())
    sampling: SamplingConfig
    pack: str
    reference_files: tuple[Path, ...] = ()
    references: Callable[[], Sequence[str]] = unkeyed(default=lambda: ())
    engine: Engine | None = unkeyed(default=None)  # an already loaded engine (else one is made and closed after)
    progress: bool = unkeyed(default=True)

    def files(self) -> tuple[Path, ...]:
        templates = template_files(self.alignment) if self.dialogue_first() else []  # it renders the pieces' prompts
        return (resolve_pack_path(self.pack), *self.reference_files, *self.alignment.conversation.references,
                *templates)  # fmt: skip

    def dialogue_first(self) -> bool:
        """An encounters run in dialogue-first order: this stage writes the conversations too, before the notes."""
        return self.alignment.granularity == "encounters" and self.alignment.conversation.order == DIALOGUE_FIRST

    def outputs(self) -> tuple[str, ...]:
        return (*self.writes, *DIALOGUE_FIRST_WRITES) if self.dialogue_first() else self.writes

    def text_key(self) -> str:
        """What decides the text of a plan, the plans themselves aside: generations made under another are moved
        aside when the stage runs, while a change of plans keeps the texts of the plans that stayed."""
        return stable_hash({"settings": self.settings(), "files": {str(p): content_hash(p) for p in self.files()}})

    def execute(self) -> StageResult:
        figures, manifest = run_generation_stage(
            self.alignment, self.engine_config, self.sampling, self.pack, self.run, self.text_key(), self.progress,
            self.engine, self.references(), self.seed,
        )  # fmt: skip
        return StageResult(figures={"generation": figures}, manifest=manifest)


@dataclass(kw_only=True)
class EncountersStage(GenerationStage):
    """Granularity `encounters`: each encounter's conversation, written from its accepted note sections (note to
    dialogue) in pieces through the encounter gate, then one record per encounter and variant. Reads the section
    plans and their generations; its key adds the templates to the generation's. In dialogue-first order the
    generation stage wrote the conversations (before the notes written from them): this stage writes the records."""

    name: ClassVar[str] = "encounters"
    reads: ClassVar[tuple[str, ...]] = (PLANS, GENERATIONS)
    writes: ClassVar[tuple[str, ...]] = (CONVERSATION_PLANS, CONVERSATIONS, ENCOUNTERS)
    figures: ClassVar[tuple[str, ...]] = ("encounters",)
    alignment: AlignmentConfig = keyed(include={"conversation", "gate", "grounding", "retries", "templates"})

    def files(self) -> tuple[Path, ...]:
        return tuple(dict.fromkeys((*super().files(), *template_files(self.alignment))))

    def outputs(self) -> tuple[str, ...]:
        return tuple(n for n in self.writes if n not in DIALOGUE_FIRST_WRITES) if self.dialogue_first() else self.writes

    def execute(self) -> StageResult:
        figures, loaded = run_encounters_stage(
            self.alignment, self.engine_config, self.sampling, self.pack, self.run, self.text_key(), self.seed,
            self.progress, self.engine, self.references(),
        )  # fmt: skip
        return StageResult(figures={"encounters": figures}, manifest={"engine": loaded} if loaded else {})
