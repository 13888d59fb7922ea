"""The conversation: ``Chat`` keeps the turns and talks to a provider (R: ``Chat``)."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TextIO, TypeVar, overload

from ._answer import echoed
from ._async import AsyncChatMixin
from ._chat_state import ChatStateMixin
from ._chat_tools import ChatToolsMixin
from ._content import (
    Content,
    ContentText,
    ContentThinking,
    ContentToolRequest,
    ContentToolResult,
)
from ._display import ChatDisplayMixin
from ._echo import Echo, EchoWriter, resolve_echo, showing_notices, stream_content
from ._errors import ConfigurationError, ModelLimitationError
from ._provider import Provider, system_prompt_error
from ._rounds import ChatRoundsMixin
from ._tokens import tokens_by_turn, total_tokens, turns_cost
from ._turn import AssistantTurn, SystemTurn, Turn, UserTurn, check_text, strings, user_turn

if TYPE_CHECKING:
    from ._structured import StructuredSpec
    from ._tools import ToolDef

__all__ = ["Chat", "SystemPromptFallback"]

SystemPromptFallback = Literal["error", "merge"]
_T = TypeVar("_T")


class Chat(ChatToolsMixin, AsyncChatMixin, ChatStateMixin, ChatRoundsMixin, ChatDisplayMixin):
    """A conversation with one provider's model (R: ``Chat``).

    Made by a ``chat_*()`` function or ``chat("provider/model")``; ``chat()``
    sends a message and records both turns, ``stream()`` yields the answer as
    it arrives. An answer cut short keeps what arrived as an
    ``AssistantPartialTurn``; a request that fails before any answer leaves
    the turns as they were, except that results of tools that ran are kept
    (they are sent before the next message).
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
        tokens = total_tokens(self._turns)
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
        if isinstance(turns, (str, bytes, Turn, Mapping)) or not isinstance(turns, Iterable):
            raise ConfigurationError(
                "set_turns() takes a list of Turn objects ([] clears them), not "
                f"{type(turns).__name__}."
            )
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
        if value is not None:
            value = "\n\n".join(strings(value, "system_prompt"))
        check_text(value, "The system prompt")
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

    def list_models(self) -> list[Any]:
        """The models this chat's provider serves, one row each (R: ``models_list()``).

        Asks the provider's models endpoint with this chat's base URL, key and
        headers; NotImplementedError for a provider without one.
        """
        return self._provider.list_models()

    def get_echo(self) -> Echo:
        """The echo mode ``chat()`` uses."""
        return self._echo

    def set_echo(self, echo: Echo | bool | None) -> Chat:
        """Change the echo mode."""
        self._echo = resolve_echo(echo)
        return self

    def get_tokens(self) -> list[dict[str, Any]]:
        """Tokens of each assistant turn: input, output, cached input, cost.

        (R: ``$get_tokens()``.)
        """
        return tokens_by_turn(self._turns)

    def get_cost(self, include: Literal["all", "last"] = "all") -> float | None:
        """The cost of the conversation, or of the last answer; None where unknown.

        (R: ``$get_cost()``.)
        """
        return turns_cost(self._turns, include)

    def token_count(
        self,
        *args: str | Content,
        include: Literal["new", "complete"] = "new",
        type: Any = None,
    ) -> int:
        """Estimate the input tokens of ``args`` with the API's counting endpoint.

        (R: ``$token_count()``.) ``include="new"`` counts the new message
        only; ``"complete"`` estimates the whole next request: with no
        answer yet, the message with the system prompt and the tools, else
        the message plus the last answer's input, output and cached input.
        ``type`` (as for :meth:`chat_structured`) counts its schema too.
        Raises NotImplementedError for a provider whose API cannot count.
        """
        from ._structured import spec_for

        if include not in ("new", "complete"):
            raise ConfigurationError(f"include must be 'new' or 'complete', not {include!r}.")
        sent = None if type is None else spec_for(type, wrap=self._provider.needs_wrapper).sent
        turns: list[Turn] = [user_turn(args)]
        tokens = self.get_tokens()
        if include == "complete" and not tokens:
            prompt = self._system_prompt
            system: list[Turn] = [] if prompt is None else [SystemTurn(prompt)]
            tools = list(self._tools.values())
            return self._provider.count_tokens([*system, *turns], tools=tools, type=sent)
        new = self._provider.count_tokens(turns, type=sent)
        if include == "new":
            return new
        last = tokens[-1]
        return int(new + last["input"] + last["output"] + last["cached_input"])

    # -- talking ------------------------------------------------------------

    def _request_turns(self, user: UserTurn, merge: bool) -> list[Turn]:
        history: list[Turn] = [*self._turns, user]
        prompt = self._system_prompt
        if prompt is None:
            return history
        if not merge:
            return [SystemTurn(prompt), *history]
        first = next(i for i, t in enumerate(history) if isinstance(t, UserTurn))
        contents = history[first].contents
        if contents and isinstance(contents[0], ContentText):  # one text, as it was
            head: tuple[Content, ...] = (ContentText(f"{prompt}\n\n{contents[0].text}"),)
            contents = contents[1:]
        else:
            head = (ContentText(prompt + "\n\n"),)
        merged = UserTurn((*head, *contents))
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

    def chat(self, *args: str | Content, echo: Echo | bool | None = None) -> str:
        """Send a message and return the answer's text (R: ``$chat()``).

        When the model asks for registered tools, they run and their results
        go back, until the model answers in text; the text of that last
        answer is returned. With echo "output" or "all" the answers (and the
        tool calls) are streamed to the terminal as they arrive; with "none"
        plain requests are made. An echoed answer is not shown again by the
        prompt that asked for it (R returns it invisibly); it is still the text.
        """
        mode = self._echo if echo is None else resolve_echo(echo)
        user = self._next_user_turn(args)
        # echoed, the tool errors are shown as they happen: no warning then
        self._drain(
            user, mode, lambda on: self._chat_impl(user, stream=on, contents=on, warn=not on)
        )
        last = self.last_turn()
        text = last.text if last is not None else ""
        return text if mode == "none" else echoed(text)

    @overload
    def stream(
        self,
        *args: str | Content,
        content: Literal["text"] = "text",
        stream: Literal["text"] | None = None,
    ) -> Iterator[str]: ...

    @overload
    def stream(
        self,
        *args: str | Content,
        content: Literal["all", "content"],
        stream: None = None,
    ) -> Iterator[Content]: ...

    @overload
    def stream(
        self,
        *args: str | Content,
        stream: Literal["content"],
    ) -> Iterator[Content]: ...

    def stream(
        self,
        *args: str | Content,
        content: Literal["text", "all", "content"] = "text",
        stream: Literal["text", "content"] | None = None,
    ) -> Iterator[str] | Iterator[Content]:
        """Send a message and yield the answer as it arrives (R: ``$stream()``).

        ``content="text"`` yields the text; ``content="all"`` (R's spelling,
        ``stream="content"``, works too) yields Content objects:
        ``ContentText`` and ``ContentThinking`` pieces, and a
        ``ContentToolRequest`` then its ``ContentToolResult`` for each tool
        call. Tools run as in ``chat()``.

        The request goes out when iteration starts. The turns are recorded
        as they complete; if a stream fails or the caller stops early, what
        arrived is kept as an ``AssistantPartialTurn`` with the reason.
        """
        content = stream_content(content, stream)
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
        attrs class, a pydantic model, a TypedDict, ``list[...]``, ``int``, ... The request
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
        self._drain(user, mode, lambda on: self._submit(user, stream=on, contents=on, spec=spec))
        turn = self._turns[-1]
        assert isinstance(turn, AssistantTurn)
        return extract(spec, turn, convert=convert)

    def _drain(self, user: UserTurn, mode: Echo, run: Callable[[bool], Iterator[Any]]) -> None:
        """Run ``run(echoing)`` to its end; when echoing, show each piece as it arrives."""
        if mode == "none":
            for _ in run(False):
                pass
            return
        writer = EchoWriter(mode, self._echo_stream)
        writer.user(user.text)
        try:
            with showing_notices(writer):  # retry waits, between the pieces
                for piece in run(True):
                    _show(writer, piece)
        finally:
            writer.end()

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
