"""The command line: help everywhere, user errors as one clear message with exit code 2."""

import subprocess
import sys

import pytest

CLI = [sys.executable, "-m", "dualalign.pipeline.cli"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120)


def command_paths() -> list[list[str]]:
    """Every command and sub-command of the CLI, found from the app itself."""
    import typer.main

    from dualalign.pipeline.cli import app

    def walk(group, prefix):
        for name, cmd in group.commands.items():
            yield [*prefix, name]
            if hasattr(cmd, "commands"):
                yield from walk(cmd, [*prefix, name])

    return list(walk(typer.main.get_command(app), []))


def test_every_command_has_help():
    paths = command_paths()
    assert ["serve"] in paths and ["chat"] in paths and ["models", "prepare"] in paths
    for path in paths:
        result = run(*path, "--help")
        assert result.returncode == 0, (path, result.stderr)
        assert "Usage:" in result.stdout


def test_user_error_is_one_message_without_traceback():
    result = run("chat", "hello", "--engine", "openai")
    assert result.returncode == 2
    assert "base_url: required" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_engine_name_names_the_setting():
    result = run("chat", "hello", "--engine", "llamacpp")
    assert result.returncode == 2
    assert "kind" in result.stderr and "llamacpp" in result.stderr


@pytest.mark.slow
def test_chat_through_transformers_engine():
    result = run("chat", "What is the capital of France? One word.", "--engine", "transformers", "--temperature", "0")
    assert result.returncode == 0, result.stderr
    assert "Paris" in result.stdout
