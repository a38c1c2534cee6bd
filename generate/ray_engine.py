"""The generation stage on a Ray cluster: a pool of actors, each holding one of the project's engines.

Batches of a call go to whichever actor is free, and each batch's results come back to the driver as it
finishes, so the driver's quality gate and its append-once writer stay where they are. The actors live as long
as the engine (one model load per actor, not per call). An actor whose process dies is restarted by Ray and its
batch retried (`max_restarts`, `max_task_retries`); one that cannot come back is dropped and its batch goes to
the others. Ray Data's `map_batches` was not used: its actor pool lives for one execution of one Dataset, and the
stage makes one call per chunk and gate round, which would reload every model each time.
"""

from __future__ import annotations

import logging
import math
import socket
from collections import deque
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field, SerializeAsAny, field_validator, model_validator

from dualalign.errors import EngineError
from dualalign.generate.engine import BaseEngineConfig, Engine, ResultCallback
from dualalign.generate.records import GenerationRequest, GenerationResult

log = logging.getLogger(__name__)

INSTALL = "pip install 'dualalign[ray]'"
LOCAL_OBJECT_STORE = 512 * 2**20  # a local cluster's object store; requests and texts are small
CONNECT_TIMEOUT_S = 10.0  # ray.init retries an address that does not answer for minutes; probe it first


class RayConfig(BaseEngineConfig):
    """An actor pool on a Ray cluster; `engine` is the section of the engine each actor holds (its `model`
    defaults to this section's)."""

    kind: Literal["ray"] = "ray"
    address: str | None = Field(None, description="'host:6379', 'ray://host:10001' or 'auto'; None starts a "
                                                  "local cluster for the run")  # fmt: skip
    replicas: int = Field(1, ge=1, description="actors, each with its own engine")
    batch_size: int = Field(64, ge=1, description="requests per actor call")
    num_cpus: float = Field(1, ge=0, description="CPUs per actor (a CPU engine's threads)")
    num_gpus: float = Field(0, ge=0, description="GPUs per actor: vllm's tensor_parallel_size")
    max_restarts: int = Field(3, ge=-1, description="restarts of a dead actor (-1: no limit)")
    max_task_retries: int = Field(3, ge=-1, description="retries of a batch whose actor died")
    env_vars: dict[str, str] = Field(default_factory=dict, description="environment of each actor")
    engine: SerializeAsAny[BaseEngineConfig] = Field(default_factory=lambda: _inner({"kind": "vllm"}))

    @model_validator(mode="before")
    @classmethod
    def _share_model(cls, data: Any) -> Any:
        inner = data.get("engine", {}) if isinstance(data, dict) else None
        if isinstance(inner, dict) and "model" in data:
            if inner.get("model", data["model"]) != data["model"]:
                raise ValueError("model and engine.model differ: give the model once")
            data = {**data, "engine": {**inner, "model": data["model"]}}
        return data

    @field_validator("engine", mode="before")
    @classmethod
    def _engine(cls, value: Any) -> BaseEngineConfig:
        return _inner(value)

    @model_validator(mode="after")
    def _same_model(self) -> "RayConfig":
        self.model = self.engine.model
        return self

    def text_settings(self) -> dict:
        """Its actors' engine's: a run resumes on another cluster, or with more replicas, keeping what it has."""
        return self.engine.text_settings()


def _inner(data: Any) -> BaseEngineConfig:
    from dualalign.generate.registry import engine_config  # the registry lists this module's engine

    if isinstance(data, dict) and data.get("kind", "vllm") == "ray":
        raise ValueError("the engine a Ray actor holds cannot itself be of kind ray")
    return engine_config(data)


class EngineActor:
    """A Ray actor holding one engine, built from its config when the actor (re)starts."""

    def __init__(self, config: dict):
        from dualalign.generate.registry import engine_config, make_engine

        self.engine = make_engine(engine_config(config))

    def describe(self) -> dict:
        return self.engine.describe()

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        return self.engine.generate(requests)


class RayEngine(Engine):
    name = "ray"
    config_type = RayConfig

    def __init__(self, config: RayConfig):
        try:
            import ray
        except ImportError as err:
            raise EngineError(f"engine kind ray needs Ray: {INSTALL}") from err
        self.config = config
        self.connected_here = not ray.is_initialized()  # else: the connection this process already has
        if self.connected_here:
            _connect(config)
        self.address = config.address or "a local cluster"
        actor = ray.remote(EngineActor).options(
            num_cpus=config.num_cpus,
            num_gpus=config.num_gpus,
            max_restarts=config.max_restarts,
            max_task_retries=config.max_task_retries,
            runtime_env={"env_vars": config.env_vars} if config.env_vars else None,
        )
        inner = config.engine.model_dump(mode="json")
        self.actors = [actor.remote(inner) for _ in range(config.replicas)]
        try:
            self.loaded = ray.get([a.describe.remote() for a in self.actors])
        except ray.exceptions.RayError as err:
            self.close()
            raise EngineError(f"the Ray actors at {self.address} could not start engine {inner['kind']!r} for "
                              f"{config.model!r}: {_cause(err)}") from err  # fmt: skip
        self.capacity = config.replicas * config.batch_size
        self.hardware = self.loaded[0]["sampling_defaults"]["hardware"]  # the actors resolve each request's sampling
        log.info("%d Ray actors at %s hold %s", len(self.actors), self.address, self.loaded[0])

    def describe(self) -> dict:
        return {"kind": self.name, "address": self.config.address, "replicas": self.config.replicas,
                "engine": self.loaded[0]}  # fmt: skip

    def generate(
        self, requests: Sequence[GenerationRequest], on_result: ResultCallback | None = None
    ) -> list[GenerationResult]:
        import ray

        size = min(self.config.batch_size, math.ceil(len(requests) / max(len(self.actors), 1)) or 1)
        batches = deque(list(requests[i : i + size]) for i in range(0, len(requests), size))
        results: dict[str, GenerationResult] = {}
        idle, running, lost = list(self.actors), {}, []
        while batches or running:
            while batches and idle:
                actor, batch = idle.pop(), batches.popleft()
                running[actor.generate.remote(batch)] = (actor, batch)
            if not running:
                received = [results[r.id] for r in requests if r.id in results]
                raise EngineError(f"every Ray actor at {self.address} was lost ({'; '.join(lost) or 'earlier'}); "
                                  f"{len(received)} of {len(requests)} results were received and are kept",
                                  results=received)  # fmt: skip
            [ref], _ = ray.wait(list(running), num_returns=1)
            actor, batch = running.pop(ref)
            try:
                out = ray.get(ref)
            except ray.exceptions.RayActorError as err:  # its restarts are spent: the others take the batch
                log.warning("a Ray actor at %s was lost: %s", self.address, _cause(err))
                self.actors.remove(actor)
                lost.append(_cause(err))
                batches.appendleft(batch)
                continue
            except ray.exceptions.RayError as err:  # the engine itself gave up, or Ray lost the batch
                received = [results[r.id] for r in requests if r.id in results]
                cause = getattr(err, "cause", None)
                more = cause.results if isinstance(cause, EngineError) else []
                raise EngineError(f"a Ray actor at {self.address} failed: {_cause(err)}",
                                  results=received + more) from err  # fmt: skip
            idle.append(actor)
            for result in out:
                if result.id not in results:  # a retried batch can only repeat what is already here
                    results[result.id] = result
                    if on_result:
                        on_result(result)
        return [results[r.id] for r in requests]

    def close(self) -> None:
        try:
            import ray
        except ImportError:
            return
        for actor in getattr(self, "actors", []):
            ray.kill(actor)
        self.actors = []
        if getattr(self, "connected_here", False) and ray.is_initialized():
            ray.shutdown()


def _connect(config: RayConfig) -> None:
    """Start a local cluster (no address) or connect to one, with one clear error where none answers."""
    import ray

    if config.address is None:
        ray.init(address="local", object_store_memory=LOCAL_OBJECT_STORE, include_dashboard=False, log_to_driver=False)
        return
    if config.address != "auto":
        host, _, port = config.address.removeprefix("ray://").rpartition(":")
        try:
            socket.create_connection((host or "127.0.0.1", int(port)), timeout=CONNECT_TIMEOUT_S).close()
        except (OSError, ValueError) as err:
            raise EngineError(f"no Ray cluster answers at {config.address}: {err}; start one with "
                              "`ray start --head` and give its address (engine.address)") from err  # fmt: skip
    try:
        ray.init(address=config.address, log_to_driver=False)
    except ConnectionError as err:
        raise EngineError(f"could not connect to the Ray cluster at {config.address}: {err}") from err


def _cause(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[-1] if text else type(err).__name__
