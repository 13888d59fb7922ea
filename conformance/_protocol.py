"""What the conformance checks need to know about a wire protocol.

The checks are written once, for every provider; what differs between wire
protocols (the shape of an answer, of a stream, of an error, where the
system prompt goes) lives in one module per protocol that provides a
:class:`ProtocolFake`. ``"openai-chat"`` is the only one so far; another
protocol adds a module next to ``openai_chat.py`` and one line to
:data:`PROTOCOL_MODULES`.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .fake_server import Reply

__all__ = [
    "PROTOCOL_MODULES",
    "Answer",
    "ProtocolFake",
    "ToolCall",
    "Usage",
    "protocol_fake",
]

#: Wire protocol name (``ProviderSpec.protocol``) -> the module whose
#: ``FAKE`` attribute is its :class:`ProtocolFake`.
PROTOCOL_MODULES: dict[str, str] = {
    "openai-chat": "ellmer_py.conformance.openai_chat",
}


@dataclass(frozen=True)
class Usage:
    """Token counts a scripted answer reports (cached tokens are part of ``input``)."""

    input: int = 0
    output: int = 0
    cached: int = 0


@dataclass(frozen=True)
class ToolCall:
    """One tool call in a scripted answer; ``arguments`` is sent as JSON text."""

    id: str
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    """A scripted answer, given as the pieces it is streamed in.

    Non-streamed, the pieces are joined; streamed, each piece is one event.
    ``arguments_pieces`` splits the JSON text of the tool call's arguments
    (it must join to ``json.dumps(tool_call.arguments)``).
    """

    text_pieces: Sequence[str] = ()
    thinking_pieces: Sequence[str] = ()
    tool_call: ToolCall | None = None
    arguments_pieces: Sequence[str] = ()
    finish_reason: str = "stop"
    usage: Usage = field(default_factory=Usage)

    @property
    def text(self) -> str:
        """The whole answer text."""
        return "".join(self.text_pieces)

    @property
    def thinking(self) -> str:
        """The whole reasoning text."""
        return "".join(self.thinking_pieces)


class ProtocolFake(Protocol):
    """The protocol-specific half of the conformance suite."""

    #: The protocol name, as in ``ProviderSpec.protocol``.
    name: str

    def answer(self, answer: Answer) -> Reply:
        """The non-streamed reply carrying ``answer``."""
        ...

    def stream(self, answer: Answer, cuts: Sequence[int] = ()) -> Reply:
        """The streamed reply carrying ``answer``, its bytes split at ``cuts``."""
        ...

    def cut_stream(self, answer: Answer) -> Reply:
        """A stream that carries the text pieces, then the connection breaks."""
        ...

    def malformed(self, *, stream: bool) -> Reply:
        """A 200 answer whose JSON cannot be parsed."""
        ...

    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
        """An HTTP error answer in the shape the protocol's servers use."""
        ...

    def expected_tokens(self, usage: Usage) -> tuple[int, int, int]:
        """(input, output, cached input) as a Turn should report ``usage``."""
        ...

    def system_prompt(self, body: Any) -> str | None:
        """The system prompt a request body carries, sent the way the protocol says."""
        ...

    def user_text(self, body: Any) -> str:
        """All the user text a request body carries, joined (to find a merged prompt)."""
        ...


def protocol_fake(name: str) -> ProtocolFake:
    """The fake for a wire protocol; AssertionError if the suite has none."""
    module = PROTOCOL_MODULES.get(name)
    if module is None:
        known = ", ".join(sorted(PROTOCOL_MODULES))
        raise AssertionError(
            f"ellmer_py.conformance has no fake server for the wire protocol {name!r} "
            f"(it knows: {known}). Add a module for it to ellmer_py.conformance."
        )
    fake: ProtocolFake = importlib.import_module(module).FAKE
    return fake
