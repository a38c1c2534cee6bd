"""Shared fixtures: public data beside the checkout, one real vLLM engine and one real server per session."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data` beside the checkout (public data sets for tests and benchmarks)."""
    path = REPO.parent / "shared" / "data"
    if not path.is_dir():
        pytest.fail(f"public test data not found at {path}: the checkout must sit beside shared/")
    return path


@pytest.fixture(scope="session")
def vllm_engine():
    """One in-process vLLM engine on the embedded model, shared by every test of the session."""
    from dualalign.config import EngineConfig
    from dualalign.generate import make_engine

    engine = make_engine(EngineConfig(kind="vllm", max_model_len=2048))
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def transformers_engine():
    from dualalign.config import EngineConfig
    from dualalign.generate import make_engine

    engine = make_engine(EngineConfig(kind="transformers", batch_size=8))
    yield engine
    engine.close()
