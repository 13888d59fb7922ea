"""Chat from asyncio: ``chat_async()``, ``stream_async()``, ``chat_structured_async()``.

(R: ``Chat$chat_async()``, ``$stream_async()``, ``$chat_structured_async()``.)
They are the methods of ``AsyncChatMixin``, a base class of ``Chat``, and
drive Chat's blocking methods; asyncio itself is imported on first use.

urllib3 is synchronous, so the work runs on the same transport in a worker
thread (one per call) while the event loop stays free. A stream advances in
lockstep with its reader: the worker reads the next piece only when the
reader asks for it, so nothing is read ahead of what the caller has seen.
When the chat's tool loop reaches a round of tool calls, the worker hands
the round to the caller's event loop (ellmer_py._invoke_async, ``tool_mode``)
and waits for it: async tools are tasks there, plain ones run in threads.

Cancelling the task (``task.cancel()``, ``asyncio.wait_for`` timing out, a
``TaskGroup`` failing), or leaving an ``async for`` over ``stream_async()``
early, ends the request at once: the worker's requests run in a
:class:`~ellmer_py._scope.RequestScope`, whose sockets are shut down, so a
read waiting on the server returns immediately and the connection is
dropped, not returned to the pool. The chat then holds the user turn and an
``AssistantPartialTurn`` with what had arrived and the reason
(``"cancelled"``, or the sync stream's "interrupted" reason when the reader
stopped), as R's ellmer does.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

from ._turn import AssistantPartialTurn, Turn, UserTurn

if TYPE_CHECKING:  # the protocols are for the type checker only: they cost import time
    import asyncio

    from ._content import Content
    from ._echo import Echo
    from ._invoke_async import AsyncToolRunner, ToolMode

    class _Turns(Protocol):
        """What the worker needs of a chat: its turns, to record a cancelled exchange."""

        def get_turns(self, include_system_prompt: bool = False) -> list[Turn]: ...

        def set_turns(self, turns: Iterable[Turn]) -> Any: ...

    class _SyncChat(_Turns, Protocol):
        """What the async methods need of a chat: its blocking methods (``Chat``'s)."""

        def chat(self, *args: Any, **kwargs: Any) -> str: ...

        def stream(self, *args: Any, **kwargs: Any) -> Iterator[Any]: ...

        def chat_structured(self, *args: Any, **kwargs: Any) -> Any: ...

        def _next_user_turn(
            self, args: Sequence[str | Content], allow_empty: bool = False
        ) -> UserTurn: ...


__all__ = ["AsyncChatMixin", "AsyncStream"]

_T = TypeVar("_T")

#: The reason recorded when the task awaiting the answer is cancelled (R's default).
CANCELLED = "cancelled"
#: The reason recorded when the reader leaves the stream early (as the sync stream says).
INTERRUPTED = "interrupted: the caller stopped reading the stream"
#: How long a cancelled call waits for its worker to record the partial turn.
_GRACE_S = 2.0

_Message = tuple[Literal["item", "end", "error"], Any]


class AsyncStream(AsyncIterator[_T], Generic[_T]):
    """An async iterator over a chat's blocking iterator, driven by a worker thread.

    Returned by ``Chat.stream_async()``. Iterate it with ``async for``; close
    it with ``await stream.aclose()`` (or ``contextlib.aclosing``) to stop
    early and record the partial turn at once. The request goes out when
    iteration starts.
    """

    def __init__(
        self,
        chat: _Turns,
        source: Iterator[_T],
        user: Turn | None,
        *,
        oneshot: bool = False,
        tools: AsyncToolRunner | None = None,
    ) -> None:
        self._worker = _Worker(chat, source, user, oneshot=oneshot, tools=tools)
        self._finished = False

    def __aiter__(self) -> AsyncStream[_T]:
        return self

    async def __anext__(self) -> _T:
        import asyncio

        if self._finished:
            raise StopAsyncIteration
        pending = self._worker.ask(asyncio.get_running_loop())
        if pending is None:
            self._finished = True
            raise StopAsyncIteration
        try:
            kind, value = await pending
        except asyncio.CancelledError:
            self._finished = True
            await self._worker.stop(CANCELLED)
            raise
        if kind == "item":
            return value  # type: ignore[no-any-return]
        self._finished = True
        if kind == "end":
            raise StopAsyncIteration
        raise value

    async def aclose(self) -> None:
        """Stop reading: the request ends and what arrived is kept as a partial turn."""
        self._finished = True
        await self._worker.stop(INTERRUPTED)

    def __del__(self) -> None:
        # Left without aclose() (a `break` out of `async for`): end the request
        # now; the worker records the partial turn a moment later. (The worker
        # thread holds the _Worker, never this object, so this does run.)
        worker = getattr(self, "_worker", None)
        if worker is not None:
            worker.signal_stop(INTERRUPTED)


class _Worker:
    """The thread that advances the blocking iterator, one item per request."""

    def __init__(
        self,
        chat: _Turns,
        source: Iterator[Any],
        user: Turn | None,
        *,
        oneshot: bool,
        tools: AsyncToolRunner | None = None,
    ) -> None:
        self._chat = chat
        self._source = source
        self._user = user
        self._oneshot = oneshot
        self._tools = tools
        from ._scope import RequestScope  # imports socket: on first use

        self._scope = RequestScope()
        self._before = len(chat.get_turns())
        self._lock = threading.Lock()
        self._demand = threading.Semaphore(0)
        self._started = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: asyncio.Future[_Message] | None = None
        self._exit: asyncio.Future[None] | None = None
        self._closing = False
        self._cancel_reason: str | None = None
        self._exited = False

    # -- the reader's side (event loop thread) -------------------------------

    def ask(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[_Message] | None:
        """Ask for the next item; None when the worker is already gone."""
        pending: asyncio.Future[_Message] = loop.create_future()
        with self._lock:
            if self._exited:
                return None
            if self._pending is not None and not self._pending.done():
                raise RuntimeError(
                    "stream_async(): another task is already waiting for the next piece; "
                    "read one stream from one task at a time."
                )
            self._pending = pending
            if not self._started:
                self._started = True
                self._loop = loop
                self._exit = loop.create_future()
                context = contextvars.copy_context()
                if self._tools is not None:  # the chat's tool loop runs its rounds on `loop`
                    self._tools.bind(loop, lambda: self._scope.requests)
                    context.run(self._tools.activate)
                thread = threading.Thread(
                    target=context.run, args=(self._work,), name="ellmer-py-async", daemon=True
                )
                thread.start()
        self._demand.release()
        return pending

    def signal_stop(self, reason: str) -> None:
        """Tell the worker to stop, from any thread, without waiting."""
        with self._lock:
            if self._exited or not self._started:
                self._exited = True
                return
            self._closing = True
            if self._cancel_reason is None:
                self._cancel_reason = reason
        self._scope.cancel()  # a read blocked on the server ends now
        if self._tools is not None:
            self._tools.stop()  # so do the tools running on the loop
        self._demand.release()  # an idle worker wakes up and closes the source

    async def stop(self, reason: str) -> None:
        """End the worker's request and wait (briefly) until it has recorded the turns."""
        import asyncio

        self.signal_stop(reason)
        exit_future = self._exit
        if exit_future is None:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _GRACE_S
        while not exit_future.done() and loop.time() < deadline:
            # again: a connection opened after the last call (during a connect)
            self._scope.cancel()
            await asyncio.wait({exit_future}, timeout=0.05)

    # -- the worker's side ----------------------------------------------------

    def _deliver(self, message: _Message) -> None:
        with self._lock:
            pending, self._pending = self._pending, None
        loop = self._loop
        if pending is None or loop is None:
            return
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting
            loop.call_soon_threadsafe(_resolve, pending, message)

    def _work(self) -> None:
        source = self._source
        try:
            with self._scope.active():
                while True:
                    self._demand.acquire()
                    with self._lock:
                        if self._closing:
                            break
                    try:
                        item = next(source)
                    except StopIteration:
                        self._deliver(("end", None))
                        break
                    except BaseException as exc:
                        self._deliver(("error", exc))
                        break
                    self._deliver(("item", item))
                    if self._oneshot:
                        break
                with contextlib.suppress(Exception):
                    _close(source)  # stopped early: the chat records the partial turn
        finally:
            with self._lock:
                self._exited = True
                reason = self._cancel_reason
            # stopped during the tools, the chat has recorded what there is (the results
            # of the calls that finished); otherwise a request was cut: record it
            tools = self._tools
            if reason is not None and not (tools is not None and tools.stopped_in_tools()):
                _record_cancel(self._chat, self._before, self._user, reason, self._scope.requests)
            self._deliver(("end", None))  # anyone still waiting
            loop, exit_future = self._loop, self._exit
            if loop is not None and exit_future is not None:
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(_resolve, exit_future, None)


def _resolve(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _close(source: Iterator[Any]) -> None:
    close = getattr(source, "close", None)
    if callable(close):
        close()


def _record_cancel(chat: _Turns, before: int, user: Turn | None, reason: str, sent: int) -> None:
    """Leave the cancelled exchange in the chat: the user turn and a partial answer.

    A partial turn the chat recorded gets ``reason``; a request that was sent
    but left no turn (cancelled before the answer began, or not streamed)
    gets the user turn and an empty partial turn; a request never sent
    leaves the turns as they were.
    """
    turns = chat.get_turns()
    new = turns[before:]
    if new and isinstance(new[-1], AssistantPartialTurn):
        from attrs import evolve

        turns[-1] = evolve(new[-1], reason=reason)
    elif not sent:
        return
    elif not new:
        if user is None:
            return
        turns += [user, AssistantPartialTurn((), reason=reason)]
    elif new[-1].role == "user":
        turns.append(AssistantPartialTurn((), reason=reason))
    else:
        return  # the answer was complete before the cancellation took effect
    chat.set_turns(turns)


def _once(call: Callable[[], _T]) -> Iterator[_T]:
    yield call()


class AsyncChatMixin:
    """The async methods of ``Chat``: each runs the blocking method in a worker thread."""

    async def chat_async(
        self: _SyncChat,
        *args: str | Content,
        echo: Echo | bool | None = "none",
        tool_mode: ToolMode = "concurrent",
    ) -> str:
        """``chat()`` without blocking the event loop (R: ``$chat_async()``).

        Tools may be ``async def`` functions: they run as tasks on this event
        loop, plain functions in threads of their own. ``tool_mode``
        "concurrent" (the default) runs the tool calls of one answer at once,
        "sequential" one after another; the results go back in the order of
        the calls either way. The ``on_tool_request`` / ``on_tool_result``
        callbacks run on the event loop and may be async. Cancelling the
        task closes the connection (or cancels the running tools) and keeps
        what arrived: a partial turn, the results of the tools that finished.
        """
        runner = _tool_runner(tool_mode)
        user = self._next_user_turn(args)
        stream: AsyncStream[str] = AsyncStream(
            self, _once(lambda: self.chat(*args, echo=echo)), user, oneshot=True, tools=runner
        )
        return await stream.__anext__()

    def stream_async(
        self: _SyncChat,
        *args: str | Content,
        content: Literal["text", "all", "content"] = "text",
        tool_mode: ToolMode = "concurrent",
    ) -> AsyncStream[Any]:
        """``stream()`` as an async iterator (R: ``$stream_async()``); see ellmer_py._async.

        Tools run as in :meth:`chat_async` (``tool_mode``); with
        ``content="all"`` a "concurrent" round yields its requests, then
        their results in request order, as R does.
        """
        runner = _tool_runner(tool_mode)
        user = self._next_user_turn(args)
        return AsyncStream(self, self.stream(*args, content=content), user, tools=runner)

    async def chat_structured_async(
        self: _SyncChat,
        *args: str | Content,
        type: Any,
        echo: Echo | bool | None = "none",
        convert: bool = True,
    ) -> Any:
        """``chat_structured()``, not blocking the event loop (R: ``$chat_structured_async()``).

        No tools run during extraction, as in ``chat_structured()``.
        """
        user = self._next_user_turn(args, allow_empty=True)
        stream: AsyncStream[Any] = AsyncStream(
            self,
            _once(lambda: self.chat_structured(*args, type=type, echo=echo, convert=convert)),
            user,
            oneshot=True,
        )
        return await stream.__anext__()


def _tool_runner(tool_mode: ToolMode) -> AsyncToolRunner:
    from ._invoke_async import AsyncToolRunner

    return AsyncToolRunner(tool_mode)
