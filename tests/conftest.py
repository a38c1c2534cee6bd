"""Shared fixtures: public data beside the checkout, one real vLLM engine and one real server per session, a real
local Ray cluster."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
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


@dataclass
class RayCluster:
    address: str
    head: subprocess.Popen  # `ray start --head --block`; the cluster's processes are its descendants


@pytest.fixture(scope="session")
def ray_cluster():
    """A real Ray cluster on this machine (`ray start --head`, 2 CPUs), shared by the session's Ray tests.

    Its actors' vLLM engines keep a 1 GiB KV cache; token authentication is off (a test cluster, one machine)."""
    import psutil

    from dualalign.generate.server import free_port

    port = free_port()
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "VLLM_CPU_KVCACHE_SPACE": "1"}
    previous = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"  # this process's drivers connect to it too
    log = tempfile.NamedTemporaryFile(prefix="dualalign-ray-head-", suffix=".log", delete=False)
    head = subprocess.Popen(
        [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", f"--port={port}", "--num-cpus=2",
         "--object-store-memory=300000000", "--include-dashboard=false", "--disable-usage-stats",
         f"--ray-client-server-port={free_port()}", f"--dashboard-agent-listen-port={free_port()}", "--block"],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if head.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ray start failed:\n{Path(log.name).read_text()[-3000:]}")
            time.sleep(0.5)
    yield RayCluster(f"127.0.0.1:{port}", head)
    processes = psutil.Process(head.pid).children(recursive=True)
    head.send_signal(signal.SIGTERM)
    try:
        head.wait(10)
    except subprocess.TimeoutExpired:
        head.kill()
        head.wait()
    for process in processes:  # what the head did not stop in time (workers run in their own sessions)
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    current = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"  # where `ray.init()` looks for a cluster
    if current.exists() and current.read_text().strip().endswith(f":{port}"):
        current.unlink()
    if previous is None:
        os.environ.pop("RAY_AUTH_MODE")
    else:
        os.environ["RAY_AUTH_MODE"] = previous
