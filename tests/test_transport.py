"""Tests of the transport: pool reuse, retries, Retry-After, timeouts, error mapping.

Everything runs against the real loopback FakeServer through the real
urllib3 pool, both with ``Transport`` directly and through
``chat_openai_compatible``.
"""

from __future__ import annotations

import gc
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ellmer_py import (
    AuthenticationError,
    BadRequestError,
    Chat,
    ConnectionCutError,
    EllmerError,
    HTTPStatusError,
    MalformedResponseError,
    NotFoundError,
    PaymentRequiredError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    StreamErrorEvent,
    TransportError,
)
from ellmer_py._transport import Transport
from ellmer_py.conformance.fake_server import FakeServer, Reply, sse_data
from ellmer_py.providers.openai_compatible import chat_openai_compatible

SECRET = "sk-SECRET-123"
ANSWER: dict[str, Any] = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": "m",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello"},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
}
BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
HTML_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


def chunk(text: str | None = None, finish: str | None = None) -> dict[str, Any]:
    """One chat.completion.chunk with a content delta."""
    delta = {} if text is None else {"content": text}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def sse_answer(*pieces: str) -> list[bytes]:
    """SSE items for an answer made of ``pieces``, ending with [DONE]."""
    items = [sse_data(chunk(p)) for p in pieces]
    return [*items, sse_data(chunk(finish="stop")), sse_data("[DONE]")]


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


def make_transport(**kwargs: Any) -> Transport:
    """A transport with fast backoff, short timeout and 3 tries unless told otherwise."""
    kwargs.setdefault("max_tries", 3)
    kwargs.setdefault("timeout_s", 5)
    kwargs.setdefault("backoff_factor", 0.01)
    return Transport("Acme", **kwargs)


def url(srv: FakeServer) -> str:
    """The chat endpoint of the fake server."""
    return srv.base_url + "/chat/completions"


def post(t: Transport, srv: FakeServer) -> Any:
    """POST the standard body and return the decoded answer."""
    return t.request_json("POST", url(srv), headers={"Authorization": "Bearer k"}, body=BODY)


def fast_backoff(chat: Chat) -> Chat:
    """Shorten the chat's retry backoff (before its first request) to keep tests fast."""
    chat.get_provider().transport.backoff_factor = 0.01
    return chat


def make_chat(srv: FakeServer, **kwargs: Any) -> Chat:
    """A chat_openai_compatible chat pointed at the fake server, with fast backoff."""
    kwargs.setdefault("credentials", lambda: "k")
    kwargs.setdefault("echo", "none")
    kwargs.setdefault("max_tries", 1)
    kwargs.setdefault("timeout_s", 5)
    return fast_backoff(chat_openai_compatible(base_url=srv.base_url, model="m", **kwargs))


def closed_port() -> int:
    """A loopback port nothing listens on."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port


# -- one pool per provider --------------------------------------------------


def test_pool_is_made_once_and_kept() -> None:
    t = make_transport()
    assert t.pool is t.pool


def test_sequential_requests_reuse_one_connection(srv: FakeServer) -> None:
    srv.default = Reply.json(ANSWER)
    t = make_transport()
    for _ in range(4):
        assert post(t, srv) == ANSWER
    assert [r.connection for r in srv.requests] == [1, 1, 1, 1]


def test_chat_requests_reuse_one_connection(srv: FakeServer) -> None:
    srv.default = Reply.json(ANSWER)
    chat = make_chat(srv)
    pool = chat.get_provider().transport.pool
    assert [chat.chat("hi") for _ in range(3)] == ["Hello"] * 3
    assert [r.connection for r in srv.requests] == [1, 1, 1]
    assert chat.get_provider().transport.pool is pool


def test_set_model_keeps_the_pool(srv: FakeServer) -> None:
    srv.default = Reply.json(ANSWER)
    chat = make_chat(srv)
    chat.chat("hi")
    transport = chat.get_provider().transport
    chat.set_model("other")
    assert chat.get_provider().transport is transport
    chat.chat("hi again")
    assert [r.connection for r in srv.requests] == [1, 1]
    assert srv.requests[1].json["model"] == "other"


def test_threads_share_the_pool(srv: FakeServer) -> None:
    srv.default = Reply.json(ANSWER, delay=0.1)
    t = make_transport()
    results: list[Any] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(post(t, srv))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert results == [ANSWER] * 6
    first = {r.connection for r in srv.requests}
    assert len(first) > 1  # they really ran at the same time
    srv.default = Reply.json(ANSWER)
    for _ in range(3):
        post(t, srv)
    # the later requests reuse connections the threads opened
    assert {r.connection for r in srv.requests[6:]} <= first


def test_stream_read_to_the_end_leaves_the_connection_reusable(srv: FakeServer) -> None:
    srv.enqueue(Reply.sse(sse_answer("Hel", "lo")), Reply.json(ANSWER))
    t = make_transport()
    response = t.stream("POST", url(srv), headers={}, body=BODY)
    assert response.status == 200
    assert response.content_type == "text/event-stream"
    data = b"".join(response)
    assert data == b"".join(sse_answer("Hel", "lo"))
    assert post(t, srv) == ANSWER
    assert [r.connection for r in srv.requests] == [1, 1]
    assert srv.requests[0].headers["accept"] == "text/event-stream"


def test_chat_stream_leaves_the_connection_reusable(srv: FakeServer) -> None:
    srv.enqueue(Reply.sse(sse_answer("Hel", "lo")), Reply.json(ANSWER))
    chat = make_chat(srv)
    assert "".join(chat.stream("hi")) == "Hello"
    assert chat.chat("again") == "Hello"
    assert [r.connection for r in srv.requests] == [1, 1]


def test_stream_without_done_leaves_the_connection_reusable(srv: FakeServer) -> None:
    items = [sse_data(chunk("Hel")), sse_data(chunk("lo", finish="stop"))]
    srv.enqueue(Reply.sse(items), Reply.json(ANSWER))
    chat = make_chat(srv)
    assert "".join(chat.stream("hi")) == "Hello"
    assert chat.chat("again") == "Hello"
    assert [r.connection for r in srv.requests] == [1, 1]


def test_abandoned_stream_does_not_break_the_next_request(srv: FakeServer) -> None:
    srv.enqueue(Reply.sse(sse_answer("a", "b", "c", "d"), delay=0.2), Reply.json(ANSWER))
    t = make_transport()
    response = t.stream("POST", url(srv), headers={}, body=BODY)
    chunks = iter(response)
    assert next(chunks) == sse_data(chunk("a"))
    started = time.perf_counter()
    chunks.close()  # type: ignore[attr-defined]
    assert post(t, srv) == ANSWER
    assert time.perf_counter() - started < 0.5  # did not wait for the rest of the stream
    assert len(srv.requests) == 2


def test_closing_an_unread_stream_does_not_break_the_next_request(srv: FakeServer) -> None:
    srv.enqueue(Reply.sse(sse_answer("a", "b"), delay=0.2), Reply.json(ANSWER))
    t = make_transport()
    t.stream("POST", url(srv), headers={}, body=BODY).close()
    assert post(t, srv) == ANSWER


def test_chat_stream_abandoned_early_does_not_break_the_next_request(srv: FakeServer) -> None:
    srv.enqueue(Reply.sse(sse_answer("a", "b", "c", "d"), delay=0.2), Reply.json(ANSWER))
    chat = make_chat(srv)
    stream = chat.stream("hi")
    assert next(stream) == "a"
    del stream
    gc.collect()
    started = time.perf_counter()
    assert chat.chat("again") == "Hello"
    assert time.perf_counter() - started < 0.5
    assert len(srv.requests) == 2


def test_finish_reads_a_prompt_end_and_keeps_the_connection(srv: FakeServer) -> None:
    srv.enqueue(Reply.sse(sse_answer("Hi")), Reply.json(ANSWER))
    t = make_transport()
    response = t.stream("POST", url(srv), headers={}, body=BODY)
    chunks = iter(response)
    assert b'"Hi"' in next(chunks)
    # the rest (finish chunk, [DONE], end of body) has been sent at once
    response.finish()
    assert post(t, srv) == ANSWER
    assert [r.connection for r in srv.requests] == [1, 1]


def test_finish_does_not_wait_for_a_lingering_server(srv: FakeServer) -> None:
    items = [sse_data(chunk("Hi")) + sse_data("[DONE]"), b": ping\n\n"]
    srv.enqueue(Reply.sse(items, delay=2), Reply.json(ANSWER))
    t = make_transport(timeout_s=5)
    response = t.stream("POST", url(srv), headers={}, body=BODY)
    chunks = iter(response)
    assert next(chunks) == items[0]
    started = time.perf_counter()
    response.finish(grace=0.1)
    assert time.perf_counter() - started < 0.5
    assert post(t, srv) == ANSWER  # on a fresh connection: the old one was dropped
    assert [r.connection for r in srv.requests] == [1, 2]


# -- retries ---------------------------------------------------------------


def test_refused_connection_fails_after_max_tries() -> None:
    port = closed_port()
    t = make_transport(max_tries=3)
    started = time.perf_counter()
    with pytest.raises(TransportError) as info:
        t.request_json(
            "POST", f"http://127.0.0.1:{port}/v1/chat/completions", headers={}, body=BODY
        )
    assert time.perf_counter() - started < 2
    exc = info.value
    assert type(exc) is TransportError
    assert exc.provider == "Acme"
    assert exc.status is None
    message = str(exc)
    assert message.startswith("Acme: could not connect to http://127.0.0.1:")
    assert "after 3 tries" in message
    assert "refused" in message.lower()
    assert "\n" not in message
    assert "object at 0x" not in message


def _serve_once_later(port: int, delay: float, answered: threading.Event) -> None:
    """After ``delay`` s, listen on ``port`` and answer one request with ANSWER."""
    time.sleep(delay)
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(1)
        listener.settimeout(5)
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, rest = data.partition(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            while len(rest) < length:
                rest += conn.recv(65536)
            import json

            body = json.dumps(ANSWER).encode()
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Connection: close\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body)
            )
            answered.set()


def test_refused_connection_is_retried_with_backoff() -> None:
    port = closed_port()
    answered = threading.Event()
    server = threading.Thread(target=_serve_once_later, args=(port, 0.15, answered), daemon=True)
    server.start()
    # tries at 0 s (refused), then after 0.2-0.4 s of backoff: by then the
    # port listens (from 0.15 s on); later tries would come at 0.6 s and more.
    t = make_transport(max_tries=5, backoff_factor=0.2)
    started = time.perf_counter()
    doc = t.request_json(
        "POST", f"http://127.0.0.1:{port}/v1/chat/completions", headers={}, body=BODY
    )
    elapsed = time.perf_counter() - started
    server.join(5)
    assert doc == ANSWER
    assert answered.is_set()
    assert 0.15 <= elapsed < 2


RETRIED = [
    (408, HTTPStatusError),
    (429, RateLimitError),
    (500, ServerError),
    (502, ServerError),
    (503, ServerError),
    (504, ServerError),
]


@pytest.mark.parametrize(("status", "_cls"), RETRIED)
def test_retryable_status_is_retried_until_success(
    srv: FakeServer, status: int, _cls: type[EllmerError]
) -> None:
    srv.enqueue(
        Reply.json({"error": {"message": "first"}}, status=status),
        Reply.json({"error": {"message": "second"}}, status=status),
        Reply.json(ANSWER),
    )
    assert post(make_transport(max_tries=3), srv) == ANSWER
    requests = srv.requests
    assert len(requests) == 3
    # POST is retried, with the same body each time
    assert [r.method for r in requests] == ["POST"] * 3
    assert [r.json for r in requests] == [BODY] * 3


@pytest.mark.parametrize(("status", "cls"), RETRIED)
def test_retryable_status_fails_after_max_tries_with_the_last_message(
    srv: FakeServer, status: int, cls: type[EllmerError]
) -> None:
    srv.enqueue(
        Reply.json({"error": {"message": "first"}}, status=status),
        Reply.json({"error": {"message": "second"}}, status=status),
        Reply.json({"error": {"message": "third and last"}}, status=status),
        Reply.json(ANSWER),  # never reached
    )
    with pytest.raises(cls) as info:
        post(make_transport(max_tries=3), srv)
    exc = info.value
    assert isinstance(exc, HTTPStatusError)
    assert exc.status == status
    assert exc.provider == "Acme"
    assert exc.server_message == "third and last"
    assert str(exc) == f"Acme: HTTP {status} after 3 tries: third and last."
    assert len(srv.requests) == 3
    assert srv.pending == 1


def test_retries_back_off_exponentially(srv: FakeServer) -> None:
    srv.default = Reply.json({"error": "busy"}, status=503)
    with pytest.raises(ServerError):
        post(make_transport(max_tries=3, backoff_factor=0.1), srv)
    first, second, third = (r.received_at for r in srv.requests)
    # 0.1 s then 0.2 s, each plus up to 0.1 s of jitter: even the first retry waits
    assert 0.09 <= second - first < 0.5
    assert 0.19 <= third - second < 0.6


def test_default_backoff_waits_before_the_first_retry(srv: FakeServer) -> None:
    srv.enqueue(Reply.json({"error": "busy"}, status=429), Reply.json(ANSWER))
    chat = chat_openai_compatible(
        base_url=srv.base_url, model="m", credentials=lambda: "k", echo="none", max_tries=2
    )
    assert chat.chat("hi") == "Hello"
    first, second = srv.requests
    # default backoff_factor 0.5: a rate-limited request is not hammered at once
    assert 0.45 <= second.received_at - first.received_at < 1.5


@pytest.mark.parametrize("max_tries", [1, 2, 4])
def test_number_of_tries_is_max_tries(srv: FakeServer, max_tries: int) -> None:
    srv.default = Reply.json({"error": "busy"}, status=503)
    with pytest.raises(ServerError) as info:
        post(make_transport(max_tries=max_tries), srv)
    assert len(srv.requests) == max_tries
    after = f" after {max_tries} tries" if max_tries > 1 else ""
    assert str(info.value) == f"Acme: HTTP 503{after}: busy."


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (402, PaymentRequiredError),
        (404, NotFoundError),
        (422, BadRequestError),
    ],
)
def test_client_errors_are_not_retried(
    srv: FakeServer, status: int, cls: type[EllmerError]
) -> None:
    srv.enqueue(Reply.json({"error": {"message": "nope"}}, status=status), Reply.json(ANSWER))
    with pytest.raises(cls) as info:
        post(make_transport(max_tries=3), srv)
    assert info.value.status == status
    assert info.value.server_message == "nope"
    assert "tries" not in str(info.value)
    assert len(srv.requests) == 1


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_client_errors_are_not_retried_when_streaming(srv: FakeServer, status: int) -> None:
    srv.enqueue(Reply.json({"error": "nope"}, status=status), Reply.json(ANSWER))
    with pytest.raises(HTTPStatusError) as info:
        make_transport(max_tries=3).stream("POST", url(srv), headers={}, body=BODY)
    assert info.value.status == status
    assert len(srv.requests) == 1


def test_stream_request_is_retried_on_503(srv: FakeServer) -> None:
    srv.enqueue(Reply.json({"error": "busy"}, status=503), Reply.sse(sse_answer("Hi")))
    response = make_transport(max_tries=2).stream("POST", url(srv), headers={}, body=BODY)
    assert b"".join(response) == b"".join(sse_answer("Hi"))
    assert len(srv.requests) == 2


def test_chat_retries_and_reports_the_last_error(srv: FakeServer) -> None:
    srv.enqueue(
        Reply.json({"error": "overloaded 1"}, status=503),
        Reply.json({"error": "overloaded 2"}, status=503),
    )
    chat = make_chat(srv, max_tries=2)
    with pytest.raises(ServerError) as info:
        chat.chat("hi")
    assert str(info.value) == "OpenAI-compatible: HTTP 503 after 2 tries: overloaded 2."
    assert len(srv.requests) == 2
    assert chat.get_turns() == []


def test_retry_after_is_honoured(srv: FakeServer) -> None:
    srv.enqueue(
        Reply.json({"error": "slow down"}, status=429, headers={"Retry-After": "1"}),
        Reply.json(ANSWER),
    )
    assert post(make_transport(max_tries=2), srv) == ANSWER
    first, second = srv.requests
    assert second.received_at - first.received_at >= 0.9


def test_retry_after_is_honoured_on_503_through_chat(srv: FakeServer) -> None:
    srv.enqueue(
        Reply.json({"error": "busy"}, status=503, headers={"Retry-After": "1"}),
        Reply.json(ANSWER),
    )
    assert make_chat(srv, max_tries=2).chat("hi") == "Hello"
    first, second = srv.requests
    assert second.received_at - first.received_at >= 0.9


def test_huge_retry_after_is_capped(srv: FakeServer) -> None:
    srv.enqueue(
        Reply.json({"error": "come back tomorrow"}, status=429, headers={"Retry-After": "3600"}),
        Reply.json(ANSWER),
    )
    started = time.perf_counter()
    assert post(make_transport(max_tries=2, retry_after_cap=1), srv) == ANSWER
    assert time.perf_counter() - started < 3
    first, second = srv.requests
    assert second.received_at - first.received_at >= 0.9


def test_default_retry_after_cap_is_sane() -> None:
    t = Transport("Acme")
    assert 1 <= t.retry_after_cap <= 120
    assert t.pool.connection_pool_kw["retries"].retry_after_max == t.retry_after_cap


@pytest.mark.parametrize(
    "value", ["nan", "inf", "-inf", "soon", "", "-3", "Wed, 21 Oct 2015 07:28:00 GMT"]
)
def test_odd_retry_after_does_not_crash(srv: FakeServer, value: str) -> None:
    srv.enqueue(
        Reply.json({"error": "slow down"}, status=429, headers={"Retry-After": value}),
        Reply.json(ANSWER),
    )
    started = time.perf_counter()
    assert post(make_transport(max_tries=2, retry_after_cap=1), srv) == ANSWER
    assert time.perf_counter() - started < 2.5
    assert len(srv.requests) == 2


def test_fractional_retry_after_is_honoured_and_capped(srv: FakeServer) -> None:
    srv.enqueue(
        Reply.json({"error": "slow down"}, status=503, headers={"Retry-After": "1.5"}),
        Reply.json(ANSWER),
    )
    assert post(make_transport(max_tries=2, retry_after_cap=1), srv) == ANSWER
    first, second = srv.requests
    assert 0.9 <= second.received_at - first.received_at < 1.4


def test_rate_limit_error_keeps_retry_after(srv: FakeServer) -> None:
    srv.enqueue(Reply.json({"error": "slow down"}, status=429, headers={"Retry-After": "7"}))
    with pytest.raises(RateLimitError) as info:
        post(make_transport(max_tries=1), srv)
    assert info.value.retry_after == 7.0


# -- settings from the environment ---------------------------------------------


def test_env_max_tries_is_honoured(srv: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELLMER_MAX_TRIES", "2")
    srv.default = Reply.json({"error": "busy"}, status=503)
    t = Transport("Acme", backoff_factor=0.01)
    assert t.max_tries == 2
    with pytest.raises(ServerError):
        post(t, srv)
    assert len(srv.requests) == 2


def test_keyword_max_tries_overrides_env(srv: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELLMER_MAX_TRIES", "5")
    srv.default = Reply.json({"error": "busy"}, status=503)
    chat = chat_openai_compatible(
        base_url=srv.base_url, model="m", credentials=lambda: "k", echo="none", max_tries=1
    )
    assert chat.get_provider().transport.max_tries == 1
    with pytest.raises(ServerError):
        chat.chat("hi")
    assert len(srv.requests) == 1


def test_env_max_tries_reaches_chat(srv: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELLMER_MAX_TRIES", "2")
    srv.default = Reply.json({"error": "busy"}, status=502)
    chat = chat_openai_compatible(
        base_url=srv.base_url, model="m", credentials=lambda: "k", echo="none"
    )
    assert chat.get_provider().transport.max_tries == 2
    fast_backoff(chat)
    with pytest.raises(ServerError) as info:
        chat.chat("hi")
    assert "after 2 tries" in str(info.value)
    assert len(srv.requests) == 2


def _assert_timeout(exc: RequestTimeoutError, seconds: str) -> None:
    message = str(exc)
    assert f"within {seconds} s" in message
    assert "ELLMER_TIMEOUT_S" in message
    assert "timeout_s=" in message
    assert "\n" not in message


def test_env_timeout_is_honoured(srv: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELLMER_TIMEOUT_S", "0.3")
    srv.enqueue(Reply.hang(5))
    t = Transport("Acme", max_tries=1)
    assert t.timeout_s == 0.3
    started = time.perf_counter()
    with pytest.raises(RequestTimeoutError) as info:
        post(t, srv)
    assert time.perf_counter() - started < 1.5
    assert info.value.provider == "Acme"
    _assert_timeout(info.value, "0.3")


def test_keyword_timeout_overrides_env(srv: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELLMER_TIMEOUT_S", "100")
    srv.enqueue(Reply.hang(5))
    chat = chat_openai_compatible(
        base_url=srv.base_url,
        model="m",
        credentials=lambda: "k",
        echo="none",
        max_tries=1,
        timeout_s=0.25,
    )
    started = time.perf_counter()
    with pytest.raises(RequestTimeoutError) as info:
        chat.chat("hi")
    assert time.perf_counter() - started < 1.5
    _assert_timeout(info.value, "0.25")
    assert str(info.value).startswith("OpenAI-compatible: ")
    assert chat.get_turns() == []


def test_timeout_on_a_stream_request(srv: FakeServer) -> None:
    srv.enqueue(Reply.hang(5))
    chat = make_chat(srv, timeout_s=0.25)
    started = time.perf_counter()
    with pytest.raises(RequestTimeoutError) as info:
        list(chat.stream("hi"))
    assert time.perf_counter() - started < 1.5
    _assert_timeout(info.value, "0.25")
    assert chat.get_turns() == []


def test_timeout_between_stream_chunks(srv: FakeServer) -> None:
    srv.enqueue(Reply.sse([sse_data(chunk("Hel")), sse_data(chunk("lo"))], delay=3))
    chat = make_chat(srv, timeout_s=0.3)
    stream = chat.stream("hi")
    assert next(stream) == "Hel"
    started = time.perf_counter()
    with pytest.raises(RequestTimeoutError) as info:
        next(stream)
    assert time.perf_counter() - started < 1.5
    _assert_timeout(info.value, "0.3")
    turns = chat.get_turns()
    assert [t.role for t in turns] == ["user", "assistant"]
    assert turns[1].text == "Hel"


def test_a_timed_out_request_is_not_retried(srv: FakeServer) -> None:
    srv.enqueue(Reply.hang(5), Reply.json(ANSWER))
    with pytest.raises(RequestTimeoutError):
        post(make_transport(max_tries=3, timeout_s=0.2), srv)
    # a POST that may have reached the model is not sent twice
    assert len(srv.requests) == 1


# -- error answers --------------------------------------------------------------


def test_html_502_gives_a_one_line_server_error(srv: FakeServer) -> None:
    srv.default = Reply.raw(502, HTML_502, content_type="text/html")
    with pytest.raises(ServerError) as info:
        post(make_transport(max_tries=2), srv)
    message = str(info.value)
    assert message.startswith("Acme: HTTP 502 after 2 tries: 502 Bad Gateway")
    assert "\n" not in message
    assert len(message) < 300
    assert "<html" not in message.lower()
    assert info.value.status == 502


def test_html_502_through_chat(srv: FakeServer) -> None:
    srv.default = Reply.raw(502, HTML_502 * 200, content_type="text/html; charset=utf-8")
    with pytest.raises(ServerError) as info:
        make_chat(srv).chat("hi")
    message = str(info.value)
    assert "\n" not in message
    assert len(message) < 300
    assert "<html" not in message.lower()
    assert "502 Bad Gateway" in message


def test_html_502_on_a_stream_request(srv: FakeServer) -> None:
    srv.default = Reply.raw(502, HTML_502, content_type="text/html")
    chat = make_chat(srv)
    with pytest.raises(ServerError) as info:
        list(chat.stream("hi"))
    message = str(info.value)
    assert message.startswith("OpenAI-compatible: HTTP 502: 502 Bad Gateway")
    assert "\n" not in message and "<" not in message
    assert chat.get_turns() == []


def test_non_json_200_is_malformed(srv: FakeServer) -> None:
    srv.enqueue(Reply.raw(200, "<html>all good</html>", content_type="text/html"))
    with pytest.raises(MalformedResponseError) as info:
        post(make_transport(), srv)
    assert info.value.status == 200
    assert info.value.provider == "Acme"
    assert "not JSON" in str(info.value)
    assert len(srv.requests) == 1


def test_non_json_200_through_chat(srv: FakeServer) -> None:
    srv.enqueue(Reply.raw(200, b"\x00\xffnot json", content_type="application/json"))
    chat = make_chat(srv)
    with pytest.raises(MalformedResponseError) as info:
        chat.chat("hi")
    assert str(info.value).startswith("OpenAI-compatible: ")
    assert chat.get_turns() == []


def test_empty_200_is_malformed(srv: FakeServer) -> None:
    srv.enqueue(Reply.raw(200, b"", content_type="application/json"))
    with pytest.raises(MalformedResponseError):
        post(make_transport(), srv)


def test_dropped_connection_is_a_transport_error(srv: FakeServer) -> None:
    srv.enqueue(Reply.drop(), Reply.json(ANSWER))
    with pytest.raises(ConnectionCutError) as info:
        post(make_transport(max_tries=3), srv)
    assert info.value.provider == "Acme"
    assert str(info.value).startswith("Acme: the connection to http://127.0.0.1:")
    assert "object at 0x" not in str(info.value)
    # the request may have reached the model: a POST is not sent twice
    assert len(srv.requests) == 1


# -- no credential in any error -------------------------------------------------


def secret_chat(srv: FakeServer, **kwargs: Any) -> Chat:
    """A chat whose credential is SECRET."""
    return make_chat(srv, credentials=lambda: SECRET, **kwargs)


def _run_chat(chat: Chat) -> None:
    chat.chat("hi")


def _run_stream(chat: Chat) -> None:
    for _ in chat.stream("hi"):
        pass


CASES: list[tuple[str, Callable[[], Reply], type[EllmerError], Callable[[Chat], None]]] = [
    (
        "401",
        lambda: Reply.json({"error": "Invalid credentials in Authorization header"}, 401),
        AuthenticationError,
        _run_chat,
    ),
    ("403", lambda: Reply.raw(403, "Forbidden"), AuthenticationError, _run_chat),
    (
        "402",
        lambda: Reply.json({"error": "You have exceeded your monthly included credits"}, 402),
        PaymentRequiredError,
        _run_chat,
    ),
    ("404", lambda: Reply.json({"error": "Not Found"}, 404), NotFoundError, _run_chat),
    (
        "400",
        lambda: Reply.json({"error": {"message": "bad model", "code": "model_not_found"}}, 400),
        BadRequestError,
        _run_chat,
    ),
    (
        "422",
        lambda: Reply.json({"detail": [{"msg": "field required"}]}, 422),
        BadRequestError,
        _run_chat,
    ),
    ("429", lambda: Reply.json({"error": "slow down"}, 429), RateLimitError, _run_chat),
    ("500", lambda: Reply.json({"error": "boom"}, 500), ServerError, _run_chat),
    (
        "502 html",
        lambda: Reply.raw(502, HTML_502, content_type="text/html"),
        ServerError,
        _run_stream,
    ),
    ("non-json", lambda: Reply.raw(200, "nope"), MalformedResponseError, _run_chat),
    ("timeout", lambda: Reply.hang(5), RequestTimeoutError, _run_chat),
    ("cut", lambda: Reply.cut(sse_data(chunk("Hel"))), ConnectionCutError, _run_stream),
    (
        "error event",
        lambda: Reply.sse([sse_data(chunk("Hel")), sse_data({"error": {"message": "boom"}})]),
        StreamErrorEvent,
        _run_stream,
    ),
    ("bad sse", lambda: Reply.sse([b"data: {not json\n\n"]), MalformedResponseError, _run_stream),
]


@pytest.mark.parametrize(("case", "reply", "cls", "run"), CASES, ids=[c[0] for c in CASES])
def test_no_credential_in_errors(
    srv: FakeServer,
    case: str,
    reply: Callable[[], Reply],
    cls: type[EllmerError],
    run: Callable[[Chat], None],
) -> None:
    srv.default = reply()
    chat = secret_chat(srv, timeout_s=0.25)
    with pytest.raises(cls) as info:
        run(chat)
    exc = info.value
    # the credential really was sent...
    assert srv.requests[0].headers["authorization"] == f"Bearer {SECRET}"
    # ...and appears nowhere in the error
    for text in (str(exc), repr(exc), exc.message, str(exc.args), str(exc.server_message)):
        assert "SECRET" not in text, case
    for turn in chat.get_turns():
        assert "SECRET" not in repr(turn)


def test_no_credential_in_refused_connection_error() -> None:
    port = closed_port()
    chat = chat_openai_compatible(
        base_url=f"http://127.0.0.1:{port}/v1",
        model="m",
        credentials=lambda: SECRET,
        echo="none",
        max_tries=2,
        timeout_s=1,
    )
    fast_backoff(chat)
    with pytest.raises(TransportError) as info:
        chat.chat("hi")
    assert "SECRET" not in str(info.value)
    assert "SECRET" not in repr(info.value)
    assert "after 2 tries" in str(info.value)


def test_no_credential_when_the_server_echoes_it(srv: FakeServer) -> None:
    # some servers quote the key they rejected; it must not reach the user's logs
    srv.default = Reply.json({"error": {"message": f"Incorrect API key provided: {SECRET}"}}, 401)
    with pytest.raises(AuthenticationError) as info:
        secret_chat(srv).chat("hi")
    exc = info.value
    for text in (str(exc), repr(exc), str(exc.server_message)):
        assert "SECRET" not in text


def test_no_credential_in_transport_repr(srv: FakeServer) -> None:
    chat = secret_chat(srv)
    assert "SECRET" not in repr(chat.get_provider().transport)
    assert "SECRET" not in repr(chat.get_provider())
    assert "SECRET" not in repr(chat)


def test_transport_hides_any_credential_header_the_server_quotes(srv: FakeServer) -> None:
    srv.default = Reply.json(
        {"error": f"key {SECRET} and token tok-ABCDEF-9 refused for app my-app-name"}, 403
    )
    t = make_transport(max_tries=1)
    headers = {"x-api-key": SECRET, "X-Session-Token": "tok-ABCDEF-9", "X-Title": "my-app-name"}
    with pytest.raises(AuthenticationError) as info:
        t.request_json("POST", url(srv), headers=headers, body=BODY)
    exc = info.value
    assert exc.server_message == "key [REDACTED] and token [REDACTED] refused for app my-app-name"
    assert "SECRET" not in str(exc) and "ABCDEF" not in repr(exc)
    assert "my-app-name" in str(exc)  # ordinary headers are left alone


def test_no_credential_from_the_url_in_errors() -> None:
    port = closed_port()
    t = make_transport(max_tries=1)
    target = f"http://admin:pw-SECRET-1@127.0.0.1:{port}/v1/chat/completions?key=SECRET"
    with pytest.raises(TransportError) as info:
        t.request_json("POST", target, headers={}, body=BODY)
    assert "SECRET" not in str(info.value)
    assert f"http://127.0.0.1:{port}" in str(info.value)


@pytest.mark.parametrize(
    "error",
    [
        Reply.json({"error": "nope"}, status=400),
        # a chunked error body, read through the streaming path
        Reply.sse([b'{"error":', b' "nope"}'], status=500, content_type="application/json"),
    ],
    ids=["length", "chunked"],
)
def test_error_answer_to_a_stream_request_leaves_the_connection_reusable(
    srv: FakeServer, error: Reply
) -> None:
    srv.enqueue(error, Reply.json(ANSWER))
    t = make_transport(max_tries=1)
    with pytest.raises(HTTPStatusError) as info:
        t.stream("POST", url(srv), headers={}, body=BODY)
    assert info.value.server_message == "nope"
    assert post(t, srv) == ANSWER
    assert [r.connection for r in srv.requests] == [1, 1]


def test_transport_repr() -> None:
    t = Transport("Acme", max_tries=2, timeout_s=1.5)
    assert repr(t) == "Transport(provider='Acme', max_tries=2, timeout_s=1.5)"
