"""``Chat.clone()`` (R: ``$clone()``), ``copy.copy`` and ``copy.deepcopy`` of a chat.

A clone has its own turns, tools and callbacks and shares the provider (one
connection pool); a deep copy has its own provider too. Every chat talks to a
real loopback server.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Iterator
from typing import Any

import pytest
from test_chat import answer
from test_tools import call, calls_answer, text_answer

from ellmer_py import Chat, UserTurn, chat_huggingface, tool
from ellmer_py.conformance.fake_server import FakeServer

KEY = "hf_clone_key_0123456789"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for name in ("HUGGINGFACE_API_KEY", "HF_TOKEN", "ELLMER_ECHO"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server
    assert not server.errors, server.errors


def hf(srv: FakeServer, **kwargs: Any) -> Chat:
    kwargs.setdefault("echo", "none")
    return chat_huggingface(
        model="org/model",
        base_url=srv.base_url,
        credentials=lambda: KEY,
        max_tries=1,
        timeout_s=5,
        **kwargs,
    )


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def texts(chat: Chat) -> list[str]:
    return [turn.text for turn in chat.get_turns()]


COPIES = {
    "clone": lambda chat: chat.clone(),
    "clone(deep=True)": lambda chat: chat.clone(deep=True),
    "copy()": lambda chat: chat.copy(),
    "copy.copy": copy.copy,
    "copy.deepcopy": copy.deepcopy,
}


@pytest.mark.parametrize("make", COPIES.values(), ids=COPIES.keys())
def test_a_copy_and_its_original_go_their_own_ways(srv: FakeServer, make: Any) -> None:
    chat = hf(srv, system_prompt="Be brief.")
    srv.enqueue(answer("one"))
    chat.chat("first")
    fork = make(chat)
    assert isinstance(fork, Chat) and fork is not chat
    assert texts(fork) == ["first", "one"]

    srv.enqueue(answer("fork answer"), answer("original answer"))
    assert fork.chat("to the fork") == "fork answer"
    assert chat.chat("to the original") == "original answer"
    assert texts(fork) == ["first", "one", "to the fork", "fork answer"]
    assert texts(chat) == ["first", "one", "to the original", "original answer"]
    # each sent its own history, with the system prompt both had
    sent = [[m["content"] for m in r.json["messages"]] for r in srv.requests[1:]]
    assert sent[0] == ["Be brief.", "first", "one", "to the fork"]
    assert sent[1] == ["Be brief.", "first", "one", "to the original"]

    fork.set_turns([UserTurn("only the fork")])
    fork.set_system_prompt("Be long.")
    fork.set_model("org/other")
    assert chat.get_system_prompt() == "Be brief."
    assert chat.get_model() == "org/model"
    assert texts(chat)[0] == "first"


@pytest.mark.parametrize("make", COPIES.values(), ids=COPIES.keys())
def test_a_copy_has_its_own_tools_and_callbacks(srv: FakeServer, make: Any) -> None:
    chat = hf(srv)
    chat.register_tool(tool(add))
    seen: list[str] = []
    chat.on_tool_request(lambda request: seen.append(f"original {request.name}"))
    fork = make(chat)
    fork.on_tool_request(lambda request: seen.append(f"fork {request.name}"))
    fork.set_tools([])
    assert [t.name for t in chat.get_tools()] == ["add"]
    assert fork.get_tools() == []

    srv.enqueue(calls_answer(call("c1", "add", '{"a": 2, "b": 3}')), text_answer("5"))
    assert chat.chat("2 + 3?") == "5"
    assert seen == ["original add"]  # the fork's callback is not the original's
    assert srv.requests[1].json["messages"][-1]["content"] == "5"

    fork.register_tool(tool(add))
    seen.clear()
    srv.enqueue(calls_answer(call("c2", "add", '{"a": 1, "b": 1}')), text_answer("2"))
    assert fork.chat("1 + 1?") == "2"
    assert seen == ["fork add", "original add"]  # its own, then those it had (later run first)


def test_a_clone_shares_the_provider_and_its_pool(srv: FakeServer) -> None:
    chat = hf(srv)
    fork = chat.clone()
    assert fork.get_provider() is chat.get_provider()
    srv.enqueue(answer("a"), answer("b"))
    chat.chat("one")
    fork.chat("two")
    assert [r.connection for r in srv.requests] == [1, 1]  # the fork reused the original's


def test_a_deep_copy_has_its_own_provider_and_pool(srv: FakeServer) -> None:
    stream = io.StringIO()
    chat = Chat(hf(srv).get_provider(), echo="output", echo_stream=stream)
    srv.enqueue(answer("a"), answer("b"))
    chat.chat("one")
    deep = copy.deepcopy(chat)
    assert repr(deep.get_provider()) == repr(chat.get_provider())
    assert deep.get_provider() is not chat.get_provider()
    assert deep.get_provider().transport is not chat.get_provider().transport
    assert deep.get_turns() == chat.get_turns()
    assert deep.get_turns()[0] is not chat.get_turns()[0]
    assert deep.chat("two") == "b"
    assert [r.connection for r in srv.requests] == [1, 2]  # its own pool, its own connection
    assert stream.getvalue() == "a\nb\n"  # the echo stream is shared, not copied
