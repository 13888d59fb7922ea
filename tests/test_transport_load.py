"""Load on one provider's pool: many streams at once, pooled connections the server closed.

- 100 concurrent streams through one chat's provider (threads with
  ``chat.copy()``, ``parallel_chat``, and asyncio with ``stream_async`` /
  ``chat_async``) all complete with the right text: the pool grows to the
  work in flight instead of discarding a connection whose answer arrived
  (which used to fail with ``OSError: [Errno 9] Bad file descriptor``), no
  "connection pool is full" warning, and memory stays bounded.
- A keep-alive connection the server closed right after its answer is
  retried once, on a fresh connection, even with ``max_tries=1``.
- ``parallel_chat``'s default ``rpm`` never holds back the first ``rpm``
  requests (R's token bucket starts full).

Real loopback servers only (FakeServer, or raw sockets where HTTP must
misbehave); no timing assertion but generous bounds on hangs.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
from raw_server import RawServer, close, head

from ellmer_py import Chat, ConnectionCutError, parallel_chat, parallel_chat_text
from ellmer_py._scope import RateLimiter
from ellmer_py._transport import Transport
from ellmer_py.conformance.fake_server import FakeServer, RecordedRequest, Reply, sse_data
from ellmer_py.providers.openai_compatible import chat_openai_compatible

N = 100
WORDS = ("answer", " to", " ")


def chunk(text: str | None = None, finish: str | None = None) -> dict[str, Any]:
    delta = {} if text is None else {"content": text}
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def completion(text: str) -> dict[str, Any]:
    message = {"role": "assistant", "content": text}
    return {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}


def reply(request: RecordedRequest) -> Reply:
    """Answer prompt "pN" with "answer to pN": streamed in pieces (slowly) or as JSON."""
    prompt = str([m for m in request.json["messages"] if m["role"] == "user"][-1]["content"])
    if not request.json.get("stream"):
        return Reply.json(completion(f"answer to {prompt}"))
    pieces = [*WORDS, prompt]
    items = [sse_data(chunk(p)) for p in pieces]
    items += [sse_data(chunk(finish="stop")), sse_data("[DONE]")]
    return Reply.sse(items, delay=0.02)  # each stream lasts ~0.1 s: they overlap


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer(default=reply) as server:
        yield server
    assert not server.errors, server.errors


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ELLMER_MAX_TRIES", "ELLMER_TIMEOUT_S", "ELLMER_ECHO", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


def make_chat(srv: FakeServer) -> Chat:
    return chat_openai_compatible(
        base_url=srv.base_url,
        model="m",
        credentials=lambda: "k",
        echo="none",
        max_tries=1,
        timeout_s=30,
    )


def expected(i: int) -> str:
    return f"answer to p{i}"


def pool_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "pool is full" in r.getMessage()]


# -- 100 concurrent streams on one provider ----------------------------------------------


def run_threads(chat: Chat) -> list[str | BaseException]:
    """Stream p0..p99 at once, each in its own thread on its own copy of ``chat``."""
    results: list[str | BaseException] = [RuntimeError("not run")] * N
    barrier = threading.Barrier(N)

    def work(i: int) -> None:
        fork = chat.copy()
        try:
            barrier.wait(30)
            results[i] = "".join(fork.stream(f"p{i}"))
        except BaseException as exc:  # reported by the assertion
            results[i] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(N)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_100_concurrent_streams_in_threads_all_complete(
    srv: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    chat = make_chat(srv)
    results = run_threads(chat)
    assert results == [expected(i) for i in range(N)]
    # they really ran at once: far more connections than urllib3's old pool of 16
    assert len({r.connection for r in srv.requests}) > 16
    assert pool_warnings(caplog) == []
    # the pool kept them: the next 100 reuse them (a new one only past the first peak)
    assert run_threads(chat) == [expected(i) for i in range(N)]
    assert len({r.connection for r in srv.requests}) <= N


def test_100_concurrent_streams_keep_memory_bounded(srv: FakeServer) -> None:
    chat = make_chat(srv)
    run_threads(chat)  # warm up: the pool holds its connections from now on
    gc.collect()
    tracemalloc.start()
    try:
        first = run_threads(chat)
        gc.collect()
        after_one, _ = tracemalloc.get_traced_memory()
        second = run_threads(chat)
        gc.collect()
        after_two, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert first == second == [expected(i) for i in range(N)]
    assert peak < 64 * 2**20, peak  # 100 short answers at once: far below this
    assert after_two - after_one < 2 * 2**20  # nothing piles up from one batch to the next


def test_100_streams_with_asyncio_all_complete(
    srv: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    chat = make_chat(srv)

    async def one(i: int) -> str:
        return "".join([piece async for piece in chat.copy().stream_async(f"p{i}")])

    async def main() -> list[str]:
        return await asyncio.gather(*(one(i) for i in range(N)))

    assert asyncio.run(main()) == [expected(i) for i in range(N)]
    assert len({r.connection for r in srv.requests}) > 16
    assert pool_warnings(caplog) == []


def test_100_chat_async_on_copies_all_complete(srv: FakeServer) -> None:
    chat = make_chat(srv)
    srv.default = lambda request: Reply.json(completion("done"), delay=0.1)

    async def main() -> list[str]:
        return await asyncio.gather(*(chat.copy().chat_async(f"p{i}") for i in range(N)))

    assert asyncio.run(main()) == ["done"] * N
    assert len({r.connection for r in srv.requests}) > 16


def test_parallel_chat_with_many_active_fills_no_pool_warning(
    srv: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    srv.default = lambda request: Reply.json(completion("ok"), delay=0.05)
    chats = parallel_chat(make_chat(srv), [f"p{i}" for i in range(200)], max_active=50)
    assert all(isinstance(c, Chat) and c.last_turn().text == "ok" for c in chats)  # type: ignore[union-attr]
    assert len({r.connection for r in srv.requests}) > 16
    assert pool_warnings(caplog) == []


def test_default_rpm_does_not_hold_back_a_fast_server(
    srv: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []
    take = RateLimiter.take

    def recorded(self: RateLimiter) -> float:
        wait = take(self)
        waits.append(wait)
        return wait

    monkeypatch.setattr(RateLimiter, "take", recorded)
    texts = parallel_chat_text(make_chat(srv), [f"p{i}" for i in range(200)])
    assert texts == [expected(i) for i in range(200)]
    assert len(waits) == 200
    assert set(waits) == {0.0}  # R's bucket of rpm (500) tokens starts full


# -- pooled connections the server closed ------------------------------------------------

OK_BODY = b'{"ok": true}'


def test_keep_alive_closed_after_each_answer_is_retried_on_a_fresh_connection() -> None:
    def serve(conn: Any, server: RawServer) -> None:
        # answers as if it kept the connection, then closes it at once
        if server.read_request(conn) is not None:
            conn.sendall(head(Content_Type="application/json", Content_Length=len(OK_BODY)))
            conn.sendall(OK_BODY)
        close(conn)

    with RawServer(serve) as server:
        transport = Transport("Acme", max_tries=1, timeout_s=10)
        url = server.url + "/v1/chat/completions"
        for _ in range(50):
            assert transport.request_json("POST", url, headers={}, body={"x": 1}) == {"ok": True}
        assert len(server.requests) >= 50


def test_a_reused_connection_closed_on_the_next_request_is_retried_once() -> None:
    # Deterministic: each connection answers one request, then reads the next one
    # and closes without answering, as a server that had just timed it out does.
    def serve(conn: Any, server: RawServer) -> None:
        if server.read_request(conn) is not None:
            conn.sendall(head(Content_Type="application/json", Content_Length=len(OK_BODY)))
            conn.sendall(OK_BODY)
            server.read_request(conn)

    with RawServer(serve) as server:
        transport = Transport("Acme", max_tries=1, timeout_s=10)
        url = server.url + "/v1/chat/completions"
        for _ in range(10):
            assert transport.request_json("POST", url, headers={}, body={"x": 1}) == {"ok": True}
        # every call after the first was sent twice: on the reused connection, then fresh
        assert len(server.requests) == 19
        assert server.connections == 10


def test_the_free_retry_is_only_for_a_reused_connection_and_only_once() -> None:
    served = threading.Event()

    def serve(conn: Any, server: RawServer) -> None:
        if not served.is_set() and server.read_request(conn) is not None:
            served.set()  # only the very first request is answered
            conn.sendall(head(Content_Type="application/json", Content_Length=len(OK_BODY)))
            conn.sendall(OK_BODY)
        server.read_request(conn)  # any other: read, close without an answer

    with RawServer(serve) as server:
        transport = Transport("Acme", max_tries=1, timeout_s=10)
        url = server.url + "/v1/chat/completions"
        assert transport.request_json("POST", url, headers={}, body={"x": 1}) == {"ok": True}
        with pytest.raises(ConnectionCutError):
            transport.request_json("POST", url, headers={}, body={"x": 1})
        # the reused connection, then one fresh one: a POST is not sent a third time
        assert len(server.requests) == 3
