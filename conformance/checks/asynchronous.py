"""``chat_async()`` and ``stream_async()``: the same as ``chat()`` and ``stream()``."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ellmer_py import AssistantPartialTurn, Chat, UserTurn

from .._context import Context
from .._protocol import Answer, ToolCall
from ..fake_server import FakeServer
from ._common import _HELLO, _PLAIN, _check, _conformance_tools, _Log, _short

_T = TypeVar("_T")


def _run_async(make: Callable[[], Awaitable[_T]]) -> _T:
    """Run a coroutine on a fresh event loop in its own thread (a caller's loop may be running)."""
    out: dict[str, Any] = {}

    async def main() -> _T:
        return await make()

    def target() -> None:
        try:
            out["value"] = asyncio.run(main())
        except BaseException as exc:
            out["error"] = exc

    thread = threading.Thread(target=target, name="ellmer-py-conformance-async")
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    value: _T = out["value"]
    return value


async def _collect(chat: Chat) -> list[str]:
    return [piece async for piece in chat.stream_async(_HELLO)]


@_check
def check_async(ctx: Context) -> None:
    """``chat_async()`` and ``stream_async()`` give what ``chat()`` and ``stream()`` give.

    The same text and equal turns for the same scripted answer (and for a
    tool call, when the model can take tools); cancelling the task reading
    ``stream_async()`` returns at once and leaves the user turn and an
    ``AssistantPartialTurn`` with what arrived. (R: ``$chat_async()``,
    ``$stream_async()``.)
    """
    fake = ctx.fake
    with ctx.server() as srv:
        srv.enqueue(fake.answer(_PLAIN), fake.answer(_PLAIN))
        sync, other = ctx.make_chat(srv), ctx.make_chat(srv)
        text = sync.chat(_HELLO)
        got = _run_async(lambda: other.chat_async(_HELLO))
        assert got == text, f"chat_async() returned {got!r}, chat() {text!r}"
        assert other.get_turns() == sync.get_turns(), (
            f"chat_async() recorded {_short(other.get_turns(), 500)}, chat() "
            f"{_short(sync.get_turns(), 500)}"
        )

        cuts = [3, 60, 61, 250]
        srv.enqueue(fake.stream(_PLAIN, cuts), fake.stream(_PLAIN, cuts))
        sync, other = ctx.make_chat(srv), ctx.make_chat(srv)
        pieces = list(sync.stream(_HELLO))
        async_pieces = _run_async(lambda: _collect(other))
        assert "".join(async_pieces) == "".join(pieces) == _PLAIN.text, (
            f"stream_async() yielded {async_pieces!r}, stream() {pieces!r}"
        )
        assert other.get_turns() == sync.get_turns(), (
            f"stream_async() recorded {_short(other.get_turns(), 500)}, stream() "
            f"{_short(sync.get_turns(), 500)}"
        )

        model = ctx.model_without(srv, "tools")
        if model is None:
            ctx.note("no model takes tools: the tool loop is not checked through chat_async()")
        else:
            call = ToolCall("call_conformance_async", "conformance_add", {"a": 20, "b": 22})
            first = Answer(tool_calls=(call,), finish_reason="tool_calls")
            last = Answer(text_pieces=("42",))
            chats = []
            for run_async in (False, True):
                log: _Log = []
                chat = ctx.make_chat(srv, **model)
                chat.register_tools(_conformance_tools(log))
                srv.enqueue(fake.answer(first), fake.answer(last))
                if run_async:
                    out = _run_async(functools.partial(chat.chat_async, _HELLO))
                else:
                    out = chat.chat(_HELLO)
                assert out == "42" and log == [("conformance_add", {"a": 20, "b": 22})], (
                    f"a tool call through {'chat_async' if run_async else 'chat'}(): the answer "
                    f"is {out!r}, the tool ran as {log}"
                )
                chats.append(chat)
            assert chats[1].get_turns() == chats[0].get_turns(), (
                "a tool call through chat_async() recorded other turns than chat(): "
                f"{_short(chats[1].get_turns(), 600)} != {_short(chats[0].get_turns(), 600)}"
            )

        _cancel_stream_async(ctx, srv)


def _cancel_stream_async(ctx: Context, srv: FakeServer) -> None:
    answer = Answer(text_pieces=("First piece. ", "Never seen."))
    srv.enqueue(ctx.fake.stalled_stream(answer, 60.0))
    chat = ctx.make_chat(srv)

    async def cancel() -> tuple[list[str], float]:
        got: list[str] = []
        first = asyncio.Event()

        async def read() -> None:
            async for piece in chat.stream_async(_HELLO):
                got.append(piece)
                first.set()

        task = asyncio.create_task(read())
        try:
            await asyncio.wait_for(first.wait(), ctx.timeout_s)
        except asyncio.TimeoutError:
            task.cancel()
            raise AssertionError(
                f"stream_async() yielded nothing within {ctx.timeout_s} s; the first piece "
                "was sent at once"
            ) from None
        start = time.monotonic()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return got, time.monotonic() - start

    got, seconds = _run_async(cancel)
    assert "".join(got) == "First piece. ", f"stream_async() yielded {got!r} before the stall"
    assert seconds < 5.0, (
        f"cancelling stream_async() took {seconds:.1f} s: it must close the connection at once"
    )
    turns = chat.get_turns()
    assert (
        len(turns) == 2
        and turns[0] == UserTurn(_HELLO)
        and isinstance(turns[1], AssistantPartialTurn)
        and turns[1].text == "First piece. "
    ), (
        "cancelling stream_async() must leave the user turn and an AssistantPartialTurn with "
        f"what arrived; the turns are {_short(turns, 500)}"
    )
