"""A conversation as rounds: ``Round``, ``get_rounds()``, and Chat's round methods.

(R: ``Round``, ``$get_rounds()``, ``$last_round()``, ``$add_turn()``.) A
round pairs the input that starts it (a user turn, after any system turn)
with the assistant and tool-result turns it produced: everything that
happened in answer to one message, the tool-calling loop included.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from attrs import field, frozen

from ._content import ContentToolRequest, ContentToolResult
from ._errors import ConfigurationError
from ._turn import AssistantPartialTurn, AssistantTurn, SystemTurn, Turn, UserTurn

if TYPE_CHECKING:
    from typing_extensions import Self

    from ._provider import Provider

__all__ = ["ChatRoundsMixin", "Round", "get_rounds"]


def _turns(value: Sequence[Turn]) -> tuple[Turn, ...]:
    return tuple(value)


def is_tool_result_turn(turn: Turn) -> bool:
    """A user turn holding only tool results (R: ``is_tool_result_turn()``)."""
    return (
        isinstance(turn, UserTurn)
        and bool(turn.contents)
        and all(isinstance(c, ContentToolResult) for c in turn.contents)
    )


def _is_input(turn: Turn) -> bool:
    return isinstance(turn, SystemTurn) or (
        isinstance(turn, UserTurn) and not is_tool_result_turn(turn)
    )


@frozen
class Round:
    """One round of a conversation (R: ``Round``).

    ``input`` holds the turns that start it (the user turn, after any system
    turn); ``response`` the assistant and tool-result turns that followed.
    """

    input: tuple[Turn, ...] = field(converter=_turns)
    response: tuple[Turn, ...] = field(converter=_turns, factory=tuple)

    def __attrs_post_init__(self) -> None:
        if not self.input:
            raise ConfigurationError("A Round's input must hold at least one turn.")
        if any(is_tool_result_turn(t) for t in self.input):
            raise ConfigurationError("A Round's input must not hold tool-result turns.")

    @property
    def complete(self) -> bool:
        """True when the round ends in a whole answer with no tool request pending."""
        if not self.response:
            return False
        last = self.response[-1]
        return (
            isinstance(last, AssistantTurn)
            and not isinstance(last, AssistantPartialTurn)
            and not any(isinstance(c, ContentToolRequest) for c in last.contents)
        )

    @property
    def turns(self) -> tuple[Turn, ...]:
        """The input and response turns, in order."""
        return (*self.input, *self.response)


def get_rounds(turns: Sequence[Turn]) -> list[Round]:
    """Group turns into rounds (R: ``get_rounds()``).

    A round starts at each run of input turns (system and user turns that
    are not tool results); a response turn with no input before it is an error.
    """
    rounds: list[Round] = []
    inputs: list[Turn] = []
    response: list[Turn] = []
    for turn in turns:
        if _is_input(turn):
            if response:
                rounds.append(Round(inputs, response))
                inputs, response = [], []
            inputs.append(turn)
        elif not inputs:
            raise ConfigurationError(
                "Found a response turn with no preceding input turn to start a round."
            )
        else:
            response.append(turn)
    if inputs:
        rounds.append(Round(inputs, response))
    return rounds


class ChatRoundsMixin:
    """Chat's view of its turns as rounds, and adding a pair of turns."""

    _turns: list[Turn]
    _provider: Provider

    if TYPE_CHECKING:

        def get_turns(self, include_system_prompt: bool = False) -> list[Turn]: ...

    def get_rounds(self, include_system_prompt: bool = False) -> list[Round]:
        """The conversation grouped into rounds (R: ``$get_rounds()``).

        The system prompt is left out unless ``include_system_prompt``, which
        folds it into the input of the first round.
        """
        return get_rounds(self.get_turns(include_system_prompt=include_system_prompt))

    def last_round(self) -> Round | None:
        """The last round, system prompt included, or None (R: ``$last_round()``)."""
        rounds = self.get_rounds(include_system_prompt=True)
        return rounds[-1] if rounds else None

    def add_turn(self, user: Turn, assistant: Turn, log_tokens: bool = True) -> Self:
        """Add a user turn and the assistant's answer to the chat (R: ``$add_turn()``).

        With ``log_tokens`` the answer's tokens and cost are added to the
        session's usage log (``token_usage()``), as an answer from the API is.
        """
        for name, turn in (("user", user), ("assistant", assistant)):
            if not isinstance(turn, Turn) or isinstance(turn, SystemTurn):
                raise ConfigurationError(
                    f"add_turn()'s {name} must be a UserTurn or AssistantTurn, not "
                    f"{type(turn).__name__}; set the system prompt with set_system_prompt()."
                )
        if not isinstance(log_tokens, bool):
            raise ConfigurationError(f"log_tokens must be True or False, not {log_tokens!r}.")
        if log_tokens and isinstance(assistant, AssistantTurn):
            from ._tokens import log_turn

            log_turn(self._provider.name, self._provider.model, assistant)
        self._turns = [*self._turns, user, assistant]
        return self
