"""Any OpenAI-compatible server (`vllm serve` first among them), or several: concurrent requests spread over the
healthy ones, timeouts, retries."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any, Literal

import httpx
from pydantic import Field, field_validator

from dualalign.errors import EngineError
from dualalign.generate.engine import BaseEngineConfig, Engine, ResultCallback
from dualalign.generate.records import GenerationRequest, GenerationResult

log = logging.getLogger(__name__)


class ServerUnavailable(Exception):
    """Connection errors, timeouts or 5xx replies outlasted the retries."""


class OpenAIConfig(BaseEngineConfig):
    """Servers' addresses and how hard to push each: concurrent requests, timeouts, retries with backoff."""

    kind: Literal["openai"] = "openai"
    base_url: str | list[str] = Field(description="a server's /v1 URL, e.g. http://127.0.0.1:8000/v1, or a list of "
                                                  "them (requests spread over them)")  # fmt: skip
    api_key: str = "EMPTY"
    served_model_name: str | None = Field(None, description="the model's name on the server (default: model)")
    max_concurrency: int = Field(8, ge=1, description="concurrent requests per server")
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(3, ge=0)
    backoff_s: float = Field(0.5, ge=0)

    @field_validator("base_url")
    @classmethod
    def _urls(cls, value: str | list[str]) -> str | list[str]:
        urls = [value] if isinstance(value, str) else value
        if not urls or not all(u.strip() for u in urls):
            raise ValueError("give at least one server URL, none empty")
        return value


class Servers:
    """Servers in use: each request goes to the least loaded healthy one; a server that failed is dropped."""

    def __init__(self, urls: list[str], limit: int):
        self.load = {url: 0 for url in urls}
        self.down: dict[str, str] = {}  # url -> why it was dropped
        self.limit = limit
        self.changed = asyncio.Condition()

    async def acquire(self) -> str | None:
        """A healthy server with a free slot (waiting for one), or None when every server is down."""
        async with self.changed:
            while True:
                healthy = [url for url in self.load if url not in self.down]
                if not healthy:
                    return None
                url = min(healthy, key=self.load.__getitem__)
                if self.load[url] < self.limit:
                    self.load[url] += 1
                    return url
                await self.changed.wait()

    async def release(self, url: str, failure: str | None = None) -> None:
        async with self.changed:
            self.load[url] -= 1
            if failure and url not in self.down:
                self.down[url] = failure
                log.warning("OpenAI-compatible server %s dropped: %s", url, failure)
            self.changed.notify_all()


class OpenAIEngine(Engine):
    name = "openai"
    config_type = OpenAIConfig

    def __init__(self, config: OpenAIConfig):
        self.config = config
        urls = [config.base_url] if isinstance(config.base_url, str) else config.base_url
        self.base_urls = [url.rstrip("/") for url in urls]
        self.model_name = config.served_model_name or config.model

    def generate(
        self, requests: Sequence[GenerationRequest], on_result: ResultCallback | None = None
    ) -> list[GenerationResult]:
        return asyncio.run(self._generate(list(requests), on_result))

    async def _generate(
        self, requests: list[GenerationRequest], on_result: ResultCallback | None
    ) -> list[GenerationResult]:
        results: dict[str, GenerationResult] = {}
        servers = Servers(self.base_urls, self.config.max_concurrency)
        headers = {"Authorization": f"Bearer {self.config.api_key}"}
        async with httpx.AsyncClient(headers=headers, timeout=self.config.timeout_s) as client:

            async def one(request: GenerationRequest) -> None:
                while (url := await servers.acquire()) is not None:  # a failed server's requests go to the others
                    try:
                        result = await self._request(client, request, url)
                    except ServerUnavailable as err:
                        await servers.release(url, str(err))
                        continue
                    await servers.release(url)
                    results[request.id] = result
                    if on_result:
                        on_result(result)
                    return

            await asyncio.gather(*(one(r) for r in requests))
        if servers.down.keys() == set(self.base_urls):
            received = [results[r.id] for r in requests if r.id in results]
            plural = "server at" if len(self.base_urls) == 1 else "servers at"
            raise EngineError(
                f"OpenAI-compatible {plural} {', '.join(self.base_urls)} did not answer after "
                f"{self.config.max_retries} retries: {'; '.join(servers.down.values())}; "
                f"{len(received)} of {len(requests)} results were received and are kept",
                results=received,
            )
        return [results[r.id] for r in requests]

    async def _request(self, client: httpx.AsyncClient, request: GenerationRequest, base_url: str) -> GenerationResult:
        url, body = self._endpoint(request, base_url)
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

    def _endpoint(self, request: GenerationRequest, base_url: str) -> tuple[str, dict[str, Any]]:
        sampling = request.sampling.resolve(self.hardware)
        body: dict[str, Any] = {
            "model": self.model_name,
            "max_tokens": sampling.max_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "seed": request.seed,
        }
        # vLLM's server takes these as extra fields; sent only when on, so that other servers see standard bodies
        body |= {k: v for k, v in (("top_k", sampling.top_k), ("min_p", sampling.min_p)) if v}
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
            return f"{base_url}/chat/completions", body
        body["prompt"] = request.prompt
        return f"{base_url}/completions", body

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
