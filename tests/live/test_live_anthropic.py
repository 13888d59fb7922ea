"""Anthropic Messages (``/v1/messages``) against a real llama-server.

Two halves: raw requests in the shapes an Anthropic client sends (system as
a top-level field, content blocks with ``cache_control``, ``max_tokens``,
``stop_sequences``, ``stream: true`` events, ``x-api-key``), and the same
six scenarios through ``chat_anthropic()``. The model has random weights,
so the tests compare answers with each other, never with expected text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from _llama_server import LlamaServer

import ellmer_py
from ellmer_py import AssistantTurn, AuthenticationError, Chat, SystemTurn, UserTurn, params

# Every answer runs into max_tokens (the model never emits its end token);
# test_chat checks the warning that says so, the others ignore it.
pytestmark = [
    pytest.mark.live,
    pytest.mark.filterwarnings("ignore:.*the answer was cut off:UserWarning"),
]

MAX_TOKENS = 16
PROMPT = "Hello there"
SYSTEM = "You are a pirate."
MESSAGES = "/v1/messages"


# -- raw requests ---------------------------------------------------------------


def _messages(server: LlamaServer, key: str | None = None, **extra: Any) -> Any:
    """POST a greedy 16-token Messages request with ``x-api-key``; return the response."""
    body = {
        "model": server.model,
        "max_tokens": MAX_TOKENS,
        "temperature": 0,
        "messages": [{"role": "user", "content": PROMPT}],
        **extra,
    }
    headers = {
        "x-api-key": server.api_key if key is None else key,
        "anthropic-version": "2023-06-01",
    }
    return server.request("POST", MESSAGES, body, headers, auth=False)


def _text(doc: Any) -> str:
    """The text blocks of a Messages response, joined."""
    return "".join(block["text"] for block in doc["content"] if block["type"] == "text")


def _raw_answer(server: LlamaServer, **extra: Any) -> Any:
    resp = _messages(server, **extra)
    assert resp.status == 200, resp.body
    return resp.json()


def test_raw_chat(llama_server: LlamaServer) -> None:
    """A message with one text block, max_tokens as stop reason, usage, determinism."""
    doc = _raw_answer(llama_server)
    assert doc["type"] == "message" and doc["role"] == "assistant"
    assert doc["content"][0]["type"] == "text"
    assert doc["stop_reason"] == "max_tokens"
    assert doc["usage"]["output_tokens"] == MAX_TOKENS
    assert doc["usage"]["input_tokens"] > 0
    assert _text(_raw_answer(llama_server)) == _text(doc)


def test_raw_content_blocks_and_cache_control(llama_server: LlamaServer) -> None:
    """Content as blocks, with ``cache_control``, is the same prompt as a string."""
    block = {"type": "text", "text": PROMPT, "cache_control": {"type": "ephemeral"}}
    doc = _raw_answer(llama_server, messages=[{"role": "user", "content": [block]}])
    assert _text(doc) == _text(_raw_answer(llama_server))


def test_raw_stream(llama_server: LlamaServer) -> None:
    """``stream: true`` sends the Anthropic event sequence with the same text."""
    resp = _messages(llama_server, stream=True)
    assert resp.status == 200, resp.body
    assert resp.headers.get("Content-Type", "").startswith("text/event-stream")
    events = resp.sse()
    names = [name for name, _ in events]
    assert names[0] == "message_start" and names[-1] == "message_stop"
    assert "content_block_start" in names and "content_block_stop" in names
    assert all(name == data["type"] for name, data in events)
    deltas = [data["delta"] for name, data in events if name == "content_block_delta"]
    assert len(deltas) > 1 and all(d["type"] == "text_delta" for d in deltas)
    assert "".join(d["text"] for d in deltas) == _text(_raw_answer(llama_server))
    (message_delta,) = [data for name, data in events if name == "message_delta"]
    assert message_delta["delta"]["stop_reason"] == "max_tokens"
    assert message_delta["usage"]["output_tokens"] == MAX_TOKENS


def test_raw_multi_turn(llama_server: LlamaServer) -> None:
    """A history with an assistant turn is accepted and changes the answer."""
    first = _text(_raw_answer(llama_server))
    history = [
        {"role": "user", "content": PROMPT},
        {"role": "assistant", "content": [{"type": "text", "text": first}]},
        {"role": "user", "content": "Tell me more"},
    ]
    second = _text(_raw_answer(llama_server, messages=history))
    alone = _text(_raw_answer(llama_server, messages=[history[2]]))
    assert second and second != alone


@pytest.mark.parametrize(
    "system",
    [SYSTEM, [{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}]],
    ids=["string", "blocks"],
)
def test_raw_system(llama_server: LlamaServer, system: Any) -> None:
    """A top-level ``system`` (string or blocks) reaches the model."""
    with_system = _text(_raw_answer(llama_server, system=system))
    assert with_system != _text(_raw_answer(llama_server))
    assert with_system == _text(_raw_answer(llama_server, system=SYSTEM))


def test_raw_stop_sequence(llama_server: LlamaServer) -> None:
    """``stop_sequences`` cuts the answer before the stop text."""
    full = _text(_raw_answer(llama_server))
    stop = _stop_from_middle(full)
    doc = _raw_answer(llama_server, stop_sequences=[stop])
    assert _text(doc) == full[: full.index(stop)]
    assert doc["stop_sequence"] == stop
    # Anthropic says "stop_sequence"; llama-server says "end_turn"
    assert doc["stop_reason"] == "end_turn"


def test_raw_wrong_key(llama_server: LlamaServer) -> None:
    """A wrong ``x-api-key`` is a 401 (in OpenAI's error shape, not Anthropic's)."""
    resp = _messages(llama_server, key="sk-wrong")
    assert resp.status == 401
    assert resp.json()["error"]["type"] == "authentication_error"


def _stop_from_middle(full: str) -> str:
    """Two characters from the middle of ``full`` whose first occurrence is past the start."""
    return next(
        full[i : i + 2]
        for i in range(len(full) // 2, len(full) - 1)
        if full.index(full[i : i + 2]) > 0
    )


# -- chat_anthropic() -------------------------------------------------------------


@pytest.fixture
def make_chat(llama_server: LlamaServer) -> Callable[..., Chat]:
    """A factory of greedy 16-token ``chat_anthropic()`` chats with the server's model."""
    chat_anthropic = ellmer_py.chat_anthropic

    def make(key: str | None = None, **kwargs: Any) -> Chat:
        secret = llama_server.api_key if key is None else key
        options: dict[str, Any] = {
            "params": params(temperature=0, max_tokens=MAX_TOKENS),
            "echo": "none",
            **kwargs,
        }
        chat: Chat = chat_anthropic(
            base_url=llama_server.v1,
            model=llama_server.model,
            credentials=lambda: secret,
            **options,
        )
        return chat

    return make


def _input_tokens(chat: Chat) -> int:
    """The prompt tokens of the chat's last answer, as the server counted them."""
    last = chat.get_turns()[-1]
    assert isinstance(last, AssistantTurn) and last.tokens is not None
    return int(last.tokens.input)


def test_chat(make_chat: Callable[..., Chat]) -> None:
    """One chat: a user and an assistant turn, token counts, the same answer twice."""
    chat = make_chat()
    with pytest.warns(UserWarning, match="Anthropic: the answer was cut off"):
        answer = chat.chat(PROMPT)
    assert answer and answer.isascii() and answer.isprintable()
    user, assistant = chat.get_turns()
    assert isinstance(user, UserTurn) and user.text == PROMPT
    assert isinstance(assistant, AssistantTurn) and assistant.text == answer
    assert assistant.tokens is not None and assistant.tokens.output == MAX_TOKENS
    assert make_chat().chat(PROMPT) == answer


def test_stream(make_chat: Callable[..., Chat]) -> None:
    """A stream arrives in pieces that add up to the non-streamed answer."""
    chat = make_chat()
    pieces = list(chat.stream(PROMPT))
    assert len(pieces) > 1
    streamed = "".join(pieces)
    assert streamed == make_chat().chat(PROMPT)
    user, assistant = chat.get_turns()
    assert user.text == PROMPT
    assert isinstance(assistant, AssistantTurn) and assistant.text == streamed


def test_multi_turn(make_chat: Callable[..., Chat]) -> None:
    """The second request carries the history: four turns, a longer prompt."""
    chat = make_chat()
    first = chat.chat(PROMPT)
    second = chat.chat("Tell me more")
    turns = chat.get_turns()
    assert [t.role for t in turns] == ["user", "assistant", "user", "assistant"]
    assert [t.text for t in turns] == [PROMPT, first, "Tell me more", second]
    # the history was in the prompt: more input tokens than the question alone
    alone = make_chat()
    alone.chat("Tell me more")
    assert _input_tokens(chat) > _input_tokens(alone)


def test_system_prompt(make_chat: Callable[..., Chat]) -> None:
    """The system prompt reaches the model (a longer prompt) and is kept; determinism."""
    chat = make_chat(system_prompt=SYSTEM)
    answer = chat.chat(PROMPT)
    system, user, assistant = chat.get_turns(include_system_prompt=True)
    assert isinstance(system, SystemTurn) and system.text == SYSTEM
    assert user.text == PROMPT and assistant.text == answer
    plain = make_chat()
    plain.chat(PROMPT)
    assert _input_tokens(chat) > _input_tokens(plain)
    assert make_chat(system_prompt=SYSTEM).chat(PROMPT) == answer


def test_stop_sequence(make_chat: Callable[..., Chat]) -> None:
    """With a stop sequence taken from the middle, the answer ends just before it."""
    full = make_chat().chat(PROMPT)
    stop = _stop_from_middle(full)
    stopped = make_chat(params=params(temperature=0, max_tokens=MAX_TOKENS, stop_sequences=[stop]))
    assert stopped.chat(PROMPT) == full[: full.index(stop)]


def test_wrong_key(make_chat: Callable[..., Chat]) -> None:
    """A wrong key is an AuthenticationError with status 401, and the key is not shown."""
    chat = make_chat(key="sk-wrong-key-000")
    with pytest.raises(AuthenticationError) as info:
        chat.chat(PROMPT)
    assert info.value.status == 401
    assert "sk-wrong-key-000" not in str(info.value)
    assert chat.get_turns() == []
