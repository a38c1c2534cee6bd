"""The embedded model is prepared into the cache once, safely under concurrent first use, then reused."""

import subprocess
import sys
from pathlib import Path

import pytest

from dualalign.errors import DualAlignError
from dualalign.models import COMPLETE_MARKER, embedded_source, resolve_model

PREPARE = "from dualalign.models import resolve_model; print(resolve_model('embedded:smollm2-135m-instruct'))"


@pytest.mark.slow
def test_concurrent_first_use_builds_once_then_reuses(tmp_path):
    env = {**__import__("os").environ, "DUALALIGN_CACHE": str(tmp_path)}
    procs = [
        subprocess.Popen([sys.executable, "-c", PREPARE], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        for _ in range(2)
    ]
    paths = {p.communicate(timeout=600)[0].decode().strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    assert len(paths) == 1
    folder = Path(paths.pop())
    assert folder.parent == tmp_path / "models"
    assert (folder / COMPLETE_MARKER).exists()
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in folder.iterdir()}
    # only the finished folder (and its lock) remain: no half-built copies from the losing process
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == sorted([folder.name, f".{folder.name}.lock"])
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    again = subprocess.run([sys.executable, "-c", PREPARE], env=env, capture_output=True, text=True, timeout=120)
    assert again.stdout.strip() == str(folder)
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp


def test_embedded_sentence_encoder_is_used_in_place():
    path = Path(resolve_model("embedded:minilm-l6"))
    assert path == embedded_source("minilm-l6")
    assert (path / "config.json").exists()


def test_bad_references_fail_clearly(tmp_path):
    with pytest.raises(DualAlignError, match="unknown embedded model 'gpt-9'.*embedded:smollm2-135m-instruct"):
        resolve_model("embedded:gpt-9")
    with pytest.raises(DualAlignError, match="does not exist"):
        resolve_model(str(tmp_path / "no-such-model"))
    assert resolve_model("meta-llama/Llama-3.1-8B-Instruct") == "meta-llama/Llama-3.1-8B-Instruct"
    assert resolve_model(str(tmp_path)) == str(tmp_path.resolve())


GEMMA_ANSWERS = """
from dualalign.generate import EngineConfig, GenerationRequest, SamplingConfig, make_engine
from dualalign.models import resolve_model

print(resolve_model("embedded:gemma3-270m"))
request = GenerationRequest(id="c", messages=[{"role": "user", "content": "What is the capital of France?"},
                                              {"role": "assistant", "content": "The capital of France is"}],
                            sampling=SamplingConfig(temperature=0, max_tokens=8))
with make_engine(EngineConfig(kind="vllm", model="embedded:gemma3-270m", max_model_len=512)) as engine:
    print(engine.generate([request])[0].text)
"""


@pytest.mark.slow
def test_second_embedded_model_prepares_and_answers_through_vllm():
    """Gemma 3 270M (a base model, chunked GGUF) is assembled, converted, given the transcript prompt format, and
    served by vLLM (in a child process: this test session already holds an in-process engine)."""
    done = subprocess.run([sys.executable, "-c", GEMMA_ANSWERS], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    folder, reply = done.stdout.strip().split("\n", 1)
    assert (Path(folder) / COMPLETE_MARKER).exists()
    assert not (Path(folder) / "gguf").exists()  # the assembled GGUF is not kept beside the checkpoint
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert "### Request:" in tokenizer.chat_template
    assert "Paris" in reply
