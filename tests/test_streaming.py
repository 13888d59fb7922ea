"""Tests of streamed answers through Chat.stream / Chat.chat, against a loopback server.

Covers: text arriving as it is sent, streamed == non-streamed turns, the
quirks real providers show (no [DONE], usage on every chunk, CRLF, comments,
``data:`` without a space, error events), partial turns when a stream fails
or is abandoned, and the echo modes.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ellmer_py import (
    AssistantPartialTurn,
    AssistantTurn,
    AuthenticationError,
    BadRequestError,
    Chat,
    ConnectionCutError,
    ContentText,
    MalformedResponseError,
    StreamErrorEvent,
    Tokens,
    UserTurn,
)
from ellmer_py.conformance.fake_server import FakeServer, Reply, sse_data
from ellmer_py.providers.huggingface import chat_huggingface
from ellmer_py.providers.openai_compatible import chat_openai_compatible

USAGE = {
    "prompt_tokens": 12,
    "completion_tokens": 3,
    "total_tokens": 15,
    "prompt_tokens_details": {"cached_tokens": 4},
}


def chunk(
    text: str | None = None,
    finish: str | None = None,
    usage: dict[str, Any] | None = None,
    role: bool = False,
) -> dict[str, Any]:
    """One chat.completion.chunk."""
    delta: dict[str, Any] = {}
    if role:
        delta["role"] = "assistant"
    if text is not None:
        delta["content"] = text
    doc: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage is not None:
        doc["usage"] = usage
    return doc


def answer(text: str, finish: str = "stop", usage: dict[str, Any] | None = USAGE) -> dict[str, Any]:
    """A non-streamed chat.completion answer."""
    doc: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
        ],
    }
    if usage is not None:
        doc["usage"] = usage
    return doc


def openai_stream(
    pieces: list[str], finish: str = "stop", usage: dict[str, Any] | None = USAGE
) -> list[bytes]:
    """The SSE items OpenAI sends for the same answer (include_usage on)."""
    items = [sse_data(chunk("", role=True))]
    items += [sse_data(chunk(p)) for p in pieces]
    items.append(sse_data(chunk(finish=finish)))
    if usage is not None:
        items.append(sse_data({**chunk(), "choices": [], "usage": usage}))
    items.append(sse_data("[DONE]"))
    return items


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    """A running fake server that must not record server-side errors."""
    with FakeServer() as server:
        yield server
    assert not server.errors, server.errors


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep settings from the developer's environment out of the tests."""
    for name in ("ELLMER_MAX_TRIES", "ELLMER_TIMEOUT_S", "ELLMER_ECHO", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def make_chat(srv: FakeServer, **kwargs: Any) -> Chat:
    """A chat_openai_compatible chat named "Acme", pointed at the fake server."""
    kwargs.setdefault("credentials", lambda: "k")
    kwargs.setdefault("echo", "none")
    kwargs.setdefault("max_tries", 1)
    kwargs.setdefault("timeout_s", 5)
    kwargs.setdefault("name", "Acme")
    return chat_openai_compatible(base_url=srv.base_url, model="m", **kwargs)


def make_hf_chat(srv: FakeServer, **kwargs: Any) -> Chat:
    """A chat_huggingface chat pointed at the fake server."""
    kwargs.setdefault("credentials", lambda: "k")
    kwargs.setdefault("echo", "none")
    return chat_huggingface(model="m", base_url=srv.base_url, max_tries=1, timeout_s=5, **kwargs)


def expected_turn(text: str = "Hello there") -> AssistantTurn:
    """The assistant turn both ways of asking must record for USAGE and "stop"."""
    return AssistantTurn(
        [ContentText(text)],
        tokens=Tokens(input=8, output=3, cached_input=4),
        finish_reason="success",
    )


def only_partial(chat: Chat) -> AssistantPartialTurn:
    """Check the turns are [user "hi", partial] and return the partial turn."""
    turns = chat.get_turns()
    assert [type(t) for t in turns] == [UserTurn, AssistantPartialTurn]
    assert turns[0] == UserTurn("hi")
    partial = turns[1]
    assert isinstance(partial, AssistantPartialTurn)
    return partial


# -- text reaches the caller as it arrives ------------------------------------


def test_text_arrives_as_it_is_sent(srv: FakeServer) -> None:
    pieces = ["one ", "two ", "three ", "four ", "five"]
    items = [sse_data(chunk(p)) for p in pieces]
    items[-1] = sse_data(chunk(pieces[-1], finish="stop")) + sse_data("[DONE]")
    srv.enqueue(Reply.sse(items, delay=0.1))
    chat = make_chat(srv)
    start = time.perf_counter()
    stream = chat.stream("hi")
    got: list[tuple[str, float]] = []
    while True:
        try:
            piece = next(stream)
        except StopIteration:
            break
        got.append((piece, time.perf_counter() - start))
    assert [p for p, _ in got] == pieces
    assert got[0][1] < 0.2
    assert got[-1][1] >= 0.35
    assert chat.get_turns()[1] == AssistantTurn(
        [ContentText("one two three four five")], finish_reason="success"
    )


def test_chat_echo_prints_as_it_arrives(srv: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    pieces = ["a", "b", "c"]
    items = [sse_data(chunk(p)) for p in pieces] + [sse_data("[DONE]")]
    srv.enqueue(Reply.sse(items, delay=0.15))
    seen: list[tuple[str, float]] = []
    start = time.perf_counter()

    class Out:
        """A text stream that records when each write happened."""

        def write(self, text: str) -> int:
            seen.append((text, time.perf_counter() - start))
            return len(text)

        def flush(self) -> None:
            pass

    chat = make_chat(srv, echo="output")
    monkeypatch.setattr(sys, "stdout", Out())
    assert chat.chat("hi") == "abc"
    assert [t for t, _ in seen] == ["a", "b", "c", "\n"]
    assert seen[0][1] < 0.2
    assert seen[2][1] >= 0.25


def test_request_asks_for_a_stream(srv: FakeServer) -> None:
    srv.enqueue(Reply.sse(openai_stream(["Hi"])))
    chat = make_chat(srv)
    assert list(chat.stream("hi")) == ["Hi"]
    request = srv.requests[0]
    assert request.method == "POST"
    assert request.path == "/v1/chat/completions"
    assert request.json["stream"] is True
    assert request.json["stream_options"] == {"include_usage": True}
    assert request.headers["accept"] == "text/event-stream"
    assert request.headers["authorization"] == "Bearer k"


def test_stream_sends_nothing_until_iterated(srv: FakeServer) -> None:
    srv.enqueue(Reply.sse(openai_stream(["Hi"])))
    chat = make_chat(srv)
    stream = chat.stream("hi")
    time.sleep(0.05)
    assert srv.requests == []
    assert list(stream) == ["Hi"]


# -- streamed == not streamed -----------------------------------------------------


def test_streamed_turn_equals_non_streamed_turn(srv: FakeServer) -> None:
    srv.enqueue(Reply.json(answer("Hello there")), Reply.sse(openai_stream(["Hello", " there"])))
    plain = make_chat(srv)
    assert plain.chat("hi") == "Hello there"
    streamed = make_chat(srv)
    assert "".join(streamed.stream("hi")) == "Hello there"
    assert srv.requests[0].json["stream"] is False
    assert srv.requests[1].json["stream"] is True
    assert streamed.get_turns() == plain.get_turns() == [UserTurn("hi"), expected_turn()]
    turn = streamed.get_turns()[1]
    assert type(turn) is AssistantTurn
    assert turn.duration is not None and turn.duration >= 0
    assert streamed.get_tokens() == plain.get_tokens()


def test_streamed_chat_equals_non_streamed_chat(srv: FakeServer) -> None:
    srv.enqueue(
        Reply.json(answer("Hello there")), Reply.sse(openai_stream(["Hel", "lo the", "re"]))
    )
    plain = make_hf_chat(srv)
    plain.chat("hi")
    streamed = make_hf_chat(srv)
    assert streamed.chat("hi", echo="output") == "Hello there"
    assert streamed.get_turns() == plain.get_turns() == [UserTurn("hi"), expected_turn()]


@pytest.mark.parametrize(("wire", "finish"), [("stop", "success"), ("length", "max_tokens")])
def test_finish_reason_is_the_same_streamed_or_not(srv: FakeServer, wire: str, finish: str) -> None:
    srv.enqueue(
        Reply.json(answer("Hi", finish=wire, usage=None)),
        Reply.sse(openai_stream(["Hi"], finish=wire, usage=None)),
    )
    plain = make_chat(srv)
    plain.chat("hi")
    streamed = make_chat(srv)
    list(streamed.stream("hi"))
    assert streamed.get_turns()[1] == plain.get_turns()[1]
    assert streamed.get_turns()[1].finish_reason == finish  # type: ignore[attr-defined]
    assert streamed.get_turns()[1].tokens is None  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def shared_srv() -> Iterator[FakeServer]:
    """One fake server for all examples of a property test."""
    with FakeServer() as server:
        yield server


@given(
    pieces=st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=6),
    prompt=st.integers(0, 10_000),
    completion=st.integers(0, 10_000),
    cached=st.integers(0, 100),
    finish=st.sampled_from(["stop", "length", "content_filter"]),
)
def test_property_streamed_equals_non_streamed(
    shared_srv: FakeServer,
    pieces: list[str],
    prompt: int,
    completion: int,
    cached: int,
    finish: str,
) -> None:
    shared_srv.reset()
    usage = {
        "prompt_tokens": prompt + cached,
        "completion_tokens": completion,
        "total_tokens": prompt + cached + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
    }
    text = "".join(pieces)
    shared_srv.enqueue(
        Reply.json(answer(text, finish=finish, usage=usage)),
        Reply.sse(openai_stream(pieces, finish=finish, usage=usage)),
    )
    plain = make_chat(shared_srv)
    plain.chat("hi")
    streamed = make_chat(shared_srv)
    assert "".join(streamed.stream("hi")) == text
    assert streamed.get_turns() == plain.get_turns()
    turn = streamed.get_turns()[1]
    assert isinstance(turn, AssistantTurn)
    assert turn.text == text
    assert turn.tokens == Tokens(input=prompt, output=completion, cached_input=cached)


# -- provider quirks -------------------------------------------------------------


def test_stream_without_done_ends_at_eof(srv: FakeServer) -> None:
    # cerebras: no [DONE]; usage on the chunk that carries finish_reason
    items = [
        sse_data(chunk("", role=True)),
        sse_data(chunk("Hello")),
        sse_data(chunk(" there")),
        sse_data(chunk(finish="stop", usage=USAGE)),
    ]
    srv.enqueue(Reply.sse(items))
    chat = make_hf_chat(srv)
    assert list(chat.stream("hi")) == ["Hello", " there"]
    assert chat.get_turns() == [UserTurn("hi"), expected_turn()]
    assert type(chat.get_turns()[1]) is AssistantTurn


def test_usage_on_every_chunk_last_one_wins(srv: FakeServer) -> None:
    # novita: running usage on every chunk
    def usage(n: int) -> dict[str, Any]:
        return {
            "prompt_tokens": 12,
            "completion_tokens": n,
            "total_tokens": 12 + n,
            "prompt_tokens_details": {"cached_tokens": 4},
        }

    items = [
        sse_data(chunk("Hello", usage=usage(1))),
        sse_data(chunk(" the", usage=usage(2))),
        sse_data(chunk("re", usage=usage(3))),
        sse_data(chunk(finish="stop", usage=usage(3))),
        sse_data("[DONE]"),
    ]
    srv.enqueue(Reply.sse(items))
    chat = make_hf_chat(srv)
    assert "".join(chat.stream("hi")) == "Hello there"
    assert chat.get_turns()[1] == expected_turn()


def test_usage_with_null_on_some_chunks(srv: FakeServer) -> None:
    items = [
        sse_data(chunk("Hello there", usage=USAGE)),
        sse_data({**chunk(finish="stop"), "usage": None}),
        sse_data("[DONE]"),
    ]
    srv.enqueue(Reply.sse(items))
    chat = make_chat(srv)
    list(chat.stream("hi"))
    assert chat.get_turns()[1] == expected_turn()


def test_crlf_line_endings(srv: FakeServer) -> None:
    items = [
        f"data: {json.dumps(chunk('Hello'))}\r\n\r\n",
        f"data: {json.dumps(chunk(' there', finish='stop', usage=USAGE))}\r\n\r\n",
        "data: [DONE]\r\n\r\n",
    ]
    srv.enqueue(Reply.sse(items))
    chat = make_chat(srv)
    assert list(chat.stream("hi")) == ["Hello", " there"]
    assert chat.get_turns()[1] == expected_turn()


def test_crlf_split_across_chunks(srv: FakeServer) -> None:
    body = (
        f"data: {json.dumps(chunk('Hello'))}\r\n\r\n"
        f"data: {json.dumps(chunk(' there', finish='stop', usage=USAGE))}\r\n\r\n"
        "data: [DONE]\r\n\r\n"
    ).encode()
    # split right between each CR and its LF
    parts: list[bytes] = []
    rest = body
    while b"\r\n" in rest:
        cut = rest.index(b"\r\n") + 1
        parts.append(rest[:cut])
        rest = rest[cut:]
    parts.append(rest)
    srv.enqueue(Reply.sse([p for p in parts if p]))
    chat = make_chat(srv)
    assert "".join(chat.stream("hi")) == "Hello there"
    assert chat.get_turns()[1] == expected_turn()


def test_cr_only_line_endings(srv: FakeServer) -> None:
    items = [
        f"data: {json.dumps(chunk('Hello there', finish='stop', usage=USAGE))}\r\r",
        "data: [DONE]\r\r",
    ]
    srv.enqueue(Reply.sse(items))
    chat = make_chat(srv)
    assert "".join(chat.stream("hi")) == "Hello there"
    assert chat.get_turns()[1] == expected_turn()


def test_keep_alive_comments_are_ignored(srv: FakeServer) -> None:
    items = [
        ": ping\n\n",
        ":\n\n",
        sse_data(chunk("Hello")),
        ": ping - 2024-01-01 00:00:00\n\n",
        ": OPENROUTER PROCESSING\n\n" + sse_data(chunk(" there")).decode(),
        sse_data(chunk(finish="stop", usage=USAGE)),
        ": ping\n\n",
        sse_data("[DONE]"),
    ]
    srv.enqueue(Reply.sse(items))
    chat = make_chat(srv)
    assert list(chat.stream("hi")) == ["Hello", " there"]
    assert chat.get_turns()[1] == expected_turn()


def test_data_without_a_space(srv: FakeServer) -> None:
    items = [
        f"data:{json.dumps(chunk('Hello'))}\n\n",
        f"data:{json.dumps(chunk(' there', finish='stop', usage=USAGE))}\n\n",
        "data:[DONE]\n\n",
    ]
    srv.enqueue(Reply.sse(items))
    chat = make_chat(srv)
    assert list(chat.stream("hi")) == ["Hello", " there"]
    assert chat.get_turns()[1] == expected_turn()


def test_whole_stream_in_one_chunk_and_one_byte_per_chunk(srv: FakeServer) -> None:
    body = b"".join(openai_stream(["Hel", "lo ", "there"]))
    srv.enqueue(Reply.sse([body]), Reply.sse([body[i : i + 1] for i in range(len(body))]))
    for _ in range(2):
        chat = make_chat(srv)
        assert "".join(chat.stream("hi")) == "Hello there"
        assert chat.get_turns()[1] == expected_turn()


def test_multibyte_text_split_inside_a_character(srv: FakeServer) -> None:
    body = b"".join(
        f"data: {json.dumps(chunk(p), ensure_ascii=False)}\n\n".encode() for p in ["Grüße ", "👋"]
    ) + sse_data(chunk(finish="stop"))
    cut = body.index("👋".encode()) + 2
    srv.enqueue(Reply.sse([body[:cut], body[cut:]]))
    chat = make_chat(srv)
    assert "".join(chat.stream("hi")) == "Grüße 👋"
    assert type(chat.get_turns()[1]) is AssistantTurn


def test_nothing_after_done_is_read_as_an_answer(srv: FakeServer) -> None:
    items = [*openai_stream(["Hello there"]), sse_data(chunk("IGNORED"))]
    srv.enqueue(Reply.sse(items))
    chat = make_chat(srv)
    assert "".join(chat.stream("hi")) == "Hello there"
    assert chat.get_turns()[1] == expected_turn()


def test_server_lingering_after_done_does_not_delay_or_fail_the_answer(srv: FakeServer) -> None:
    # the whole answer and [DONE] at once, then keep-alive comments every second
    whole = b"".join(openai_stream(["Hello", " there"]))
    srv.enqueue(
        Reply.sse([whole, b": ping\n\n", b": ping\n\n"], delay=1), Reply.json(answer("next"))
    )
    chat = make_chat(srv, timeout_s=0.5)
    started = time.perf_counter()
    assert "".join(chat.stream("hi")) == "Hello there"
    assert time.perf_counter() - started < 0.5
    # the answer was complete: a full turn, not a partial one
    assert chat.get_turns() == [UserTurn("hi"), expected_turn()]
    assert chat.chat("more") == "next"


def test_server_that_ignores_stream_true(srv: FakeServer) -> None:
    srv.enqueue(Reply.json(answer("Hello there")))
    chat = make_chat(srv)
    assert list(chat.stream("hi")) == ["Hello there"]
    assert chat.get_turns()[1] == expected_turn()


def test_stream_with_json_that_is_not_a_chunk(srv: FakeServer) -> None:
    srv.enqueue(Reply.sse([sse_data(chunk("Hel")), b"data: {oops\n\n"]))
    chat = make_chat(srv)
    with pytest.raises(MalformedResponseError) as info:
        list(chat.stream("hi"))
    assert str(info.value).startswith("Acme: ")
    assert only_partial(chat).text == "Hel"


# -- errors in the stream ---------------------------------------------------------


ERROR_EVENTS = {
    "event: error + json": 'event: error\ndata: {"error": {"message": "boom"}}\n\n',
    "event: error + text": "event: error\ndata: boom\n\n",
    "data error object": 'data: {"error": {"message": "boom", "type": "server_error"}}\n\n',
    "data error string": 'data: {"error": "boom"}\n\n',
}


@pytest.mark.parametrize("event", ERROR_EVENTS.values(), ids=list(ERROR_EVENTS))
def test_error_event_mid_stream(srv: FakeServer, event: str) -> None:
    srv.enqueue(
        Reply.sse([sse_data(chunk("Hel")), sse_data(chunk("lo")), event, sse_data("[DONE]")])
    )
    chat = make_chat(srv)
    got: list[str] = []
    with pytest.raises(StreamErrorEvent) as info:
        for piece in chat.stream("hi"):
            got.append(piece)
    assert got == ["Hel", "lo"]
    exc = info.value
    assert "boom" in str(exc)
    assert "Acme" in str(exc)
    assert exc.provider == "Acme"
    assert exc.server_message == "boom"
    partial = only_partial(chat)
    assert partial.text == "Hello"
    assert "boom" in partial.reason
    assert "StreamErrorEvent" in partial.reason


def test_error_event_names_hugging_face(srv: FakeServer) -> None:
    srv.enqueue(
        Reply.sse(
            [sse_data(chunk("Hel")), 'event: error\ndata: {"error": {"message": "boom"}}\n\n']
        )
    )
    chat = make_hf_chat(srv)
    with pytest.raises(StreamErrorEvent) as info:
        list(chat.stream("hi"))
    assert str(info.value).startswith("HuggingFace: ")
    assert "boom" in str(info.value)
    assert only_partial(chat).text == "Hel"


def test_error_event_before_any_text(srv: FakeServer) -> None:
    srv.enqueue(
        Reply.sse(['event: error\ndata: {"error": {"message": "Model is overloaded"}}\n\n'])
    )
    chat = make_chat(srv)
    with pytest.raises(StreamErrorEvent, match="Model is overloaded"):
        list(chat.stream("hi"))
    partial = only_partial(chat)
    assert partial.text == ""
    assert "Model is overloaded" in partial.reason


def test_connection_cut_mid_stream(srv: FakeServer) -> None:
    srv.enqueue(Reply.cut(sse_data(chunk("Hel")), sse_data(chunk("lo")), delay=0.05))
    chat = make_chat(srv)
    got: list[str] = []
    with pytest.raises(ConnectionCutError) as info:
        for piece in chat.stream("hi"):
            got.append(piece)
    assert got == ["Hel", "lo"]
    exc = info.value
    assert exc.provider == "Acme"
    assert str(exc).startswith("Acme: ")
    assert "\n" not in str(exc)
    partial = only_partial(chat)
    assert partial.text == "Hello"
    assert partial.reason.startswith("ConnectionCutError: ")


def test_connection_cut_inside_an_event(srv: FakeServer) -> None:
    half = sse_data(chunk(" there"))[:20]
    srv.enqueue(Reply.cut(sse_data(chunk("Hello")), half))
    chat = make_chat(srv)
    with pytest.raises(ConnectionCutError):
        list(chat.stream("hi"))
    assert only_partial(chat).text == "Hello"


def test_connection_cut_keeps_usage_and_finish_reason_seen(srv: FakeServer) -> None:
    srv.enqueue(Reply.cut(sse_data(chunk("Hello there", finish="stop", usage=USAGE))))
    chat = make_chat(srv)
    with pytest.raises(ConnectionCutError):
        list(chat.stream("hi"))
    partial = only_partial(chat)
    assert partial.tokens == Tokens(input=8, output=3, cached_input=4)
    assert partial.finish_reason == "success"


def test_breaking_out_then_close_keeps_a_partial_turn(srv: FakeServer) -> None:
    srv.enqueue(
        Reply.sse(openai_stream(["a", "b", "c", "d"]), delay=0.1), Reply.json(answer("next"))
    )
    chat = make_chat(srv)
    stream = chat.stream("hi")
    for piece in stream:
        assert piece == "" or piece == "a"
        if piece:
            break
    started = time.perf_counter()
    stream.close()  # type: ignore[attr-defined]
    assert time.perf_counter() - started < 0.2
    partial = only_partial(chat)
    assert partial.text == "a"
    assert "interrupted" in partial.reason
    # the chat goes on, and the next request sees the partial answer
    assert chat.chat("go on") == "next"
    messages = srv.requests[1].json["messages"]
    assert messages == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "a"},
        {"role": "user", "content": "go on"},
    ]


def test_breaking_out_then_collected_keeps_a_partial_turn(srv: FakeServer) -> None:
    srv.enqueue(Reply.sse(openai_stream(["a", "b", "c"]), delay=0.1))
    chat = make_chat(srv)

    def read_one() -> None:
        for piece in chat.stream("hi"):
            if piece:
                break

    read_one()
    gc.collect()
    partial = only_partial(chat)
    assert partial.text == "a"
    assert "interrupted" in partial.reason


def test_closing_before_reading_records_nothing(srv: FakeServer) -> None:
    chat = make_chat(srv)
    stream = chat.stream("hi")
    stream.close()  # type: ignore[attr-defined]
    assert srv.requests == []
    assert chat.get_turns() == []


def test_http_error_before_streaming_leaves_turns_unchanged(srv: FakeServer) -> None:
    srv.enqueue(
        Reply.json(answer("Hello there")),
        Reply.json({"error": {"message": "prompt too long"}}, status=400),
        Reply.json({"error": "Invalid credentials in Authorization header"}, status=401),
    )
    chat = make_chat(srv)
    chat.chat("hi")
    before = chat.get_turns()
    with pytest.raises(BadRequestError, match="prompt too long"):
        list(chat.stream("more"))
    assert chat.get_turns() == before
    with pytest.raises(AuthenticationError) as info:
        chat.chat("more", echo="output")
    assert type(info.value) is AuthenticationError
    assert info.value.status == 401
    assert str(info.value) == (
        "Acme: HTTP 401: Invalid credentials in Authorization header. Check the credential "
        "(environment variable or `credentials=`)."
    )
    assert chat.get_turns() == before


def test_partial_turn_after_chat_with_echo(
    srv: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    srv.enqueue(Reply.cut(sse_data(chunk("Hel")), sse_data(chunk("lo"))))
    chat = make_chat(srv)
    with pytest.raises(ConnectionCutError):
        chat.chat("hi", echo="output")
    assert capsys.readouterr().out.startswith("Hello")
    assert only_partial(chat).text == "Hello"


# -- echo -------------------------------------------------------------------------


def test_echo_output_prints_the_streamed_text(
    srv: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    srv.enqueue(Reply.sse(openai_stream(["Hello", " there"])))
    chat = make_chat(srv)
    assert chat.chat("hi", echo="output") == "Hello there"
    assert capsys.readouterr().out == "Hello there\n"
    assert srv.requests[0].json["stream"] is True
    assert chat.get_turns() == [UserTurn("hi"), expected_turn()]


def test_echo_all_also_prints_the_prompt(
    srv: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    srv.enqueue(Reply.sse(openai_stream(["Hello", " there"])))
    chat = make_chat(srv)
    assert chat.chat("hi", echo="all") == "Hello there"
    out = capsys.readouterr().out
    assert out == "> hi\nHello there\n"


def test_echo_none_prints_nothing(srv: FakeServer, capsys: pytest.CaptureFixture[str]) -> None:
    srv.enqueue(Reply.json(answer("Hello there")))
    chat = make_chat(srv, echo="output")
    assert chat.chat("hi", echo="none") == "Hello there"
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""
    assert srv.requests[0].json["stream"] is False
    assert chat.get_turns() == [UserTurn("hi"), expected_turn()]


def test_echo_set_on_the_chat(srv: FakeServer, capsys: pytest.CaptureFixture[str]) -> None:
    srv.enqueue(Reply.sse(openai_stream(["Hello", " there"])))
    chat = make_hf_chat(srv, echo="all")
    assert chat.chat("hi") == "Hello there"
    assert capsys.readouterr().out == "> hi\nHello there\n"


def test_stream_never_echoes(srv: FakeServer, capsys: pytest.CaptureFixture[str]) -> None:
    srv.enqueue(Reply.sse(openai_stream(["Hello", " there"])))
    chat = make_chat(srv, echo="all")
    assert list(chat.stream("hi")) == ["Hello", " there"]
    assert capsys.readouterr().out == ""


def test_echo_never_shows_the_credential(
    srv: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    srv.enqueue(Reply.sse(openai_stream(["Hello"])))
    chat = make_chat(srv, credentials=lambda: "sk-SECRET-123")
    chat.chat("hi", echo="all")
    captured = capsys.readouterr()
    assert "SECRET" not in captured.out + captured.err
