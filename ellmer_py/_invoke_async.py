"""Running tools from ``chat_async()`` and ``stream_async()`` (R: ``invoke_tools_async()``).

The async methods drive Chat's blocking tool loop in a worker thread
(ellmer_py._async); when the loop reaches a round of tool calls, an
``AsyncToolRunner`` runs that round on the caller's event loop and the
worker waits for it:

- an ``async def`` tool is a task on the caller's loop; a plain function
  runs in a thread of its own, so it never blocks the loop;
- ``tool_mode="concurrent"`` (the default, as in R) starts every call of
  the round at once; ``"sequential"`` runs them one after another;
- either way the results are recorded in the order of the requests, and
  the ``on_tool_request`` / ``on_tool_result`` callbacks run on the loop,
  awaited when they are coroutine functions (R: ``$invoke_async()``);
- cancelling the call cancels the running async tools (a plain function
  cannot be stopped: it runs to its end and its value is dropped); the
  results of the calls that finished are kept, the others are answered by
  the next message ("Chat ended before the tool could be invoked."), as
  when a synchronous stream is left during its tools.

asyncio is imported on first use: this module is imported by any chat that
runs tools.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from ._content import ContentToolRequest, ContentToolResult
from ._errors import ConfigurationError
from ._invoke import failed_call, prepare_call, tool_result
from ._tools import ToolBuiltIn, ToolDef, ToolReject

if TYPE_CHECKING:
    import asyncio

__all__ = [
    "AsyncToolRunner",
    "ToolMode",
    "check_tool_mode",
    "current_tool_runner",
    "invoke_tool_async",
]

ToolMode = Literal["concurrent", "sequential"]
_T = TypeVar("_T")
_Callback = Callable[[Any], Awaitable[None]]
_Step = ContentToolRequest | ContentToolResult

#: The runner of the async call being driven in this context (the worker thread's).
_RUNNER: contextvars.ContextVar[AsyncToolRunner | None] = contextvars.ContextVar(
    "ellmer_py_tool_runner", default=None
)


def check_tool_mode(tool_mode: Any) -> ToolMode:
    """``tool_mode`` checked: "concurrent" or "sequential" (R: ``arg_match(tool_mode)``)."""
    if tool_mode not in ("concurrent", "sequential"):
        raise ConfigurationError(
            "tool_mode must be 'concurrent' (run the tool calls of a round at once) or "
            f"'sequential' (one after another), not {tool_mode!r}."
        )
    return tool_mode  # type: ignore[no-any-return]


def current_tool_runner() -> AsyncToolRunner | None:
    """The runner of the async call this thread works for; None in ``chat()`` / ``stream()``."""
    return _RUNNER.get()


def is_async_function(func: Callable[..., Any]) -> bool:
    """Whether ``func`` returns a coroutine: ``async def``, a partial, an async ``__call__``."""
    return inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
        getattr(func, "__call__", None)  # noqa: B004 (the method, not callable())
    )


async def invoke_tool_async(
    tool_: ToolDef | ToolBuiltIn | None, request: ContentToolRequest
) -> ContentToolResult:
    """Run one tool request from the event loop (R: ``invoke_tool_async()``).

    An async tool is awaited here; a plain function runs in a thread of its
    own. Failures become error results as in ``invoke_tool()``.
    """
    call = prepare_call(tool_, request)
    if isinstance(call, ContentToolResult):
        return call
    checked, positional, kwargs = call
    func = checked.func
    try:
        if is_async_function(func):
            value = await func(*positional, **kwargs)
        else:
            value = await in_thread(lambda: func(*positional, **kwargs))
            if inspect.isawaitable(value):  # a plain function that returned a coroutine
                value = await value
    except Exception as exc:
        return failed_call(request, exc)
    return tool_result(request, value)


async def in_thread(call: Callable[[], _T]) -> _T:
    """``call()`` in a new daemon thread (with this context's variables), awaited.

    Unlike ``asyncio.to_thread()``, a call still running when its awaiter is
    cancelled never holds up the loop's shutdown.
    """
    import asyncio

    loop = asyncio.get_running_loop()
    future: asyncio.Future[_T] = loop.create_future()
    context = contextvars.copy_context()

    def work() -> None:
        try:
            value = context.run(call)
        except BaseException as exc:
            outcome: tuple[Any, BaseException | None] = (None, exc)
        else:
            outcome = (value, None)
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            loop.call_soon_threadsafe(_settle, future, *outcome)

    threading.Thread(target=work, name="ellmer-py-async", daemon=True).start()
    return await future


def _settle(future: asyncio.Future[Any], value: Any, exc: BaseException | None) -> None:
    if future.done():
        return
    if exc is None:
        future.set_result(value)
    else:
        future.set_exception(exc)


class AsyncToolRunner:
    """Runs the rounds of tool calls of one async call on the caller's event loop.

    Made by ``chat_async()`` / ``stream_async()``; the worker thread calls
    :meth:`run` from Chat's tool loop and waits; :meth:`stop` (any thread)
    cancels the round in progress.
    """

    def __init__(self, tool_mode: ToolMode) -> None:
        self.tool_mode = check_tool_mode(tool_mode)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sent: Callable[[], int] = lambda: 0
        self._sent_at_round: int | None = None
        self._lock = threading.Lock()
        self._stopped = False
        self._round: _Round | None = None

    def bind(self, loop: asyncio.AbstractEventLoop, sent: Callable[[], int]) -> None:
        """Run the tools on ``loop`` (the caller's, known when iteration starts).

        ``sent()`` counts the requests the call has sent so far.
        """
        self._loop = loop
        self._sent = sent

    def stopped_in_tools(self) -> bool:
        """Whether no request went out since the last round of tools began.

        Then a cancellation hit the tools (or the wait before the next
        request), not a request: there is no answer to record as partial.
        """
        return self._sent_at_round is not None and self._sent() == self._sent_at_round

    def stop(self) -> None:
        """Cancel the round in progress and refuse new ones (from any thread)."""
        with self._lock:
            self._stopped = True
            current = self._round
        if current is not None:
            current.cancel()

    def activate(self) -> None:
        """Make this the runner of the current context (the worker thread's copy)."""
        _RUNNER.set(self)

    def run(
        self,
        requests: Sequence[ContentToolRequest],
        tools: Mapping[str, ToolDef],
        on_request: _Callback,
        on_result: _Callback,
    ) -> Iterator[_Step]:
        """Run one round; yield the steps as ``invoke_tools()`` does (R: ``chat_impl_async``).

        Sequential: each request, then its result. Concurrent: every call
        starts, the requests are yielded, then the results in request order.
        ``on_request`` may raise ToolReject; any other exception ends the
        round (the other calls are cancelled) and propagates.
        """
        self._sent_at_round = self._sent()

        async def one(request: ContentToolRequest) -> ContentToolResult:
            try:
                await on_request(request)
            except ToolReject as exc:
                result = ContentToolResult(id=request.id, error=str(exc))
            else:
                result = await invoke_tool_async(tools.get(request.name), request)
            await on_result(result)
            return result

        if self.tool_mode == "sequential":
            for request in requests:
                yield request
                (result,) = self._wait(lambda r=request: _gather([one(r)]))  # type: ignore[misc]
                yield result
        else:
            current = self._start(lambda: _gather([one(r) for r in requests]))
            try:
                yield from requests
            except BaseException:
                current.cancel()  # the reader left: end the round before the chat records it
                current.wait()
                raise
            yield from current.result()

    def _start(self, make: Callable[[], Awaitable[list[ContentToolResult]]]) -> _Round:
        loop = self._loop
        if loop is None:
            raise RuntimeError("AsyncToolRunner.bind() was not called")  # pragma: no cover
        with self._lock:
            if self._stopped:
                import asyncio

                raise asyncio.CancelledError
            self._round = _Round(loop, make)
            return self._round

    def _wait(self, make: Callable[[], Awaitable[list[ContentToolResult]]]) -> list[Any]:
        return self._start(make).result()


async def _gather(calls: list[Awaitable[ContentToolResult]]) -> list[ContentToolResult]:
    """Await the calls together; on a failure or cancellation, end them all before raising."""
    import asyncio

    _RUNNER.set(None)  # a tool that calls chat() itself runs its tools the sync way
    tasks = [asyncio.ensure_future(c) for c in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


class _Round:
    """One round as a task on the loop, waited for from the worker thread."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        make: Callable[[], Awaitable[list[ContentToolResult]]],
    ) -> None:
        self._loop = loop
        self._done = threading.Event()
        self._task: asyncio.Future[list[ContentToolResult]] | None = None
        self._cancelled = False
        # in the worker's context: the tools see the caller's context variables
        loop.call_soon_threadsafe(self._begin, make, context=contextvars.copy_context())

    def _begin(self, make: Callable[[], Awaitable[list[ContentToolResult]]]) -> None:  # on the loop
        import asyncio

        if self._cancelled:
            self._done.set()  # cancelled before it began: no coroutine was made
            return
        self._task = asyncio.ensure_future(make())
        self._task.add_done_callback(lambda _: self._done.set())

    def _cancel(self) -> None:  # on the loop
        self._cancelled = True
        if self._task is not None:
            self._task.cancel()

    def cancel(self) -> None:
        """Cancel the round's task (from any thread)."""
        with contextlib.suppress(RuntimeError):  # the loop is closed: the task is gone
            self._loop.call_soon_threadsafe(self._cancel)

    def wait(self) -> None:
        """Wait (worker thread) until the round has ended, or its loop is gone."""
        while not self._done.wait(0.5):
            if self._loop.is_closed():
                return

    def result(self) -> list[ContentToolResult]:
        """Wait for the round to end (worker thread); raise what ended it."""
        import asyncio

        self.wait()
        task = self._task
        if task is not None and not task.done():
            raise asyncio.CancelledError  # the loop closed under it
        if task is None or task.cancelled():
            raise asyncio.CancelledError
        return task.result()
