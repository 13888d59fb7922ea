"""What the conformance checks need to know about a wire protocol.

The checks are written once, for every provider; what differs between wire
protocols (the shape of an answer, of a stream, of an error, where the
system prompt goes) lives in one module per protocol that provides a
:class:`ProtocolFake`. A protocol's ``ProtocolSpec`` (hook
``ellmer_py_register_protocols``) names its fake, so a third-party protocol
brings its own.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .fake_server import Reply

__all__ = [
    "Answer",
    "Media",
    "ProtocolFake",
    "ToolCall",
    "Usage",
    "protocol_fake",
]


@dataclass(frozen=True)
class Usage:
    """Token counts a scripted answer reports (cached tokens are part of ``input``)."""

    input: int = 0
    output: int = 0
    cached: int = 0


@dataclass(frozen=True)
class ToolCall:
    """One tool call, in a scripted answer or as a request body sends it back.

    ``arguments`` is sent as JSON text, or ``raw_arguments`` verbatim (to
    send arguments that are not valid JSON). Streamed, that text goes in
    ``pieces`` (one delta each; they must join to it), one piece by default.
    """

    id: str
    name: str
    arguments: Any = field(default_factory=dict)
    pieces: Sequence[str] = ()
    raw_arguments: str | None = None

    def __post_init__(self) -> None:
        if self.pieces and "".join(self.pieces) != self.arguments_text:
            raise ValueError(
                f"ToolCall {self.id!r}: the pieces {list(self.pieces)!r} do not join to the "
                f"arguments text {self.arguments_text!r}"
            )

    @property
    def arguments_text(self) -> str:
        """The arguments as the wire carries them: JSON text (or ``raw_arguments``)."""
        if self.raw_arguments is not None:
            return self.raw_arguments
        return json.dumps(self.arguments)

    @property
    def argument_pieces(self) -> tuple[str, ...]:
        """The deltas a stream sends the arguments in."""
        return tuple(self.pieces) if self.pieces else (self.arguments_text,)


@dataclass(frozen=True)
class Answer:
    """A scripted answer, given as the pieces it is streamed in.

    Non-streamed, the pieces are joined; streamed, each piece is one event.
    ``tool_calls`` are the calls the model asks for, in order (several in one
    answer are parallel tool calls).
    """

    text_pieces: Sequence[str] = ()
    thinking_pieces: Sequence[str] = ()
    tool_calls: Sequence[ToolCall] = ()
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


@dataclass(frozen=True)
class Media:
    """An image or document a request body carries, however the protocol encodes it.

    ``kind`` is ``"image_url"`` (``value`` is the URL the server fetches),
    ``"image"`` (``value`` is the bytes, ``mime`` their type) or ``"pdf"``
    (``value`` is the bytes, ``filename`` the name sent with them).
    """

    kind: str
    value: Any
    mime: str | None = None
    filename: str | None = None


class ProtocolFake(Protocol):
    """The protocol-specific half of the conformance suite.

    Two optional attributes tune checks for a protocol that carries something
    differently: ``param_markers`` (a dict, params() field -> the value a body
    carries when the field is sent as something else, e.g. Responses sends
    ``log_probs=True`` as an ``include`` entry), ``pdf_filenames`` (False
    when the protocol has no place for a PDF's file name), ``image_url`` (the
    image URL to send when the protocol takes only one kind, Bedrock's
    ``s3://``) and ``signing`` (the AWS SigV4 service name of a protocol whose
    requests are signed: the signing check runs).
    """

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

    def stalled_stream(self, answer: Answer, seconds: float) -> Reply:
        """A stream with the first text piece, then nothing for ``seconds``, then the rest."""
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

    def media(self, body: Any) -> list[Media]:
        """The images and documents the user messages of a body carry, in order.

        Raises AssertionError for a part the protocol does not define.
        """
        ...

    def tools_offered(self, body: Any) -> dict[str, dict[str, Any]]:
        """The tools a body offers: name -> ``{"description": ..., "parameters": schema}``."""
        ...

    def tool_calls_sent(self, body: Any) -> list[ToolCall]:
        """The model's earlier tool calls a body sends back in its history, in order."""
        ...

    def tool_results_sent(self, body: Any) -> list[tuple[str, str]]:
        """The tool results a body sends: ``(tool call id, the text the model reads)``, in order."""
        ...

    def structured_schema(self, body: Any) -> Any:
        """The JSON schema a body asks the answer to fit, or None when it asks for none.

        Raises AssertionError when the body asks for structured output in a
        shape the protocol does not define.
        """
        ...

    def needs_wrapper(self, schema: Any) -> bool:
        """Whether the protocol sends a type with this JSON schema wrapped in an object."""
        ...


def protocol_fake(name: str) -> ProtocolFake:
    """The fake for a wire protocol, found through the registry; AssertionError if none.

    A protocol plugin names its fake (``"module:attribute"``) in its
    ``ProtocolSpec``, so a third-party protocol brings its own.
    """
    from ellmer_py._registry import _REGISTRY

    spec = _REGISTRY.protocols().get(name)
    where = spec.fake if spec is not None else None
    if where is None:
        known = ", ".join(sorted(n for n, s in _REGISTRY.protocols().items() if s.fake))
        raise AssertionError(
            f"ellmer_py.conformance has no fake server for the wire protocol {name!r} "
            f"(it knows: {known}). Register the protocol with a fake= in its ProtocolSpec "
            "(hook ellmer_py_register_protocols)."
        )
    module, _, attribute = where.partition(":")
    fake: ProtocolFake = getattr(importlib.import_module(module), attribute or "FAKE")
    return fake
