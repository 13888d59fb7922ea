"""Chat's tools: registering them, the callbacks around them, and the tool loop.

(R: ``$register_tool()``, ``$on_tool_request()``, the loop of ``chat_impl``
and ``complete_dangling_tool_requests()``.) ``ChatToolsMixin`` is a base
class of ``Chat``; running one tool is ellmer_py._invoke's job, one round
trip ellmer_py._exchange's. Results of tools that ran are never dropped:
when the request carrying them fails (or the reader stops), they stay last
in the turns, and the next message is sent after them.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ._content import Content, ContentText, ContentToolRequest, ContentToolResult
from ._errors import ConfigurationError
from ._turn import AssistantPartialTurn, AssistantTurn, Turn, UserTurn, user_turn

if TYPE_CHECKING:
    from typing_extensions import Self

    from ._provider import Provider
    from ._tools import ToolDef

__all__ = ["ChatToolsMixin"]


class ChatToolsMixin:
    """The tool methods of ``Chat``; ``Chat`` sets the attributes and sends the turns."""

    _provider: Provider
    _turns: list[Turn]
    _tools: dict[str, ToolDef]
    _on_tool_request: dict[int, Callable[[Any], Any]]
    _on_tool_result: dict[int, Callable[[Any], Any]]
    _callback_id: int

    def register_tool(self, tool: ToolDef | Callable[..., Any]) -> Self:
        """Let the model call a tool (R: ``$register_tool()``).

        ``tool`` is made with ``tool()``; a plain function is wrapped with
        ``tool(func)``, which reads its type hints and docstring. A tool with
        the same name is replaced (an INFO note says so, as R). A model with a declared ``"tools"``
        limitation raises ModelLimitationError (also at request time, after
        ``set_model()``).
        """
        from ._tools import as_tool

        tool_def = as_tool(tool, "register_tool()")
        self._provider.refuse("tools")
        if tool_def.name in self._tools:
            # R: cli_inform("Replacing existing {name} tool."); an INFO record here
            logging.getLogger("ellmer_py").info("Replacing existing %s tool.", tool_def.name)
        self._tools[tool_def.name] = tool_def
        return self

    def register_tools(self, tools: Iterable[ToolDef | Callable[..., Any]]) -> Self:
        """Register several tools (R: ``$register_tools()``)."""
        from ._tools import as_tool, tool_list

        checked = [as_tool(t, "register_tools()") for t in tool_list(tools)]
        if checked:
            self._provider.refuse("tools")
        for tool_def in checked:
            self._tools[tool_def.name] = tool_def
        return self

    def get_tools(self) -> list[ToolDef]:
        """The registered tools, in the order they were registered (R: ``$get_tools()``)."""
        return list(self._tools.values())

    def set_tools(self, tools: Iterable[ToolDef | Callable[..., Any]]) -> Self:
        """Replace all the registered tools (R: ``$set_tools()``); ``[]`` removes them."""
        from ._tools import as_tool, tool_list

        checked = [as_tool(t, "set_tools()") for t in tool_list(tools)]
        if checked:
            self._provider.refuse("tools")
        self._tools = {t.name: t for t in checked}
        return self

    def on_tool_request(self, callback: Callable[[ContentToolRequest], Any]) -> Callable[[], None]:
        """Call ``callback(request)`` before each tool runs (R: ``$on_tool_request()``).

        The callback may raise ``ToolReject`` (``tool_reject()``) to refuse
        the call; the model is then told why. Returns a function that
        removes the callback. Later callbacks run first, as in ellmer.
        """
        return self._add_callback(self._on_tool_request, callback, "on_tool_request()")

    def on_tool_result(self, callback: Callable[[ContentToolResult], Any]) -> Callable[[], None]:
        """Call ``callback(result)`` after each tool runs (R: ``$on_tool_result()``).

        Returns a function that removes the callback.
        """
        return self._add_callback(self._on_tool_result, callback, "on_tool_result()")

    def _add_callback(
        self, registry: dict[int, Callable[[Any], Any]], callback: Callable[[Any], Any], what: str
    ) -> Callable[[], None]:
        if not callable(callback):
            raise ConfigurationError(f"{what} needs a function, not {type(callback).__name__}.")
        self._callback_id += 1
        key = self._callback_id
        registry[key] = callback

        def remove() -> None:
            registry.pop(key, None)

        return remove

    def _run_callbacks(self, registry: dict[int, Callable[[Any], Any]], value: Any) -> None:
        for key in sorted(registry, reverse=True):
            callback = registry.get(key)
            if callback is not None:
                out = callback(value)
                if inspect.isawaitable(out):  # R: "Can't use async callbacks with $chat()"
                    from ._invoke import refuse_awaitable

                    refuse_awaitable(out, "callbacks")

    async def _run_callbacks_async(
        self, registry: dict[int, Callable[[Any], Any]], value: Any
    ) -> None:
        """The callbacks, latest first, each awaited if async (R: ``$invoke_async()``)."""
        for key in sorted(registry, reverse=True):
            callback = registry.get(key)
            if callback is not None:
                out = callback(value)
                if inspect.isawaitable(out):
                    await out

    def _next_user_turn(self, args: Sequence[str | Content], allow_empty: bool = False) -> UserTurn:
        """The user turn to send; it first answers tool calls left without results.

        (R: ``complete_dangling_tool_requests()``.) Such calls are left when a
        stream was stopped or a callback failed before the tools ran; a call
        already answered (by the message itself, a ``ContentToolResult`` with
        its id, or by results kept from a request that failed) is not answered
        twice.
        """
        user = UserTurn(()) if allow_empty and not args else user_turn(args)
        start = len(self._turns)  # tool results kept after the last answer
        while start and _only_results(self._turns[start - 1]):
            start -= 1
        last = self._turns[start - 1] if start else None
        if not isinstance(last, AssistantTurn):
            return user
        answered = {
            c.id
            for turn in (*self._turns[start:], user)
            for c in turn.contents
            if isinstance(c, ContentToolResult)
        }
        dangling = [
            ContentToolResult(id=c.id, error="Chat ended before the tool could be invoked.")
            for c in last.contents
            if isinstance(c, ContentToolRequest) and c.id not in answered
        ]
        return UserTurn((*dangling, *user.contents)) if dangling else user

    def _submit(self, user: UserTurn, *, stream: bool, contents: bool) -> Iterator[Any]:
        """Send one request and record the user turn and the answer (``Chat`` defines it)."""
        raise NotImplementedError  # pragma: no cover

    def _run_tools(
        self, requests: list[ContentToolRequest], keep: Callable[[ContentToolResult], None]
    ) -> Iterator[ContentToolRequest | ContentToolResult]:
        """The steps of one round of tool calls (R: ``invoke_tools()``, ``invoke_tools_async()``).

        In ``chat_async()`` / ``stream_async()`` the round runs on the
        caller's event loop (ellmer_py._invoke_async). ``keep`` gets each
        result as soon as its tool has run, before the callbacks, so a round
        cut short keeps the results of the calls that finished.
        """
        from ._invoke_async import current_tool_runner

        runner = current_tool_runner()
        if runner is None:
            from ._invoke import invoke_tools

            def finished(result: ContentToolResult) -> None:
                keep(result)
                self._run_callbacks(self._on_tool_result, result)

            return invoke_tools(
                requests,
                self._tools,
                lambda r: self._run_callbacks(self._on_tool_request, r),
                finished,
            )

        async def finished_async(result: ContentToolResult) -> None:
            keep(result)
            await self._run_callbacks_async(self._on_tool_result, result)

        return runner.run(
            requests,
            self._tools,
            lambda r: self._run_callbacks_async(self._on_tool_request, r),
            finished_async,
        )

    def _chat_impl(
        self, user: UserTurn, *, stream: bool, contents: bool, warn: bool
    ) -> Iterator[Any]:
        """The tool loop (R: ``chat_impl``): send, run the tools asked for, send the results.

        Yields text (or Content pieces) of every answer; a newline separates
        the text of one answer from the next. Stops at an answer without tool
        calls, or at a partial one.
        """
        failed: list[tuple[ContentToolRequest, ContentToolResult]] = []
        text_open = False  # the text so far does not end a line
        results: list[ContentToolResult] = []  # of tools that ran, not recorded yet
        try:
            while True:
                last: str | None = None  # the answer's last text piece
                before = len(self._turns)
                try:
                    for piece in self._submit(user, stream=stream, contents=contents):
                        if type(piece) is str:  # the hot path: plain streamed text
                            if last is None and text_open:
                                yield "\n"
                            last = piece
                        elif isinstance(piece, ContentText):
                            if last is None and text_open:
                                yield ContentText("\n")
                            last = piece.text
                        yield piece
                finally:
                    if len(self._turns) != before:
                        results = []  # recorded, with what arrived of the answer
                if last is not None:
                    text_open = not last.endswith("\n")
                turn = self._turns[-1]
                if isinstance(turn, AssistantPartialTurn) or not isinstance(turn, AssistantTurn):
                    break
                requests = [c for c in turn.contents if isinstance(c, ContentToolRequest)]
                if not requests or not self._tools:
                    break  # without registered tools, tool calls are left for the caller
                for step in self._run_tools(requests, results.append):
                    if contents:
                        text_open = False  # tool lines end the line
                        yield step
                results.sort(key=_in_order_of(requests))
                by_id = {r.id: r for r in requests}
                failed += [(by_id[c.id], c) for c in results if c.error is not None]
                user = UserTurn(results)
        except BaseException:
            if results:
                # The tools ran (with their side effects) but the request carrying their
                # results failed before any answer, or the caller stopped: the results stay,
                # and are sent before the next message.
                results.sort(key=_in_order_of(requests))
                self._turns.append(UserTurn(results))
            raise
        if warn and failed:
            from ._invoke import warn_tool_errors

            warn_tool_errors(failed)


def _in_order_of(requests: Sequence[ContentToolRequest]) -> Callable[[ContentToolResult], int]:
    """A sort key: the results in the order of their requests (R keeps request order)."""
    position = {r.id: i for i, r in reversed(list(enumerate(requests)))}
    return lambda result: position.get(result.id, len(position))


def _only_results(turn: Turn) -> bool:
    """Whether ``turn`` is a user turn of tool results only (kept when their request failed)."""
    return (
        isinstance(turn, UserTurn)
        and bool(turn.contents)
        and all(isinstance(c, ContentToolResult) for c in turn.contents)
    )
