"""A provider: where requests go, how they authenticate, what the model can't do.

The Provider is generic; what is specific to a provider (base URL, default
model, credential sources, known limitations) comes from its plugin, and the
wire format from its protocol object.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import field, frozen

from ._content import ContentImage, ContentPDF
from ._credentials import Credentials, auth_headers
from ._errors import BadRequestError, ConfigurationError, EllmerError, ModelLimitationError
from ._modify_list import modify_list
from ._openai_chat import OpenAIChat, StreamState
from ._params import Params
from ._sse import ServerSentEvent, SSEParser
from ._tokens import PriceSource, account_turn
from ._transport import StreamResponse, Transport
from ._turn import AssistantTurn, SystemTurn, Turn

if TYPE_CHECKING:
    from ._content import Content
    from ._tools import ToolDef
    from ._types import Type

_P = TypeVar("_P")

__all__ = ["ModelLimitation", "Provider", "is_system_role_error"]

_SYSTEM_ROLE_ERROR = re.compile(
    r"system[ _-]?(role|prompt|message)s?[^.]{0,40}\bnot\b[^.]{0,20}\bsupported"
    r"|conversation roles must alternate user/assistant",
    re.IGNORECASE,
)


def is_system_role_error(message: str | None) -> bool:
    """Whether a server's error says the model's chat template has no system role."""
    return bool(message) and bool(_SYSTEM_ROLE_ERROR.search(message or ""))


#: Feature -> (what the refusal says the model lacks, the advice when the plugin gives none).
_REFUSALS: dict[str, tuple[str, str]] = {
    "images": ("images", "Choose another model, or leave out the images"),
    "pdf": ("pdf", "Choose another model, or leave out the pdf"),
    "tools": ("tool calling", "Choose another model, or remove the tools (set_tools([]))"),
    "structured_output": (
        "structured output",
        "Choose another model, or ask for JSON in the prompt with chat() and parse it yourself",
    ),
}


@frozen
class ModelLimitation:
    """A known limitation of some models of a provider.

    ``pattern`` is a regular expression matched against the whole model id
    (case-insensitive); ``feature`` names what the models lack
    (``"system_prompt"``, ``"images"``, ``"pdf"``, ``"tools"``, ``"structured_output"``);
    ``advice`` tells the user what to do instead;
    ``example`` is one model id that has it (the conformance suite uses it).
    """

    pattern: str
    feature: str
    advice: str = ""
    example: str | None = None

    def matches(self, model: str) -> bool:
        """Whether ``model`` has this limitation."""
        return re.fullmatch(self.pattern, model, flags=re.IGNORECASE) is not None


def system_prompt_error(
    provider: str,
    model: str,
    advice: str = "",
    *,
    cause: str | None = None,
    status: int | None = None,
) -> ModelLimitationError:
    """The one error for "this model does not take a system prompt"."""
    said = f" The server said: {cause.rstrip('.')}." if cause else ""
    advice = advice or "Choose another model, or drop the system prompt"
    return ModelLimitationError(
        f"{provider}: the model {model!r} does not support a system prompt.{said} "
        f"{advice.rstrip('.')}, or pass system_prompt_fallback='merge' to fold the system "
        "prompt into the first user turn.",
        model=model,
        feature="system_prompt",
        provider=provider,
        status=status,
        server_message=cause,
    )


def _copied(value: Any) -> Any:
    """A deep copy of a mapping, so the caller's later changes never reach requests.

    Anything else is passed through for ``__attrs_post_init__`` to reject clearly.
    """
    import copy

    return copy.deepcopy(dict(value)) if isinstance(value, Mapping) else value


@frozen(repr=False)
class Provider:
    """Everything needed to send a chat request to one provider (R: ``Provider``)."""

    name: str
    model: str
    base_url: str
    protocol: OpenAIChat = field(factory=OpenAIChat)
    params: Params | None = None
    api_args: Mapping[str, Any] = field(factory=dict, converter=_copied)
    api_headers: Mapping[str, str] = field(factory=dict, converter=_copied)
    credentials: Credentials | None = field(default=None, eq=False)
    auth_header: str = "Authorization"
    auth_prefix: str = "Bearer "
    limitations: Sequence[ModelLimitation] = ()
    #: Query parameters added to every request URL (Azure's ``api-version``).
    url_params: Mapping[str, str] = field(factory=dict, converter=_copied)
    transport: Transport = field(eq=False)
    #: Where answers get their cost (None: unpriced); see ellmer_py._tokens.
    prices: PriceSource | None = field(default=None, eq=False)
    wire_params: Mapping[str, Any] = field(eq=False)

    @transport.default
    def _transport(self) -> Transport:
        return Transport(self.name)

    @wire_params.default
    def _wire_params(self) -> Mapping[str, Any]:
        return self.protocol.wire_params(self.params)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model:
            raise ConfigurationError(f"{self.name}: model must be a non-empty string.")
        if not isinstance(self.api_args, Mapping):
            raise ConfigurationError(
                f"{self.name}: api_args must be a dict of extra body fields, not "
                f"{type(self.api_args).__name__}."
            )
        if not isinstance(self.api_headers, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.api_headers.items()
        ):
            raise ConfigurationError(
                f"{self.name}: api_headers must be a dict of strings to strings."
            )

    def __repr__(self) -> str:
        return f"<Provider {self.name} model={self.model!r} base_url={self.base_url!r}>"

    def with_model(self, model: str) -> Provider:
        """The same provider for another model, sharing the connection pool."""
        from attrs import evolve

        return evolve(self, model=model, transport=self.transport, wire_params=self.wire_params)

    # -- limitations --------------------------------------------------------

    def limitation(self, feature: str) -> ModelLimitation | None:
        """The declared limitation of this model for ``feature``, if any."""
        return next(
            (x for x in self.limitations if x.feature == feature and x.matches(self.model)), None
        )

    def refuse_content(self, turns: Sequence[Turn]) -> None:
        """Raise ModelLimitationError, before any request, for content the model can't take.

        The features are ``"images"`` and ``"pdf"``, declared by a plugin's
        ModelLimitation like ``"system_prompt"``.
        """
        for feature, kind in (("images", ContentImage), ("pdf", ContentPDF)):
            if any(isinstance(c, kind) for t in turns for c in t.contents):
                self.refuse(feature)

    def refuse_features(self, *, tools: Sequence[ToolDef] = (), type: Type | None = None) -> None:
        """Raise ModelLimitationError, before any request, for tools or structured output.

        The features are ``"tools"`` (tools offered to the model) and
        ``"structured_output"`` (``chat_structured()``), declared like ``"images"``.
        """
        if tools:
            self.refuse("tools")
        if type is not None:
            self.refuse("structured_output")

    def refuse(self, feature: str) -> None:
        """Raise ModelLimitationError if this model has a declared limitation for ``feature``."""
        limitation = self.limitation(feature)
        if limitation is None:
            return
        what, advice = _REFUSALS.get(feature, (feature, "Choose another model"))
        advice = limitation.advice or advice
        raise ModelLimitationError(
            f"{self.name}: the model {self.model!r} does not support {what}. {advice.rstrip('.')}.",
            model=self.model,
            feature=feature,
            provider=self.name,
        )

    # -- requests -----------------------------------------------------------

    def chat_url(self) -> str:
        """The URL chat requests are sent to."""
        url = self.base_url.rstrip("/") + self.protocol.chat_path()
        if self.url_params:
            from urllib.parse import urlencode

            url += ("&" if "?" in url else "?") + urlencode(self.url_params)
        return url

    def headers(self) -> dict[str, str]:
        """Headers for one request: ``api_headers``, then authentication on top.

        Authentication is applied last, so an extra header can never switch
        it off by accident.
        """
        out = dict(self.api_headers)
        if self.credentials is not None:
            auth = auth_headers(self.credentials(), self.auth_header, self.auth_prefix)
            lower = {k.lower() for k in auth}
            out = {k: v for k, v in out.items() if k.lower() not in lower}
            out.update(auth)
        return out

    def chat_body(
        self,
        turns: Sequence[Turn],
        *,
        stream: bool,
        tools: Sequence[ToolDef] = (),
        type: Type | None = None,
    ) -> dict[str, Any]:
        """The request body: the protocol's, then ``api_args`` merged with modify_list.

        ``tools`` are the tools the model may call; ``type`` asks for structured output.
        """
        self.refuse_content(turns)
        self.refuse_features(tools=tools, type=type)
        body = self.protocol.chat_body(
            turns,
            model=self.model,
            wire_params=self.wire_params,
            stream=stream,
            tools=tools,
            type=type,
        )
        return modify_list(body, self.api_args)

    def _translate(self, exc: BadRequestError, turns: Sequence[Turn]) -> EllmerError:
        """A template error about the system role, for a request that had one, is a limitation."""
        sent_system = any(isinstance(t, SystemTurn) for t in turns)
        if sent_system and is_system_role_error(exc.server_message):
            limitation = self.limitation("system_prompt")
            return system_prompt_error(
                self.name,
                self.model,
                limitation.advice if limitation else "",
                cause=exc.server_message,
                status=exc.status,
            )
        return exc

    def _failure(self, exc: EllmerError, turns: Sequence[Turn]) -> EllmerError:
        """The error to raise for a failed request, with the provider named.

        (The transport has already removed any credential a server quoted back.)
        """
        if isinstance(exc, BadRequestError):
            return self._translate(exc, turns)
        return _tagged(exc, self.name)

    def chat_perform(
        self, turns: Sequence[Turn], *, tools: Sequence[ToolDef] = (), type: Type | None = None
    ) -> AssistantTurn:
        """Send the turns and return the model's answer, not streamed."""
        start = time.perf_counter()
        received: dict[str, str] = {}
        try:
            doc = self.transport.request_json(
                "POST",
                self.chat_url(),
                headers=self.headers(),
                body=self.chat_body(turns, stream=False, tools=tools, type=type),
                response_headers=received,
            )
            turn = self.protocol.turn_from_response(doc, duration=time.perf_counter() - start)
        except EllmerError as exc:
            raise self._failure(exc, turns) from None
        return account_turn(self, turn, received)

    def stream_open(
        self, turns: Sequence[Turn], *, tools: Sequence[ToolDef] = (), type: Type | None = None
    ) -> StreamResponse:
        """Send the turns asking for a stream; HTTP errors are raised here."""
        try:
            return self.transport.stream(
                "POST",
                self.chat_url(),
                headers=self.headers(),
                body=self.chat_body(turns, stream=True, tools=tools, type=type),
            )
        except EllmerError as exc:
            raise self._failure(exc, turns) from None

    def stream_text(self, response: StreamResponse, state: StreamState) -> Iterator[str]:
        """Yield text from an open stream as it arrives, filling ``state``.

        The caller builds the turn from ``state`` whether the stream ends,
        fails or is abandoned, so nothing already shown is lost.
        """
        return self._stream(response, state, state.add)

    def stream_contents(
        self, response: StreamResponse, state: StreamState
    ) -> Iterator[list[Content]]:
        """Like ``stream_text()``, but yield each chunk's thinking and text as Content pieces."""
        return self._stream(response, state, state.add_contents)

    def _stream(
        self, response: StreamResponse, state: StreamState, add: Callable[[Any], _P | None]
    ) -> Iterator[_P]:
        protocol = self.protocol
        chunks = iter(response)
        try:
            if response.content_type != "text/event-stream":
                # A server that ignored "stream": true and sent one JSON answer.
                data = b"".join(chunks).decode("utf-8", "replace")
                doc = protocol.parse_event(ServerSentEvent(data))
                protocol.turn_from_response(doc)  # raises if it is not an answer
                text = add(doc)
                if text:
                    yield text
                return
            parser = SSEParser()
            for chunk in chunks:
                for event in parser.feed(chunk):
                    doc = protocol.parse_event(event)
                    if doc is None:
                        state.done = True
                        response.finish()  # read the rest briefly, so the connection can be reused
                        return
                    text = add(doc)
                    if text:
                        yield text
            # The body ended without [DONE] (cerebras never sends it).
            last, tail = parser.finish()
            if last is None and tail.strip() and state.chunks == 0:
                # No SSE framing at all: a bare JSON document, usually an error.
                last = ServerSentEvent(tail.decode("utf-8", "replace").strip())
            if last is not None:
                doc = protocol.parse_event(last)
                if doc is not None:
                    text = add(doc)
                    if text:
                        yield text
        except EllmerError as exc:
            raise _tagged(exc, self.name) from None
        finally:
            response.close()


def _tagged(exc: EllmerError, provider: str) -> EllmerError:
    """Name the provider in an error raised below it, once."""
    if exc.provider is None:
        exc.provider = provider
        exc.message = f"{provider}: {exc.message}"
        exc.args = (exc.message,)
    return exc
