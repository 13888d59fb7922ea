"""Async tools and ``tool_mode`` in ``chat_async()`` / ``stream_async()`` (ellmer_py._invoke_async).

R: "async tools are supported, but you must use ``$chat_async()``", with
``tool_mode = c("concurrent", "sequential")``. Against a loopback
FakeServer: async tools run on the caller's loop, plain ones in threads;
"concurrent" calls really overlap (each waits for something only the other
does, so without overlap they would time out) and "sequential" ones never
do; results keep request order; one failure does not sink the others;
cancelling cancels the running tools and keeps the finished results.
"""

from __future__ import annotations

import asyncio
import contextvars
import io
import json
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from ellmer_py import (
    AssistantPartialTurn,
    AssistantTurn,
    Chat,
    ConfigurationError,
    ContentText,
    ContentToolRequest,
    ContentToolResult,
    ToolError,
    UserTurn,
    tool,
    tool_reject,
)
from ellmer_py.conformance.fake_server import FakeServer, RecordedRequest, Reply, sse_data
from ellmer_py.providers.openai_compatible import chat_openai_compatible

WAIT_S = 5.0  # only reached when the behaviour under test is broken


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "ELLMER_ECHO", "ELLMER_MAX_TRIES", "ELLMER_TIMEOUT_S"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server
    assert not server.errors, server.errors


def make_chat(srv: FakeServer, *tools: Any) -> Chat:
    chat = chat_openai_compatible(
        srv.base_url,
        model="m",
        echo="none",
        max_tries=1,
        timeout_s=10,
        credentials=lambda: "test-key-0123456789",
    )
    chat.register_tools(tools)
    return chat


def call(id: str, name: str, **arguments: Any) -> tuple[str, str, dict[str, Any]]:
    return (id, name, arguments)


def calls_reply(*calls: tuple[str, str, dict[str, Any]]) -> Reply:
    """A non-streamed answer asking for the tool calls."""
    tool_calls = [
        {"id": i, "type": "function", "function": {"name": n, "arguments": json.dumps(a)}}
        for i, n, a in calls
    ]
    message = {"role": "assistant", "content": None, "tool_calls": tool_calls}
    return Reply.json(
        {"choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}]}
    )


def answer(text: str) -> Reply:
    message = {"role": "assistant", "content": text}
    return Reply.json({"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]})


def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    return sse_data({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})


def streamed_calls(*calls: tuple[str, str, dict[str, Any]]) -> Reply:
    pieces = [
        chunk(
            {
                "tool_calls": [
                    {
                        "index": k,
                        "id": i,
                        "type": "function",
                        "function": {"name": n, "arguments": json.dumps(a)},
                    }
                ]
            }
        )
        for k, (i, n, a) in enumerate(calls)
    ]
    return Reply.sse([*pieces, chunk({}, "tool_calls"), sse_data("[DONE]")])


def streamed(text: str) -> Reply:
    return Reply.sse([chunk({"content": text}), chunk({}, "stop"), sse_data("[DONE]")])


def tool_messages(request: RecordedRequest) -> list[tuple[str, str]]:
    """(tool_call_id, content) of the tool messages a request sent, in order."""
    return [
        (m["tool_call_id"], m["content"]) for m in request.json["messages"] if m["role"] == "tool"
    ]


def results_of(chat: Chat, index: int = 2) -> list[ContentToolResult]:
    turn = chat.get_turns()[index]
    assert isinstance(turn, UserTurn)
    return [c for c in turn.contents if isinstance(c, ContentToolResult)]


# -- async def tools ---------------------------------------------------------------------------


async def async_add(x: int, y: int) -> int:
    """Add two numbers.

    Args:
        x: The first.
        y: The second.
    """
    return x + y


def sync_add(x: int, y: int) -> int:
    """Add two numbers.

    Args:
        x: The first.
        y: The second.
    """
    return x + y


def test_tool_takes_an_async_function_and_describes_it_as_a_plain_one(srv: FakeServer) -> None:
    async_tool, sync_tool = tool(async_add), tool(sync_add)
    assert async_tool.name == "async_add"
    assert async_tool.description == sync_tool.description == "Add two numbers."
    assert async_tool.arguments == sync_tool.arguments
    assert async_tool.schema(strict=True) == sync_tool.schema(strict=True)
    chat = make_chat(srv, async_add)  # a plain async function is wrapped by register_tools()
    assert [t.name for t in chat.get_tools()] == ["async_add"]


def test_an_async_tool_runs_on_the_callers_event_loop(srv: FakeServer) -> None:
    seen: list[Any] = []

    async def add(x: int, y: int) -> int:
        """Add two numbers."""
        seen.append((threading.current_thread(), asyncio.get_running_loop()))
        await asyncio.sleep(0)
        return x + y

    srv.enqueue(calls_reply(call("c1", "add", x=2, y=3)), answer("It is 5."))
    chat = make_chat(srv, add)

    async def main() -> tuple[str, asyncio.AbstractEventLoop]:
        return await chat.chat_async("2 + 3?"), asyncio.get_running_loop()

    text, loop = asyncio.run(main())
    assert text == "It is 5."
    assert seen == [(threading.main_thread(), loop)]
    assert tool_messages(srv.requests[1]) == [("c1", "5")]
    assert results_of(chat) == [ContentToolResult("c1", value=5)]
    assert isinstance(chat.get_turns()[3], AssistantTurn) and len(chat.get_turns()) == 4


def test_async_tools_cannot_run_in_chat_or_stream(srv: FakeServer) -> None:
    srv.enqueue(calls_reply(call("c1", "async_add", x=1, y=2)))
    chat = make_chat(srv, async_add)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the coroutine is closed: no "never awaited" warning
        with pytest.raises(ToolError) as info:
            chat.chat("1 + 2?")
    assert str(info.value) == (
        "Can't use async tools with chat() or stream(): async_add() is async. Async tools are "
        "supported, but you must use chat_async() or stream_async()."
    )
    srv.enqueue(streamed_calls(call("c2", "async_add", x=1, y=2)))
    with pytest.raises(ToolError, match=r"^Can't use async tools with chat\(\) or stream\(\)"):
        list(chat.stream("again"))


def test_async_callbacks_cannot_run_in_chat(srv: FakeServer) -> None:
    async def approve(request: ContentToolRequest) -> None:
        pass

    srv.enqueue(calls_reply(call("c1", "sync_add", x=1, y=2)))
    chat = make_chat(srv, sync_add)
    chat.on_tool_request(approve)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ToolError, match=r"^Can't use async callbacks with chat\(\)"):
            chat.chat("1 + 2?")


def test_a_bad_tool_mode_is_refused_before_any_request(srv: FakeServer) -> None:
    chat = make_chat(srv, sync_add)
    message = "tool_mode must be 'concurrent' .* or 'sequential' .*, not 'parallel'"
    with pytest.raises(ConfigurationError, match=message):
        asyncio.run(chat.chat_async("Hi", tool_mode="parallel"))  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=message):
        chat.stream_async("Hi", tool_mode="parallel")  # type: ignore[arg-type]
    assert srv.requests == [] and chat.get_turns() == []


# -- concurrent and sequential -------------------------------------------------------------------


def test_concurrent_async_tools_overlap(srv: FakeServer) -> None:
    """Each call waits for the other to have started: they finish only if they overlap."""
    srv.enqueue(
        calls_reply(call("a", "meet", me="a", other="b"), call("b", "meet", me="b", other="a")),
        answer("Met."),
    )

    async def main() -> str:
        started = {"a": asyncio.Event(), "b": asyncio.Event()}

        async def meet(me: str, other: str) -> str:
            """Wait for the other."""
            started[me].set()
            await asyncio.wait_for(started[other].wait(), WAIT_S)
            return f"{me} met {other}"

        chat.register_tool(meet)
        return await chat.chat_async("Meet")

    chat = make_chat(srv)
    assert asyncio.run(main()) == "Met."
    assert tool_messages(srv.requests[1]) == [("a", "a met b"), ("b", "b met a")]


def test_concurrent_sync_tools_overlap_in_threads_of_their_own(srv: FakeServer) -> None:
    barrier = threading.Barrier(2, timeout=WAIT_S)
    threads: list[threading.Thread] = []

    def meet(me: str) -> str:
        """Wait for the other."""
        threads.append(threading.current_thread())
        barrier.wait()  # BrokenBarrierError after WAIT_S unless the other call runs meanwhile
        return f"{me} met"

    srv.enqueue(calls_reply(call("a", "meet", me="a"), call("b", "meet", me="b")), answer("Met."))
    chat = make_chat(srv, meet)
    assert asyncio.run(chat.chat_async("Meet", tool_mode="concurrent")) == "Met."
    assert tool_messages(srv.requests[1]) == [("a", "a met"), ("b", "b met")]
    assert len(set(threads)) == 2 and threading.main_thread() not in threads


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_sequential_tools_never_overlap(srv: FakeServer, kind: str) -> None:
    """In sequential mode the second call starts only after the first has ended."""
    log: list[str] = []
    started_b = threading.Event()

    async def step_async(me: str) -> str:
        """One step."""
        log.append(f"start {me}")
        if me == "b":
            started_b.set()
        for _ in range(5):
            await asyncio.sleep(0)  # room for another task to start, were one running
        log.append(f"end {me} (b running: {started_b.is_set() and me == 'a'})")
        return me

    def step_sync(me: str) -> str:
        """One step."""
        log.append(f"start {me}")
        if me == "b":
            started_b.set()
        # concurrently, b would start meanwhile; sequentially it cannot
        b_running = me == "a" and started_b.wait(0.2)
        log.append(f"end {me} (b running: {b_running})")
        return me

    step = tool(step_async if kind == "async" else step_sync, name="step")
    srv.enqueue(calls_reply(call("a", "step", me="a"), call("b", "step", me="b")), answer("Ok."))
    chat = make_chat(srv, step)
    assert asyncio.run(chat.chat_async("Steps", tool_mode="sequential")) == "Ok."
    assert log == [
        "start a",
        "end a (b running: False)",
        "start b",
        "end b (b running: False)",
    ]
    assert tool_messages(srv.requests[1]) == [("a", "a"), ("b", "b")]


def test_async_tools_interleave_under_concurrent(srv: FakeServer) -> None:
    log: list[str] = []

    async def step(me: str) -> str:
        """One step."""
        log.append(f"start {me}")
        for _ in range(5):
            await asyncio.sleep(0)
        log.append(f"end {me}")
        return me

    srv.enqueue(calls_reply(call("a", "step", me="a"), call("b", "step", me="b")), answer("Ok."))
    chat = make_chat(srv, step)
    assert asyncio.run(chat.chat_async("Steps")) == "Ok."
    assert log == ["start a", "start b", "end a", "end b"]


def test_a_sync_tool_leaves_the_event_loop_free(srv: FakeServer) -> None:
    tool_started = threading.Event()
    loop_ran = threading.Event()

    def blocking() -> bool:
        """Block until the event loop has run something else."""
        tool_started.set()
        return loop_ran.wait(WAIT_S)  # False if the loop was blocked by this call

    async def other_work() -> None:
        while not tool_started.is_set():
            await asyncio.sleep(0.005)
        loop_ran.set()

    srv.enqueue(calls_reply(call("c1", "blocking")), answer("Done."))
    chat = make_chat(srv, blocking)

    async def main() -> str:
        for mode in ("concurrent", "sequential"):
            tool_started.clear()
            loop_ran.clear()
            other = asyncio.create_task(other_work())
            if mode == "sequential":
                srv.enqueue(calls_reply(call("c2", "blocking")), answer("Done."))
            text = await chat.chat_async("Block", tool_mode=mode)  # type: ignore[arg-type]
            await other
        return text

    assert asyncio.run(main()) == "Done."
    assert tool_messages(srv.requests[1]) == [("c1", "true")]
    assert tool_messages(srv.requests[3])[-1] == ("c2", "true")


def test_results_keep_the_order_of_the_requests(srv: FakeServer) -> None:
    finished: list[str] = []

    async def main() -> str:
        second_done = asyncio.Event()

        async def first() -> str:
            """Ends last."""
            await asyncio.wait_for(second_done.wait(), WAIT_S)
            return "first"

        async def second() -> str:
            """Ends first."""
            second_done.set()
            return "second"

        chat.register_tools([first, second])
        chat.on_tool_result(lambda r: finished.append(r.value))
        return await chat.chat_async("Both")

    srv.enqueue(calls_reply(call("1", "first"), call("2", "second")), answer("Ok."))
    chat = make_chat(srv)
    assert asyncio.run(main()) == "Ok."
    assert finished == ["second", "first"]  # the callbacks fire as the calls finish
    assert tool_messages(srv.requests[1]) == [("1", "first"), ("2", "second")]
    assert [r.id for r in results_of(chat)] == ["1", "2"]


def test_one_failure_does_not_sink_the_other_calls(srv: FakeServer) -> None:
    async def boom() -> str:
        """Fails."""
        raise ValueError("boom")

    async def ok() -> str:
        """Works."""
        await asyncio.sleep(0)
        return "fine"

    def guarded() -> str:
        """Rejects itself."""
        tool_reject("Not now.")
        return "never"

    srv.enqueue(
        calls_reply(
            call("1", "boom"),
            call("2", "ok"),
            call("3", "nope"),
            call("4", "ok", extra=1),
            call("5", "guarded"),
            call("6", "ok"),
        ),
        answer("Mixed."),
    )
    chat = make_chat(srv, boom, ok, guarded)
    with pytest.warns(UserWarning, match="Failed to evaluate 4 tool calls"):
        assert asyncio.run(chat.chat_async("All")) == "Mixed."
    failed = "Tool calling failed with error "
    assert tool_messages(srv.requests[1]) == [
        ("1", failed + "ValueError: boom"),
        ("2", "fine"),
        ("3", failed + "Unknown tool 'nope'."),
        ("4", failed + "Unused argument: extra"),
        ("5", failed + "Tool call rejected. Not now."),
        ("6", "fine"),
    ]


def test_callbacks_run_on_the_loop_and_may_be_async(srv: FakeServer) -> None:
    log: list[str] = []

    async def check(request: ContentToolRequest) -> None:
        await asyncio.sleep(0)
        log.append(f"request {request.id}")
        if request.id == "b":
            tool_reject("No b.")

    def note(result: ContentToolResult) -> None:
        assert threading.current_thread() is threading.main_thread()
        log.append(f"result {result.id}")

    srv.enqueue(
        calls_reply(call("a", "sync_add", x=1, y=1), call("b", "sync_add", x=2, y=2)),
        answer("Ok."),
    )
    chat = make_chat(srv, sync_add)
    chat.on_tool_request(check)
    chat.on_tool_result(note)
    with pytest.warns(UserWarning, match="Tool call rejected. No b."):
        assert asyncio.run(chat.chat_async("Add", tool_mode="sequential")) == "Ok."
    assert log == ["request a", "result a", "request b", "result b"]
    assert results_of(chat) == [
        ContentToolResult("a", value=2),
        ContentToolResult("b", error="Tool call rejected. No b."),
    ]


def test_a_failing_callback_propagates_and_cancels_the_other_calls(srv: FakeServer) -> None:
    cancelled: list[str] = []

    async def wait_forever() -> str:
        """Never ends by itself."""
        try:
            await asyncio.sleep(WAIT_S * 10)
        except asyncio.CancelledError:
            cancelled.append("wait_forever")
            raise
        return "never"

    def broken(request: ContentToolRequest) -> None:
        if request.id == "2":
            raise RuntimeError("callback broke")

    srv.enqueue(calls_reply(call("1", "wait_forever"), call("2", "wait_forever")))
    chat = make_chat(srv, wait_forever)
    chat.on_tool_request(broken)
    with pytest.raises(RuntimeError, match="callback broke"):
        asyncio.run(chat.chat_async("Go"))
    assert cancelled == ["wait_forever"]
    assert len(chat.get_turns()) == 2  # the answer with the requests; they dangle


def test_contextvars_of_the_caller_reach_async_and_sync_tools(srv: FakeServer) -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")

    async def read_async() -> str:
        """Read the variable."""
        return var.get()

    def read_sync() -> str:
        """Read the variable."""
        return var.get()

    srv.enqueue(calls_reply(call("1", "read_async"), call("2", "read_sync")), answer("Ok."))
    chat = make_chat(srv, read_async, read_sync)

    async def main() -> str:
        var.set("caller")
        return await chat.chat_async("Read")

    assert asyncio.run(main()) == "Ok."
    assert tool_messages(srv.requests[1]) == [("1", "caller"), ("2", "caller")]


# -- cancellation ----------------------------------------------------------------------------


def test_cancelling_chat_async_cancels_the_running_tools_and_keeps_finished_results(
    srv: FakeServer,
) -> None:
    events: list[str] = []

    async def main() -> None:
        quick_done = asyncio.Event()
        slow_started = asyncio.Event()

        async def quick() -> str:
            """Ends at once."""
            return "quick"

        async def slow() -> str:
            """Waits until cancelled."""
            slow_started.set()
            try:
                await asyncio.sleep(WAIT_S * 10)
            except asyncio.CancelledError:
                events.append("slow cancelled")
                raise
            return "never"

        chat.register_tools([quick, slow])
        chat.on_tool_result(lambda r: quick_done.set())
        task = asyncio.create_task(chat.chat_async("Go"))
        await asyncio.wait_for(quick_done.wait(), WAIT_S)
        await asyncio.wait_for(slow_started.wait(), WAIT_S)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        events.append("task ended")

    srv.enqueue(calls_reply(call("s", "slow"), call("q", "quick")))
    chat = make_chat(srv)
    asyncio.run(main())
    assert events == ["slow cancelled", "task ended"]
    assert len(srv.requests) == 1
    turns = chat.get_turns()
    assert [type(t) for t in turns] == [UserTurn, AssistantTurn, UserTurn]  # no partial turn
    assert results_of(chat) == [ContentToolResult("q", value="quick")]

    # the next message answers the cancelled call, after the kept result
    srv.enqueue(answer("Fine."))
    assert asyncio.run(chat.chat_async("Never mind")) == "Fine."
    assert tool_messages(srv.requests[1]) == [
        ("q", "quick"),
        ("s", "Tool calling failed with error Chat ended before the tool could be invoked."),
    ]


def test_cancelling_a_sequential_round_keeps_the_calls_that_ran(srv: FakeServer) -> None:
    ran: list[str] = []

    async def main() -> None:
        second_started = asyncio.Event()

        async def work(me: str) -> str:
            """Work."""
            ran.append(me)
            if me == "2":
                second_started.set()
                await asyncio.sleep(WAIT_S * 10)
            return me

        chat.register_tool(work)
        task = asyncio.create_task(chat.chat_async("Go", tool_mode="sequential"))
        await asyncio.wait_for(second_started.wait(), WAIT_S)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    srv.enqueue(
        calls_reply(call("1", "work", me="1"), call("2", "work", me="2"), call("3", "work", me="3"))
    )
    chat = make_chat(srv)
    asyncio.run(main())
    assert ran == ["1", "2"]
    assert results_of(chat) == [ContentToolResult("1", value="1")]
    assert len(chat.get_turns()) == 3


def test_cancelling_during_the_request_after_the_tools_keeps_a_partial_turn(
    srv: FakeServer,
) -> None:
    srv.enqueue(calls_reply(call("c1", "async_add", x=1, y=2)), Reply.hang(5.0))
    chat = make_chat(srv, async_add)

    async def main() -> None:
        task = asyncio.create_task(chat.chat_async("Add"))
        await asyncio.to_thread(srv.wait_for_requests, 2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    turns = chat.get_turns()
    assert turns[2:] == [
        UserTurn([ContentToolResult("c1", value=3)]),
        AssistantPartialTurn((), reason="cancelled"),
    ]


# -- stream_async ----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["concurrent", "sequential"])
def test_stream_async_runs_tools_and_yields_their_steps(srv: FakeServer, mode: str) -> None:
    srv.enqueue(
        streamed_calls(call("a", "async_add", x=1, y=2), call("b", "sync_add", x=3, y=4)),
        streamed("3 and 7."),
    )
    chat = make_chat(srv, async_add, sync_add)

    async def main() -> list[Any]:
        return [p async for p in chat.stream_async("Add", content="all", tool_mode=mode)]  # type: ignore[arg-type]

    pieces = asyncio.run(main())
    req_a, req_b = chat.get_turns()[1].contents
    res_a, res_b = ContentToolResult("a", value=3), ContentToolResult("b", value=7)
    steps = [req_a, req_b, res_a, res_b] if mode == "concurrent" else [req_a, res_a, req_b, res_b]
    assert pieces == [*steps, ContentText("3 and 7.")]
    assert tool_messages(srv.requests[1]) == [("a", "3"), ("b", "7")]

    srv.enqueue(streamed_calls(call("c", "async_add", x=1, y=1)), streamed("2."))

    async def text() -> str:
        return "".join([p async for p in chat.stream_async("Again", tool_mode=mode)])  # type: ignore[arg-type]

    assert asyncio.run(text()) == "2."


def test_leaving_stream_async_during_the_tools_cancels_them(srv: FakeServer) -> None:
    events: list[str] = []

    async def main() -> list[Any]:
        quick_done = asyncio.Event()

        async def quick() -> str:
            """Ends at once."""
            return "quick"

        async def slow() -> str:
            """Waits until cancelled."""
            try:
                await asyncio.sleep(WAIT_S * 10)
            except asyncio.CancelledError:
                events.append("slow cancelled")
                raise
            return "never"

        chat.register_tools([quick, slow])
        chat.on_tool_result(lambda r: quick_done.set())
        stream = chat.stream_async("Go", content="all")
        got = [await stream.__anext__(), await stream.__anext__()]  # the two requests
        await asyncio.wait_for(quick_done.wait(), WAIT_S)
        await stream.aclose()
        return got

    srv.enqueue(streamed_calls(call("q", "quick"), call("s", "slow")))
    chat = make_chat(srv)
    got = asyncio.run(main())
    assert [r.id for r in got] == ["q", "s"]
    assert events == ["slow cancelled"]
    assert [type(t) for t in chat.get_turns()] == [UserTurn, AssistantTurn, UserTurn]
    assert results_of(chat) == [ContentToolResult("q", value="quick")]


# -- echo ------------------------------------------------------------------------------------


def test_echo_in_chat_async_shows_the_tool_lines_as_chat_does(srv: FakeServer) -> None:
    def root(number: float) -> float:
        """Square root."""
        if number < 0:
            raise ValueError("math domain error")
        return number**0.5

    def run(mode: str | None) -> str:
        out = io.StringIO()
        chat = make_chat(srv, root)
        chat._echo_stream = out
        srv.enqueue(
            streamed_calls(call("c1", "root", number=16), call("c2", "root", number=-4)),
            streamed("4, and no."),
        )
        if mode is None:
            assert chat.chat("roots", echo="output") == "4, and no."
        else:
            coro = chat.chat_async("roots", echo="output", tool_mode=mode)  # type: ignore[arg-type]
            assert asyncio.run(coro) == "4, and no."
        return out.getvalue()

    sync = run(None)
    assert sync == (
        "\u25ef [tool call] root(number=16)\n"
        "\u25cf #> 4.0\n"
        "\u25ef [tool call] root(number=-4)\n"
        "\u25a0 #> Error: ValueError: math domain error\n"
        "4, and no.\n"
    )
    assert run("sequential") == sync
    lines = sync.splitlines()
    assert run("concurrent").splitlines() == [lines[0], lines[2], lines[1], lines[3], lines[4]]
