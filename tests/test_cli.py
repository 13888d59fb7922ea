"""Tests of the command line (``ellmer_py._cli``): ``python -m ellmer_py "prompt"``.

A few tests run the real ``python -m ellmer_py`` in a subprocess; the rest
call ``main([...])`` in the test process, which is much faster.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ellmer_py._cli import main
from ellmer_py._registry import reload_plugins
from ellmer_py.conformance.fake_server import FakeServer, RecordedRequest, Reply, sse_data

KEY = "hf_cli_key_0123456789"


def streamed(*pieces: str) -> Reply:
    """An SSE answer sending ``pieces`` as content deltas."""
    events = [
        sse_data({"choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]})
        for p in pieces
    ]
    events.append(sse_data({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    events.append(sse_data("[DONE]"))
    return Reply.sse(events)


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server
    assert not server.errors, server.errors


@pytest.fixture
def empty_home(tmp_path: Path) -> Path:
    """An HF_HOME with no token file in it."""
    home = tmp_path / "hf-home"
    home.mkdir()
    return home


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, empty_home: Path) -> Iterator[None]:
    """The in-process CLI sees no ambient key, a one-try transport and all plugins."""
    for name in (
        "HUGGINGFACE_API_KEY",
        "HF_TOKEN",
        "ELLMER_ECHO",
        "ELLMER_PY_PLUGINS",
        "XDG_CACHE_HOME",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(empty_home))
    monkeypatch.setenv("ELLMER_MAX_TRIES", "1")
    reload_plugins()
    yield
    reload_plugins()


def subprocess_env(empty_home: Path, **extra: str) -> dict[str, str]:
    """The environment for ``python -m ellmer_py``: no ambient key or settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HUGGINGFACE_API_KEY", "HF_TOKEN", "XDG_CACHE_HOME")
        and not k.startswith("ELLMER")
    }
    env.update(
        HF_HOME=str(empty_home),
        ELLMER_MAX_TRIES="1",
        ELLMER_TIMEOUT_S="10",
        PYTHONIOENCODING="utf-8",
    )
    env.update(extra)
    return env


def run(
    args: list[str], env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m ellmer_py`` with ``args``."""
    return subprocess.run(
        [sys.executable, "-m", "ellmer_py", *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def body(request: RecordedRequest) -> dict[str, Any]:
    """A recorded request's JSON body."""
    doc = request.json
    assert isinstance(doc, dict)
    return doc


# --- the real command, in a subprocess -----------------------------------------------------


def test_module_streams_the_answer(srv: FakeServer, empty_home: Path) -> None:
    srv.enqueue(
        streamed("Why did the statistician ", "cross the road? ", "To get a bigger sample.")
    )
    result = run(
        ["Tell me three jokes about statisticians", "--base-url", srv.base_url],
        subprocess_env(empty_home, HUGGINGFACE_API_KEY=KEY),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Why did the statistician cross the road? To get a bigger sample.\n"
    assert result.stderr == ""
    request = srv.requests[0]
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert body(request) == {
        "model": "meta-llama/Llama-3.1-8B-Instruct",
        "messages": [{"role": "user", "content": "Tell me three jokes about statisticians"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_module_reads_the_prompt_from_stdin_with_options(srv: FakeServer, empty_home: Path) -> None:
    srv.enqueue(streamed("Arr."))
    result = run(
        [
            "--provider",
            "huggingface/org/model",
            "--system-prompt",
            "Talk like a pirate.",
            "--base-url",
            srv.base_url,
        ],
        subprocess_env(empty_home, HF_TOKEN=KEY),
        stdin="Say hello.\n",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Arr.\n"
    assert body(srv.requests[0])["model"] == "org/model"
    assert body(srv.requests[0])["messages"] == [
        {"role": "system", "content": "Talk like a pirate."},
        {"role": "user", "content": "Say hello."},
    ]
    assert srv.requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_module_without_a_key_prints_one_line(srv: FakeServer, empty_home: Path) -> None:
    result = run(["Hello", "--base-url", srv.base_url], subprocess_env(empty_home))
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "HUGGINGFACE_API_KEY" in lines[0]
    assert "HF_TOKEN" in lines[0]
    assert lines[0].startswith("ellmer-py: ")
    assert "Traceback" not in result.stderr
    assert srv.requests == []


def test_module_server_error_is_one_line(srv: FakeServer, empty_home: Path) -> None:
    srv.enqueue(Reply.json({"error": "Invalid credentials in Authorization header"}, status=401))
    result = run(
        ["Hello", "--base-url", srv.base_url], subprocess_env(empty_home, HUGGINGFACE_API_KEY=KEY)
    )
    assert result.returncode == 1
    assert result.stderr == (
        "ellmer-py: HuggingFace: HTTP 401: Invalid credentials in Authorization header. "
        "Check the credential (environment variable or `credentials=`).\n"
    )
    assert KEY not in result.stderr + result.stdout


# --- main() in the test process ------------------------------------------------------------


def test_main_streams_to_stdout(
    srv: FakeServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUGGINGFACE_API_KEY", KEY)
    srv.enqueue(streamed("one ", "two"))
    assert main(["count", "--base-url", srv.base_url]) == 0
    out = capsys.readouterr()
    assert out.out == "one two\n"
    assert out.err == ""
    assert body(srv.requests[0])["stream"] is True


@pytest.mark.parametrize(
    ("args", "model"),
    [
        (["-m", "org/a"], "org/a"),
        (["--model", "org/b"], "org/b"),
        (["-p", "huggingface/org/c"], "org/c"),
        (["--provider", "huggingface", "--model", "org/d"], "org/d"),
        ([], "meta-llama/Llama-3.1-8B-Instruct"),
    ],
)
def test_main_model_options(
    srv: FakeServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    model: str,
) -> None:
    monkeypatch.setenv("HUGGINGFACE_API_KEY", KEY)
    srv.enqueue(streamed("ok"))
    assert main(["hi", "--base-url", srv.base_url, *args]) == 0
    assert body(srv.requests[0])["model"] == model
    assert capsys.readouterr().out == "ok\n"


def test_main_system_prompt(srv: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUGGINGFACE_API_KEY", KEY)
    srv.enqueue(streamed("ok"))
    assert main(["hi", "-s", "Be brief.", "--base-url", srv.base_url]) == 0
    assert body(srv.requests[0])["messages"][0] == {"role": "system", "content": "Be brief."}


def test_main_echo_all_shows_the_prompt(
    srv: FakeServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HUGGINGFACE_API_KEY", KEY)
    srv.enqueue(streamed("answer"))
    assert main(["question", "--echo", "all", "--base-url", srv.base_url]) == 0
    assert capsys.readouterr().out == "> question\nanswer\n"


@pytest.mark.parametrize("args", [[], ["-"]])
def test_main_reads_stdin(
    srv: FakeServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
) -> None:
    monkeypatch.setenv("HUGGINGFACE_API_KEY", KEY)
    monkeypatch.setattr(sys, "stdin", io.StringIO("line one\nline two\n"))
    srv.enqueue(streamed("ok"))
    assert main([*args, "--base-url", srv.base_url]) == 0
    assert body(srv.requests[0])["messages"] == [{"role": "user", "content": "line one\nline two"}]
    assert capsys.readouterr().out == "ok\n"


def test_main_openai_compatible_provider(srv: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-local")
    srv.enqueue(streamed("ok"))
    assert main(["hi", "-p", "openai_compatible/local-model", "--base-url", srv.base_url]) == 0
    assert body(srv.requests[0])["model"] == "local-model"
    assert srv.requests[0].headers["authorization"] == "Bearer sk-local"


def test_main_without_a_key(
    srv: FakeServer, capsys: pytest.CaptureFixture[str], empty_home: Path
) -> None:
    assert main(["hi", "--base-url", srv.base_url]) == 1
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.count("\n") == 1
    assert out.err.startswith("ellmer-py: No HuggingFace credentials found: ")
    assert "HUGGINGFACE_API_KEY" in out.err
    assert "HF_TOKEN" in out.err
    assert str(empty_home / "token") in out.err
    assert srv.requests == []


def test_main_unknown_provider(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hi", "-p", "nope/model"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("ellmer-py: No provider called 'nope' is registered (registered: ")
    assert "huggingface" in err


def test_main_model_given_twice(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hi", "-p", "huggingface/org/a", "-m", "org/b"]) == 2
    assert (
        capsys.readouterr().err == "ellmer-py: give the model in --provider or --model, not both.\n"
    )


def test_main_empty_prompt(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("  \n"))
    assert main([]) == 2
    assert capsys.readouterr().err == "ellmer-py: the prompt is empty.\n"


def test_main_dash_at_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """'-' asks for piped text (no prompt at all opens the console: test_console.py)."""

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Terminal())
    assert main(["-"]) == 2
    assert (
        capsys.readouterr().err == "ellmer-py: give a prompt as an argument or on standard input.\n"
    )


def test_main_connection_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUGGINGFACE_API_KEY", KEY)
    with FakeServer() as dead:
        url = dead.base_url  # a port that was free a moment ago
    assert main(["hi", "--base-url", url]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("ellmer-py: HuggingFace: could not connect to http://127.0.0.1:")
    assert KEY not in err


def test_main_help_names_the_key_variables(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "HUGGINGFACE_API_KEY" in out
    assert "HF_TOKEN" in out
    for option in ("--model", "--provider", "--system-prompt", "--base-url"):
        assert option in out
