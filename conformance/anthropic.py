"""Scripted answers for the Anthropic Messages protocol (``"anthropic-messages"``).

``message()`` builds a non-streamed ``message`` object and ``events()`` the
equivalent server-sent events (``message_start``, a ``ping``, one
``content_block_start`` / ``content_block_delta`` ... / ``content_block_stop``
run per block, ``message_delta``, ``message_stop``), so the same answer can
be served both ways. Blocks come in the order thinking, text, tool_use.

The readers say what a request body carries, following the Messages API
reference rather than ellmer-py's own encoder. ``FAKE`` is this protocol's
:class:`~ellmer_py.conformance._protocol.ProtocolFake`.

Conventions of the suite, in Anthropic's terms:

- finish reasons: ``stop`` -> ``end_turn``, ``tool_calls`` -> ``tool_use``,
  ``length`` -> ``max_tokens``, ``content_filter`` -> ``refusal``; an answer
  with tool calls that says ``stop`` is sent as ``tool_use``; Anthropic's own
  names (``stop_sequence``, ``pause_turn``, ...) pass through;
- usage: the suite counts cached tokens inside ``Usage.input``; Anthropic
  does not, so ``input_tokens = input - cached``, ``cache_read_input_tokens
  = cached`` and ``cache_creation_input_tokens = 0``;
- tool arguments: ``input`` is a JSON object. Streamed, the arguments text
  goes in ``input_json_delta`` pieces (after the empty ``partial_json`` the
  API always sends first), so ``ToolCall.raw_arguments`` is sent verbatim.
  Not streamed, ``raw_arguments`` that parse are sent parsed; text that is
  not JSON is sent as a JSON *string* in ``input``: the API never does
  that, but it is the only way to carry unusable arguments in one
  document, and R ellmer's decoder parses string inputs (``value_turn``).
- structured output by R ellmer's tool trick: see
  :meth:`AnthropicFake.structured_reply`.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ._protocol import Answer, Media, ToolCall, Usage
from .fake_server import RecordedRequest, Reply

__all__ = [
    "FAKE",
    "SIGNATURE",
    "STRUCTURED_TOOL",
    "AnthropicFake",
    "error_type",
    "events",
    "message",
    "sse_bytes",
    "sse_event",
    "stop_reason",
]

_ID = "msg_conformance"
_MODEL = "conformance-model"
_REQUEST_ID = "req_conformance"
_STRUCTURED_ID = "toolu_conformance_structured"

#: The signature every scripted thinking block carries (base64, like the real ones).
SIGNATURE = base64.b64encode(b"conformance thinking signature").decode()
#: The tool R ellmer forces to get structured output from older Claude models.
STRUCTURED_TOOL = "_structured_tool_call"

_STOP_REASONS = {
    "stop": "end_turn",
    "tool_calls": "tool_use",
    "length": "max_tokens",
    "content_filter": "refusal",
}
_ANTHROPIC_STOP_REASONS = frozenset(
    {
        "end_turn",
        "max_tokens",
        "stop_sequence",
        "tool_use",
        "pause_turn",
        "refusal",
        "model_context_window_exceeded",
    }
)
# https://docs.claude.com/en/api/errors; 402 and 504 from the SDKs' ErrorType.
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

Event = tuple[str, dict[str, Any]]


def stop_reason(answer: Answer) -> str:
    """The ``stop_reason`` Anthropic sends for ``answer.finish_reason``."""
    reason = answer.finish_reason
    if answer.tool_calls and reason in ("stop", "tool_calls"):
        return "tool_use"
    if reason in _ANTHROPIC_STOP_REASONS:
        return reason
    if reason not in _STOP_REASONS:
        raise ValueError(f"no Anthropic stop_reason for the finish reason {reason!r}")
    return _STOP_REASONS[reason]


def error_type(status: int) -> str:
    """``error.type`` for an HTTP status (other 4xx: invalid_request_error, 5xx: api_error)."""
    if status in _ERROR_TYPES:
        return _ERROR_TYPES[status]
    return "invalid_request_error" if status < 500 else "api_error"


def _usage(usage: Usage, output: int) -> dict[str, Any]:
    if not 0 <= usage.cached <= usage.input:
        raise ValueError(f"cached tokens are part of the input tokens: {usage}")
    return {
        "input_tokens": usage.input - usage.cached,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": usage.cached,
        "output_tokens": output,
    }


def _tool_input(call: ToolCall) -> Any:
    if call.raw_arguments is None:
        return call.arguments
    try:
        return json.loads(call.raw_arguments)
    except ValueError:
        return call.raw_arguments  # not JSON: a string (see the module docstring)


def message(answer: Answer) -> dict[str, Any]:
    """The non-streamed ``message`` object for ``answer``."""
    content: list[dict[str, Any]] = []
    if answer.thinking_pieces:
        content.append({"type": "thinking", "thinking": answer.thinking, "signature": SIGNATURE})
    if answer.text_pieces:
        content.append({"type": "text", "text": answer.text})
    content += [
        {"type": "tool_use", "id": call.id, "name": call.name, "input": _tool_input(call)}
        for call in answer.tool_calls
    ]
    return {
        "id": _ID,
        "type": "message",
        "role": "assistant",
        "model": _MODEL,
        "content": content,
        "stop_reason": stop_reason(answer),
        "stop_sequence": None,
        "usage": _usage(answer.usage, answer.usage.output),
    }


def _blocks(answer: Answer) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Each content block as (its ``content_block_start`` shape, its deltas)."""
    out: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    if answer.thinking_pieces:
        deltas = [{"type": "thinking_delta", "thinking": p} for p in answer.thinking_pieces]
        deltas.append({"type": "signature_delta", "signature": SIGNATURE})
        out.append(({"type": "thinking", "thinking": "", "signature": ""}, deltas))
    if answer.text_pieces:
        deltas = [{"type": "text_delta", "text": p} for p in answer.text_pieces]
        out.append(({"type": "text", "text": ""}, deltas))
    for call in answer.tool_calls:
        start = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
        pieces = ("", *call.argument_pieces)  # the API opens with an empty partial_json
        out.append((start, [{"type": "input_json_delta", "partial_json": p} for p in pieces]))
    return out


def events(answer: Answer) -> list[Event]:
    """The ``(event name, data)`` pairs that stream ``answer``, in order.

    The ``ping`` comes after the first ``content_block_start`` (where the
    API sends it), or after ``message_start`` when there is no block.
    ``message_start`` reports the input tokens and one output token;
    ``message_delta`` the final, cumulative counts.
    """
    usage = answer.usage
    start: dict[str, Any] = {
        "id": _ID,
        "type": "message",
        "role": "assistant",
        "model": _MODEL,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": _usage(usage, min(1, usage.output)),
    }
    out: list[Event] = [("message_start", {"type": "message_start", "message": start})]
    blocks = _blocks(answer)
    for index, (block, deltas) in enumerate(blocks):
        head = {"type": "content_block_start", "index": index, "content_block": block}
        out.append(("content_block_start", head))
        if index == 0:
            out.append(("ping", {"type": "ping"}))
        out += [
            ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d})
            for d in deltas
        ]
        out.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    if not blocks:
        out.append(("ping", {"type": "ping"}))
    delta = {"stop_reason": stop_reason(answer), "stop_sequence": None}
    tail = {"type": "message_delta", "delta": delta, "usage": _usage(usage, usage.output)}
    out.append(("message_delta", tail))
    out.append(("message_stop", {"type": "message_stop"}))
    return out


def sse_event(name: str, data: Mapping[str, Any]) -> bytes:
    """One server-sent event: ``event: <name>``, ``data: <JSON>`` and a blank line."""
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


def sse_bytes(answer: Answer) -> bytes:
    """The whole event stream for ``answer``."""
    return b"".join(sse_event(name, data) for name, data in events(answer))


def _split(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    points = sorted({c for c in cuts if 0 < c < len(data)})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges) if b > a]


def _text_delta_positions(stream: list[Event]) -> list[int]:
    return [
        i
        for i, (name, data) in enumerate(stream)
        if name == "content_block_delta" and data["delta"]["type"] == "text_delta"
    ]


# -- reading request bodies ---------------------------------------------------------


def _messages(body: Any) -> list[Mapping[str, Any]]:
    messages = body.get("messages") if isinstance(body, Mapping) else None
    if not isinstance(messages, list):
        return []
    return [m for m in messages if isinstance(m, Mapping)]


def _content(message: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A message's content as blocks (a string is one text block)."""
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        return []
    for block in content:
        if not isinstance(block, Mapping):
            raise AssertionError(f"a content block that is not an object: {block!r:.200}")
    return content


def _blocks_of(body: Any, role: str, kind: str) -> list[Mapping[str, Any]]:
    return [
        block
        for message in _messages(body)
        if message.get("role") == role
        for block in _content(message)
        if block.get("type") == kind
    ]


def _base64(source: Mapping[str, Any]) -> bytes:
    try:
        return base64.b64decode(str(source.get("data")), validate=True)
    except (binascii.Error, ValueError):
        raise AssertionError(f"a base64 source with invalid data: {source!r:.200}") from None


def _media_block(block: Mapping[str, Any]) -> Media | None:
    """One user content block as Media (None for text and tool results)."""
    kind = block.get("type")
    if kind in ("text", "tool_result"):
        return None
    source = block.get("source")
    if kind not in ("image", "document"):
        raise AssertionError(f"a user content block of unknown type {kind!r}: {block!r:.200}")
    if not isinstance(source, Mapping):
        raise AssertionError(f"an {kind} block without a source: {block!r:.200}")
    how = source.get("type")
    if how == "url" and isinstance(source.get("url"), str):
        return Media("image_url" if kind == "image" else "pdf_url", source["url"])
    if how == "base64" and kind == "image":
        mime = source.get("media_type")
        if not isinstance(mime, str) or not mime.startswith("image/"):
            raise AssertionError(f"an image without an image media_type: {block!r:.200}")
        return Media("image", _base64(source), mime=mime)
    if how == "base64" and source.get("media_type") == "application/pdf":
        title = block.get("title")
        return Media("pdf", _base64(source), filename=title if isinstance(title, str) else None)
    raise AssertionError(
        f"an {kind} block whose source the conformance suite does not read (it reads base64 "
        f"images, base64 application/pdf documents and url sources): {block!r:.200}"
    )


def _arguments(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _tool_result_text(block: Mapping[str, Any]) -> str:
    content = block.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, Mapping) and part.get("type") == "text"
        )
    raise AssertionError(f"a tool_result whose content is not text: {block!r:.200}")


def _forces_structured_tool(body: Any) -> bool:
    choice = body.get("tool_choice") if isinstance(body, Mapping) else None
    return (
        isinstance(choice, Mapping)
        and choice.get("type") == "tool"
        and choice.get("name") == STRUCTURED_TOOL
    )


def _tool_named(body: Any, name: str) -> Mapping[str, Any] | None:
    tools = body.get("tools") if isinstance(body, Mapping) else None
    for tool in tools if isinstance(tools, list) else []:
        if isinstance(tool, Mapping) and tool.get("name") == name:
            return tool
    return None


def _structured_tool_schema(body: Any) -> Any:
    """S from R ellmer's forced ``_structured_tool_call`` tool with ``{"data": S}``; or None."""
    tool = _tool_named(body, STRUCTURED_TOOL)
    forced = _forces_structured_tool(body)
    if tool is None and not forced:
        return None
    if tool is None:
        raise AssertionError(f"tool_choice forces {STRUCTURED_TOOL} but tools does not define it")
    if not forced:
        raise AssertionError(
            f"the body offers {STRUCTURED_TOOL} without forcing it with tool_choice "
            f"{{'type': 'tool', 'name': {STRUCTURED_TOOL!r}}}"
        )
    schema = tool.get("input_schema")
    properties = schema.get("properties") if isinstance(schema, Mapping) else None
    if (
        not isinstance(schema, Mapping)
        or schema.get("type") != "object"
        or not isinstance(properties, Mapping)
        or not isinstance(properties.get("data"), Mapping)
    ):
        raise AssertionError(
            f"{STRUCTURED_TOOL}'s input_schema must be {{'type': 'object', 'properties': "
            f"{{'data': <schema>}}, ...}}, not {schema!r:.300}"
        )
    return properties["data"]


class AnthropicFake:
    """The Anthropic Messages half of the conformance suite."""

    name = "anthropic-messages"

    def answer(self, answer: Answer) -> Reply:
        """The answer as one ``message`` object."""
        return Reply.json(message(answer), headers={"request-id": _REQUEST_ID})

    def stream(self, answer: Answer, cuts: Sequence[int] = ()) -> Reply:
        """The answer as an event stream, its bytes split into HTTP chunks at ``cuts``."""
        return Reply.sse(_split(sse_bytes(answer), cuts), headers={"request-id": _REQUEST_ID})

    def cut_stream(self, answer: Answer) -> Reply:
        """Every event up to the last text delta, then the connection closes mid-answer."""
        stream = events(answer)
        texts = _text_delta_positions(stream)
        end = texts[-1] + 1 if texts else 1
        return Reply.cut(*(sse_event(n, d) for n, d in stream[:end]))

    def stalled_stream(self, answer: Answer, seconds: float) -> Reply:
        """Every event up to the first text delta, a pause of ``seconds``, then the rest."""
        stream = events(answer)
        texts = _text_delta_positions(stream)
        first = texts[0] + 1 if texts else 1
        chunks = [sse_event(n, d) for n, d in stream]
        return Reply.sse(
            [b"".join(chunks[:first]), b"".join(chunks[first:])],
            headers={"request-id": _REQUEST_ID},
            delay=seconds,
        )

    def malformed(self, *, stream: bool) -> Reply:
        """A 200 answer with JSON that ends too soon (streamed: after a good message_start)."""
        if stream:
            good = events(Answer())[0]
            bad = b'event: content_block_start\ndata: {"type": "content_block_start", "ind\n\n'
            return Reply.sse([sse_event(*good), bad])
        return Reply.raw(200, b'{"id": "msg_conformance", "content": [', "application/json")

    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
        """``{"type": "error", "error": {"type", "message"}, "request_id"}``, by status."""
        doc = {
            "type": "error",
            "error": {"type": error_type(status), "message": message},
            "request_id": _REQUEST_ID,
        }
        return Reply.json(
            doc, status=status, headers={"request-id": _REQUEST_ID, **(headers or {})}
        )

    def expected_tokens(self, usage: Usage) -> tuple[int, int, int]:
        """R ellmer's rule: input = input_tokens + cache_creation_input_tokens, cached apart."""
        sent = _usage(usage, usage.output)
        return (
            sent["input_tokens"] + sent["cache_creation_input_tokens"],
            sent["output_tokens"],
            sent["cache_read_input_tokens"],
        )

    def system_prompt(self, body: Any) -> str | None:
        """Top-level ``system``: a string, or a list of text blocks (joined)."""
        system = body.get("system") if isinstance(body, Mapping) else None
        if system is None or isinstance(system, str):
            return system
        if not isinstance(system, list):
            raise AssertionError(f"system must be a string or a list of text blocks: {system!r}")
        texts = []
        for block in system:
            text = block.get("text") if isinstance(block, Mapping) else None
            if not isinstance(text, str) or block.get("type") != "text":
                raise AssertionError(f"system holds a block that is not text: {block!r:.200}")
            texts.append(text)
        return "".join(texts) or None

    def user_text(self, body: Any) -> str:
        """The text blocks (or string content) of every user message, joined."""
        return "".join(str(b.get("text", "")) for b in _blocks_of(body, "user", "text"))

    def media(self, body: Any) -> list[Media]:
        """The image and document blocks of the user messages, in order.

        ``image`` with a ``base64`` source -> ``Media("image", bytes, mime)``,
        with a ``url`` source -> ``Media("image_url", url)``; ``document``
        with a base64 ``application/pdf`` source -> ``Media("pdf", bytes,
        filename=<its title>)``, with a ``url`` source -> ``Media("pdf_url",
        url)``. Other sources (``file``, ``text``, ``content``) and block
        types other than text and tool_result raise AssertionError.
        """
        out: list[Media] = []
        for message in _messages(body):
            if message.get("role") == "user":
                for block in _content(message):
                    media = _media_block(block)
                    if media is not None:
                        out.append(media)
        return out

    def tools_offered(self, body: Any) -> dict[str, dict[str, Any]]:
        """``tools``: ``[{name, description, input_schema}]``; server tools are skipped.

        A tool with a ``type`` other than ``custom`` (``web_search_20250305``,
        ``bash_20250124``, ...) is Anthropic's, not the user's. The forced
        ``_structured_tool_call`` is structured output, not a tool: skipped.
        """
        tools = body.get("tools") if isinstance(body, Mapping) else None
        forced = _forces_structured_tool(body)
        out: dict[str, dict[str, Any]] = {}
        for item in tools if isinstance(tools, list) else []:
            if not isinstance(item, Mapping):
                raise AssertionError(f"a tool that is not an object: {item!r:.200}")
            if item.get("type", "custom") != "custom":
                continue
            name, schema = item.get("name"), item.get("input_schema")
            if not isinstance(name, str) or not isinstance(schema, Mapping):
                raise AssertionError(f"a tool without a name and input_schema: {item!r:.200}")
            if name == STRUCTURED_TOOL and forced:
                continue
            out[name] = {"description": item.get("description"), "parameters": schema}
        return out

    def tool_calls_sent(self, body: Any) -> list[ToolCall]:
        """The ``tool_use`` blocks of the assistant messages (a string input is parsed)."""
        return [
            ToolCall(
                id=str(block.get("id")),
                name=str(block.get("name")),
                arguments=_arguments(block.get("input")),
            )
            for block in _blocks_of(body, "assistant", "tool_use")
        ]

    def tool_results_sent(self, body: Any) -> list[tuple[str, str]]:
        """The ``tool_result`` blocks of the user messages: (tool_use_id, text)."""
        return [
            (str(block.get("tool_use_id")), _tool_result_text(block))
            for block in _blocks_of(body, "user", "tool_result")
        ]

    def structured_schema(self, body: Any) -> Any:
        """The schema of ``output_config.format``, or S of R ellmer's tool trick.

        ``output_config: {"format": {"type": "json_schema", "schema": S}}``,
        or a ``_structured_tool_call`` tool whose ``input_schema`` is
        ``{"type": "object", "properties": {"data": S}}``, forced by
        ``tool_choice: {"type": "tool", "name": "_structured_tool_call"}``.
        Both at once, the deprecated beta ``output_format``, or either in
        another shape raise AssertionError. (``output_config`` without
        ``format``, e.g. only ``effort``, asks for no structured output.)
        """
        if not isinstance(body, Mapping):
            return None
        if "output_format" in body:
            raise AssertionError(
                "output_format is the deprecated beta parameter; the API takes "
                "output_config: {'format': {'type': 'json_schema', 'schema': ...}}"
            )
        config = body.get("output_config")
        if config is not None and not isinstance(config, Mapping):
            raise AssertionError(f"output_config must be an object, not {config!r:.200}")
        fmt = config.get("format") if config is not None else None
        if fmt is not None and (
            not isinstance(fmt, Mapping)
            or fmt.get("type") != "json_schema"
            or not isinstance(fmt.get("schema"), Mapping)
        ):
            raise AssertionError(
                "output_config.format must be {'type': 'json_schema', 'schema': {...}}, "
                f"not {fmt!r:.300}"
            )
        from_tool = _structured_tool_schema(body)
        if fmt is not None and from_tool is not None:
            raise AssertionError(f"the body asks for output_config.format and {STRUCTURED_TOOL}")
        return fmt["schema"] if fmt is not None else from_tool

    def needs_wrapper(self, schema: Any) -> bool:
        """``output_config.format`` takes object schemas only: anything else is wrapped."""
        return not (isinstance(schema, Mapping) and schema.get("type") == "object")

    # -- structured output by the tool trick (not part of ProtocolFake) -------------

    def uses_structured_tool(self, body: Any) -> bool:
        """Whether ``body`` asks for structured output by forcing ``_structured_tool_call``."""
        return _forces_structured_tool(body)

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

        When ``body`` used output_config (or nothing), that is ``text`` as a
        text block, in two pieces, like ``checks._answer_with()``. When it
        forced ``_structured_tool_call``, it is a call of that tool with the
        input text ``'{"data": ' + text + '}'`` (no closing brace when
        ``finish_reason`` is ``"length"``: the answer was cut off), streamed
        in two ``input_json_delta`` pieces. Text that is not JSON makes an
        input that is not JSON: streamed, sent as is; not streamed, sent as a
        JSON string (see the module docstring). Usage defaults to 9 in, 4 out.
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


FAKE = AnthropicFake()
