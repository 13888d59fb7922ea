"""Scripted answers for the Bedrock Converse protocol (``"bedrock-converse"``).

Written from the AWS API reference of Converse and ConverseStream
(https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html,
``API_runtime_ConverseStream.html``) and checked against recorded Bedrock
traffic, not from ellmer-py's encoder. ``response()`` is one Converse
response (``output.message``, ``stopReason``, ``usage``, ``metrics``);
``events()`` the ConverseStream events, sent as AWS event-stream frames
(``application/vnd.amazon.eventstream``; headers ``:event-type``,
``:content-type`` ``application/json``, ``:message-type`` ``event``; each
payload carries the ``p`` padding field AWS adds): ``messageStart``, per
content block its ``contentBlockDelta`` run and ``contentBlockStop`` (a
``contentBlockStart`` only for a tool use, as the API sends it), then
``messageStop`` and ``metadata``. Blocks come in the order reasoning, text,
toolUse.

Conventions of the suite, in Bedrock's terms:

- finish reasons: ``stop`` -> ``end_turn``, ``tool_calls`` -> ``tool_use``,
  ``length`` -> ``max_tokens``, ``content_filter`` -> ``content_filtered``;
  an answer with tool calls that says ``stop`` is sent as ``tool_use``;
  Bedrock's own names (``stop_sequence``, ``guardrail_intervened``,
  ``model_context_window_exceeded``) pass through;
- usage: the suite counts cached tokens inside ``Usage.input``; Bedrock
  does not, so ``inputTokens = input - cached``, ``cacheReadInputTokens =
  cached``, ``cacheWriteInputTokens = 0`` and ``totalTokens = input +
  output`` (the sum of all four, as Bedrock reports it). Streamed, the usage
  comes once, in the closing ``metadata`` event;
- reasoning: ``reasoningContent.reasoningText`` with ``text`` and a
  ``signature`` (:data:`SIGNATURE`); streamed, one ``reasoningContent``
  ``text`` delta per piece, then one ``signature`` delta;
- tool arguments: ``toolUse.input`` is a JSON object. Streamed, the
  arguments text goes in ``toolUse.input`` string deltas, one per piece, so
  ``ToolCall.raw_arguments`` is sent verbatim. Not streamed,
  ``raw_arguments`` that parse are sent parsed; text that is not JSON is
  sent as a JSON *string* in ``input``: the API never does that, but it is
  the only way to carry unusable arguments in one document;
- errors: the HTTP status, ``{"message": ...}`` and the header
  ``x-amzn-ErrorType: <Name>Exception:<namespace URL>`` (restJson1: a client
  keeps what comes before the colon), by status (:func:`error_type`). A
  mid-stream error is an event-stream frame with ``:message-type``
  ``exception`` (:meth:`BedrockFake.stream_error`);
- structured output: R ellmer forces a ``structured_tool_call__`` tool
  whose input schema is ``{"type": "object", "properties": {"data": S}}``
  (``toolConfig.toolChoice = {"tool": {"name": ...}}``); see
  :meth:`BedrockFake.structured_reply`;
- signing: requests carry ``Authorization: Bearer <Bedrock API key>`` or an
  AWS SigV4 signature; :meth:`BedrockFake.signed` checks every request with
  the independent verifier of :mod:`._sigv4_check` and answers 403
  ``InvalidSignatureException`` (as AWS does) when it fails.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar
from urllib.parse import unquote

from ellmer_py._eventstream import encode_message

from ._protocol import Answer, Media, ToolCall, Usage
from ._sigv4_check import Rejection, check
from .fake_server import RecordedRequest, Reply, Responder

__all__ = [
    "EVENT_STREAM",
    "FAKE",
    "SIGNATURE",
    "STREAM_EXCEPTIONS",
    "STRUCTURED_TOOL",
    "BedrockFake",
    "SignedResponder",
    "Verdict",
    "error_type",
    "event_frame",
    "events",
    "exception_frame",
    "model_in_path",
    "response",
    "stop_reason",
    "stream_bytes",
]

#: The content type of a ConverseStream answer.
EVENT_STREAM = "application/vnd.amazon.eventstream"
#: The signature every scripted reasoning block carries (base64, like the real ones).
SIGNATURE = base64.b64encode(b"conformance reasoning signature").decode()
#: The tool R ellmer forces to get structured output (``provider-aws.R``).
STRUCTURED_TOOL = "structured_tool_call__"
#: The exceptions a ConverseStream answer can carry in a frame (``:exception-type``).
STREAM_EXCEPTIONS = frozenset(
    {
        "internalServerException",
        "modelStreamErrorException",
        "serviceUnavailableException",
        "throttlingException",
        "validationException",
    }
)

_REQUEST_ID = "c0f0c0f0-0000-4000-8000-00000000c0f0"
_STRUCTURED_ID = "tooluse_conformance_structured"
_LATENCY_MS = 7
_PADDING = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_ERROR_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.bedrock/"
_AUTH_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.coral.service/"
_SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service "
    "documentation for details."
)
_AUTH_MESSAGES = {
    "InvalidSignatureException": _SIGNATURE_MISMATCH,
    "UnrecognizedClientException": "The security token included in the request is invalid.",
    "MissingAuthenticationTokenException": "Missing Authentication Token",
}

_STOP_REASONS = {
    "stop": "end_turn",
    "tool_calls": "tool_use",
    "length": "max_tokens",
    "content_filter": "content_filtered",
}
# https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html#API_runtime_Converse_ResponseSyntax
_BEDROCK_STOP_REASONS = frozenset(
    {
        "end_turn",
        "tool_use",
        "max_tokens",
        "stop_sequence",
        "guardrail_intervened",
        "content_filtered",
        "model_context_window_exceeded",
    }
)
# The Errors section of the Converse reference, by status; 401 gets the error AWS sends
# (with 403) for an unknown key. Other 4xx are ValidationException, other 5xx
# InternalServerException (Bedrock sends no 402, 409, 422, 502).
_ERROR_TYPES = {
    400: "ValidationException",
    401: "UnrecognizedClientException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}
_IMAGE_FORMATS = frozenset({"png", "jpeg", "gif", "webp"})
_DOCUMENT_FORMATS = frozenset({"pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md"})
# DocumentBlock.name: alphanumerics, single whitespace characters, hyphens, parentheses
# and square brackets.
_DOCUMENT_NAME = re.compile(r"[A-Za-z0-9()\[\]\-]+(\s[A-Za-z0-9()\[\]\-]+)*")
_TOOL_CHOICES = frozenset({"auto", "any", "tool"})

Event = tuple[str, dict[str, Any]]


def stop_reason(answer: Answer) -> str:
    """The ``stopReason`` Bedrock sends for ``answer.finish_reason``."""
    reason = answer.finish_reason
    if answer.tool_calls and reason in ("stop", "tool_calls"):
        return "tool_use"
    if reason in _BEDROCK_STOP_REASONS:
        return reason
    if reason not in _STOP_REASONS:
        raise ValueError(f"no Bedrock stopReason for the finish reason {reason!r}")
    return _STOP_REASONS[reason]


def error_type(status: int) -> str:
    """The ``x-amzn-ErrorType`` name for an HTTP status (without the namespace)."""
    if status in _ERROR_TYPES:
        return _ERROR_TYPES[status]
    return "ValidationException" if status < 500 else "InternalServerException"


def _usage(usage: Usage) -> dict[str, int]:
    if not 0 <= usage.cached <= usage.input:
        raise ValueError(f"cached tokens are part of the input tokens: {usage}")
    return {
        "inputTokens": usage.input - usage.cached,
        "outputTokens": usage.output,
        "totalTokens": usage.input + usage.output,
        "cacheReadInputTokens": usage.cached,
        "cacheWriteInputTokens": 0,
    }


def _tool_input(call: ToolCall) -> Any:
    if call.raw_arguments is None:
        return call.arguments
    try:
        return json.loads(call.raw_arguments)
    except ValueError:
        return call.raw_arguments  # not JSON: a string (see the module docstring)


def response(answer: Answer) -> dict[str, Any]:
    """The non-streamed Converse response for ``answer``."""
    content: list[dict[str, Any]] = []
    if answer.thinking_pieces:
        reasoning = {"text": answer.thinking, "signature": SIGNATURE}
        content.append({"reasoningContent": {"reasoningText": reasoning}})
    if answer.text_pieces:
        content.append({"text": answer.text})
    content += [
        {"toolUse": {"toolUseId": call.id, "name": call.name, "input": _tool_input(call)}}
        for call in answer.tool_calls
    ]
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop_reason(answer),
        "usage": _usage(answer.usage),
        "metrics": {"latencyMs": _LATENCY_MS},
    }


def events(answer: Answer) -> list[Event]:
    """The ``(event type, payload)`` pairs that stream ``answer``, in order (no padding)."""
    out: list[Event] = [("messageStart", {"role": "assistant"})]
    index = 0

    def block(deltas: list[dict[str, Any]], start: dict[str, Any] | None = None) -> None:
        nonlocal index
        if start is not None:
            out.append(("contentBlockStart", {"contentBlockIndex": index, "start": start}))
        out.extend(("contentBlockDelta", {"contentBlockIndex": index, "delta": d}) for d in deltas)
        out.append(("contentBlockStop", {"contentBlockIndex": index}))
        index += 1

    if answer.thinking_pieces:
        deltas = [{"reasoningContent": {"text": p}} for p in answer.thinking_pieces]
        block([*deltas, {"reasoningContent": {"signature": SIGNATURE}}])
    if answer.text_pieces:
        block([{"text": p} for p in answer.text_pieces])
    for call in answer.tool_calls:
        block(
            [{"toolUse": {"input": p}} for p in call.argument_pieces],
            start={"toolUse": {"toolUseId": call.id, "name": call.name}},
        )
    out.append(("messageStop", {"stopReason": stop_reason(answer)}))
    metrics = {"latencyMs": _LATENCY_MS}
    out.append(("metadata", {"usage": _usage(answer.usage), "metrics": metrics}))
    return out


def event_frame(event_type: str, payload: Mapping[str, Any]) -> bytes:
    """One ``:message-type: event`` frame, its JSON payload padded with ``p`` as AWS pads it."""
    text = json.dumps(payload)
    padded = {**payload, "p": _PADDING[: len(text) * 7 % len(_PADDING) + 1]}
    headers = {
        ":event-type": event_type,
        ":content-type": "application/json",
        ":message-type": "event",
    }
    return encode_message(headers, json.dumps(padded).encode("utf-8"))


def exception_frame(exception_type: str, message: str) -> bytes:
    """One ``:message-type: exception`` frame (e.g. ``throttlingException``) with its message."""
    headers = {
        ":exception-type": exception_type,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return encode_message(headers, json.dumps({"message": message}).encode("utf-8"))


def stream_bytes(answer: Answer) -> bytes:
    """The whole event stream for ``answer``."""
    return b"".join(event_frame(name, data) for name, data in events(answer))


def _split(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    points = sorted({c for c in cuts if 0 < c < len(data)})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges) if b > a]


def _text_delta_positions(stream: list[Event]) -> list[int]:
    return [
        i
        for i, (name, data) in enumerate(stream)
        if name == "contentBlockDelta" and "text" in data["delta"]
    ]


def model_in_path(path: str) -> tuple[str, str] | None:
    """``(model id, operation)`` of a ``.../model/{modelId}/{operation}`` request path.

    The model id is percent-decoded; None when the path does not have that
    shape (a model id with an unencoded ``/``, as an ARN would have, does not).
    """
    segments = path.partition("?")[0].split("/")
    if len(segments) < 3 or segments[-3] != "model":
        return None
    return unquote(segments[-2]), segments[-1]


# -- reading request bodies ---------------------------------------------------------


def _union(value: Any, where: str) -> tuple[str, Any]:
    """The one member of an AWS union (a content block, a tool, a tool choice)."""
    if not isinstance(value, Mapping) or len(value) != 1:
        raise AssertionError(f"{where} must be an object with exactly one member: {value!r:.200}")
    ((key, inner),) = value.items()
    return str(key), inner


def _messages(body: Any) -> list[Mapping[str, Any]]:
    messages = body.get("messages") if isinstance(body, Mapping) else None
    if not isinstance(messages, list):
        return []
    for message in messages:
        if not isinstance(message, Mapping) or message.get("role") not in ("user", "assistant"):
            raise AssertionError(f"a message without a user/assistant role: {message!r:.200}")
        if not isinstance(message.get("content"), list):
            raise AssertionError(f"a message whose content is not a list: {message!r:.200}")
    return messages


def _blocks(body: Any, role: str) -> list[tuple[str, Any]]:
    return [
        _union(block, "a content block")
        for message in _messages(body)
        if message["role"] == role
        for block in message["content"]
    ]


def _blocks_of(body: Any, role: str, kind: str) -> list[Mapping[str, Any]]:
    out = []
    for key, inner in _blocks(body, role):
        if key == kind:
            if not isinstance(inner, Mapping):
                raise AssertionError(f"a {kind} block that is not an object: {inner!r:.200}")
            out.append(inner)
    return out


def _bytes_of(source: Any, where: str) -> bytes | str:
    """The bytes of a ``source`` (base64 in JSON), or the URI of its ``s3Location``."""
    key, inner = _union(source, f"the source of {where}")
    if key == "s3Location":
        uri = inner.get("uri") if isinstance(inner, Mapping) else None
        if not isinstance(uri, str) or not uri.startswith("s3://"):
            raise AssertionError(f"{where}: an s3Location needs an s3:// uri: {inner!r:.200}")
        return uri
    if key != "bytes" or not isinstance(inner, str):
        raise AssertionError(
            f"{where}: the suite reads a source of base64 bytes or an s3Location, not "
            f"{source!r:.200}"
        )
    try:
        return base64.b64decode(inner, validate=True)
    except (binascii.Error, ValueError):
        raise AssertionError(f"{where}: the source bytes are not base64: {inner!r:.200}") from None


def _media_block(key: str, inner: Any) -> Media | None:
    if key in ("text", "toolResult", "cachePoint"):
        return None
    if key not in ("image", "document") or not isinstance(inner, Mapping):
        raise AssertionError(
            f"a user content block the suite does not read ({key!r}): {inner!r:.200}"
        )
    fmt = inner.get("format")
    if key == "image":
        if fmt not in _IMAGE_FORMATS:
            raise AssertionError(f"an image of a format Bedrock does not take: {fmt!r}")
        data = _bytes_of(inner.get("source"), "an image")
        if isinstance(data, str):
            return Media("image_url", data)
        return Media("image", data, mime=f"image/{fmt}")
    name = inner.get("name")
    if not isinstance(name, str) or not _DOCUMENT_NAME.fullmatch(name):
        raise AssertionError(
            "a document needs a name of letters, digits, single spaces, hyphens, parentheses "
            f"and square brackets (DocumentBlock.name), not {name!r}"
        )
    if fmt not in _DOCUMENT_FORMATS:
        raise AssertionError(f"a document of a format Bedrock does not take: {fmt!r}")
    if fmt != "pdf":
        raise AssertionError(f"a {fmt} document: the suite reads PDF documents only")
    data = _bytes_of(inner.get("source"), "a document")
    if isinstance(data, str):
        return Media("pdf_url", data)
    return Media("pdf", data)


def _tool_result_text(result: Mapping[str, Any]) -> str:
    status = result.get("status", "success")
    if status not in ("success", "error"):
        raise AssertionError(f"a toolResult status must be success or error, not {status!r}")
    content = result.get("content")
    if not isinstance(content, list):
        raise AssertionError(f"a toolResult without a content list: {result!r:.200}")
    texts = []
    for part in content:
        key, inner = _union(part, "a toolResult content block")
        if key == "text":
            texts.append(str(inner))
        elif key == "json":
            texts.append(json.dumps(inner))
    return "".join(texts)


def _tool_config(body: Any) -> Mapping[str, Any] | None:
    config = body.get("toolConfig") if isinstance(body, Mapping) else None
    if config is None:
        return None
    if not isinstance(config, Mapping):
        raise AssertionError(f"toolConfig must be an object: {config!r:.200}")
    if "tool_choice" in config:
        raise AssertionError(
            "toolConfig.tool_choice is not a Converse field (R ellmer sends it, and the API "
            "does not read it): the tool choice is toolConfig.toolChoice"
        )
    return config


def _tool_specs(config: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    tools = config.get("tools") if config is not None else None
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise AssertionError(f"toolConfig.tools must be a list: {tools!r:.200}")
    specs = []
    for tool in tools:
        key, inner = _union(tool, "a tool")
        if key == "cachePoint":
            continue
        if key != "toolSpec" or not isinstance(inner, Mapping):
            raise AssertionError(f"a tool that is not a toolSpec: {tool!r:.200}")
        schema = inner.get("inputSchema")
        if not isinstance(inner.get("name"), str) or not isinstance(schema, Mapping):
            raise AssertionError(f"a toolSpec without a name and inputSchema: {inner!r:.200}")
        if set(schema) != {"json"} or not isinstance(schema["json"], Mapping):
            raise AssertionError(
                f"a toolSpec's inputSchema must be {{'json': <JSON schema>}}: {schema!r:.200}"
            )
        specs.append(inner)
    return specs


def _forced_tool(config: Mapping[str, Any] | None) -> str | None:
    """The tool ``toolChoice`` forces, or None (auto, any, or none given)."""
    choice = config.get("toolChoice") if config is not None else None
    if choice is None:
        return None
    key, inner = _union(choice, "toolConfig.toolChoice")
    if key not in _TOOL_CHOICES or not isinstance(inner, Mapping):
        raise AssertionError(f"toolChoice must be auto, any or tool: {choice!r:.200}")
    if key != "tool":
        return None
    name = inner.get("name")
    if not isinstance(name, str):
        raise AssertionError(f"toolChoice.tool without a name: {choice!r:.200}")
    return name


def _structured_tool_schema(body: Any) -> Any:
    """S from R ellmer's forced ``structured_tool_call__`` with ``{"data": S}``; or None."""
    config = _tool_config(body)
    tool = next((t for t in _tool_specs(config) if t["name"] == STRUCTURED_TOOL), None)
    forced = _forced_tool(config) == STRUCTURED_TOOL
    if tool is None and not forced:
        return None
    if tool is None:
        raise AssertionError(f"toolChoice forces {STRUCTURED_TOOL} but tools does not define it")
    if not forced:
        raise AssertionError(
            f"the body offers {STRUCTURED_TOOL} without forcing it with toolChoice "
            f"{{'tool': {{'name': {STRUCTURED_TOOL!r}}}}}"
        )
    schema = tool["inputSchema"]["json"]
    properties = schema.get("properties")
    if (
        schema.get("type") != "object"
        or not isinstance(properties, Mapping)
        or not isinstance(properties.get("data"), Mapping)
    ):
        raise AssertionError(
            f"{STRUCTURED_TOOL}'s inputSchema.json must be {{'type': 'object', 'properties': "
            f"{{'data': <schema>}}, ...}}, not {schema!r:.300}"
        )
    return properties["data"]


# -- checking signatures ------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """How :class:`SignedResponder` judged one request's authentication.

    ``scheme`` is ``"sigv4"`` (an ``AWS4-HMAC-SHA256`` Authorization),
    ``"bearer"`` (a Bedrock API key: any is accepted) or ``"none"`` (no
    Authorization, or another scheme). ``rejection`` is None when the request
    was accepted. For SigV4, ``access_key_id`` and ``signed_headers`` come from
    the Authorization header and ``session_token`` is the
    ``X-Amz-Security-Token`` sent (None when none).
    """

    method: str
    path: str
    scheme: str
    rejection: Rejection | None
    access_key_id: str | None = None
    signed_headers: tuple[str, ...] = ()
    session_token: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the request was accepted."""
        return self.rejection is None

    @property
    def reason(self) -> str | None:
        """Why it was refused (None when accepted)."""
        return None if self.rejection is None else self.rejection.reason


def _sigv4_parts(authorization: str) -> tuple[str | None, tuple[str, ...]]:
    fields: dict[str, str] = {}
    for part in authorization.partition(" ")[2].split(","):
        name, _, value = part.strip().partition("=")
        fields[name] = value
    key_id = fields.get("Credential", "").partition("/")[0] or None
    signed = tuple(h for h in fields.get("SignedHeaders", "").split(";") if h)
    return key_id, signed


class SignedResponder:
    """A reply function that checks the request's authentication before answering.

    A SigV4 request is checked with :func:`._sigv4_check.check` against
    ``secrets`` (access key id -> secret access key; any region, the service
    ``service``); a ``Bearer`` one is accepted as it is. A request that fails
    gets 403 ``{"message": ...}`` with the ``x-amzn-ErrorType`` AWS sends
    (``InvalidSignatureException``: "The request signature we calculated does
    not match ...", ``UnrecognizedClientException`` for an unknown key id,
    ``MissingAuthenticationTokenException`` without an Authorization); one that
    passes gets ``reply`` (a Reply, or a function of the request). Every
    request's :class:`Verdict` is appended to :attr:`verdicts` (shared when
    several responders are given the same list).
    """

    def __init__(
        self,
        reply: Responder,
        secrets: Mapping[str, str],
        *,
        verdicts: list[Verdict] | None = None,
        service: str = "bedrock",
        max_skew: timedelta = timedelta(minutes=5),
    ) -> None:
        self.reply = reply
        self.secrets = dict(secrets)
        self.verdicts: list[Verdict] = [] if verdicts is None else verdicts
        self.service = service
        self.max_skew = max_skew

    def judge(self, request: RecordedRequest) -> Verdict:
        """The verdict on one request (not recorded)."""
        authorization = request.headers.get("authorization", "")
        token = request.headers.get("x-amz-security-token")
        if authorization.startswith("Bearer ") and authorization[7:].strip():
            return Verdict(request.method, request.path, "bearer", None)
        rejection = check(
            request.method,
            request.path,
            request.headers,
            request.body,
            self.secrets,
            service=self.service,
            max_skew=self.max_skew,
        )
        if not authorization.startswith("AWS4-HMAC-SHA256 "):
            rejection = rejection or Rejection(
                "MissingAuthenticationTokenException", "no SigV4 or Bearer Authorization"
            )
            return Verdict(request.method, request.path, "none", rejection, session_token=token)
        key_id, signed = _sigv4_parts(authorization)
        return Verdict(request.method, request.path, "sigv4", rejection, key_id, signed, token)

    def __call__(self, request: RecordedRequest) -> Reply:
        """Record the verdict; answer 403 for a refused request, else the reply."""
        verdict = self.judge(request)
        self.verdicts.append(verdict)
        if verdict.rejection is not None:
            return _auth_error(verdict.rejection)
        return self.reply if isinstance(self.reply, Reply) else self.reply(request)


def _auth_error(rejection: Rejection) -> Reply:
    message = _AUTH_MESSAGES.get(rejection.error, rejection.reason)
    if rejection.reason.startswith("Signature expired"):
        message = rejection.reason
    headers = {
        "x-amzn-ErrorType": f"{rejection.error}:{_AUTH_NAMESPACE}",
        "x-amzn-RequestId": _REQUEST_ID,
    }
    return Reply.json({"message": message}, status=403, headers=headers)


# -- the fake -------------------------------------------------------------------------


class BedrockFake:
    """The Bedrock Converse half of the conformance suite."""

    name = "bedrock-converse"
    #: The SigV4 service name requests are signed for; a fake with a ``signing``
    #: attribute gets the signing check (``checks.signing``).
    signing: ClassVar[str] = "bedrock"
    #: Bedrock requires a document ``name``, but only of letters, digits, single
    #: spaces, hyphens, parentheses and brackets ("conformance.pdf" is not one),
    #: and R ellmer sends neutral names (``document-1``) against prompt injection:
    #: :meth:`media` checks the name is valid and does not report it.
    pdf_filenames = False
    #: The only image URL Converse takes is an S3 location (``s3Location``).
    image_url = "s3://conformance-bucket/images/conformance.png"

    def answer(self, answer: Answer) -> Reply:
        """The answer as one Converse response."""
        return Reply.json(response(answer), headers={"x-amzn-RequestId": _REQUEST_ID})

    def stream(self, answer: Answer, cuts: Sequence[int] = ()) -> Reply:
        """The answer as an event stream, its bytes split into HTTP chunks at ``cuts``."""
        return Reply.sse(
            _split(stream_bytes(answer), cuts),
            headers={"x-amzn-RequestId": _REQUEST_ID},
            content_type=EVENT_STREAM,
        )

    def cut_stream(self, answer: Answer) -> Reply:
        """Every frame up to the last text delta, then the connection closes mid-answer."""
        stream = events(answer)
        texts = _text_delta_positions(stream)
        end = texts[-1] + 1 if texts else 1
        return Reply.cut(
            *(event_frame(n, d) for n, d in stream[:end]),
            headers={"x-amzn-RequestId": _REQUEST_ID},
            content_type=EVENT_STREAM,
        )

    def stalled_stream(self, answer: Answer, seconds: float) -> Reply:
        """Every frame up to the first text delta, a pause of ``seconds``, then the rest."""
        stream = events(answer)
        texts = _text_delta_positions(stream)
        first = texts[0] + 1 if texts else 1
        frames = [event_frame(n, d) for n, d in stream]
        return Reply.sse(
            [b"".join(frames[:first]), b"".join(frames[first:])],
            headers={"x-amzn-RequestId": _REQUEST_ID},
            delay=seconds,
            content_type=EVENT_STREAM,
        )

    def stream_error(
        self,
        answer: Answer,
        exception_type: str = "throttlingException",
        message: str = "Too many requests, please wait before trying again.",
    ) -> Reply:
        """Every frame up to the last text delta, then an exception frame; the stream ends.

        ``exception_type`` is one of :data:`STREAM_EXCEPTIONS` (the members of
        ConverseStream's output that are errors); the frame's payload is
        ``{"message": message}``.
        """
        if exception_type not in STREAM_EXCEPTIONS:
            raise ValueError(f"ConverseStream has no exception {exception_type!r}")
        stream = events(answer)
        texts = _text_delta_positions(stream)
        end = texts[-1] + 1 if texts else 1
        frames = [event_frame(n, d) for n, d in stream[:end]]
        frames.append(exception_frame(exception_type, message))
        return Reply.sse(
            frames, headers={"x-amzn-RequestId": _REQUEST_ID}, content_type=EVENT_STREAM
        )

    def malformed(self, *, stream: bool) -> Reply:
        """A 200 answer with JSON that ends too soon (streamed: a whole frame, after a good one)."""
        if stream:
            good = event_frame("messageStart", {"role": "assistant"})
            headers = {
                ":event-type": "contentBlockDelta",
                ":content-type": "application/json",
                ":message-type": "event",
            }
            bad = encode_message(headers, b'{"contentBlockIndex": 0, "delta": {"te')
            return Reply.sse([good, bad], content_type=EVENT_STREAM)
        return Reply.raw(200, b'{"output": {"message": {"content": [', "application/json")

    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
        """``{"message": ...}`` with ``x-amzn-ErrorType`` (:func:`error_type`) for the status."""
        sent = {
            "x-amzn-ErrorType": f"{error_type(status)}:{_ERROR_NAMESPACE}",
            "x-amzn-RequestId": _REQUEST_ID,
            **(headers or {}),
        }
        return Reply.json({"message": message}, status=status, headers=sent)

    def expected_tokens(self, usage: Usage) -> tuple[int, int, int]:
        """R ellmer's rule: input = inputTokens, output = outputTokens, cached = cacheRead."""
        sent = _usage(usage)
        return sent["inputTokens"], sent["outputTokens"], sent["cacheReadInputTokens"]

    def system_prompt(self, body: Any) -> str | None:
        """``system``: a list of ``{text}`` blocks (joined; ``cachePoint`` skipped; "" is none)."""
        system = body.get("system") if isinstance(body, Mapping) else None
        if system is None:
            return None
        if not isinstance(system, list):
            raise AssertionError(f"system must be a list of blocks: {system!r:.200}")
        texts = []
        for block in system:
            key, inner = _union(block, "a system block")
            if key == "cachePoint":
                continue
            if key != "text" or not isinstance(inner, str):
                raise AssertionError(f"system holds a block that is not text: {block!r:.200}")
            texts.append(inner)
        return "".join(texts) or None

    def user_text(self, body: Any) -> str:
        """The ``text`` blocks of every user message, joined."""
        return "".join(str(inner) for key, inner in _blocks(body, "user") if key == "text")

    def media(self, body: Any) -> list[Media]:
        """The ``image`` and ``document`` blocks of the user messages, in order.

        ``image`` (format png, jpeg, gif or webp) with ``source.bytes`` ->
        ``Media("image", bytes, mime="image/<format>")``; ``document`` of
        format ``pdf`` -> ``Media("pdf", bytes)`` (its required ``name`` is
        checked, not reported: see :attr:`pdf_filenames`); an ``s3Location``
        source -> ``Media("image_url" / "pdf_url", "s3://...")`` (Bedrock
        takes no other URL). Other formats, sources and block types (besides
        text, toolResult and cachePoint) raise AssertionError.
        """
        out: list[Media] = []
        for key, inner in _blocks(body, "user"):
            media = _media_block(key, inner)
            if media is not None:
                out.append(media)
        return out

    def tools_offered(self, body: Any) -> dict[str, dict[str, Any]]:
        """``toolConfig.tools[].toolSpec``: ``{name, description, inputSchema: {json}}``.

        ``cachePoint`` entries are skipped, and so is the forced
        ``structured_tool_call__`` (structured output, not a tool).
        """
        config = _tool_config(body)
        forced = _forced_tool(config)
        return {
            spec["name"]: {
                "description": spec.get("description"),
                "parameters": spec["inputSchema"]["json"],
            }
            for spec in _tool_specs(config)
            if not (spec["name"] == STRUCTURED_TOOL and forced == STRUCTURED_TOOL)
        }

    def tool_calls_sent(self, body: Any) -> list[ToolCall]:
        """The ``toolUse`` blocks of the assistant messages (``input`` as sent)."""
        return [
            ToolCall(
                id=str(block.get("toolUseId")),
                name=str(block.get("name")),
                arguments=block.get("input"),
            )
            for block in _blocks_of(body, "assistant", "toolUse")
        ]

    def tool_results_sent(self, body: Any) -> list[tuple[str, str]]:
        """The ``toolResult`` blocks of the user messages: (toolUseId, text).

        The text is the ``text`` parts joined, with ``json`` parts as JSON
        text; images and documents in a result are not text (skipped).
        """
        return [
            (str(block.get("toolUseId")), _tool_result_text(block))
            for block in _blocks_of(body, "user", "toolResult")
        ]

    def structured_schema(self, body: Any) -> Any:
        """S of R ellmer's forced ``structured_tool_call__`` tool, or None.

        The tool's ``inputSchema.json`` is ``{"type": "object", "properties":
        {"data": S}, ...}`` and ``toolConfig.toolChoice`` is ``{"tool":
        {"name": "structured_tool_call__"}}`` (Converse has no other way to
        ask for a schema). The tool without the choice, the choice without
        the tool, another schema shape or ``toolConfig.tool_choice`` (not a
        Converse field) raise AssertionError.
        """
        return _structured_tool_schema(body)

    def needs_wrapper(self, schema: Any) -> bool:
        """Never: the tool's ``data`` property takes any schema (R wraps nothing else)."""
        return False

    # -- structured output by the tool trick (not part of ProtocolFake) -------------

    def uses_structured_tool(self, body: Any) -> bool:
        """Whether ``body`` asks for structured output by forcing ``structured_tool_call__``."""
        return _forced_tool(_tool_config(body)) == STRUCTURED_TOOL

    def structured_reply(
        self,
        text: str,
        body: Any,
        *,
        stream: bool,
        finish_reason: str = "stop",
        usage: Usage | None = None,
    ) -> Reply:
        """The reply of a model asked for structured output whose answer is the JSON ``text``.

        When ``body`` forced ``structured_tool_call__``, a call of that tool
        with the input text ``'{"data": ' + text + '}'`` (no closing brace when
        ``finish_reason`` is ``"length"``: the answer was cut off), streamed in
        two ``toolUse.input`` pieces; otherwise ``text`` as a text block in
        two pieces. Text that is not JSON makes an input that is not JSON:
        streamed, sent as is; not streamed, sent as a JSON string (see the
        module docstring). Usage defaults to 9 in, 4 out.
        """
        usage = Usage(input=9, output=4) if usage is None else usage
        if not self.uses_structured_tool(body):
            half = len(text) // 2
            answer = Answer(
                text_pieces=(text[:half], text[half:]), finish_reason=finish_reason, usage=usage
            )
        else:
            arguments = '{"data": ' + text + ("" if finish_reason == "length" else "}")
            half = len(arguments) // 2
            call = ToolCall(
                id=_STRUCTURED_ID,
                name=STRUCTURED_TOOL,
                raw_arguments=arguments,
                pieces=(arguments[:half], arguments[half:]),
            )
            answer = Answer(tool_calls=(call,), finish_reason=finish_reason, usage=usage)
        return self.stream(answer) if stream else self.answer(answer)

    def structured_responder(
        self, text: str, *, stream: bool, finish_reason: str = "stop"
    ) -> Callable[[RecordedRequest], Reply]:
        """A reply function for ``FakeServer.enqueue``: :meth:`structured_reply` to its request."""

        def respond(request: RecordedRequest) -> Reply:
            return self.structured_reply(
                text, request.json, stream=stream, finish_reason=finish_reason
            )

        return respond

    # -- signatures (not part of ProtocolFake) ----------------------------------------

    def signed(
        self,
        reply: Responder,
        secrets: Mapping[str, str],
        *,
        verdicts: list[Verdict] | None = None,
    ) -> SignedResponder:
        """``reply``, given only to requests that pass the authentication check.

        See :class:`SignedResponder`: SigV4 requests are verified against
        ``secrets`` (access key id -> secret access key) for the service
        :attr:`signing`, Bearer tokens accepted; the verdicts are recorded in
        ``verdicts`` (or the responder's own list).
        """
        return SignedResponder(reply, secrets, verdicts=verdicts, service=self.signing)


FAKE = BedrockFake()
