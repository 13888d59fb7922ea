"""The chat console, ``live_console()`` and ``python -m ellmer_py`` at a terminal.

Most tests run the real program in a real pseudo-terminal (stdlib ``pty``):
the child makes the terminal its controlling terminal, so a Ctrl-C typed
into it (``\\x03``) is turned into SIGINT by the terminal driver, as at a
real keyboard, and readline edits the lines. The answers come from a
loopback fake server in the test process; an answer that must be
interrupted sends its first piece and then waits a minute (until the
server stops), so the test never races it.
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
from pty_session import CTRL_C, CTRL_D, TIMEOUT, UP, Terminal
from test_cli import KEY, body, streamed, subprocess_env

from ellmer_py import ConfigurationError, chat_huggingface, live_console
from ellmer_py._cli import main
from ellmer_py.conformance import openai_chat as openai_fake
from ellmer_py.conformance._protocol import Answer, ToolCall
from ellmer_py.conformance.fake_server import FakeServer, Reply, sse_data


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server
    assert not server.errors, server.errors


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The child's environment: a key, no user settings, and an empty home of its own."""
    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "hf-home").mkdir()
    return subprocess_env(
        tmp_path / "hf-home",
        HUGGINGFACE_API_KEY=KEY,
        HOME=str(home),
        TERM="dumb",  # no bracketed-paste or colour escapes around the echo
        INPUTRC=os.devnull,
        PYTHONSTARTUP="",
    )


@pytest.fixture
def terminals() -> Iterator[list[Terminal]]:
    made: list[Terminal] = []
    yield made
    for terminal in made:
        terminal.close()


@pytest.fixture
def console(srv: FakeServer, env: dict[str, str], terminals: list[Terminal]) -> Iterator[Terminal]:
    """``python -m ellmer_py --base-url <fake>`` at a terminal, at its first prompt."""
    terminal = Terminal(["--base-url", srv.base_url], env)
    terminals.append(terminal)
    terminal.expect(">>> ")
    yield terminal


def sent_messages(srv: FakeServer, n: int) -> list[Any]:
    """The messages of the ``n``-th request (1-based), once it arrived."""
    return list(body(srv.wait_for_requests(n, timeout=TIMEOUT)[n - 1])["messages"])


# --- python -m ellmer_py at a terminal ------------------------------------------------------


def test_banner_answers_and_turns(console: Terminal, srv: FakeServer, env: dict[str, str]) -> None:
    assert console.shown.splitlines()[:5] == [
        "\u2554" + "\u2550" * 31 + "\u2557",
        "\u2551 Entering chat console.        \u2551",
        '\u2551 Use """ for multi-line input. \u2551',
        "\u2551 Type 'Q' to quit.             \u2551",
        "\u255a" + "\u2550" * 31 + "\u255d",
    ]
    srv.enqueue(streamed("Hello", " there!"), streamed("Second ", "answer."))
    console.type("Hi\r")
    assert console.expect(">>> ") == "Hi\nHello there!\n\n"
    console.type("And again?\r")
    assert console.expect(">>> ") == "And again?\nSecond answer.\n\n"
    assert sent_messages(srv, 2) == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello there!"},
        {"role": "user", "content": "And again?"},
    ]
    assert body(srv.requests[1])["stream"] is True
    console.type("Q\r")
    assert console.exit_code() == 0
    assert "Traceback" not in console.shown
    assert os.listdir(env["HOME"]) == []  # no history file, nothing else


def test_ctrl_c_stops_the_answer_and_keeps_it(console: Terminal, srv: FakeServer) -> None:
    first = sse_data({"choices": [{"index": 0, "delta": {"content": "Once upon a time"}}]})
    srv.enqueue(Reply.sse([first, sse_data("[DONE]")], delay=60), streamed("Short."))
    console.type("Tell me a long story\r")
    console.expect("Once upon a time")
    srv.wait_for_requests(1)
    console.type(CTRL_C)
    # the terminal's "^C" may be shown before or after the newline ending the answer, and
    # on a loaded machine the terminal driver may drop that newline with its own echo
    assert console.expect(">>> ").replace("^C", "").strip() == "(interrupted)"
    console.type("Shorter, please\r")
    assert console.expect(">>> ") == "Shorter, please\nShort.\n\n"
    assert sent_messages(srv, 2) == [
        {"role": "user", "content": "Tell me a long story"},
        {"role": "assistant", "content": "Once upon a time"},
        {"role": "user", "content": "Shorter, please"},
    ]
    console.type(CTRL_D)
    assert console.exit_code() == 0
    assert "Traceback" not in console.shown
    assert "ellmer-py: interrupted" not in console.shown


def test_ctrl_c_at_the_prompt_drops_the_line(console: Terminal, srv: FakeServer) -> None:
    srv.enqueue(streamed("ok"))
    console.type("half a thou")
    console.expect("half a thou")
    console.interrupt_at_prompt()
    console.type("A whole question\r")
    console.expect("ok\n\n>>> ")
    assert sent_messages(srv, 1) == [{"role": "user", "content": "A whole question"}]
    console.type(CTRL_D)
    assert console.exit_code() == 0
    assert len(srv.requests) == 1


def test_up_arrow_recalls_the_last_line(console: Terminal, srv: FakeServer) -> None:
    srv.enqueue(streamed("one"), streamed("two"), streamed("three"))
    console.type("First question\r")
    console.expect("one\n\n>>> ")
    console.type("Second question\r")
    console.expect("two\n\n>>> ")
    console.type(UP + UP + "\r")
    console.expect("three\n\n>>> ")
    assert sent_messages(srv, 3)[-1] == {"role": "user", "content": "First question"}
    console.type("Q\r")
    assert console.exit_code() == 0


def test_multi_line_message_and_blank_lines(console: Terminal, srv: FakeServer) -> None:
    srv.enqueue(streamed("noted"))
    console.type("   \r")
    console.expect(">>> ")
    console.type('"""\r')
    console.expect("... ")
    console.type("line one\r")
    console.expect("... ")
    console.type('line two"""\r')
    console.expect("noted\n\n>>> ")
    assert sent_messages(srv, 1) == [{"role": "user", "content": "line one\nline two"}]
    console.type("Q\r")
    assert console.exit_code() == 0
    assert len(srv.requests) == 1  # the blank line sent nothing


def test_an_error_is_shown_and_the_session_goes_on(console: Terminal, srv: FakeServer) -> None:
    srv.enqueue(Reply.json({"error": "the model is asleep"}, status=400), streamed("awake"))
    console.type("Hello?\r")
    shown = console.expect(">>> ")
    assert "Error: HuggingFace: HTTP 400: the model is asleep" in shown
    assert KEY not in shown
    console.type("Hello again\r")
    console.expect("awake\n\n>>> ")
    # the failed request left no turn; the next one starts afresh
    assert sent_messages(srv, 2) == [{"role": "user", "content": "Hello again"}]
    console.type("Q\r")
    assert console.exit_code() == 0


def test_a_prompt_or_piped_input_still_answers_once(srv: FakeServer, env: dict[str, str]) -> None:
    srv.enqueue(streamed("once"))
    result = subprocess.run(
        [sys.executable, "-m", "ellmer_py", "--base-url", srv.base_url],
        input="piped question\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "once\n", "")
    assert sent_messages(srv, 1) == [{"role": "user", "content": "piped question"}]


# --- live_console() in a script ---------------------------------------------------------------

SCRIPT = """
import readline, sys
from ellmer_py import chat_huggingface, tool
from ellmer_py import live_console

def get_weather(city: str) -> str:
    '''Get the weather.

    Args:
        city: The city.
    '''
    return f"Sunny in {city}"

readline.add_history("an outer line")
chat = chat_huggingface(
    base_url=sys.argv[1], model="org/model", credentials=lambda: "k", echo="none"
)
chat.register_tool(tool(get_weather))
result = live_console(chat, quiet=True)
print("first console done", flush=True)
live_console(chat, quiet=True)
count = readline.get_current_history_length()
history = [readline.get_history_item(i) for i in range(1, count + 1)]
print("RESULT", result is chat, len(chat.get_turns()), history)
"""


def test_live_console_in_a_script(
    srv: FakeServer, env: dict[str, str], terminals: list[Terminal]
) -> None:
    call = ToolCall("call_1", "get_weather", {"city": "Oslo"})
    srv.enqueue(
        Reply.sse([openai_fake.sse_bytes(Answer(tool_calls=(call,), finish_reason="tool_calls"))]),
        Reply.sse([openai_fake.sse_bytes(Answer(text_pieces=("Wear ", "sunglasses.")))]),
    )
    terminal = Terminal(["-c", SCRIPT, srv.base_url], env)
    terminals.append(terminal)
    assert terminal.expect(">>> ") == ""  # quiet: no banner
    terminal.type("What to wear in Oslo?\r")
    shown = terminal.expect(">>> ")
    # the chat's echo is "none", yet the console streams, tool calls included (R: echo = TRUE)
    assert shown == (
        "What to wear in Oslo?\n"
        "\u25ef [tool call] get_weather(city='Oslo')\n"
        "\u25cf #> Sunny in Oslo\n"
        "Wear sunglasses.\n\n"
    )
    assert sent_messages(srv, 2)[-1] == {
        "role": "tool",
        "content": "Sunny in Oslo",
        "tool_call_id": "call_1",
    }
    terminal.type("Q\r")
    terminal.expect("first console done\n>>> ")
    terminal.type(UP + UP)  # the second console recalls the first one's lines (Q, then this)
    terminal.expect("What to wear in Oslo?")
    terminal.interrupt_at_prompt()
    terminal.type(CTRL_D)
    assert terminal.exit_code() == 0
    # the script's own readline history is as it was, with the console's lines kept apart
    terminal.expect("RESULT ")
    assert terminal.expect("\n") == "True 4 ['an outer line']"


# --- in the test process ----------------------------------------------------------------------


class FakeTerminal(io.StringIO):
    """Typed lines on a standard input that says it is a terminal (input() reads it plainly)."""

    def isatty(self) -> bool:
        return True


def test_not_a_terminal_is_refused(
    srv: FakeServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    chat = chat_huggingface(base_url=srv.base_url, model="org/m", credentials=lambda: KEY)
    monkeypatch.setattr(sys, "stdin", io.StringIO("Hi\n"))
    with pytest.raises(
        ConfigurationError, match=r"^The chat console is only available in interactive mode: "
    ):
        live_console(chat)
    assert capsys.readouterr().out == ""
    assert srv.requests == []


def test_not_a_chat_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="needs a Chat, not str"):
        live_console("not a chat")  # type: ignore[arg-type]


def test_quiet_must_be_a_bool(srv: FakeServer) -> None:
    chat = chat_huggingface(base_url=srv.base_url, model="org/m", credentials=lambda: KEY)
    with pytest.raises(ConfigurationError, match="quiet must be True or False"):
        live_console(chat, quiet="yes")  # type: ignore[arg-type]


def test_main_without_a_prompt_at_a_terminal_opens_the_console(
    srv: FakeServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HUGGINGFACE_API_KEY", KEY)
    monkeypatch.setattr(sys, "stdin", FakeTerminal("Hi\n\nHow are you?\n"))  # then end of input
    srv.enqueue(streamed("Hello"), streamed("Fine"))
    assert main(["--base-url", srv.base_url]) == 0
    out = capsys.readouterr()
    assert out.err == ""
    assert out.out.endswith("\n>>> Hello\n\n>>> >>> Fine\n\n>>> \n")
    assert "Entering chat console." in out.out
    assert [m["content"] for m in sent_messages(srv, 2)] == ["Hi", "Hello", "How are you?"]
