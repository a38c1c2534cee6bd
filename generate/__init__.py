"""Engines that turn batches of generation requests into results."""

from dualalign.generate.engine import Engine
from dualalign.generate.records import GenerationRequest, GenerationResult
from dualalign.generate.registry import EngineConfig, make_engine
from dualalign.generate.sampling import SamplingConfig
from dualalign.generate.structured import generate_structured

__all__ = [
    "Engine",
    "EngineConfig",
    "GenerationRequest",
    "GenerationResult",
    "SamplingConfig",
    "generate_structured",
    "make_engine",
]
