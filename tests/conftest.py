"""Shared fixtures: public data beside the checkout, one real vLLM engine and one real server per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA_ENV = "DUALALIGN_SHARED_DATA"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Public data sets for tests: `$DUALALIGN_SHARED_DATA`, else `../shared/data` beside the checkout.

    Absent, the test is skipped, except under CI (`$CI` set), where it fails so CI keeps running these tests.
    """
    path = Path(os.environ.get(SHARED_DATA_ENV) or REPO.parent / "shared" / "data")
    if not path.is_dir():
        reason = f"public test data not found at {path} (set {SHARED_DATA_ENV} to its folder)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def vllm_engine():
    """One in-process vLLM engine on the embedded model, shared by every test of the session."""
    from dualalign.generate import EngineConfig, make_engine

    engine = make_engine(EngineConfig(kind="vllm", max_model_len=2048))
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def transformers_engine():
    from dualalign.generate import EngineConfig, make_engine

    engine = make_engine(EngineConfig(kind="transformers", batch_size=8))
    yield engine
    engine.close()
