"""Engines that turn batches of generation requests into results."""

from dualalign.generate.engine import Engine, make_engine
from dualalign.generate.records import GenerationRequest, GenerationResult
from dualalign.generate.structured import generate_structured

__all__ = [
    "Engine",
    "GenerationRequest",
    "GenerationResult",
    "generate_structured",
    "make_engine",
]
