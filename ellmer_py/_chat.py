"""The conversation: ``Chat`` keeps the turns and talks to a provider (R: ``Chat``)."""

from __future__ import annotations

import builtins
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TextIO, TypeVar, overload

from ._content import (
    Content,
    ContentText,
    ContentThinking,
    ContentToolRequest,
    ContentToolResult,
)
from ._echo import Echo, EchoWriter, resolve_echo
from ._errors import ConfigurationError, ModelLimitationError
from ._params import _caller_stacklevel
from ._provider import Provider, system_prompt_error
from ._turn import (
    AssistantPartialTurn,
    AssistantTurn,
    SystemTurn,
    Tokens,
    Turn,
    UserTurn,
)

if TYPE_CHECKING:
    from ._async import AsyncStream
    from ._structured import StructuredSpec
    from ._tools import ToolDef

__all__ = ["Chat", "SystemPromptFallback"]

SystemPromptFallback = Literal["error", "merge"]
_T = TypeVar("_T")


def _user_turn(args: Sequence[str | Content | Turn]) -> UserTurn:
    if len(args) == 1 and isinstance(args[0], UserTurn):
        return args[0]
    if not args:
        raise ConfigurationError("chat() needs something to say: a string or Content objects.")
    for arg in args:
        if not isinstance(arg, (str, Content)):
            raise ConfigurationError(
                f"chat() takes strings and Content objects, not {type(arg).__name__}."
            )
    return UserTurn(args)  # type: ignore[arg-type]


class Chat:
    """A conversation with one provider's model (R: ``Chat``).

    Made by a ``chat_*()`` function or ``chat("provider/model")``; ``chat()``
    sends a message and records both turns, ``stream()`` yields the answer as
    it arrives. An answer cut short keeps what arrived as an
    ``AssistantPartialTurn``; a request that fails before any answer leaves
    the turns as they were.
    """

    def __init__(
        self,
        provider: Provider,
        system_prompt: str | None = None,
        echo: Echo | bool | None = None,
        *,
        system_prompt_fallback: SystemPromptFallback = "error",
        echo_stream: TextIO | None = None,
    ) -> None:
        if not isinstance(provider, Provider):
            raise ConfigurationError(
                f"Chat needs a Provider, not {type(provider).__name__}; make a chat with "
                'chat_huggingface(...) or chat("provider/model") instead.'
            )
        if system_prompt_fallback not in ("error", "merge"):
            raise ConfigurationError(
                "system_prompt_fallback must be 'error' or 'merge', "
                f"not {system_prompt_fallback!r}."
            )
        self._provider = provider
        self._turns: list[Turn] = []
        self._system_prompt: str | None = None
        self.set_system_prompt(system_prompt)
        self._echo: Echo = resolve_echo(echo)
        self._echo_stream = echo_stream
        self.system_prompt_fallback: SystemPromptFallback = system_prompt_fallback
        self._tools: dict[str, ToolDef] = {}
        self._on_tool_request: dict[int, Callable[[Any], Any]] = {}
        self._on_tool_result: dict[int, Callable[[Any], Any]] = {}
        self._callback_id = 0

    def __repr__(self) -> str:
        turns = len(self._turns)
        tokens = self._total_tokens()
        return (
            f"<Chat {self._provider.name}/{self._provider.model} turns={turns} "
            f"tokens={tokens.input}/{tokens.output}>"
        )

    # -- state --------------------------------------------------------------

    def get_turns(self, include_system_prompt: bool = False) -> list[Turn]:
        """The turns so far, oldest first (R: ``$get_turns()``)."""
        if include_system_prompt and self._system_prompt is not None:
            return [SystemTurn(self._system_prompt), *self._turns]
        return list(self._turns)

    def set_turns(self, turns: Iterable[Turn]) -> Chat:
        """Replace the turns (R: ``$set_turns()``); a leading SystemTurn sets the system prompt."""
        turns = list(turns)
        for turn in turns:
            if not isinstance(turn, Turn):
                raise ConfigurationError(
                    f"set_turns() takes Turn objects, not {type(turn).__name__}."
                )
        if turns and isinstance(turns[0], SystemTurn):
            self.set_system_prompt(turns[0].text)
            turns = turns[1:]
        if any(isinstance(t, SystemTurn) for t in turns):
            raise ConfigurationError("A SystemTurn may only come first in set_turns().")
        self._turns = turns
        return self

    def last_turn(self, role: Literal["assistant", "user", "system"] = "assistant") -> Turn | None:
        """The most recent turn with this role, or None (R: ``$last_turn()``)."""
        if role == "system":
            return SystemTurn(self._system_prompt) if self._system_prompt is not None else None
        if role not in ("assistant", "user"):
            raise ConfigurationError(f"role must be 'assistant', 'user' or 'system', not {role!r}.")
        return next((t for t in reversed(self._turns) if t.role == role), None)

    def get_system_prompt(self) -> str | None:
        """The system prompt, or None (R: ``$get_system_prompt()``)."""
        return self._system_prompt

    def set_system_prompt(self, value: str | Sequence[str] | None) -> Chat:
        """Set or clear the system prompt (R: ``$set_system_prompt()``).

        A list of strings is joined with blank lines; None or "" clears it.
        """
        if value is not None and not isinstance(value, str):
            if not all(isinstance(v, str) for v in value):
                raise ConfigurationError("system_prompt must be a string or a list of strings.")
            value = "\n\n".join(value)
        self._system_prompt = value or None
        return self

    def get_model(self) -> str:
        """The model id (R: ``$get_model()``)."""
        return self._provider.model

    def set_model(self, model: str) -> Chat:
        """Switch to another model of the same provider; the turns are kept."""
        self._provider = self._provider.with_model(model)
        return self

    def get_provider(self) -> Provider:
        """The provider this chat talks to (R: ``$get_provider()``)."""
        return self._provider

    def get_echo(self) -> Echo:
        """The echo mode ``chat()`` uses."""
        return self._echo

    def set_echo(self, echo: Echo | bool | None) -> Chat:
        """Change the echo mode."""
        self._echo = resolve_echo(echo)
        return self

    def _total_tokens(self) -> Tokens:
        total = Tokens()
        for turn in self._turns:
            if isinstance(turn, AssistantTurn) and turn.tokens is not None:
                total = total + turn.tokens
        return total

    def get_tokens(self) -> list[dict[str, Any]]:
        """Tokens of each assistant turn: input, output, cached input, cost.

        (R: ``$get_tokens()``.)
        """
        rows = []
        for turn in self._turns:
            if isinstance(turn, AssistantTurn):
                tokens = turn.tokens or Tokens()
                rows.append(
                    {
                        "role": turn.role,
                        "input": tokens.input,
                        "output": tokens.output,
                        "cached_input": tokens.cached_input,
                        "cost": turn.cost,
                    }
                )
        return rows

    def get_cost(self, include: Literal["all", "last"] = "all") -> float | None:
        """The cost of the conversation, or of the last answer; None where unknown.

        (R: ``$get_cost()``.)
        """
        turns = [t for t in self._turns if isinstance(t, AssistantTurn)]
        if include == "last":
            turns = turns[-1:]
        elif include != "all":
            raise ConfigurationError(f"include must be 'all' or 'last', not {include!r}.")
        costs = [t.cost for t in turns if t.cost is not None]
        return sum(costs) if costs else None

    # -- tools --------------------------------------------------------------

    def register_tool(self, tool: ToolDef | Callable[..., Any]) -> Chat:
        """Let the model call a tool (R: ``$register_tool()``).

        ``tool`` is made with ``tool()``; a plain function is wrapped with
        ``tool(func)``, which reads its type hints and docstring. A tool with
        the same name is replaced. A model with a declared ``"tools"``
        limitation raises ModelLimitationError (also at request time, after
        ``set_model()``).
        """
        tool_def = _as_tool(tool, "register_tool()")
        self._provider.refuse("tools")
        self._tools[tool_def.name] = tool_def
        return self

    def register_tools(self, tools: Iterable[ToolDef | Callable[..., Any]]) -> Chat:
        """Register several tools (R: ``$register_tools()``)."""
        checked = [_as_tool(t, "register_tools()") for t in _tool_list(tools)]
        if checked:
            self._provider.refuse("tools")
        for tool_def in checked:
            self._tools[tool_def.name] = tool_def
        return self

    def get_tools(self) -> list[ToolDef]:
        """The registered tools, in the order they were registered (R: ``$get_tools()``)."""
        return list(self._tools.values())

    def set_tools(self, tools: Iterable[ToolDef | Callable[..., Any]]) -> Chat:
        """Replace all the registered tools (R: ``$set_tools()``); ``[]`` removes them."""
        checked = [_as_tool(t, "set_tools()") for t in _tool_list(tools)]
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
                callback(value)

    # -- talking ------------------------------------------------------------

    def _request_turns(self, user: UserTurn, merge: bool) -> list[Turn]:
        history: list[Turn] = [*self._turns, user]
        prompt = self._system_prompt
        if prompt is None:
            return history
        if not merge:
            return [SystemTurn(prompt), *history]
        first = next(i for i, t in enumerate(history) if isinstance(t, UserTurn))
        merged = UserTurn((prompt + "\n\n", *history[first].contents))
        return [*history[:first], merged, *history[first + 1 :]]

    def _merge_system_prompt(self) -> bool:
        """Decide, before any request, whether the system prompt must be merged."""
        if self._system_prompt is None:
            return False
        limitation = self._provider.limitation("system_prompt")
        if limitation is None:
            return False
        if self.system_prompt_fallback == "merge":
            return True
        raise system_prompt_error(self._provider.name, self._provider.model, limitation.advice)

    def _with_fallback(self, user: UserTurn, send: Callable[[list[Turn]], _T]) -> _T:
        merge = self._merge_system_prompt()
        try:
            return send(self._request_turns(user, merge))
        except ModelLimitationError as exc:
            if exc.feature != "system_prompt" or merge or self.system_prompt_fallback != "merge":
                raise
            return send(self._request_turns(user, True))

    def _next_user_turn(self, args: Sequence[str | Content], allow_empty: bool = False) -> UserTurn:
        """The user turn to send; it first answers tool calls left without results.

        (R: ``complete_dangling_tool_requests()``.) Such calls are left when a
        stream was stopped or a callback failed before the tools ran.
        """
        user = UserTurn(()) if allow_empty and not args else _user_turn(args)
        last = self._turns[-1] if self._turns else None
        if isinstance(last, AssistantTurn):
            dangling = [
                ContentToolResult(id=c.id, error="Chat ended before the tool could be invoked.")
                for c in last.contents
                if isinstance(c, ContentToolRequest)
            ]
            if dangling:
                user = UserTurn((*dangling, *user.contents))
        return user

    def chat(self, *args: str | Content, echo: Echo | bool | None = None) -> str:
        """Send a message and return the answer's text (R: ``$chat()``).

        When the model asks for registered tools, they run and their results
        go back, until the model answers in text; the text of that last
        answer is returned. With echo "output" or "all" the answers (and the
        tool calls) are streamed to the terminal as they arrive; with "none"
        plain requests are made.
        """
        mode = self._echo if echo is None else resolve_echo(echo)
        user = self._next_user_turn(args)
        if mode == "none":
            for _ in self._chat_impl(user, stream=False, contents=False, warn=True):
                pass
        else:
            writer = EchoWriter(mode, self._echo_stream)
            writer.user(user.text)
            try:
                for piece in self._chat_impl(user, stream=True, contents=True, warn=False):
                    _show(writer, piece)
            finally:
                writer.end()
        last = self.last_turn()
        return last.text if last is not None else ""

    @overload
    def stream(self, *args: str | Content, content: Literal["text"] = "text") -> Iterator[str]: ...

    @overload
    def stream(
        self, *args: str | Content, content: Literal["all", "content"]
    ) -> Iterator[Content]: ...

    def stream(
        self, *args: str | Content, content: Literal["text", "all", "content"] = "text"
    ) -> Iterator[str] | Iterator[Content]:
        """Send a message and yield the answer as it arrives (R: ``$stream()``).

        ``content="text"`` yields the text; ``content="all"`` (R:
        ``stream = "content"``) yields Content objects: ``ContentText`` and
        ``ContentThinking`` pieces, and a ``ContentToolRequest`` then its
        ``ContentToolResult`` for each tool call. Tools run as in ``chat()``.

        The request goes out when iteration starts. The turns are recorded
        as they complete; if a stream fails or the caller stops early, what
        arrived is kept as an ``AssistantPartialTurn`` with the reason.
        """
        if content not in ("text", "all", "content"):
            raise ConfigurationError(f"content must be 'text' or 'all', not {content!r}.")
        user = self._next_user_turn(args)
        return self._chat_impl(user, stream=True, contents=content != "text", warn=True)

    @overload
    def chat_structured(
        self,
        *args: str | Content,
        type: builtins.type[_T],
        echo: Echo | bool | None = "none",
        convert: bool = True,
    ) -> _T: ...

    @overload
    def chat_structured(
        self,
        *args: str | Content,
        type: Any,
        echo: Echo | bool | None = "none",
        convert: bool = True,
    ) -> Any: ...

    def chat_structured(
        self,
        *args: str | Content,
        type: Any,
        echo: Echo | bool | None = "none",
        convert: bool = True,
    ) -> Any:
        """Extract data that fits ``type`` (R: ``$chat_structured()``).

        ``type`` is a ``type_*()`` type, or a Python type: a dataclass, an
        attrs class, a TypedDict, ``list[...]``, ``int``, ... The request
        asks for JSON with that schema (a non-object type is wrapped in an
        object and unwrapped); the answer is validated, and with ``convert``
        a Python type gets an instance of it (through cattrs). The message
        may be left out to extract from the conversation so far. Tools are
        not offered during extraction, as in ellmer.

        Raises StructuredOutputError when the answer was cut off (finish
        reason max_tokens), is not JSON, or does not fit the type; the turns
        are recorded either way, the answer as ``ContentJson`` when it is JSON.
        A model with a declared ``"structured_output"`` limitation raises
        ModelLimitationError before any request.
        """
        from ._structured import extract, spec_for

        if not isinstance(convert, bool):
            raise ConfigurationError(f"convert must be True or False, not {convert!r}.")
        mode = resolve_echo(echo)
        spec = spec_for(type, wrap=self._provider.needs_wrapper)
        user = self._next_user_turn(args, allow_empty=True)
        if mode == "none":
            for _ in self._submit(user, stream=False, contents=False, spec=spec):
                pass
        else:
            writer = EchoWriter(mode, self._echo_stream)
            writer.user(user.text)
            try:
                for piece in self._submit(user, stream=True, contents=True, spec=spec):
                    _show(writer, piece)
            finally:
                writer.end()
        turn = self._turns[-1]
        assert isinstance(turn, AssistantTurn)
        return extract(spec, turn, convert=convert)

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
        while True:
            last: str | None = None  # the answer's last text piece
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
            if last is not None:
                text_open = not last.endswith("\n")
            turn = self._turns[-1]
            if isinstance(turn, AssistantPartialTurn) or not isinstance(turn, AssistantTurn):
                break
            requests = [c for c in turn.contents if isinstance(c, ContentToolRequest)]
            if not requests or not self._tools:
                break  # without registered tools, tool calls are left for the caller
            from ._tools import invoke_tools

            results: list[ContentToolResult] = []
            by_id = {r.id: r for r in requests}
            steps = invoke_tools(
                requests,
                self._tools,
                lambda r: self._run_callbacks(self._on_tool_request, r),
                lambda r: self._run_callbacks(self._on_tool_result, r),
            )
            for step in steps:
                if isinstance(step, ContentToolResult):
                    results.append(step)
                    if step.error is not None:
                        failed.append((by_id[step.id], step))
                if contents:
                    text_open = False  # tool lines end the line
                    yield step
            user = UserTurn(results)
        if warn and failed:
            _warn_tool_errors(failed)

    def _submit(
        self,
        user: UserTurn,
        *,
        stream: bool,
        contents: bool,
        spec: StructuredSpec | None = None,
    ) -> Iterator[Any]:
        """Send one request and record the user turn and the answer (R: ``submit_turns``).

        Yields the answer's text, or with ``contents`` its thinking and text
        as Content pieces. Tools are offered unless data is being extracted.
        """
        from ._exchange import exchange

        def record(turn: AssistantTurn) -> None:
            self._turns += [user, turn]

        yield from exchange(
            self._provider,
            lambda make: self._with_fallback(user, make),
            record,
            stream=stream,
            contents=contents,
            tools=list(self._tools.values()) if spec is None else [],
            spec=spec,
        )

    # -- async and copies: thin entries to ellmer_py._async / ellmer_py._parallel --

    async def chat_async(self, *args: str | Content, echo: Echo | bool | None = "none") -> str:
        """``chat()`` without blocking the event loop (R: ``$chat_async()``).

        Cancelling the task closes the connection and keeps a partial turn.
        """
        from ._async import chat_async

        return await chat_async(self, *args, echo=echo)

    def stream_async(
        self, *args: str | Content, content: Literal["text", "all", "content"] = "text"
    ) -> AsyncStream[Any]:
        """``stream()`` as an async iterator (R: ``$stream_async()``); see ellmer_py._async."""
        from ._async import stream_async

        return stream_async(self, *args, content=content)

    async def chat_structured_async(
        self,
        *args: str | Content,
        type: Any,
        echo: Echo | bool | None = "none",
        convert: bool = True,
    ) -> Any:
        """``chat_structured()``, not blocking the event loop (R: ``$chat_structured_async()``)."""
        from ._async import chat_structured_async

        return await chat_structured_async(self, *args, type=type, echo=echo, convert=convert)

    def copy(self) -> Chat:
        """A copy with its own turns, tools and callbacks (R: ``$clone()``)."""
        from ._parallel import fork_chat

        return fork_chat(self)


def _as_tool(x: Any, what: str) -> ToolDef:
    from ._tools import ToolBuiltIn, ToolDef, tool

    if isinstance(x, (ToolDef, ToolBuiltIn)):
        return x  # type: ignore[return-value]
    if callable(x):
        return tool(x)
    raise ConfigurationError(
        f"{what} takes tools made with tool() (or plain functions), not {type(x).__name__}."
    )


def _tool_list(tools: Any) -> list[Any]:
    if isinstance(tools, Mapping):
        return list(tools.values())
    if isinstance(tools, (str, bytes)) or not isinstance(tools, Iterable):
        raise ConfigurationError(
            f"Expected a list of tools made with tool(), not {type(tools).__name__}."
        )
    return list(tools)


def _show(writer: EchoWriter, piece: Any) -> None:
    """Echo one piece of the conversation."""
    if isinstance(piece, ContentText):
        writer.output(piece.text)
    elif isinstance(piece, ContentThinking):
        writer.thinking(piece.thinking)
    elif isinstance(piece, ContentToolRequest):
        writer.tool_request(piece)
    elif isinstance(piece, ContentToolResult):
        writer.tool_result(piece)


def _warn_tool_errors(failed: list[tuple[ContentToolRequest, ContentToolResult]]) -> None:
    """One warning listing the tool calls that failed (R: ``warn_tool_errors()``)."""
    n = len(failed)
    lines = [f"Failed to evaluate {n} tool call{'s' if n > 1 else ''}."]
    for request, result in failed[:3]:
        lines.append(f"x [{request.name or 'unknown_tool'} ({request.id})]: {result.error}")
    if n > 3:
        lines.append(f"... and {n - 3} more.")
    warnings.warn("\n".join(lines), UserWarning, stacklevel=_caller_stacklevel())
