"""Turns: one message of a conversation, with its role (R: ``Turn``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from attrs import field, frozen

from ._content import Content, ContentText

__all__ = [
    "AssistantPartialTurn",
    "AssistantTurn",
    "SystemTurn",
    "Tokens",
    "Turn",
    "UserTurn",
]


def _as_contents(value: str | Content | Iterable[str | Content]) -> tuple[Content, ...]:
    """Accept a string, a Content, or a sequence of either; strings become text."""
    if isinstance(value, (str, Content)):
        value = (value,)
    elif isinstance(value, (bytes, bytearray, Mapping)) or not isinstance(value, Iterable):
        raise TypeError(
            "A turn's contents must be a string, a Content, or a sequence of those, "
            f"not {type(value).__name__}."
        )
    out: list[Content] = []
    for item in value:
        if isinstance(item, str):
            out.append(ContentText(item))
        elif isinstance(item, Content):
            out.append(item)
        else:
            raise TypeError(
                f"A turn's contents must be strings or Content objects, not {type(item).__name__}."
            )
    return tuple(out)


@frozen
class Tokens:
    """Token counts of one assistant turn (R: the ``tokens`` of a turn)."""

    input: int = 0
    output: int = 0
    cached_input: int = 0

    def __add__(self, other: Tokens) -> Tokens:
        return Tokens(
            self.input + other.input,
            self.output + other.output,
            self.cached_input + other.cached_input,
        )


@frozen
class Turn:
    """One message of a conversation (R: ``Turn``).

    Build one of the role subclasses: ``UserTurn("Hello")``,
    ``SystemTurn(...)``, ``AssistantTurn(...)``; ``turn.role`` names it.
    """

    role: ClassVar[str] = ""
    contents: tuple[Content, ...] = field(converter=_as_contents, factory=tuple)

    @property
    def text(self) -> str:
        """All the text contents joined (R: ``turn@text``)."""
        return "".join(c.text for c in self.contents if isinstance(c, ContentText))

    def __str__(self) -> str:
        return self.text


@frozen
class UserTurn(Turn):
    """What the user said (R: ``UserTurn``)."""

    role: ClassVar[str] = "user"


@frozen
class SystemTurn(Turn):
    """The system prompt (R: ``SystemTurn``)."""

    role: ClassVar[str] = "system"


@frozen
class AssistantTurn(Turn):
    """What the model answered, with its accounting (R: ``AssistantTurn``).

    ``json`` (the provider's raw answer) and ``duration`` are kept for
    inspection but left out of equality: the same answer, streamed or not,
    gives equal turns.
    """

    role: ClassVar[str] = "assistant"
    tokens: Tokens | None = None
    cost: float | None = None
    finish_reason: str | None = None
    duration: float | None = field(default=None, eq=False)
    json: Any = field(default=None, eq=False, repr=False)


@frozen
class AssistantPartialTurn(AssistantTurn):
    """What arrived of an answer before the stream was interrupted, and why."""

    reason: str = ""
