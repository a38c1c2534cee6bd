"""Best-of-n generation through the quality gate.

Each plain-text plan gets `candidates` samples (own seeds) in one engine call with every other plan of the chunk;
the gate judges them and the best that passes is kept. Plans with no passing candidate go round again with new
seeds, up to `rounds` more times; what still fails is recorded as rejected, with every candidate and its reason.
A conversation piece's candidate that ends after the doctor's turn is first asked for the patient's answer
(`answered`), so that it is judged as a whole exchange.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from dualalign.alignment.config import GateConfig
from dualalign.alignment.dialogue import DOCTOR, PATIENT, Turn, parse_dialogue, render_dialogue
from dualalign.alignment.gate import Candidate, QualityGate, Target
from dualalign.alignment.plans import Plan, derived_seed
from dualalign.errors import EngineError
from dualalign.generate.engine import Engine
from dualalign.generate.records import GenerationRecord, GenerationRequest, GenerationResult, TriedCandidate
from dualalign.generate.sampling import SamplingConfig
from dualalign.messages import Message

Record = Callable[[GenerationRecord], None]


SENTENCE_END = re.compile(r"[.!?](?=\s|$)")
NOTE_MAX_TOKENS = 384  # the least a whole JSON note gets


def plan_request(plan: Plan, sampling: SamplingConfig, candidate: int = 0, attempt: int = 0) -> GenerationRequest:
    """The engine request for one candidate of one attempt at a plan, sampled by `sampling` (whole JSON notes get
    at least `NOTE_MAX_TOKENS`); each has its own id and seed (the plan's own for the first candidate of the first
    attempt)."""
    first = candidate == attempt == 0
    if plan.structured and sampling.max_tokens < NOTE_MAX_TOKENS:
        sampling = sampling.model_copy(update={"max_tokens": NOTE_MAX_TOKENS})
    return GenerationRequest(
        id=plan.id if first else f"{plan.id}#{attempt}.{candidate}",
        messages=plan.messages,
        sampling=sampling,
        stop=plan.stop,
        seed=plan.seed if first else derived_seed(plan.seed, attempt, candidate),
    )


def target_of(plan: Plan) -> Target:
    """What the gate holds a plan's text to: its label, the terms and prompt it was shown, its voice."""
    terms = tuple(m.term for m in plan.mentions) if plan.prompted else ()
    exchange = plan.style == "dialogue"  # a dialogue-style label-set item
    return Target(plan.variant, plan.labels[0], terms, plan.style == "patient-voice", plan.prompt, plan.section,
                  plan.kind == "conversation" or exchange, exchange)  # fmt: skip


def complete_text(result: GenerationResult, max_sentences: int | None = None, start: str = "",
                  max_turns: int | None = None, answer: str | None = None) -> str | None:  # fmt: skip
    """The text to judge, `start` (the reply's given start, if any) + the model's continuation: its first
    `max_sentences` sentences (all if None), and for a reply cut off at max_tokens only complete ones; None if
    there is nothing complete (an engine error, or no sentence finished; with `answer`, a conversation piece's begun
    answer such as "Patient:", no sentence finished in the answer's turn). With `max_turns` (a dialogue), its first
    `max_turns` non-blank lines instead, a line cut off at max_tokens ending at its last complete sentence (dropped
    if it has none)."""
    if not result.ok:
        return None
    text = (start + result.text).strip()
    if max_turns:
        return _complete_turns(text, result.finish_reason == "length", max_turns)
    ends = [m.end() for m in SENTENCE_END.finditer(text)]
    if result.finish_reason == "length" and (not ends or (answer and not _answer_finished(text, answer))):
        return None
    if result.finish_reason == "length" or (max_sentences and len(ends) > max_sentences):
        ends = ends[:max_sentences] if max_sentences else ends
        text = text[: ends[-1]].strip()
    return text


def _answer_finished(text: str, answer: str) -> bool:
    """Whether the text has the begun answer's turn ("\nPatient:") with a finished sentence in it."""
    _, begun, said = text.rpartition(f"\n{answer}")
    return bool(begun and SENTENCE_END.search(said))


def _complete_turns(text: str, cut_off: bool, max_turns: int) -> str | None:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if cut_off and lines:
        ends = [m.end() for m in SENTENCE_END.finditer(lines[-1])]
        lines[-1] = lines[-1][: ends[-1]] if ends else ""
    lines = [line for line in lines[:max_turns] if line]
    return "\n".join(lines) if lines else None


def answered(engine: Engine, plans: dict[str, Plan], requests: Sequence[GenerationRequest],
             results: Sequence[GenerationResult]) -> list[GenerationResult]:  # fmt: skip
    """`results`, where a conversation piece's reply (its plan has an `answer`) ended after the doctor's turn with
    no patient's: its first line, the plan's begun answer and what the model then wrote, one engine call for all."""
    by_id = {r.id: r for r in requests}
    begun, follow = {}, []  # request id -> the reply so far (after the plan's reply start); the follow-up requests
    for result in results:
        plan = plans[result.id.split("#")[0]]
        turns = parse_dialogue(plan.reply_start + result.text) if plan.answer and result.ok else []
        if not _unanswered(turns):
            continue
        doctor = turns[0].text  # where it was cut off at max_tokens, its finished sentences
        doctor = doctor[: list(SENTENCE_END.finditer(doctor))[-1].end()] if result.finish_reason == "length" else doctor
        asked = f"{render_dialogue([Turn(DOCTOR, doctor)])}{plan.answer}"
        begun[result.id] = asked.removeprefix(plan.reply_start)
        request = by_id[result.id]
        follow.append(request.model_copy(update={
            "messages": [*plan.messages[:-1], Message(role="assistant", content=asked)],
            "stop": ["\n"], "seed": derived_seed(request.seed, "answer")}))  # fmt: skip
    answers = {r.id: r for r in engine.generate(follow)} if follow else {}
    return [_with_answer(r, begun[r.id], answers[r.id]) if r.id in answers else r for r in results]


def _with_answer(result: GenerationResult, begun: str, answer: GenerationResult) -> GenerationResult:
    """The answer's result, its text the reply so far (`begun`) and the answer, its tokens both calls'."""
    tokens = result.completion_tokens + answer.completion_tokens
    return answer.model_copy(update={"text": begun + answer.text, "completion_tokens": tokens})


def _unanswered(turns: Sequence[Turn]) -> bool:
    """Whether a reply's first turn is the doctor's, finished, and no patient's turn follows it."""
    return bool(turns and turns[0].speaker == DOCTOR and SENTENCE_END.search(turns[0].text)) and all(
        t.speaker != PATIENT for t in turns)  # fmt: skip


def generate_gated(plans: Sequence[Plan], engine: Engine, gate: QualityGate, cfg: GateConfig, sampling: SamplingConfig,
                   record: Record) -> None:  # fmt: skip
    """Generate, judge and `record` every plan once (its `GenerationRecord`).

    If the engine gives up, the plans whose candidates all came back are still judged and recorded, then the
    EngineError is raised again."""
    pending = list(plans)
    tried: dict[str, list[TriedCandidate]] = {p.id: [] for p in plans}
    tokens: dict[str, int] = {p.id: 0 for p in plans}
    for attempt in range(cfg.rounds + 1):
        requests = [plan_request(p, sampling, k, attempt) for p in pending for k in range(cfg.candidates)]
        failure = None
        try:
            results = answered(engine, {p.id: p for p in pending}, requests, engine.generate(requests))
        except EngineError as err:
            results, failure = err.results, err
        by_plan: dict[str, list[GenerationResult]] = {}
        for result in results:
            by_plan.setdefault(result.id.split("#")[0], []).append(result)
        retry = []
        for plan in pending:
            got = by_plan.get(plan.id, [])
            if len(got) < cfg.candidates:
                continue  # the engine gave up before this plan's candidates came back
            tokens[plan.id] += sum(r.completion_tokens for r in got)
            texts = [complete_text(r, plan.max_sentences, plan.reply_start, plan.max_turns, plan.answer) for r in got]
            failed = [Candidate(plan.reply_start + r.text, "engine" if not r.ok else "cut_off")
                      for r, t in zip(got, texts) if t is None]
            judged = gate.judge([t for t in texts if t is not None], target_of(plan))
            tried[plan.id] += [TriedCandidate(text=c.text, reason=c.reason, score=c.score, attempt=attempt)
                               for c in [*judged, *failed]]  # fmt: skip
            chosen = gate.choose(judged, plan.variant, cfg.keep)
            if chosen:
                record(_record(plan, [c.text for c in chosen], None, tried[plan.id], attempt, tokens[plan.id]))
            elif attempt == cfg.rounds:
                reasons = sorted({c.reason for c in tried[plan.id]})
                error = f"rejected: no candidate passed the quality gate ({', '.join(reasons)})"
                engine_errors = [r.error for r in got if r.error]
                if engine_errors:
                    error += f"; the engine said: {engine_errors[0]}"
                record(_record(plan, [], error, tried[plan.id], attempt, tokens[plan.id]))
            else:
                retry.append(plan)
        if failure is not None:
            raise failure
        pending = retry
        if not pending:
            return


def _record(plan: Plan, texts: list[str], error: str | None, candidates: list[TriedCandidate], attempt: int,
            tokens: int) -> GenerationRecord:  # fmt: skip
    """A plan's generation record: `text` its best accepted text, `more` any other kept ones (`gate.keep`)."""
    return GenerationRecord(
        id=plan.id, variant=plan.variant, text=texts[0] if texts else "", more=texts[1:], error=error,
        error_kind="rejected" if error else None, candidates=candidates, attempts=attempt + 1,
        completion_tokens=tokens, seed=plan.seed,
    )  # fmt: skip
