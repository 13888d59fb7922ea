"""The wire-protocol seam: what a protocol gives the core, and what the core gives it.

Interface (wire format) is not endpoint (URL, auth, quirks): one protocol
serves many providers. A protocol is pure code, no sockets and no clocks:

- ``encode_params(params)`` turns ``params()`` into wire fields (one warning
  lists the unsupported ones);
- ``build_request(turns, model=, params=, tools=, type=, stream=)`` gives a
  :class:`WireRequest` (path below the base URL, body, query, headers, the
  media type to accept);
- ``parse_response(doc)`` turns a non-streamed answer into an AssistantTurn;
- ``open_stream()`` gives a :class:`StreamDecoder`, fed raw bytes as they
  arrive: framing (SSE, AWS event stream) and decoding both live there;
- ``needs_wrapper(type, model=)`` says whether structured output wraps a
  non-object type in ``{"wrapper": ...}``.

The provider applies ``api_args`` (``modify_list``), its headers and then an
:class:`Auth` to the serialized request, and hands bytes to the transport.
A protocol whose API counts tokens is also a :class:`TokenCounter`
(``count_tokens_request`` / ``parse_token_count``, R's ``count_tokens()``).
Protocols register through the ``ellmer_py_register_protocols`` hook.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from attrs import field, frozen

if TYPE_CHECKING:
    from .._content import Content
    from .._params import Params
    from .._tools import ToolDef
    from .._turn import AssistantTurn, Turn
    from .._types import Type

__all__ = [
    "Auth",
    "StreamDecoder",
    "TokenCounter",
    "WireProtocol",
    "WireRequest",
    "count_body",
    "count_of",
]


def _frozen_map(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return dict(value) if value else {}


@frozen
class WireRequest:
    """One request as a protocol builds it, before ``api_args``, headers and auth."""

    #: Relative to the base URL; may hold the model (Gemini, Bedrock).
    path: str
    body: Mapping[str, Any]
    query: Mapping[str, str] = field(factory=dict, converter=_frozen_map)
    #: Protocol headers (``anthropic-version``, ``anthropic-beta``); the user's win.
    headers: Mapping[str, str] = field(factory=dict, converter=_frozen_map)
    #: The media type the answer comes in.
    accept: str = "application/json"
    method: str = "POST"


@runtime_checkable
class StreamDecoder(Protocol):
    """Decodes one streamed answer, fed raw bytes as they arrive.

    ``feed()`` returns the pieces to show now (``ContentText``,
    ``ContentThinking``); ``close()`` is called at the end of the body (it
    flushes, or raises for an answer that cannot be read); ``turn()`` is
    everything so far, at any time, so a stream cut short still leaves what
    arrived. ``done`` is set when the server marked the end of the stream
    (``[DONE]``, ``message_stop``): nothing more needs reading. ``complete``
    says whether the answer itself is finished (done, or a finish reason).
    """

    done: bool

    @property
    def complete(self) -> bool: ...

    def feed(self, chunk: bytes) -> list[Content]: ...

    def close(self) -> list[Content]: ...

    def turn(self, duration: float | None = None) -> AssistantTurn: ...


@runtime_checkable
class WireProtocol(Protocol):
    """A wire format, shared by every provider that speaks it."""

    #: "openai-chat", "anthropic-messages", ...
    name: str

    def encode_params(self, params: Params | None) -> dict[str, Any]: ...

    def build_request(
        self,
        turns: Sequence[Turn],
        *,
        model: str,
        params: Mapping[str, Any],
        tools: Sequence[ToolDef] = (),
        type: Type | None = None,
        stream: bool,
    ) -> WireRequest: ...

    def needs_wrapper(self, type: Type, *, model: str | None = None) -> bool: ...

    def parse_response(self, doc: Any, duration: float | None = None) -> AssistantTurn: ...

    def open_stream(self) -> StreamDecoder: ...


@runtime_checkable
class Auth(Protocol):
    """Authentication, applied to the serialized request (SigV4 signs the body).

    Returns the headers to add; they replace any header of the same name.
    """

    def apply(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, str]: ...


@runtime_checkable
class TokenCounter(Protocol):
    """A protocol whose API counts the input tokens of a request (R: ``count_tokens()``).

    ``count_tokens_request`` builds the counting request for these turns
    (with the tools and structured-output type that would go with them);
    ``parse_token_count`` reads the count out of the answer.
    """

    def count_tokens_request(
        self,
        turns: Sequence[Turn],
        *,
        model: str,
        tools: Sequence[ToolDef] = (),
        type: Type | None = None,
    ) -> WireRequest: ...

    def parse_token_count(self, doc: Any) -> int: ...


def count_body(body: Mapping[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    """The fields of a chat body that a token-counting endpoint takes, in ``keys`` order."""
    return {key: body[key] for key in keys if key in body}


def count_of(doc: Any, key: str) -> int:
    """The whole number ``doc[key]`` of a token-counting answer; MalformedResponseError if none."""
    from .._errors import MalformedResponseError

    value = doc.get(key) if isinstance(doc, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MalformedResponseError(
            f"The token-counting answer has no whole number in {key!r}: {str(doc)[:200]}"
        )
    return value
