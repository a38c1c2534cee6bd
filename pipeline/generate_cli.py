"""`dualalign models ...`, `dualalign serve` and `dualalign chat`."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from dualalign.generate.registry import ENGINES
from dualalign.models import EMBEDDED, prepared_dir, resolve_model

console = Console()
models_app = typer.Typer(help="List and prepare models.", no_args_is_help=True)


@models_app.command("list")
def list_models() -> None:
    """List the embedded models and where each is prepared."""
    table = Table("reference", "description", "prepared at")
    for name, model in EMBEDDED.items():
        where = str(prepared_dir(name)) if model.kind == "gguf-causal-lm" else "(used in place)"
        table.add_row(f"embedded:{name}", model.description, where)
    console.print(table)


@models_app.command("prepare")
def prepare(model: str = typer.Argument("embedded:smollm2-135m-instruct", help="Model reference.")) -> None:
    """Prepare a model reference now (embedded models are built into the cache once) and print its path."""
    print(resolve_model(model))


def serve(
    model: str = typer.Option("embedded:smollm2-135m-instruct", help="HF id, local path or embedded:<name>."),
    port: int = typer.Option(8000, help="Port on 127.0.0.1 (0 picks a free one)."),
    max_model_len: int = typer.Option(2048, help="Longest prompt + reply in tokens."),
    timeout: float = typer.Option(600, help="Seconds to wait for the server to answer."),
) -> None:
    """Start vLLM's OpenAI-compatible server for a model on 127.0.0.1; Ctrl-C stops it."""
    from dualalign.generate.server import VLLMServer

    # SIGINT stops it even where it was started with SIGINT ignored (a shell's background job, `nohup`)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    server = VLLMServer(model, port=port or None, max_model_len=max_model_len)
    try:  # from the start on: a Ctrl-C that lands while it starts or prints still stops the server
        with console.status(f"starting vLLM for {model} (log: see --verbose) ..."):
            server.start(timeout_s=timeout)
        console.print(f"[green]serving[/] {model} at [bold]{server.base_url}[/]  (model name: {model!r}); "
                      "Ctrl-C stops")  # fmt: skip
        server.wait()
    except KeyboardInterrupt:
        console.print("stopping ...")
    finally:
        server.stop()


def chat(
    prompt: str = typer.Argument(..., help="The user message."),
    engine: str = typer.Option("vllm", help=f"Engine kind: {', '.join(ENGINES)}."),
    model: str = typer.Option("embedded:smollm2-135m-instruct", help="HF id, local path or embedded:<name>."),
    base_url: str = typer.Option(None, help="For --engine openai: the server's /v1 URL."),
    max_tokens: int = typer.Option(128),
    temperature: float = typer.Option(0.7),
    seed: int = typer.Option(0),
    schema: Path = typer.Option(None, help="A JSON schema file the reply must follow."),
) -> None:
    """Send one chat message through an engine and print the reply (a quick check of a set-up)."""
    from dualalign.config import validate_model
    from dualalign.generate.records import GenerationRequest
    from dualalign.generate.registry import EngineConfig, make_engine
    from dualalign.generate.sampling import SamplingConfig

    given = {"kind": engine, "model": model, "base_url": base_url}
    config = validate_model(EngineConfig, {k: v for k, v in given.items() if v is not None}, "command line")
    request = GenerationRequest(
        id="chat",
        messages=[{"role": "user", "content": prompt}],
        sampling=SamplingConfig(max_tokens=max_tokens, temperature=temperature),
        seed=seed,
        json_schema=json.loads(schema.read_text()) if schema else None,
    )
    with make_engine(config) as eng:
        result = eng.generate([request])[0]
    if result.error:
        console.print(f"[red]failed:[/] {result.error}")
        raise typer.Exit(1)
    print(result.text)
    console.print(
        f"[dim]{result.prompt_tokens} prompt + {result.completion_tokens} completion tokens, "
        f"{result.finish_reason}, {result.latency_s:.2f} s[/]"
    )


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(chat)
