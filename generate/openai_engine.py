"""Any OpenAI-compatible server (`vllm serve` first among them): concurrent requests, timeouts, retries."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any, Literal

import httpx
from pydantic import Field

from dualalign.errors import EngineError
from dualalign.generate.engine import BaseEngineConfig, Engine, ResultCallback
from dualalign.generate.records import GenerationRequest, GenerationResult

log = logging.getLogger(__name__)


class ServerUnavailable(Exception):
    """Connection errors, timeouts or 5xx replies outlasted the retries."""


class OpenAIConfig(BaseEngineConfig):
    """A server's address and how hard to push it: concurrent requests, timeouts, retries with backoff."""

    kind: Literal["openai"] = "openai"
    base_url: str = Field(min_length=1, description="the server's /v1 URL, e.g. http://127.0.0.1:8000/v1")
    api_key: str = "EMPTY"
    served_model_name: str | None = Field(None, description="the model's name on the server (default: model)")
    max_concurrency: int = Field(8, ge=1)
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(3, ge=0)
    backoff_s: float = Field(0.5, ge=0)


class OpenAIEngine(Engine):
    name = "openai"
    config_type = OpenAIConfig

    def __init__(self, config: OpenAIConfig):
        self.config = config
        self.base_url = config.base_url.rstrip("/")
        self.model_name = config.served_model_name or config.model

    def generate(
        self, requests: Sequence[GenerationRequest], on_result: ResultCallback | None = None
    ) -> list[GenerationResult]:
        return asyncio.run(self._generate(list(requests), on_result))

    async def _generate(
        self, requests: list[GenerationRequest], on_result: ResultCallback | None
    ) -> list[GenerationResult]:
        results: dict[str, GenerationResult] = {}
        failure: list[ServerUnavailable] = []
        limit = asyncio.Semaphore(self.config.max_concurrency)
        headers = {"Authorization": f"Bearer {self.config.api_key}"}
        async with httpx.AsyncClient(headers=headers, timeout=self.config.timeout_s) as client:

            async def one(request: GenerationRequest) -> None:
                async with limit:
                    if failure:  # the server is gone: do not queue more work behind it
                        return
                    try:
                        result = await self._request(client, request)
                    except ServerUnavailable as err:
                        failure.append(err)
                        return
                results[request.id] = result
                if on_result:
                    on_result(result)

            await asyncio.gather(*(one(r) for r in requests))
        if failure:
            received = [results[r.id] for r in requests if r.id in results]
            raise EngineError(
                f"OpenAI-compatible server at {self.base_url} did not answer after "
                f"{self.config.max_retries} retries: {failure[0]}; "
                f"{len(received)} of {len(requests)} results were received and are kept",
                results=received,
            )
        return [results[r.id] for r in requests]

    async def _request(self, client: httpx.AsyncClient, request: GenerationRequest) -> GenerationResult:
        url, body = self._endpoint(request)
        start = time.perf_counter()
        last_error = ""
        for attempt in range(self.config.max_retries + 1):
            if attempt:
                await asyncio.sleep(self.config.backoff_s * 2 ** (attempt - 1))
            try:
                response = await client.post(url, json=body)
            except httpx.TransportError as err:  # connection refused, timeouts, broken connections
                last_error = f"{type(err).__name__}: {err}".rstrip(": ")
                log.info("request %s to %s failed (%s), attempt %d", request.id, url, last_error, attempt + 1)
                continue
            if response.status_code >= 500 or response.status_code == 429:
                last_error = f"HTTP {response.status_code}: {response.text[:200]}"
                log.info("request %s to %s got %s, attempt %d", request.id, url, last_error, attempt + 1)
                continue
            latency = time.perf_counter() - start
            if response.status_code >= 400:  # the request itself is wrong: retrying will not help
                return _failed(request, latency, f"HTTP {response.status_code} from {url}: {response.text[:500]}")
            try:
                return self._parse(request, response.json(), latency)
            except (ValueError, KeyError, IndexError, TypeError) as err:
                return _failed(request, latency, f"malformed reply from {url}: {err!r}: {response.text[:200]}")
        raise ServerUnavailable(f"{url}: {last_error}")

    def _endpoint(self, request: GenerationRequest) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {
            "model": self.model_name,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "seed": request.seed,
        }
        if request.stop:
            body["stop"] = request.stop
        if request.json_schema:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "reply", "schema": request.json_schema},
            }
        if request.messages is not None:
            body["messages"] = [m.model_dump() for m in request.messages]
            if request.continues:  # vLLM's server: continue the final assistant message
                body |= {"add_generation_prompt": False, "continue_final_message": True}
            return f"{self.base_url}/chat/completions", body
        body["prompt"] = request.prompt
        return f"{self.base_url}/completions", body

    @staticmethod
    def _parse(request: GenerationRequest, payload: dict, latency: float) -> GenerationResult:
        choice = payload["choices"][0]
        text = choice["message"]["content"] if "message" in choice else choice["text"]
        usage = payload.get("usage") or {}
        return GenerationResult(
            id=request.id,
            text=text or "",
            prompt_tokens=usage.get("prompt_tokens", 0),
            completion_tokens=usage.get("completion_tokens", 0),
            finish_reason=choice.get("finish_reason"),
            latency_s=latency,
            seed=request.seed,
        )


def _failed(request: GenerationRequest, latency: float, error: str) -> GenerationResult:
    return GenerationResult(id=request.id, seed=request.seed, latency_s=latency, finish_reason="error", error=error)
