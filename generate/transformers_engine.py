"""Plain transformers: batched `generate` with left padding, for machines without vLLM.

JSON schemas are not enforced while decoding here; replies are validated afterwards like every engine's.
Sampling is seeded per batch (from the batch's request seeds), so a request reproduces within the same batch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Literal

from pydantic import Field

from dualalign.errors import EngineError
from dualalign.generate.engine import BaseEngineConfig, Engine, ResultCallback
from dualalign.generate.records import GenerationRequest, GenerationResult
from dualalign.hardware import resolve_dtype
from dualalign.models import resolve_model

log = logging.getLogger(__name__)


class TransformersConfig(BaseEngineConfig):
    kind: Literal["transformers"] = "transformers"
    dtype: str = "auto"
    batch_size: int = Field(16, ge=1)


class TransformersEngine(Engine):
    name = "transformers"
    config_type = TransformersConfig

    def __init__(self, config: TransformersConfig):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.config = config
        self.hardware = "cpu"  # the model is loaded on the CPU
        self.dtype = resolve_dtype(config.dtype)
        log.info("dtype %s (%s: %s)", self.dtype.resolved, config.dtype, self.dtype.reason)
        path = resolve_model(config.model)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path, padding_side="left")
            self.model = AutoModelForCausalLM.from_pretrained(path, dtype=self.dtype.resolved).eval()
        except (OSError, ValueError) as err:
            raise EngineError(f"transformers could not load model {config.model!r}: {err}") from err
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    def generate(
        self, requests: Sequence[GenerationRequest], on_result: ResultCallback | None = None
    ) -> list[GenerationResult]:
        results: dict[str, GenerationResult] = {}
        for batch in self._batches(requests):
            for result in self._run(batch):
                results[result.id] = result
                if on_result:
                    on_result(result)
        return [results[r.id] for r in requests]

    def _batches(self, requests: Sequence[GenerationRequest]) -> list[list[GenerationRequest]]:
        """Requests that sample alike, in chunks of `batch_size` (sampling settings are per batch here)."""
        groups: dict[tuple, list[GenerationRequest]] = {}
        for r in requests:
            groups.setdefault((r.sampling.resolve(self.hardware), tuple(r.stop)), []).append(r)
        size = self.config.batch_size
        return [g[i : i + size] for g in groups.values() for i in range(0, len(g), size)]

    def _render(self, request: GenerationRequest) -> str:
        if request.prompt is not None:
            return request.prompt
        messages = [m.model_dump() for m in request.messages]
        return self.tokenizer.apply_chat_template(
            messages,
            tokenize=False,
            add_generation_prompt=not request.continues,
            continue_final_message=request.continues,
        )

    def _run(self, batch: list[GenerationRequest]) -> list[GenerationResult]:
        import torch

        first = batch[0]
        drawn = first.sampling.resolve(self.hardware)
        texts = [self._render(r) for r in batch]
        inputs = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        torch.manual_seed(hash(tuple(r.seed for r in batch)) % (2**31))
        sampling = {"do_sample": True, "temperature": drawn.temperature, "top_p": drawn.top_p, "top_k": drawn.top_k,
                    "min_p": drawn.min_p or None}  # top_k 0 is off (transformers' own default would be 50)
        start = time.perf_counter()
        with torch.inference_mode():
            output = self.model.generate(
                **inputs,
                max_new_tokens=drawn.max_tokens,
                pad_token_id=self.tokenizer.pad_token_id,
                stop_strings=first.stop or None,
                tokenizer=self.tokenizer if first.stop else None,
                **(sampling if drawn.temperature > 0 else {"do_sample": False}),
            )
        latency = time.perf_counter() - start
        prompt_len = inputs["input_ids"].shape[1]
        results = []
        for i, request in enumerate(batch):
            new = output[i, prompt_len:]
            new = new[new != self.tokenizer.pad_token_id] if self.tokenizer.pad_token_id is not None else new
            text = self.tokenizer.decode(new, skip_special_tokens=True)
            stopped = any(s in text for s in request.stop)
            for s in request.stop:
                text = text.split(s)[0]
            n_new = len(new)
            results.append(
                GenerationResult(
                    id=request.id,
                    text=text,
                    prompt_tokens=int(inputs["attention_mask"][i].sum()),
                    completion_tokens=n_new,
                    finish_reason="stop" if stopped or n_new < drawn.max_tokens else "length",
                    latency_s=latency,
                    seed=request.seed,
                )
            )
        return results
