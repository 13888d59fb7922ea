"""A provider: where requests go, how they authenticate, what the model can't do.

The Provider is generic; what is specific to a provider (base URL, default
model, credential sources, known limitations) comes from its plugin, and the
wire format from its protocol object.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from attrs import field, frozen

from ._auth import HeaderAuth, check_endpoint, join_url, secure_request
from ._content import ContentImage, ContentPDF
from ._credentials import Credentials
from ._errors import (
    BadRequestError,
    ConfigurationError,
    EllmerError,
    HTTPStatusError,
    MalformedResponseError,
    ModelLimitationError,
    ServerError,
)
from ._modify_list import modify_list
from ._params import Params, as_params, json_problem
from ._protocols import Auth, StreamDecoder, TokenCounter, WireProtocol, WireRequest
from ._system_role import is_system_role_error, system_prompt_error
from ._tokens import PriceSource, account_turn
from ._transport import StreamResponse, Transport
from ._turn import AssistantTurn, SystemTurn, Turn

if TYPE_CHECKING:
    from ._content import Content
    from ._protocols.batch import BatchApi
    from ._tools import ToolDef
    from ._types import Type

__all__ = ["ModelLimitation", "Provider", "is_system_role_error", "system_prompt_error"]

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


def _copied(value: Any) -> Any:
    """A deep copy of a mapping, so the caller's later changes never reach requests.

    Anything else is passed through for ``__attrs_post_init__`` to reject clearly.
    """
    import copy

    from ._params import MAX_JSON_DEPTH, too_deep

    if not isinstance(value, Mapping):
        return value
    # checked without recursion first: deep user data must never drive a deep stack
    if too_deep(value):
        raise ConfigurationError(
            f"api_args is nested more than {MAX_JSON_DEPTH} levels deep, or holds itself; "
            "JSON can't carry that."
        )
    return copy.deepcopy(dict(value))


@frozen(repr=False)
class Provider:
    """Everything needed to send a chat request to one provider (R: ``Provider``)."""

    name: str
    model: str
    base_url: str
    protocol: WireProtocol = field(factory=lambda: _default_protocol())
    params: Params | None = field(default=None, converter=as_params)
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
    #: How requests authenticate; by default the key from ``credentials`` in
    #: ``auth_header`` after ``auth_prefix``.
    auth: Auth = field(eq=False)
    #: Lists the models (ellmer_py._models_list.list_models_of; build_chat sets it).
    model_lister: Callable[[Provider], list[Any]] | None = field(default=None, eq=False)
    #: The provider's batch API (``batch_chat()``), if it has one.
    batch: BatchApi | None = field(default=None, eq=False)
    _warned: set[str] = field(factory=set, init=False, eq=False)  # warnings given once

    @auth.default
    def _auth(self) -> Auth:
        return HeaderAuth(self.credentials, self.auth_header, self.auth_prefix)

    @transport.default
    def _transport(self) -> Transport:
        return Transport(self.name)

    @wire_params.default
    def _wire_params(self) -> Mapping[str, Any]:
        return self.protocol.encode_params(self.params)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model:
            raise ConfigurationError(f"{self.name}: model must be a non-empty string.")
        if not isinstance(self.api_args, Mapping):
            raise ConfigurationError(
                f"{self.name}: api_args must be a dict of extra body fields, not "
                f"{type(self.api_args).__name__}."
            )
        problem = json_problem(self.api_args, "api_args")
        if problem is not None:
            raise ConfigurationError(f"{self.name}: {problem}")
        # stripped, and checked: no header value nor URL secret ever shows in an error
        headers = check_endpoint(self.name, self.base_url, self.api_headers)
        object.__setattr__(self, "api_headers", headers)
        from ._redact import install_log_filter

        install_log_filter()  # urllib3 logs URLs: a ?key= must not reach the log

    def __repr__(self) -> str:
        from ._redact import redact_url

        return f"<Provider {self.name} model={self.model!r} base_url={redact_url(self.base_url)!r}>"

    def with_model(self, model: str) -> Provider:
        """The same provider for another model, sharing the connection pool."""
        from attrs import evolve

        return evolve(
            self,
            model=model,
            transport=self.transport,
            wire_params=self.wire_params,
            auth=self.auth,
        )

    def list_models(self) -> list[Any]:
        """The models this provider serves, by its plugin (R: ``models_list()``)."""
        if self.model_lister is None:
            raise NotImplementedError(f"{self.name} doesn't support model listing.")
        return self.model_lister(self)

    def needs_wrapper(self, type: Type) -> bool:
        """Whether structured output wraps ``type`` in an object for this model."""
        return self.protocol.needs_wrapper(type, model=self.model)

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

    def url(self, request: WireRequest | None = None) -> str:
        """The URL a request goes to: base URL, the protocol's path, then query parameters."""
        path = request.path if request is not None else self._chat_request_path()
        query = {**(request.query if request is not None else {}), **self.url_params}
        return join_url(self.base_url, path, query)

    def _chat_request_path(self) -> str:
        chat_path = getattr(self.protocol, "chat_path", None)
        return chat_path() if callable(chat_path) else ""

    def chat_url(self) -> str:
        """The URL chat requests are sent to (for protocols with one fixed path)."""
        return self.url()

    def headers(self, request: WireRequest | None = None) -> dict[str, str]:
        """Headers for one request before auth: the protocol's, then ``api_headers``.

        A user's header replaces the protocol's of the same name (any case).
        """
        out = dict(request.headers) if request is not None else {}
        if self.api_headers:
            given = {k.lower() for k in self.api_headers}
            out = {k: v for k, v in out.items() if k.lower() not in given}
            out.update(self.api_headers)
        return out

    def authenticated(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, str]:
        """``headers`` with authentication applied last, so no other header can switch it off.

        Every credential sent is remembered, so that no answer shows it back.
        """
        return secure_request(self, method, url, headers, body, self._warned)

    def auth_only_headers(self) -> dict[str, str]:
        """``api_headers`` plus authentication, for a plain GET (model lists, prices)."""
        return self.authenticated("GET", self.base_url, self.headers(), b"")

    def request(
        self,
        turns: Sequence[Turn],
        *,
        stream: bool,
        tools: Sequence[ToolDef] = (),
        type: Type | None = None,
    ) -> WireRequest:
        """The protocol's request for these turns, with ``api_args`` merged into the body.

        Content and features the model can't take are refused first.
        """
        self.refuse_content(turns)
        self.refuse_features(tools=tools, type=type)
        request = self.protocol.build_request(
            turns, model=self.model, params=self.wire_params, tools=tools, type=type, stream=stream
        )
        if self.api_args:
            from attrs import evolve

            request = evolve(request, body=modify_list(request.body, self.api_args))
        return request

    def chat_body(
        self,
        turns: Sequence[Turn],
        *,
        stream: bool,
        tools: Sequence[ToolDef] = (),
        type: Type | None = None,
    ) -> dict[str, Any]:
        """The request body: the protocol's, then ``api_args`` merged with modify_list."""
        return dict(self.request(turns, stream=stream, tools=tools, type=type).body)

    def _prepared(self, request: WireRequest) -> tuple[str, dict[str, str], bytes]:
        """URL, headers (auth included) and body bytes of a request, ready to send."""
        url = self.url(request)
        body = _serialize(request.body, self.name)
        headers = self.headers(request)
        if not any(k.lower() == "accept" for k in headers):  # api_headers' Accept wins too
            headers["Accept"] = request.accept
        return url, self.authenticated(request.method, url, headers, body), body

    def _translate(self, exc: HTTPStatusError, turns: Sequence[Turn]) -> EllmerError:
        """A template error about the system role, for a request that had one, is a limitation.

        Servers say it with 400 or 422 (TGI, vLLM) or 500 (llama.cpp, llama-cpp-python).
        """
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
        return _tagged(exc, self.name)

    def _failure(self, exc: EllmerError, turns: Sequence[Turn]) -> EllmerError:
        """The error to raise for a failed request, with the provider named.

        No credential the provider sent shows in it, even one the server quoted back.
        """
        if isinstance(exc, (BadRequestError, ServerError)):
            exc = self._translate(exc, turns)
        return self.transport.secrets.redact_error(_tagged(exc, self.name))

    def chat_perform(
        self, turns: Sequence[Turn], *, tools: Sequence[ToolDef] = (), type: Type | None = None
    ) -> AssistantTurn:
        """Send the turns and return the model's answer, not streamed.

        An answer that arrives but cannot be made into a turn raises an error
        that carries it (``exchange()`` records it as a partial turn).
        """
        start = time.perf_counter()
        received: dict[str, str] = {}
        try:
            request = self.request(turns, stream=False, tools=tools, type=type)
            url, headers, body = self._prepared(request)
            doc = self.transport.request_json(
                request.method, url, headers=headers, body=body, response_headers=received
            )
        except EllmerError as exc:
            raise self._failure(exc, turns) from None
        duration = time.perf_counter() - start
        turn = AssistantTurn((), duration=duration, json=doc)  # what arrived, should all fail
        from ._unreadable import check_turn, with_received

        try:
            turn = self.protocol.parse_response(doc, duration=duration)
            check_turn(turn, self.name)
            return account_turn(self, turn, received)
        except Exception as exc:  # a field of the wrong type, JSON nested too deeply, ...
            raise self._failure(with_received(exc, self.name, turn), turns) from None

    def count_tokens(
        self, turns: Sequence[Turn], *, tools: Sequence[ToolDef] = (), type: Type | None = None
    ) -> int:
        """The input tokens these turns would take, from the API's counting endpoint.

        (R: ``count_tokens()``.) ``api_headers`` go with it, ``api_args`` do
        not (the endpoint takes only the conversation, tools and schema).
        """
        counter = self.protocol
        if not isinstance(counter, TokenCounter):
            raise NotImplementedError(f"{self.name} doesn't support token counting.")
        request = counter.count_tokens_request(turns, model=self.model, tools=tools, type=type)
        try:
            url, headers, body = self._prepared(request)
            doc = self.transport.request_json(request.method, url, headers=headers, body=body)
            return counter.parse_token_count(doc)
        except EllmerError as exc:
            raise self._failure(exc, turns) from None

    def stream_open(
        self, turns: Sequence[Turn], *, tools: Sequence[ToolDef] = (), type: Type | None = None
    ) -> tuple[StreamResponse, StreamDecoder]:
        """Send the turns asking for a stream; HTTP errors are raised here.

        Returns the open response and the decoder for it: the protocol's, or
        one that reads a single JSON answer when the server ignored the
        request for a stream.
        """
        try:
            request = self.request(turns, stream=True, tools=tools, type=type)
            url, headers, body = self._prepared(request)
            response = self.transport.stream(request.method, url, headers=headers, body=body)
        except EllmerError as exc:
            raise self._failure(exc, turns) from None
        if response.content_type == "application/json" and request.accept != "application/json":
            return response, WholeAnswerDecoder(self.protocol)
        return response, self.protocol.open_stream()

    def stream_pieces(
        self, response: StreamResponse, decoder: StreamDecoder
    ) -> Iterator[list[Content]]:
        """Feed an open stream to ``decoder``, yielding the pieces to show as they arrive.

        The caller builds the turn from ``decoder`` whether the stream ends,
        fails or is abandoned, so nothing already shown is lost.
        """
        try:
            for chunk in response:
                pieces = decoder.feed(chunk)
                if pieces:
                    yield pieces
                if decoder.done:
                    response.finish()  # read the rest briefly, so the connection can be reused
                    return
            pieces = decoder.close()
            if pieces:
                yield pieces
        except EllmerError as exc:
            raise self.transport.secrets.redact_error(_tagged(exc, self.name)) from None
        finally:
            response.close()


class WholeAnswerDecoder:
    """Reads one non-streamed JSON answer sent where a stream was asked for."""

    def __init__(self, protocol: WireProtocol) -> None:
        self._protocol = protocol
        self._data: list[bytes] = []
        self._turn: AssistantTurn | None = None
        self.done = False

    @property
    def complete(self) -> bool:
        """Whether the whole answer arrived and was read."""
        return self._turn is not None

    def feed(self, chunk: bytes) -> list[Content]:
        """Keep the bytes; nothing shows before the document is whole."""
        self._data.append(chunk)
        return []

    def close(self) -> list[Content]:
        """Read the document as a non-streamed answer (raises for an error document)."""
        data = b"".join(self._data)
        try:
            doc = json.loads(data)
        except (ValueError, RecursionError):
            snippet = data[:200].decode("utf-8", "replace")
            raise MalformedResponseError(f"the stream's answer is not JSON: {snippet!r}") from None
        self._turn = self._protocol.parse_response(doc)
        self.done = True
        from ._content import ContentText, ContentThinking

        return [c for c in self._turn.contents if isinstance(c, (ContentText, ContentThinking))]

    def turn(self, duration: float | None = None) -> AssistantTurn:
        """The answer, once read; an empty turn before."""
        if self._turn is None:
            return AssistantTurn((), duration=duration)
        from attrs import evolve

        return evolve(self._turn, duration=duration)


def _serialize(body: Mapping[str, Any], provider: str) -> bytes:
    """The JSON bytes of a request body; a value JSON can't carry is a clear error."""
    try:
        return json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:  # UnicodeEncodeError is a ValueError
        problem = (
            json_problem(body, "the request body")
            or f"the request body can't be sent as JSON ({exc})."
        )
        raise ConfigurationError(
            f"{provider}: {problem} Check the turns, tool results, api_args= and params=."
        ) from None


def _default_protocol() -> WireProtocol:
    from ._protocols.openai_chat import OpenAIChat

    return OpenAIChat()


def _tagged(exc: EllmerError, provider: str) -> EllmerError:
    """Name the provider in an error raised below it, once."""
    if exc.provider is None:
        exc.provider = provider
        exc.message = f"{provider}: {exc.message}"
        exc.args = (exc.message,)
    return exc
