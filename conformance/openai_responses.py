"""Scripted answers for the OpenAI Responses protocol (``"openai-responses"``).

``response()`` builds a non-streamed ``response`` object and ``events()`` the
equivalent server-sent events (``response.created``, ``response.in_progress``,
one ``response.output_item.added`` ... ``response.output_item.done`` run per
output item, then ``response.completed`` or ``response.incomplete`` carrying
the whole response with its usage; no ``[DONE]``), so the same answer can be
served both ways. Output items come in the order reasoning, message,
function_call.

The readers say what a request body carries, following the Responses API
reference (and openai-python's ``types/responses``) rather than ellmer-py's
own encoder. ``FAKE`` is this protocol's
:class:`~ellmer_py.conformance._protocol.ProtocolFake`.

Conventions of the suite, in the Responses API's terms:

- finish reasons: ``stop`` and ``tool_calls`` -> ``status: "completed"``;
  ``length`` -> ``status: "incomplete"`` with ``incomplete_details:
  {"reason": "max_output_tokens"}``; ``content_filter`` -> ``incomplete``
  with the reason ``content_filter``. The API's own reasons
  (``max_output_tokens``) pass through;
- usage: like chat completions, ``input_tokens`` counts the cached tokens
  too (``input_tokens_details.cached_tokens`` says how many);
- tool calls: a ``function_call`` item has its own ``id`` (``fc_...``) and
  the ``call_id`` the model's caller answers with; ``ToolCall.id`` is the
  ``call_id``. Streamed argument deltas name the item by ``item_id``, so a
  decoder has to map it back through ``response.output_item.added``.
  ``arguments`` is JSON text (``ToolCall.raw_arguments`` verbatim);
- thinking: a ``reasoning`` item with one ``summary_text`` and an opaque
  ``encrypted_content`` (:data:`ENCRYPTED_CONTENT`), streamed as
  ``response.reasoning_summary_text.delta`` pieces.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from ._protocol import Answer, Media, ToolCall, Usage
from .fake_server import Reply

__all__ = [
    "ENCRYPTED_CONTENT",
    "FAKE",
    "OpenAIResponsesFake",
    "error_type",
    "events",
    "incomplete_reason",
    "response",
    "sse_bytes",
    "sse_event",
]

_ID = "resp_conformance"
_MESSAGE_ID = "msg_conformance"
_REASONING_ID = "rs_conformance"
_MODEL = "conformance-model"
_CREATED = 1700000000
_REQUEST_ID = "req_conformance"

#: The opaque reasoning state every scripted reasoning item carries (like the real ones).
ENCRYPTED_CONTENT = "gAAAAA" + base64.urlsafe_b64encode(b"conformance reasoning state").decode()

# finish reason -> incomplete_details.reason (None: the response is completed)
_INCOMPLETE: dict[str, str | None] = {
    "stop": None,
    "tool_calls": None,
    "length": "max_output_tokens",
    "content_filter": "content_filter",
    "max_output_tokens": "max_output_tokens",
}
_ERROR_CODES = {401: "invalid_api_key", 404: "model_not_found", 429: "rate_limit_exceeded"}

Event = tuple[str, dict[str, Any]]


def incomplete_reason(answer: Answer) -> str | None:
    """``incomplete_details.reason`` for ``answer.finish_reason``; None when completed."""
    reason = answer.finish_reason
    if reason not in _INCOMPLETE:
        raise ValueError(f"no Responses status for the finish reason {reason!r}")
    return _INCOMPLETE[reason]


def error_type(status: int) -> str:
    """``error.type`` for an HTTP status: ``requests`` (429), ``server_error`` (5xx), else
    ``invalid_request_error``."""
    if status == 429:
        return "requests"
    return "server_error" if status >= 500 else "invalid_request_error"


def _usage(usage: Usage) -> dict[str, Any]:
    if not 0 <= usage.cached <= usage.input:
        raise ValueError(f"cached tokens are part of the input tokens: {usage}")
    return {
        "input_tokens": usage.input,
        "input_tokens_details": {"cached_tokens": usage.cached},
        "output_tokens": usage.output,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage.input + usage.output,
    }


def _call_item_id(index: int) -> str:
    return f"fc_conformance_{index}"


def _reasoning_item(answer: Answer) -> dict[str, Any]:
    return {
        "id": _REASONING_ID,
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": answer.thinking}],
        "encrypted_content": ENCRYPTED_CONTENT,
    }


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": []}


def _message_item(answer: Answer, status: str) -> dict[str, Any]:
    return {
        "id": _MESSAGE_ID,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": [_text_part(answer.text)],
    }


def _call_item(index: int, call: ToolCall, arguments: str, status: str) -> dict[str, Any]:
    return {
        "id": _call_item_id(index),
        "type": "function_call",
        "status": status,
        "call_id": call.id,
        "name": call.name,
        "arguments": arguments,
    }


def _output(answer: Answer) -> list[dict[str, Any]]:
    status = "completed" if incomplete_reason(answer) is None else "incomplete"
    out: list[dict[str, Any]] = []
    if answer.thinking_pieces:
        out.append(_reasoning_item(answer))
    if answer.text_pieces:
        out.append(_message_item(answer, status))
    out += [
        _call_item(i, call, call.arguments_text, status) for i, call in enumerate(answer.tool_calls)
    ]
    return out


def _shell(status: str) -> dict[str, Any]:
    """A ``response`` object without output or usage (as ``response.created`` sends it)."""
    return {
        "id": _ID,
        "object": "response",
        "created_at": _CREATED,
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "metadata": {},
        "model": _MODEL,
        "output": [],
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": None,
    }


def response(answer: Answer) -> dict[str, Any]:
    """The non-streamed ``response`` object for ``answer``."""
    reason = incomplete_reason(answer)
    doc = _shell("completed" if reason is None else "incomplete")
    if reason is not None:
        doc["incomplete_details"] = {"reason": reason}
    doc["output"] = _output(answer)
    doc["usage"] = _usage(answer.usage)
    return doc


def _added(index: int, item: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "response.output_item.added", "output_index": index, "item": dict(item)}


def _reasoning_events(index: int, item: dict[str, Any], answer: Answer) -> list[dict[str, Any]]:
    at = {"item_id": item["id"], "output_index": index, "summary_index": 0}
    text = answer.thinking
    return [
        _added(index, {**item, "summary": []}),
        {
            "type": "response.reasoning_summary_part.added",
            **at,
            "part": {"type": "summary_text", "text": ""},
        },
        *(
            {"type": "response.reasoning_summary_text.delta", **at, "delta": piece}
            for piece in answer.thinking_pieces
        ),
        {"type": "response.reasoning_summary_text.done", **at, "text": text},
        {
            "type": "response.reasoning_summary_part.done",
            **at,
            "part": {"type": "summary_text", "text": text},
        },
    ]


def _message_events(index: int, item: dict[str, Any], answer: Answer) -> list[dict[str, Any]]:
    at = {"item_id": item["id"], "output_index": index, "content_index": 0}
    text = answer.text
    return [
        _added(index, {**item, "status": "in_progress", "content": []}),
        {"type": "response.content_part.added", **at, "part": _text_part("")},
        *(
            {"type": "response.output_text.delta", **at, "delta": piece, "logprobs": []}
            for piece in answer.text_pieces
        ),
        {"type": "response.output_text.done", **at, "text": text, "logprobs": []},
        {"type": "response.content_part.done", **at, "part": _text_part(text)},
    ]


def _call_events(index: int, item: dict[str, Any], call: ToolCall) -> list[dict[str, Any]]:
    at = {"item_id": item["id"], "output_index": index}
    return [
        _added(index, {**item, "status": "in_progress", "arguments": ""}),
        *(
            {"type": "response.function_call_arguments.delta", **at, "delta": piece}
            for piece in call.argument_pieces
        ),
        {"type": "response.function_call_arguments.done", **at, "arguments": item["arguments"]},
    ]


def events(answer: Answer) -> list[Event]:
    """The ``(event name, data)`` pairs that stream ``answer``, in order.

    ``response.created`` and ``response.in_progress`` carry the response with
    no output and no usage; then each output item streams from
    ``response.output_item.added`` to ``response.output_item.done`` (a
    reasoning item through its summary part, a message through its one
    ``output_text`` part, a function call through its argument deltas); the
    last event (``response.completed``, or ``response.incomplete`` for a
    cut-off or filtered answer) carries the whole response with usage. Every
    data object has its ``type`` (the event name) and a ``sequence_number``
    counting from 0.
    """
    final = response(answer)
    items = iter(final["output"])
    data: list[dict[str, Any]] = [
        {"type": "response.created", "response": _shell("in_progress")},
        {"type": "response.in_progress", "response": _shell("in_progress")},
    ]
    runs: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    index = 0
    if answer.thinking_pieces:
        item = next(items)
        runs.append((item, _reasoning_events(index, item, answer)))
        index += 1
    if answer.text_pieces:
        item = next(items)
        runs.append((item, _message_events(index, item, answer)))
        index += 1
    for call in answer.tool_calls:
        item = next(items)
        runs.append((item, _call_events(index, item, call)))
        index += 1
    for i, (item, run) in enumerate(runs):
        data += run
        data.append({"type": "response.output_item.done", "output_index": i, "item": item})
    tail = "response.completed" if final["status"] == "completed" else "response.incomplete"
    data.append({"type": tail, "response": final})
    return [(d["type"], {**d, "sequence_number": n}) for n, d in enumerate(data)]


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
    return [i for i, (name, _) in enumerate(stream) if name == "response.output_text.delta"]


# -- reading request bodies ---------------------------------------------------------


def _items(body: Any) -> list[Mapping[str, Any]]:
    """``input`` as items: a string is one user message."""
    items = body.get("input") if isinstance(body, Mapping) else None
    if isinstance(items, str):
        return [{"type": "message", "role": "user", "content": items}]
    if not isinstance(items, list):
        return []
    for item in items:
        if not isinstance(item, Mapping):
            raise AssertionError(f"an input item that is not an object: {item!r:.200}")
    return items


def _messages(body: Any, roles: Sequence[str]) -> list[Mapping[str, Any]]:
    """The message items (``type: "message"`` or no type) with one of ``roles``."""
    return [
        item
        for item in _items(body)
        if item.get("type", "message") == "message" and item.get("role") in roles
    ]


def _parts(message: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A message's content as parts (a string is one ``input_text`` part)."""
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "input_text", "text": content}]
    if not isinstance(content, list):
        return []
    for part in content:
        if not isinstance(part, Mapping):
            raise AssertionError(f"a content part that is not an object: {part!r:.200}")
    return content


def _texts(message: Mapping[str, Any]) -> list[str]:
    return [
        str(part.get("text", ""))
        for part in _parts(message)
        if part.get("type") in ("input_text", "output_text")
    ]


def _data_url(url: Any) -> tuple[str, bytes] | None:
    """``data:<type>;base64,<data>`` -> (type, bytes); None for any other value."""
    if not isinstance(url, str) or not url.startswith("data:"):
        return None
    head, _, payload = url[5:].partition(",")
    mime, _, encoding = head.partition(";")
    if encoding != "base64":
        raise AssertionError(f"a data URL that is not base64: {url[:60]!r}")
    try:
        return mime, base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise AssertionError(f"a data URL with invalid base64: {url[:60]!r}") from None


def _media_part(part: Mapping[str, Any]) -> Media | None:
    """One part of a user message as Media (None for text); see the API's input content."""
    kind = part.get("type")
    if kind == "input_text":
        return None
    if kind == "input_image":
        url = part.get("image_url")
        inline = _data_url(url)
        if inline is not None:
            if not inline[0].startswith("image/"):
                raise AssertionError(f"an input_image whose data is not an image: {part!r:.200}")
            return Media("image", inline[1], mime=inline[0])
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            return Media("image_url", url)
        raise AssertionError(
            "an input_image the conformance suite does not read (it reads image_url with an "
            f"http(s) or base64 data URL, not file_id): {part!r:.200}"
        )
    if kind == "input_file":
        data = _data_url(part.get("file_data"))
        filename = part.get("filename")
        if data is not None and data[0] == "application/pdf":
            return Media("pdf", data[1], filename=filename if isinstance(filename, str) else None)
        url = part.get("file_url")
        if data is None and isinstance(url, str) and url.startswith(("http://", "https://")):
            return Media("pdf_url", url)
        raise AssertionError(
            "an input_file the conformance suite does not read (it reads file_data "
            "'data:application/pdf;base64,...' with a filename, or an http(s) file_url; not "
            f"file_id): {part!r:.200}"
        )
    raise AssertionError(f"a user message part of unknown type {kind!r}: {part!r:.200}")


def _arguments(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _output_text(item: Mapping[str, Any]) -> str:
    """A ``function_call_output``'s text: a string, or its ``input_text`` parts joined."""
    output = item.get("output")
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        return "".join(
            str(part.get("text", ""))
            for part in output
            if isinstance(part, Mapping) and part.get("type") == "input_text"
        )
    raise AssertionError(f"a function_call_output whose output is not text: {item!r:.200}")


class OpenAIResponsesFake:
    """The OpenAI Responses half of the conformance suite."""

    name = "openai-responses"
    #: params() fields the protocol sends as something other than their value:
    #: ``log_probs=True`` is an ``include`` entry (the check finds this instead).
    param_markers: ClassVar[dict[str, str]] = {"log_probs": "message.output_text.logprobs"}

    def answer(self, answer: Answer) -> Reply:
        """The answer as one ``response`` object."""
        return Reply.json(response(answer), headers={"x-request-id": _REQUEST_ID})

    def stream(self, answer: Answer, cuts: Sequence[int] = ()) -> Reply:
        """The answer as an event stream, its bytes split into HTTP chunks at ``cuts``."""
        return Reply.sse(_split(sse_bytes(answer), cuts), headers={"x-request-id": _REQUEST_ID})

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
            headers={"x-request-id": _REQUEST_ID},
            delay=seconds,
        )

    def malformed(self, *, stream: bool) -> Reply:
        """A 200 answer with JSON that ends too soon (streamed: after a good response.created)."""
        if stream:
            good = events(Answer())[0]
            bad = (
                b"event: response.output_item.added\n"
                b'data: {"type": "response.output_item.added", "ite\n\n'
            )
            return Reply.sse([sse_event(*good), bad])
        return Reply.raw(200, b'{"id": "resp_conformance", "output": [', "application/json")

    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
        """``{"error": {"message", "type", "param", "code"}}``, with an ``x-request-id``."""
        doc = {
            "error": {
                "message": message,
                "type": error_type(status),
                "param": None,
                "code": _ERROR_CODES.get(status),
            }
        }
        return Reply.json(
            doc, status=status, headers={"x-request-id": _REQUEST_ID, **(headers or {})}
        )

    def expected_tokens(self, usage: Usage) -> tuple[int, int, int]:
        """OpenAI counts cached tokens inside ``input_tokens``; a Turn reports them apart."""
        sent = _usage(usage)
        cached = sent["input_tokens_details"]["cached_tokens"]
        return sent["input_tokens"] - cached, sent["output_tokens"], cached

    def system_prompt(self, body: Any) -> str | None:
        """``instructions``, and the text of every ``system`` / ``developer`` message, joined."""
        instructions = body.get("instructions") if isinstance(body, Mapping) else None
        if instructions is not None and not isinstance(instructions, str):
            raise AssertionError(f"instructions must be a string: {instructions!r:.200}")
        texts = [instructions] if instructions else []
        for message in _messages(body, ("system", "developer")):
            texts += _texts(message)
        return "".join(texts) or None

    def user_text(self, body: Any) -> str:
        """The ``input_text`` parts (or string content) of every user message, joined.

        ``input`` given as a string is one user message.
        """
        return "".join(text for m in _messages(body, ("user",)) for text in _texts(m))

    def media(self, body: Any) -> list[Media]:
        """The ``input_image`` and ``input_file`` parts of the user messages, in order.

        ``input_image`` with an http(s) ``image_url`` -> ``Media("image_url",
        url)``, with a base64 data URL -> ``Media("image", bytes, mime)``;
        ``input_file`` with ``file_data`` ``data:application/pdf;base64,...``
        -> ``Media("pdf", bytes, filename=<its filename>)``, with an http(s)
        ``file_url`` -> ``Media("pdf_url", url)``. ``file_id`` references,
        other files and part types other than ``input_text`` raise
        AssertionError.
        """
        return [
            media
            for message in _messages(body, ("user",))
            for part in _parts(message)
            if (media := _media_part(part)) is not None
        ]

    def tools_offered(self, body: Any) -> dict[str, dict[str, Any]]:
        """``tools`` of type ``function``: ``{type, name, description, parameters, strict}``.

        Built-in tools (``web_search``, ``file_search``, ``code_interpreter``,
        ...) are OpenAI's, not the user's: skipped.
        """
        tools = body.get("tools") if isinstance(body, Mapping) else None
        out: dict[str, dict[str, Any]] = {}
        for item in tools if isinstance(tools, list) else []:
            if not isinstance(item, Mapping):
                raise AssertionError(f"a tool that is not an object: {item!r:.200}")
            if item.get("type") != "function":
                continue
            name = item.get("name")
            if not isinstance(name, str) or "function" in item:
                raise AssertionError(
                    "a function tool must be {'type': 'function', 'name': ..., 'parameters': "
                    f"...}} (not the chat-completions nesting): {item!r:.200}"
                )
            out[name] = {
                "description": item.get("description"),
                "parameters": item.get("parameters"),
            }
        return out

    def tool_calls_sent(self, body: Any) -> list[ToolCall]:
        """The ``function_call`` input items: (call_id, name, arguments parsed from JSON)."""
        return [
            ToolCall(
                id=str(item.get("call_id")),
                name=str(item.get("name")),
                arguments=_arguments(item.get("arguments")),
            )
            for item in _items(body)
            if item.get("type") == "function_call"
        ]

    def tool_results_sent(self, body: Any) -> list[tuple[str, str]]:
        """The ``function_call_output`` input items: (call_id, output text)."""
        return [
            (str(item.get("call_id")), _output_text(item))
            for item in _items(body)
            if item.get("type") == "function_call_output"
        ]

    def structured_schema(self, body: Any) -> Any:
        """``text.format``: ``{"type": "json_schema", "name": ..., "schema": S, "strict": ...}``.

        No ``text.format``, or ``{"type": "text"}``, asks for none. ``json_object``
        (no schema), a ``json_schema`` format without a name or schema, and the
        chat-completions ``response_format`` raise AssertionError.
        """
        if not isinstance(body, Mapping):
            return None
        if "response_format" in body:
            raise AssertionError(
                "response_format is the chat-completions parameter; the Responses API takes "
                "text: {'format': {'type': 'json_schema', 'name': ..., 'schema': ...}}"
            )
        text = body.get("text")
        if text is None:
            return None
        fmt = text.get("format") if isinstance(text, Mapping) else None
        if fmt is None or (isinstance(fmt, Mapping) and fmt.get("type") == "text"):
            return None
        if (
            not isinstance(fmt, Mapping)
            or fmt.get("type") != "json_schema"
            or not isinstance(fmt.get("name"), str)
            or not fmt.get("name")
            or not isinstance(fmt.get("schema"), Mapping)
        ):
            raise AssertionError(
                "text.format must be {'type': 'json_schema', 'name': ..., 'schema': {...}, "
                f"'strict': ...}}, not {fmt!r:.300}"
            )
        return fmt["schema"]

    def needs_wrapper(self, schema: Any) -> bool:
        """``text.format`` takes object schemas only: anything else is wrapped."""
        return not (isinstance(schema, Mapping) and schema.get("type") == "object")


FAKE = OpenAIResponsesFake()
