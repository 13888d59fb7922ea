"""Tests of Chat.chat_async / stream_async / chat_structured_async against a loopback server.

Covers: same answers and turns as the sync methods, the event loop stays
free while requests run, and cancellation (task.cancel(), wait_for timing
out, aclose(), a ``break``) at every stage (before the status line, between
stream pieces, in a non-streamed request): it returns at once, the
connection is dropped rather than reused, and the chat keeps the user turn
and an AssistantPartialTurn with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ellmer_py import (
    AssistantPartialTurn,
    AssistantTurn,
    AuthenticationError,
    BadRequestError,
    Chat,
    ConfigurationError,
    ContentText,
    Tokens,
    UserTurn,
    type_integer,
    type_object,
    type_string,
)
from ellmer_py._async import CANCELLED, INTERRUPTED, AsyncStream
from ellmer_py.conformance.fake_server import FakeServer, Reply, sse_data
from ellmer_py.providers.openai_compatible import chat_openai_compatible

USAGE = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}


def completion(text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "m",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": USAGE,
    }


def answer(text: str, *, delay: float = 0.0) -> Reply:
    return Reply.json(completion(text), delay=delay)


def streamed(*pieces: str, delay: float = 0.0) -> Reply:
    """An SSE answer: one event per piece (``delay`` s apart), usage, then [DONE]."""
    events = [
        sse_data({"choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]})
        for p in pieces
    ]
    events.append(
        sse_data({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": USAGE})
    )
    events.append(sse_data("[DONE]"))
    return Reply.sse(events, delay=delay)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "ELLMER_ECHO", "ELLMER_MAX_TRIES", "ELLMER_TIMEOUT_S"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server
    assert not server.errors, server.errors


def make_chat(srv: FakeServer, **kwargs: Any) -> Chat:
    kwargs.setdefault("credentials", lambda: "test-key-0123456789")
    return chat_openai_compatible(
        srv.base_url, model="m", echo="none", max_tries=1, timeout_s=10, **kwargs
    )


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def cancel_and_time(task: asyncio.Task[Any]) -> float:
    """Cancel ``task``; return how long it took to finish. It must end cancelled."""
    start = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return time.monotonic() - start


# -- same results as the sync methods ---------------------------------------------------


def test_chat_async_returns_the_text_and_records_the_turns_like_chat(srv: FakeServer) -> None:
    srv.enqueue(answer("Hi there"), answer("Hi there"))
    chat = make_chat(srv, system_prompt="Be brief.")
    assert run(chat.chat_async("Hello")) == "Hi there"
    expected = [
        UserTurn("Hello"),
        AssistantTurn("Hi there", tokens=Tokens(7, 3, 0), finish_reason="success"),
    ]
    assert chat.get_turns() == expected
    sync = make_chat(srv, system_prompt="Be brief.")
    assert sync.chat("Hello") == "Hi there"
    assert sync.get_turns() == chat.get_turns()
    first, second = srv.requests
    assert first.json == second.json  # the same request: not streamed, as chat(echo="none")
    assert "stream" not in first.json or first.json["stream"] is False
    assert first.json["messages"][0] == {"role": "system", "content": "Be brief."}


def test_stream_async_yields_the_pieces_and_records_the_same_turns_as_stream(
    srv: FakeServer,
) -> None:
    srv.enqueue(streamed("Hel", "lo", " world"), streamed("Hel", "lo", " world"))
    chat = make_chat(srv)

    async def collect() -> list[str]:
        return [piece async for piece in chat.stream_async("Hi")]

    assert run(collect()) == ["Hel", "lo", " world"]
    sync = make_chat(srv)
    assert list(sync.stream("Hi")) == ["Hel", "lo", " world"]
    assert chat.get_turns() == sync.get_turns()
    assert chat.get_turns()[1] == AssistantTurn(
        "Hello world", tokens=Tokens(7, 3, 0), finish_reason="success"
    )
    assert srv.requests[0].json["stream"] is True


def test_stream_async_content_all_yields_content_objects(srv: FakeServer) -> None:
    srv.enqueue(streamed("a", "b"))
    chat = make_chat(srv)

    async def collect() -> list[Any]:
        return [piece async for piece in chat.stream_async("Hi", content="all")]

    assert run(collect()) == [ContentText("a"), ContentText("b")]


def test_stream_async_checks_its_arguments_when_called(srv: FakeServer) -> None:
    chat = make_chat(srv)
    with pytest.raises(ConfigurationError, match="needs something to say"):
        chat.stream_async()
    with pytest.raises(ConfigurationError, match="content must be"):
        chat.stream_async("Hi", content="bogus")  # type: ignore[arg-type]
    assert isinstance(chat.stream_async("Hi"), AsyncStream)
    assert srv.requests == []  # nothing is sent before iteration starts


def test_errors_reach_the_caller_and_leave_the_turns(srv: FakeServer) -> None:
    srv.enqueue(
        Reply.json({"error": {"message": "bad key"}}, status=401),
        Reply.json({"error": {"message": "no such thing"}}, status=400),
    )
    chat = make_chat(srv)
    with pytest.raises(AuthenticationError, match="bad key"):
        run(chat.chat_async("Hi"))

    async def collect() -> list[str]:
        return [piece async for piece in chat.stream_async("Hi")]

    with pytest.raises(BadRequestError, match="no such thing"):
        run(collect())
    assert chat.get_turns() == []


def test_the_event_loop_stays_free_while_requests_run(srv: FakeServer) -> None:
    srv.enqueue(answer("one", delay=0.3), answer("two", delay=0.3))
    chats = [make_chat(srv), make_chat(srv)]

    async def main() -> tuple[list[str], int, float]:
        ticks = 0
        stop = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        tick_task = asyncio.create_task(ticker())
        start = time.monotonic()
        texts = await asyncio.gather(*(c.chat_async("Hi") for c in chats))
        elapsed = time.monotonic() - start
        stop.set()
        await tick_task
        return list(texts), ticks, elapsed

    texts, ticks, elapsed = run(main())
    assert sorted(texts) == ["one", "two"]
    assert elapsed < 0.55  # both at once, not one after the other (0.6 s)
    assert ticks >= 10  # the loop ran while the threads waited


def test_contextvars_reach_the_worker_thread(srv: FakeServer) -> None:
    import contextvars

    seen: list[str] = []
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")

    def credentials() -> str:
        seen.append(var.get())
        return "test-key-0123456789"

    srv.enqueue(answer("ok"))
    chat = make_chat(srv, credentials=credentials)

    async def main() -> str:
        var.set("from the task")
        return await chat.chat_async("Hi")

    assert run(main()) == "ok"
    assert seen[-1] == "from the task"


# -- cancellation ----------------------------------------------------------------------


def test_cancel_between_stream_pieces_closes_the_connection_and_keeps_a_partial_turn(
    srv: FakeServer,
) -> None:
    srv.enqueue(streamed("a", "b", "c", delay=5.0))  # 10 s to finish
    chat = make_chat(srv)

    async def main() -> tuple[list[str], float]:
        got: list[str] = []

        async def consume() -> None:
            async for piece in chat.stream_async("Hi"):
                got.append(piece)

        task = asyncio.create_task(consume())
        while not got:
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.1)  # the worker is now blocked reading the next piece
        return got, await cancel_and_time(task)

    got, elapsed = run(main())
    assert got == ["a"]
    assert elapsed < 0.5
    assert chat.get_turns() == [
        UserTurn("Hi"),
        AssistantPartialTurn("a", reason=CANCELLED),
    ]
    # The next request works, at once, on a new connection: the cancelled one was dropped.
    srv.enqueue(answer("next"))
    start = time.monotonic()
    assert run(chat.chat_async("Again")) == "next"
    assert time.monotonic() - start < 0.5
    first, second = srv.requests
    assert second.connection != first.connection
    assert [m["role"] for m in second.json["messages"]] == ["user", "assistant", "user"]
    assert second.json["messages"][1]["content"] == "a"


def test_cancel_before_the_stream_begins(srv: FakeServer) -> None:
    srv.enqueue(dataclasses.replace(streamed("late"), delay=5.0))  # no status line for 5 s
    chat = make_chat(srv)

    async def main() -> float:
        async def consume() -> list[str]:
            return [p async for p in chat.stream_async("Hi")]

        task = asyncio.create_task(consume())
        await asyncio.to_thread(srv.wait_for_requests, 1)
        return await cancel_and_time(task)

    assert run(main()) < 0.5
    assert chat.get_turns() == [UserTurn("Hi"), AssistantPartialTurn((), reason=CANCELLED)]


def test_cancel_chat_async_waiting_for_the_answer(srv: FakeServer) -> None:
    srv.enqueue(Reply.hang(5.0))
    chat = make_chat(srv)

    async def main() -> float:
        task = asyncio.create_task(chat.chat_async("Hi"))
        await asyncio.to_thread(srv.wait_for_requests, 1)
        return await cancel_and_time(task)

    assert run(main()) < 0.5
    assert chat.get_turns() == [UserTurn("Hi"), AssistantPartialTurn((), reason=CANCELLED)]
    srv.enqueue(answer("next"))
    assert chat.chat("Again") == "next"
    assert srv.requests[1].connection != srv.requests[0].connection


def test_wait_for_timeout_cancels_the_request(srv: FakeServer) -> None:
    srv.enqueue(Reply.hang(5.0))
    chat = make_chat(srv)

    async def main() -> float:
        start = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(chat.chat_async("Hi"), timeout=0.2)
        return time.monotonic() - start

    assert run(main()) < 0.7
    assert chat.get_turns() == [UserTurn("Hi"), AssistantPartialTurn((), reason=CANCELLED)]


def test_a_task_cancelled_before_it_starts_sends_nothing(srv: FakeServer) -> None:
    chat = make_chat(srv)

    async def main() -> None:
        task = asyncio.create_task(chat.chat_async("Hi"))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(main())
    assert chat.get_turns() == []
    assert srv.requests == []


def test_aclose_stops_the_stream_at_once_with_what_the_caller_saw(srv: FakeServer) -> None:
    # Everything is sent at once: the worker still reads no further than asked.
    srv.enqueue(streamed("a", "b", "c"))
    chat = make_chat(srv)

    async def main() -> list[str]:
        got = []
        async with contextlib.aclosing(chat.stream_async("Hi")) as stream:
            async for piece in stream:
                got.append(piece)
                break
        return got

    assert run(main()) == ["a"]
    assert chat.get_turns() == [UserTurn("Hi"), AssistantPartialTurn("a", reason=INTERRUPTED)]


def test_break_without_aclose_still_records_the_partial_turn(srv: FakeServer) -> None:
    srv.enqueue(streamed("a", "b", delay=5.0))
    chat = make_chat(srv)

    async def main() -> None:
        async for _ in chat.stream_async("Hi"):
            break
        gc.collect()
        for _ in range(100):  # the worker records it a moment later
            if chat.get_turns():
                return
            await asyncio.sleep(0.01)

    start = time.monotonic()
    run(main())
    assert time.monotonic() - start < 1.0
    assert chat.get_turns() == [UserTurn("Hi"), AssistantPartialTurn("a", reason=INTERRUPTED)]


def test_no_worker_thread_outlives_a_cancelled_call(srv: FakeServer) -> None:
    srv.enqueue(streamed("a", "b", delay=5.0))
    chat = make_chat(srv)

    async def main() -> None:
        stream = chat.stream_async("Hi")
        assert await stream.__anext__() == "a"
        task = asyncio.create_task(stream.__anext__())
        await asyncio.sleep(0.05)
        await cancel_and_time(task)

    run(main())
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        if not any(t.name == "ellmer-py-async" for t in threading.enumerate()):
            break
        time.sleep(0.01)
    assert not any(t.name == "ellmer-py-async" for t in threading.enumerate())


def test_one_stream_is_read_by_one_task_at_a_time(srv: FakeServer) -> None:
    srv.enqueue(streamed("a", "b", delay=0.2))
    chat = make_chat(srv)

    async def main() -> list[str]:
        stream = chat.stream_async("Hi")
        first = asyncio.create_task(stream.__anext__())
        await asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="another task is already waiting"):
            await stream.__anext__()
        got = [await first]
        got += [piece async for piece in stream]
        return got

    assert run(main()) == ["a", "b"]
    assert chat.get_turns()[1].text == "ab"


# -- tools and structured output ------------------------------------------------------------


def tool_call_reply() -> Reply:
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "add", "arguments": '{"x": 2, "y": 3}'},
            }
        ],
    }
    return Reply.json(
        {"choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}]}
    )


def test_chat_async_runs_the_tool_loop(srv: FakeServer) -> None:
    threads: list[str] = []

    def add(x: int, y: int) -> int:
        """Add two numbers."""
        threads.append(threading.current_thread().name)
        return x + y

    srv.enqueue(tool_call_reply(), answer("It is 5."))
    chat = make_chat(srv)
    chat.register_tool(add)
    assert run(chat.chat_async("What is 2 + 3?")) == "It is 5."
    assert threads == ["ellmer-py-async"]  # the tool ran off the event loop
    tool_message = srv.requests[1].json["messages"][-1]
    assert tool_message["role"] == "tool" and tool_message["content"] == "5"
    assert len(chat.get_turns()) == 4


def test_chat_structured_async(srv: FakeServer) -> None:
    person = type_object(name=type_string(), age=type_integer())
    srv.enqueue(answer('{"name": "Alex", "age": 42}'), answer('{"name": "Alex", "age": 42}'))
    chat = make_chat(srv)
    assert run(chat.chat_structured_async("I'm Alex, 42.", type=person)) == {
        "name": "Alex",
        "age": 42,
    }
    sync = make_chat(srv)
    assert sync.chat_structured("I'm Alex, 42.", type=person) == {"name": "Alex", "age": 42}
    assert srv.requests[0].json == srv.requests[1].json
    assert "response_format" in srv.requests[0].json
    assert chat.get_turns() == sync.get_turns()


def test_chat_structured_async_with_a_python_type(srv: FakeServer) -> None:
    @dataclasses.dataclass
    class Person:
        name: str
        age: int

    srv.enqueue(answer('{"name": "Jamal", "age": 27}'))
    chat = make_chat(srv)
    assert run(chat.chat_structured_async("Jamal, 27", type=Person)) == Person("Jamal", 27)


def test_cancel_chat_structured_async(srv: FakeServer) -> None:
    srv.enqueue(Reply.hang(5.0))
    chat = make_chat(srv)
    person = type_object(name=type_string())

    async def main() -> float:
        task = asyncio.create_task(chat.chat_structured_async("Alex", type=person))
        await asyncio.to_thread(srv.wait_for_requests, 1)
        return await cancel_and_time(task)

    assert run(main()) < 0.5
    assert chat.get_turns() == [UserTurn("Alex"), AssistantPartialTurn((), reason=CANCELLED)]
