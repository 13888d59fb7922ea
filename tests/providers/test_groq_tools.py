"""``chat_groq()`` sends tool definitions without OpenAI's ``strict`` flag, as R does.

R's ``as_json(ProviderGroq, ToolDef)`` leaves ``strict`` out (Groq refused
it); the schema itself is the one OpenAI gets. ``chat_openai_compatible()``
still marks its tools strict.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ellmer_py import Chat, chat_groq, chat_openai_compatible, tool
from ellmer_py.conformance.fake_server import FakeServer, Reply

KEY = "groq-test-key-0123456789"


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server
    assert not server.errors, server.errors


def _answer() -> Reply:
    message = {"role": "assistant", "content": "2"}
    return Reply.json({"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]})


def add(x: int, y: int) -> int:
    """Add two numbers."""
    return x + y


@pytest.mark.parametrize(
    ("make", "strict"),
    [
        (lambda url: chat_groq(base_url=url, credentials=lambda: KEY, echo="none"), False),
        (
            lambda url: chat_openai_compatible(
                base_url=url, model="m", credentials=lambda: KEY, echo="none"
            ),
            True,
        ),
    ],
    ids=["groq", "openai_compatible"],
)
def test_tool_definitions_are_strict_where_r_makes_them_so(
    srv: FakeServer, make: Callable[[str], Chat], strict: bool
) -> None:
    srv.enqueue(_answer())
    chat = make(srv.url)
    chat.register_tool(tool(add))
    assert chat.chat("What is 1 + 1?") == "2"
    (definition,) = srv.requests[0].json["tools"]
    function: dict[str, Any] = definition["function"]
    assert ("strict" in function) is strict
    assert function.get("strict", True) is True
    assert function["name"] == "add" and function["parameters"]["required"] == ["x", "y"]
    assert function["parameters"]["additionalProperties"] is False
