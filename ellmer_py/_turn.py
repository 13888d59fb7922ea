"""Turns: one message of a conversation, with its role (R: ``Turn``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from attrs import field, frozen

from ._content import Content, ContentText
from ._errors import ConfigurationError

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


# -- checking what a caller gives (Chat uses these) -------------------------------


def user_turn(args: Sequence[str | Content | Turn]) -> UserTurn:
    """The user turn ``chat()`` sends for its arguments, checked."""
    if len(args) == 1 and isinstance(args[0], UserTurn):
        return args[0]
    if not args:
        raise ConfigurationError("chat() needs something to say: a string or Content objects.")
    for i, arg in enumerate(args, 1):
        if not isinstance(arg, (str, Content)):
            raise ConfigurationError(
                f"chat() takes strings and Content objects, not {type(arg).__name__}."
            )
        text = arg if isinstance(arg, str) else getattr(arg, "text", None)
        check_text(text, f"chat()'s argument {i}")
    return UserTurn(args)  # type: ignore[arg-type]


def strings(value: object, what: str) -> list[str]:
    """``value`` (``what``: a string or a list of strings) as a list of strings."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (bytes, Mapping)) or not isinstance(value, Iterable):
        raise ConfigurationError(
            f"{what} must be a string or a list of strings, not {type(value).__name__}."
        )
    items = list(value)
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise ConfigurationError(
                f"{what} must be a string or a list of strings; item {i} is "
                f"{type(item).__name__}: {item!r:.40}."
            )
    return items


def check_text(text: object, where: str) -> None:
    """Text that can't be sent (a lone surrogate, which UTF-8 can't encode) is refused."""
    if not isinstance(text, str):
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ConfigurationError(
            f"{where} has a lone surrogate ({text[exc.start]!r} at position {exc.start}), which "
            "can't be sent as UTF-8; remove it, or decode the text with errors='replace' first."
        ) from None
