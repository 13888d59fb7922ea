"""What ``timeout_s`` bounds, what is retried, and how a wait is announced.

- ``timeout_s`` is a deadline for each try of a non-streamed call as a whole
  (R's ``req_timeout()``), not a bound on each socket read: a server that
  trickles a byte every 100 ms cannot hold a ``timeout_s=1`` call for long.
  For a stream it bounds the wait for the head and for each next piece.
  The error says which.
- Only what the README names is retried: not a 413 with ``Retry-After``;
  a corrupt gzip body says it could not be decoded.
- ``Retry-After`` is capped (a number or an HTTP-date), and each wait is
  logged (logger ``ellmer_py``, INFO) and shown on the echo stream.

Raw loopback sockets where HTTP must misbehave (every loop bounded, ending
with the server); the time bounds are generous correctness checks of the
deadline, not performance tests.
"""

from __future__ import annotations

import email.utils
import gzip
import io
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from raw_server import RawServer, head

from ellmer_py import (
    AssistantPartialTurn,
    BadRequestError,
    Chat,
    MalformedResponseError,
    RequestTimeoutError,
    StreamError,
)
from ellmer_py._transport import Transport
from ellmer_py.conformance.fake_server import FakeServer, Reply, sse_data
from ellmer_py.providers.openai_compatible import chat_openai_compatible

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
ANSWER = b'{"choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}}]}'
#: A timeout_s=1 call must end well before a trickle could finish (10 s and more).
BOUND = 5.0


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ELLMER_MAX_TRIES", "ELLMER_TIMEOUT_S", "ELLMER_ECHO", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server
    assert not server.errors, server.errors


def chunk(text: str | None = None, finish: str | None = None) -> dict[str, Any]:
    delta = {} if text is None else {"content": text}
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def make_chat(base_url: str, **kwargs: Any) -> Chat:
    kwargs.setdefault("timeout_s", 1)
    kwargs.setdefault("max_tries", 1)
    kwargs.setdefault("echo", "none")
    chat = chat_openai_compatible(base_url=base_url, model="m", credentials=lambda: "k", **kwargs)
    chat.get_provider().transport.backoff_factor = 0.01
    return chat


def post(transport: Transport, base_url: str) -> Any:
    return transport.request_json("POST", base_url + "/chat/completions", headers={}, body=BODY)


def timed_out(call: Any) -> tuple[RequestTimeoutError, float]:
    start = time.monotonic()
    with pytest.raises(RequestTimeoutError) as info:
        call()
    return info.value, time.monotonic() - start


# -- non-streamed calls: a deadline for the whole answer --------------------------------


def trickle_body(conn: Any, server: RawServer) -> None:
    """Headers at once, then a 100-byte body one byte every 100 ms (10 s in all)."""
    if server.read_request(conn) is not None:
        conn.sendall(head(Content_Type="application/json", Content_Length=100))
        server.trickle(conn, b" " * 100, 0.1)


def trickle_head(conn: Any, server: RawServer) -> None:
    """The status line and headers themselves, one byte every 100 ms."""
    if server.read_request(conn) is not None:
        whole = head(Content_Type="application/json", Content_Length=len(ANSWER)) + ANSWER
        server.trickle(conn, whole, 0.1)


@pytest.mark.parametrize("handler", [trickle_body, trickle_head], ids=["body", "head"])
def test_a_trickling_server_cannot_hold_a_call_past_its_deadline(handler: Any) -> None:
    with RawServer(handler) as server:
        transport = Transport("Acme", max_tries=3, timeout_s=1)
        error, took = timed_out(lambda: post(transport, server.url))
        assert took < BOUND
        assert str(error) == (
            f"Acme: no complete answer from {server.url} within 1 s. "
            "Raise the timeout with ELLMER_TIMEOUT_S or timeout_s=."
        )
        assert len(server.requests) == 1  # a POST that may have reached the model: not resent


def test_a_trickling_server_cannot_hold_a_chat_past_its_deadline() -> None:
    with RawServer(trickle_body) as server:
        chat = make_chat(server.url)
        _, took = timed_out(lambda: chat.chat("hi"))
        assert took < BOUND
        assert chat.get_turns() == []


def test_a_slow_answer_within_the_deadline_arrives(srv: FakeServer) -> None:
    srv.enqueue(Reply.json({"ok": 1}, delay=0.3))
    assert post(Transport("Acme", max_tries=1, timeout_s=1), srv.base_url) == {"ok": 1}


def test_the_deadline_does_not_cut_the_next_call_on_the_same_connection(srv: FakeServer) -> None:
    transport = Transport("Acme", max_tries=1, timeout_s=0.2)
    srv.default = Reply.json({"ok": 1})
    for _ in range(3):
        assert post(transport, srv.base_url) == {"ok": 1}
        time.sleep(0.25)  # past the deadline of the call before: nothing is cut
    assert [r.connection for r in srv.requests] == [1, 1, 1]


# -- streams: the head, then each next piece -----------------------------------------------


def stream_head_trickled(conn: Any, server: RawServer) -> None:
    if server.read_request(conn) is not None:
        server.trickle(conn, head(Content_Type="text/event-stream", Connection="close"), 0.1)


def stream_piece_trickled(conn: Any, server: RawServer) -> None:
    """One event at once, then a chunk that promises 60 bytes and trickles them."""
    if server.read_request(conn) is None:
        return
    conn.sendall(head(Content_Type="text/event-stream", Transfer_Encoding="chunked"))
    first = sse_data(chunk("Hel"))
    conn.sendall(b"%X\r\n%b\r\n" % (len(first), first))
    conn.sendall(b"3C\r\n")
    server.trickle(conn, b"x" * 60, 0.1)


def test_a_stream_whose_head_trickles_fails_at_its_deadline() -> None:
    with RawServer(stream_head_trickled) as server:
        chat = make_chat(server.url)
        error, took = timed_out(lambda: list(chat.stream("hi")))
        assert took < BOUND
        assert f"the stream from {server.url} did not start within 1 s" in str(error)


def stream_head_then_nothing(conn: Any, server: RawServer) -> None:
    if server.read_request(conn) is not None:
        conn.sendall(head(Content_Type="text/event-stream", Transfer_Encoding="chunked"))
        server.stopping.wait(10)


def test_a_stream_with_a_head_but_no_piece_did_not_start() -> None:
    with RawServer(stream_head_then_nothing) as server:
        chat = make_chat(server.url)
        error, took = timed_out(lambda: list(chat.stream("hi")))
        assert took < BOUND
        assert f"the stream from {server.url} did not start within 1 s" in str(error)


def test_a_stream_that_stalls_mid_piece_fails_and_keeps_what_arrived() -> None:
    with RawServer(stream_piece_trickled) as server:
        chat = make_chat(server.url)
        stream = chat.stream("hi")
        assert next(stream) == "Hel"
        error, took = timed_out(lambda: next(stream))
        assert took < BOUND
        assert f"the stream from {server.url} stalled: nothing new arrived within 1 s" in str(error)
        last = chat.get_turns()[-1]
        assert isinstance(last, AssistantPartialTurn) and last.text == "Hel"


def test_a_stream_longer_than_timeout_s_is_fine_while_pieces_keep_coming(
    srv: FakeServer,
) -> None:
    items = [sse_data(chunk(c)) for c in "abcd"] + [sse_data("[DONE]")]
    srv.enqueue(Reply.sse(items, delay=0.15))  # 0.6 s in all, a piece every 0.15 s
    chat = make_chat(srv.base_url, timeout_s=0.4)
    assert "".join(chat.stream("hi")) == "abcd"


def test_a_slow_reader_is_not_timed(srv: FakeServer) -> None:
    items = [sse_data(chunk(c)) for c in "abc"] + [sse_data("[DONE]")]
    srv.enqueue(Reply.sse(items))
    chat = make_chat(srv.base_url, timeout_s=0.2)
    pieces = []
    for piece in chat.stream("hi"):
        pieces.append(piece)
        time.sleep(0.3)  # the caller takes longer than timeout_s between pieces
    assert "".join(pieces) == "abc"


# -- what is retried ------------------------------------------------------------------------


def test_413_with_retry_after_is_not_retried(srv: FakeServer) -> None:
    too_big = Reply.json({"error": {"message": "request too large"}}, 413, {"Retry-After": "1"})
    srv.enqueue(too_big, Reply.json({"ok": 1}))
    with pytest.raises(BadRequestError, match="request too large"):
        post(Transport("Acme", max_tries=3, timeout_s=5, backoff_factor=0.01), srv.base_url)
    assert len(srv.requests) == 1


def corrupt_gzip(conn: Any, server: RawServer) -> None:
    if server.read_request(conn) is not None:
        body = gzip.compress(ANSWER)[:12] + b"not gzip at all"
        conn.sendall(
            head(Content_Type="application/json", Content_Encoding="gzip", Content_Length=len(body))
        )
        conn.sendall(body)


def corrupt_gzip_stream(conn: Any, server: RawServer) -> None:
    if server.read_request(conn) is not None:
        body = b"\x1f\x8b\x08\x00garbage, not deflate"
        conn.sendall(
            head(
                Content_Type="text/event-stream",
                Content_Encoding="gzip",
                Transfer_Encoding="chunked",
            )
        )
        conn.sendall(b"%X\r\n%b\r\n0\r\n\r\n" % (len(body), body))


def test_a_corrupt_gzip_body_says_it_could_not_be_decoded() -> None:
    with RawServer(corrupt_gzip) as server:
        transport = Transport("Acme", max_tries=3, timeout_s=5, backoff_factor=0.01)
        with pytest.raises(MalformedResponseError) as info:
            post(transport, server.url)
        message = str(info.value)
        assert message.startswith(f"Acme: the answer from {server.url} could not be decoded: ")
        assert "could not connect" not in message
        assert len(server.requests) == 1


def test_a_corrupt_gzip_stream_says_it_could_not_be_decoded() -> None:
    with RawServer(corrupt_gzip_stream) as server:
        chat = make_chat(server.url, timeout_s=5)
        with pytest.raises(StreamError, match="could not be decoded"):
            list(chat.stream("hi"))


# -- Retry-After: capped, logged, shown ---------------------------------------------------


def wait_record(caplog: pytest.LogCaptureFixture) -> str:
    records = [r for r in caplog.records if r.name == "ellmer_py" and "waiting" in r.getMessage()]
    assert len(records) == 1, [r.getMessage() for r in caplog.records]
    assert records[0].levelno == logging.INFO
    return records[0].getMessage()


@pytest.mark.parametrize("kind", ["seconds", "http-date"])
def test_a_huge_retry_after_is_capped_and_logged(
    srv: FakeServer, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    caplog.set_level(logging.INFO, logger="ellmer_py")
    value = "3600" if kind == "seconds" else email.utils.formatdate(time.time() + 3600, usegmt=True)
    srv.enqueue(Reply.json({"error": "slow down"}, 429, {"Retry-After": value}), Reply.json({}))
    transport = Transport("Acme", max_tries=3, timeout_s=5, retry_after_cap=1)
    start = time.monotonic()
    assert post(transport, srv.base_url) == {}
    assert time.monotonic() - start < BOUND  # waited the cap (1 s), not an hour
    message = wait_record(caplog)
    assert message.startswith(f"Acme: the server answered 429 with Retry-After: {value}")
    assert "(capped at 1 s); waiting 1 s before try 2 of 3." in message


def test_a_backoff_wait_is_logged_with_its_reason(
    srv: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ellmer_py")
    srv.enqueue(Reply.json({"error": "busy"}, 503), Reply.json({}))
    post(Transport("Acme", max_tries=2, timeout_s=5, backoff_factor=0.01), srv.base_url)
    message = wait_record(caplog)
    assert message.startswith("Acme: the server answered 503; waiting ")
    assert message.endswith(" s before try 2 of 2.")


def test_a_wait_is_shown_on_the_echo_stream(srv: FakeServer) -> None:
    srv.enqueue(
        Reply.json({"error": "slow down"}, 429, {"Retry-After": "1"}),
        Reply.sse([sse_data(chunk("Hi")), sse_data("[DONE]")]),
    )
    out = io.StringIO()
    chat = make_chat(srv.base_url, max_tries=2, timeout_s=5, echo="output")
    chat._echo_stream = out  # as tests/test_tools.py does
    assert chat.chat("hi") == "Hi"
    assert out.getvalue() == (
        "[OpenAI-compatible: the server answered 429 with Retry-After: 1; "
        "waiting 1 s before try 2 of 2.]\nHi\n"
    )


def test_no_wait_is_shown_without_echo(srv: FakeServer, capsys: pytest.CaptureFixture[str]) -> None:
    srv.enqueue(Reply.json({"error": "busy"}, 503), Reply.json(ANSWER_DOC))
    assert make_chat(srv.base_url, max_tries=2, timeout_s=5).chat("hi") == "Hi"
    assert capsys.readouterr() == ("", "")


ANSWER_DOC = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}}]}
