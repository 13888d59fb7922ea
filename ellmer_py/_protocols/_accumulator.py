"""One neutral accumulator for streamed answers, shared by every protocol's decoder.

A decoder says what arrived (text, thinking, a tool call's id, name and
argument fragments, a provider block, usage, a finish reason) under a key
of its own (OpenAI's tool-call index, Anthropic's block index); the
accumulator keeps the pieces in order and turns them into Contents at any
moment. That is where the partial-turn rule lives, once: whatever arrived is
kept, and tool arguments cut mid-JSON stay as their text.

A server can send anything, so every piece is taken as a wire value: the
helpers here (``count``, ``text_or_none``, ``snippet``) read a field of the
wrong type as absent and never raise. Text that arrives in pieces (argument
fragments) is joined once, when a turn is built, so a long value streamed in
many pieces costs linear time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable
from typing import Any

from .._content import Content, ContentText, ContentThinking, ContentToolRequest

__all__ = ["StreamAccumulator", "count", "parse_arguments", "snippet", "text_or_none"]

_TEXT, _THINKING, _TOOL, _BLOCK = 0, 1, 2, 3
#: A token count above this is not a count (and would overflow a float price).
_MAX_COUNT = 2**53
_MAX_COUNT_DIGITS = 15


def count(value: Any) -> int:
    """A token count from the wire: an integer, or a string of digits (``"12"``).

    Anything else (a float, a bool, a negative or absurdly large number, an
    object, null) counts as 0, as an absent field does.
    """
    if type(value) is int:
        return value if 0 <= value <= _MAX_COUNT else 0
    if (
        type(value) is str
        and 0 < len(value) <= _MAX_COUNT_DIGITS
        and value.isascii()
        and value.isdigit()
    ):
        return int(value)
    return 0


def text_or_none(value: Any) -> str | None:
    """A text field: the string, or None for anything else (a field of the wrong type)."""
    return value if type(value) is str else None


def snippet(value: Any, limit: int = 200) -> str:
    """The start of a value as JSON text, for an error message; never raises.

    (A value nested deeper than ``json.dumps`` can go, or one it cannot write,
    is shown by its type.)
    """
    if type(value) is str:
        return value[:limit]
    try:
        text = json.dumps(value, default=lambda v: type(v).__name__)
    except (ValueError, TypeError, RecursionError):
        text = f"(a {type(value).__name__} that cannot be shown)"
    return text[:limit]


def parse_arguments(raw: Any) -> Any:
    """Tool-call arguments: JSON text usually (kept as text when it is not JSON), or an object.

    Text nested too deep to parse is kept as text too.
    """
    if isinstance(raw, str):
        if not raw.strip():
            return {}
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):
            return raw  # kept as text, so the tool loop can report it
    return raw if raw is not None else {}


class _Slot:
    __slots__ = ("arg_parts", "args", "build", "extra", "id", "kind", "name", "order", "parts")

    def __init__(self, kind: int, order: float) -> None:
        self.kind = kind
        self.order = order
        self.parts: list[str] = []
        self.id: str | None = None
        self.name = ""
        self.args: Any = None  # an object that replaced the arguments, or None
        self.arg_parts: list[str] = []  # argument text fragments, joined when read
        self.extra: dict[str, Any] | None = None
        self.build: Callable[[Any, dict[str, Any] | None], Content | None] | None = None


class StreamAccumulator:
    """The pieces of one streamed answer, in slots keyed by the decoder."""

    __slots__ = ("_count", "_slots", "finish_reason", "usage")

    def __init__(self) -> None:
        self._slots: dict[Hashable, _Slot] = {}
        self._count = 0
        #: The vendor's finish reason, as sent (the decoder maps it).
        self.finish_reason: str | None = None
        #: The vendor's usage object(s), merged as the decoder sees fit.
        self.usage: Any = None

    def _slot(self, key: Hashable, kind: int, order: float | None) -> _Slot:
        slot = self._slots.get(key)
        if slot is None:
            self._count += 1
            slot = _Slot(kind, self._count if order is None else order)
            self._slots[key] = slot
        return slot

    def has(self, key: Hashable) -> bool:
        """Whether a slot with this key exists."""
        return key in self._slots

    def text(self, key: Hashable, piece: str, order: float | None = None) -> None:
        """Append text to the text slot ``key``."""
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slot(key, _TEXT, order)
        slot.parts.append(piece)

    def thinking(self, key: Hashable, piece: str, order: float | None = None) -> None:
        """Append reasoning to the thinking slot ``key``."""
        self._slot(key, _THINKING, order).parts.append(piece)

    def tool(
        self,
        key: Hashable,
        *,
        id: str | None = None,
        name: str | None = None,
        order: float | None = None,
    ) -> None:
        """Start (or name) the tool-call slot ``key``; the first id and name stick."""
        slot = self._slot(key, _TOOL, order)
        if id and slot.id is None:
            slot.id = id
        if name and not slot.name:
            slot.name = name

    def tool_id(self, key: Hashable) -> str | None:
        """The id of the tool-call slot ``key`` so far."""
        slot = self._slots.get(key)
        return slot.id if slot is not None else None

    def arguments(self, key: Hashable, fragment: Any) -> None:
        """Add to a tool call's (or block's) arguments: text is appended, an object replaces."""
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slot(key, _TOOL, None)
        if isinstance(fragment, str):
            if slot.args is not None:
                slot.args = None  # text after an object starts the arguments over
            slot.arg_parts.append(fragment)
        elif fragment is not None:
            slot.args = fragment
            slot.arg_parts.clear()

    def extra(self, key: Hashable, name: str, value: Any, *, append: bool = False) -> None:
        """Set (or, with ``append``, add to) provider data kept with the slot's content.

        Strings are concatenated and anything else collected in a list when appending.
        """
        slot = self._slots.get(key)
        if slot is None:
            return
        if slot.extra is None:
            slot.extra = {}
        old = slot.extra.get(name)
        if not append:
            slot.extra[name] = value
        elif isinstance(value, str):
            slot.extra[name] = (old if isinstance(old, str) else "") + value
        elif isinstance(old, list):
            old.append(value)
        else:
            slot.extra[name] = [value]  # what was there was not a list: it is replaced

    def block(
        self,
        key: Hashable,
        build: Callable[[Any, dict[str, Any] | None], Content | None],
        *,
        arguments: Any = None,
        order: float | None = None,
    ) -> None:
        """A provider block built at the end by ``build(arguments, extra)``.

        Arguments stream in through :meth:`arguments` like a tool call's.
        """
        slot = self._slot(key, _BLOCK, order)
        slot.build = build
        if arguments is not None:
            self.arguments(key, arguments)

    def contents(self) -> tuple[Content, ...]:
        """The Contents for everything received so far, in order."""
        out: list[Content] = []
        slots = sorted(self._slots.values(), key=lambda s: s.order)
        calls = 0
        for slot in slots:
            if slot.kind == _TEXT:
                text = "".join(slot.parts)
                if text or slot.extra:
                    out.append(ContentText(text, extra=slot.extra))
            elif slot.kind == _THINKING:
                thinking = "".join(slot.parts)
                if thinking or slot.extra:
                    out.append(ContentThinking(thinking, extra=slot.extra))
            elif slot.kind == _TOOL:
                out.append(
                    ContentToolRequest(
                        id=slot.id or f"call_{calls}",
                        name=slot.name,
                        arguments=parse_arguments(_arguments(slot)),
                        extra=slot.extra,
                    )
                )
                calls += 1
            elif slot.build is not None:
                built = slot.build(parse_arguments(_arguments(slot)), slot.extra)
                if built is not None:
                    out.append(built)
        return tuple(out)


def _arguments(slot: _Slot) -> Any:
    """A slot's arguments: the text fragments joined (once: kept joined), or the object."""
    parts = slot.arg_parts
    if not parts:
        return slot.args
    if len(parts) > 1:
        parts[:] = ["".join(parts)]
    return parts[0]
