"""Structured outputs: ask for JSON matching a pydantic model, validate every reply, retry invalid ones."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pydantic import BaseModel, ValidationError

from dualalign.errors import EngineError
from dualalign.generate.engine import Engine, ResultCallback
from dualalign.generate.records import GenerationRequest, GenerationResult

# Checks beyond the schema (an unknown label, say): return a reason to reject the reply, or None.
ReplyCheck = Callable[[GenerationRequest, BaseModel], str | None]

SEED_STRIDE = 1_000_003


def retry_seed(seed: int, attempt: int) -> int:
    """A new, deterministic seed for retry number `attempt` (1, 2, ...) of a request."""
    return (seed + attempt * SEED_STRIDE) % (2**31 - 1)


def generate_structured(
    engine: Engine,
    requests: Sequence[GenerationRequest],
    schema: type[BaseModel] | Sequence[type[BaseModel]],
    retries: int = 2,
    check: ReplyCheck | None = None,
    on_result: ResultCallback | None = None,
) -> list[GenerationResult]:
    """Generate JSON replies validated against `schema` (one model for all requests, or one per request, which
    still go out in one engine call); invalid ones are retried up to `retries` times with new seeds, then
    returned as failures whose `error` says why. Valid replies carry `parsed` (a dict).

    If the engine gives up (EngineError), the results it returned are validated, passed to `on_result` and
    carried by the re-raised EngineError.
    """
    schemas = list(schema) if isinstance(schema, Sequence) else [schema] * len(requests)
    model_of = {r.id: m for r, m in zip(requests, schemas, strict=True)}
    by_id = {r.id: r for r in requests}
    pending = [r.model_copy(update={"json_schema": model_of[r.id].model_json_schema()}) for r in requests]
    final: dict[str, GenerationResult] = {}
    for attempt in range(retries + 1):
        if not pending:
            break
        sent = {r.id: r for r in pending}
        try:
            results, failure = engine.generate(pending), None
        except EngineError as err:  # the engine gave up: keep what it returned, retry nothing
            results, failure = err.results, err
        retry: list[GenerationRequest] = []
        for result in results:
            request = sent[result.id]
            result.attempts = attempt + 1
            if result.ok:
                _validate(request, result, model_of[request.id], check)
            if result.ok or result.finish_reason == "error" or attempt == retries or failure:
                final[request.id] = result
                if on_result:
                    on_result(result)
            else:
                retry.append(request.model_copy(update={"seed": retry_seed(by_id[request.id].seed, attempt + 1)}))
        if failure:
            raise EngineError(str(failure), results=[final[r.id] for r in requests if r.id in final]) from failure
        pending = retry
    return [final[r.id] for r in requests]


def _validate(
    request: GenerationRequest, result: GenerationResult, schema: type[BaseModel], check: ReplyCheck | None
) -> None:
    """Fill `result.parsed`, or set `result.error` and `result.error_kind` to why the reply is rejected."""
    try:
        parsed = schema.model_validate_json(result.text)
    except ValidationError as err:
        first = err.errors()[0]
        if result.finish_reason == "length":
            result.error_kind = "cut_off"
            result.error = f"cut off at max_tokens={request.sampling.max_tokens}: not complete JSON"
        elif first["type"] == "json_invalid":
            result.error_kind, result.error = "invalid_json", f"invalid JSON reply: {first['msg']}"
        else:
            where = ".".join(str(p) for p in first["loc"])
            result.error_kind = "schema"
            got = f"{first.get('input')!r:.80}"
            result.error = f"reply does not match the schema at {where}: {first['msg']} (got {got})"
        return
    reason = check(request, parsed) if check else None
    if reason is None:
        result.parsed = parsed.model_dump()
    else:
        result.error_kind, result.error = "check", reason
