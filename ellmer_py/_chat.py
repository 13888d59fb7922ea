"""The conversation: ``Chat`` keeps the turns and talks to a provider (R: ``Chat``)."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Literal, TextIO, TypeVar

from ._content import Content
from ._echo import Echo, EchoWriter, resolve_echo
from ._errors import ConfigurationError, ModelLimitationError
from ._provider import Provider, system_prompt_error
from ._turn import (
    AssistantPartialTurn,
    AssistantTurn,
    SystemTurn,
    Tokens,
    Turn,
    UserTurn,
)

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

    def chat(self, *args: str | Content, echo: Echo | bool | None = None) -> str:
        """Send a message and return the answer's text (R: ``$chat()``).

        With echo "output" or "all" the answer is streamed to the terminal as
        it arrives; with "none" one plain request is made.
        """
        mode = self._echo if echo is None else resolve_echo(echo)
        user = _user_turn(args)
        if mode == "none":
            turn = self._with_fallback(user, self._provider.chat_perform)
            self._turns += [user, turn]
            return turn.text
        writer = EchoWriter(mode, self._echo_stream)
        writer.user(user.text)
        pieces = []
        try:
            for piece in self._stream_turn(user):
                writer.output(piece)
                pieces.append(piece)
        finally:
            writer.end()
        return "".join(pieces)

    def stream(self, *args: str | Content) -> Iterator[str]:
        """Send a message and yield the answer's text as it arrives (R: ``$stream()``).

        The request goes out when iteration starts. The turns are recorded
        when the stream ends; if it fails or the caller stops early, what
        arrived is kept as an ``AssistantPartialTurn`` with the reason.
        """
        user = _user_turn(args)
        return self._stream_turn(user)

    def _stream_turn(self, user: UserTurn) -> Iterator[str]:
        provider = self._provider
        start = time.perf_counter()
        response = self._with_fallback(user, provider.stream_open)
        state = provider.protocol.stream_state()
        reason = "the stream ended early"
        try:
            yield from provider.stream_text(response, state)
        except GeneratorExit:
            reason = "interrupted: the caller stopped reading the stream"
            self._turns += [user, _partial(state.turn(time.perf_counter() - start), reason)]
            raise
        except BaseException as exc:
            reason = f"{type(exc).__name__}: {exc}"
            self._turns += [user, _partial(state.turn(time.perf_counter() - start), reason)]
            raise
        turn = state.turn(time.perf_counter() - start)
        if not state.complete:
            reason = "the stream ended before the server said the answer was finished"
            warnings.warn(
                f"{provider.name}: {reason}; kept as a partial turn.", UserWarning, stacklevel=2
            )
            turn = _partial(turn, reason)
        self._turns += [user, turn]


def _partial(turn: AssistantTurn, reason: str) -> AssistantPartialTurn:
    return AssistantPartialTurn(
        turn.contents,
        tokens=turn.tokens,
        cost=turn.cost,
        finish_reason=turn.finish_reason,
        duration=turn.duration,
        json=turn.json,
        reason=reason,
    )
