"""Scripted answers for the OpenAI chat-completions protocol (``"openai-chat"``).

``completion()`` builds a non-streamed ``chat.completion`` document and
``chunks()`` the equivalent list of ``chat.completion.chunk`` documents (role,
reasoning, text, tool-call deltas, the finish reason, then usage), so the
same answer can be served both ways. The readers (``media()``,
``tools_offered()``, ``tool_calls_sent()``, ``tool_results_sent()``,
``structured_schema()``) say what a request body carries, following the
OpenAI API reference rather than ellmer-py's own encoder. ``FAKE`` is this
protocol's :class:`~ellmer_py.conformance._protocol.ProtocolFake`.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
from collections.abc import Mapping, Sequence
from typing import Any

from ._protocol import Answer, Media, ToolCall, Usage
from .fake_server import Reply, sse_data

__all__ = ["FAKE", "OpenAIChatFake", "chunks", "completion", "sse_bytes"]

_ID = "chatcmpl-conformance"
_MODEL = "conformance-model"
_CREATED = 1700000000


def _usage(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.input,
        "completion_tokens": usage.output,
        "total_tokens": usage.input + usage.output,
        "prompt_tokens_details": {"cached_tokens": usage.cached},
    }


def completion(answer: Answer) -> dict[str, Any]:
    """The non-streamed ``chat.completion`` document for ``answer``."""
    message: dict[str, Any] = {"role": "assistant", "content": answer.text}
    if answer.thinking:
        message["reasoning_content"] = answer.thinking
    if answer.tool_calls:
        message["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments_text},
            }
            for call in answer.tool_calls
        ]
    return {
        "id": _ID,
        "object": "chat.completion",
        "created": _CREATED,
        "model": _MODEL,
        "choices": [{"index": 0, "message": message, "finish_reason": answer.finish_reason}],
        "usage": _usage(answer.usage),
    }


def _chunk(delta: Mapping[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {
        "id": _ID,
        "object": "chat.completion.chunk",
        "created": _CREATED,
        "model": _MODEL,
        "choices": [{"index": 0, "delta": dict(delta), "finish_reason": finish_reason}],
    }


def chunks(answer: Answer) -> list[dict[str, Any]]:
    """The ``chat.completion.chunk`` documents that stream ``answer``, usage last."""
    out = [_chunk({"role": "assistant", "content": ""})]
    out += [_chunk({"reasoning_content": piece}) for piece in answer.thinking_pieces]
    out += [_chunk({"content": piece}) for piece in answer.text_pieces]
    for index, call in enumerate(answer.tool_calls):
        # OpenAI's shape: the id and name once, then argument fragments by index
        pieces = call.argument_pieces
        function = {"name": call.name, "arguments": pieces[0]}
        head = {"index": index, "id": call.id, "type": "function", "function": function}
        out.append(_chunk({"tool_calls": [head]}))
        out += [
            _chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
            for piece in pieces[1:]
        ]
    out.append(_chunk({}, answer.finish_reason))
    usage = _chunk({})
    usage["choices"] = []
    usage["usage"] = _usage(answer.usage)
    out.append(usage)
    return out


def sse_bytes(answer: Answer) -> bytes:
    """The whole event stream for ``answer``: one event per chunk, then ``[DONE]``."""
    return b"".join([*(sse_data(c) for c in chunks(answer)), sse_data("[DONE]")])


def _split(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    points = sorted({c for c in cuts if 0 < c < len(data)})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges) if b > a]


def _messages(body: Any) -> list[Mapping[str, Any]]:
    messages = body.get("messages") if isinstance(body, Mapping) else None
    if not isinstance(messages, list):
        return []
    return [m for m in messages if isinstance(m, Mapping)]


def _data_url(url: Any) -> tuple[str, bytes] | None:
    """``data:<type>;base64,<data>`` -> (type, bytes); None for any other URL."""
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
    """One part of a user message as Media (None for text); see OpenAI's content parts."""
    kind = part.get("type")
    if kind == "text":
        return None
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, Mapping) else None
        if not isinstance(url, str):
            raise AssertionError(f"an image_url part without a url: {part!r:.200}")
        inline = _data_url(url)
        if inline is None:
            return Media("image_url", url)
        return Media("image", inline[1], mime=inline[0])
    if kind == "file":
        file = part.get("file")
        data = _data_url(file.get("file_data")) if isinstance(file, Mapping) else None
        if not isinstance(file, Mapping) or data is None or data[0] != "application/pdf":
            raise AssertionError(
                "a file part must be {'file': {'filename': ..., 'file_data': "
                f"'data:application/pdf;base64,...'}}}}: {part!r:.200}"
            )
        return Media("pdf", data[1], filename=file.get("filename"))
    raise AssertionError(f"a user message part of unknown type {kind!r}: {part!r:.200}")


def _arguments(text: Any) -> Any:
    if not isinstance(text, str):
        return text  # an object, as old TGI sends it
    try:
        return json.loads(text)
    except ValueError:
        return text


class OpenAIChatFake:
    """The OpenAI chat-completions half of the conformance suite."""

    name = "openai-chat"

    def answer(self, answer: Answer) -> Reply:
        """The answer as one JSON document."""
        return Reply.json(completion(answer))

    def stream(self, answer: Answer, cuts: Sequence[int] = ()) -> Reply:
        """The answer as an event stream, its bytes split into HTTP chunks at ``cuts``."""
        return Reply.sse(_split(sse_bytes(answer), cuts))

    def cut_stream(self, answer: Answer) -> Reply:
        """The role and text events, then the connection closes mid-answer."""
        events = [sse_data(c) for c in chunks(answer)[: 1 + len(answer.text_pieces)]]
        return Reply.cut(*events)

    def stalled_stream(self, answer: Answer, seconds: float) -> Reply:
        """The role and first text event, then a pause of ``seconds``, then the rest."""
        events = [sse_data(c) for c in chunks(answer)] + [sse_data("[DONE]")]
        first = 1 + len(answer.thinking_pieces) + min(1, len(answer.text_pieces))
        return Reply.sse([b"".join(events[:first]), b"".join(events[first:])], delay=seconds)

    def malformed(self, *, stream: bool) -> Reply:
        """A 200 answer with JSON that ends too soon."""
        if stream:
            return Reply.sse([b'data: {"choices": [{"delta": {"content": "Hi"\n\n'])
        return Reply.raw(200, b'{"choices": [{"message": ', "application/json")

    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
        """An OpenAI-style error document: ``{"error": {"message", "type", "code"}}``."""
        doc = {"error": {"message": message, "type": "conformance_error", "code": status}}
        return Reply.json(doc, status=status, headers=headers)

    def expected_tokens(self, usage: Usage) -> tuple[int, int, int]:
        """OpenAI counts cached tokens inside ``prompt_tokens``; a Turn reports them apart."""
        return usage.input - usage.cached, usage.output, usage.cached

    def system_prompt(self, body: Any) -> str | None:
        """The content of a leading ``{"role": "system"}`` message."""
        messages = body.get("messages") if isinstance(body, Mapping) else None
        if not isinstance(messages, list) or not messages:
            return None
        first = messages[0]
        if not isinstance(first, Mapping) or first.get("role") != "system":
            return None
        content = first.get("content")
        if isinstance(content, list):  # a list of text parts is allowed too
            return "".join(p.get("text", "") for p in content if isinstance(p, Mapping)) or None
        return content if isinstance(content, str) else None

    def user_text(self, body: Any) -> str:
        """The text of every user message, joined."""
        messages = body.get("messages") if isinstance(body, Mapping) else None
        out = []
        for message in messages if isinstance(messages, list) else []:
            if isinstance(message, Mapping) and message.get("role") == "user":
                content = message.get("content")
                if isinstance(content, str):
                    out.append(content)
                elif isinstance(content, list):
                    out += [str(p.get("text", "")) for p in content if isinstance(p, Mapping)]
        return "".join(out)

    def media(self, body: Any) -> list[Media]:
        """Every image_url and file part of the user messages, in order."""
        out: list[Media] = []
        for message in _messages(body):
            content = message.get("content")
            if message.get("role") != "user" or not isinstance(content, list):
                continue
            for part in content:
                if not isinstance(part, Mapping):
                    raise AssertionError(f"a user message part that is not an object: {part!r}")
                media = _media_part(part)
                if media is not None:
                    out.append(media)
        return out

    def tools_offered(self, body: Any) -> dict[str, dict[str, Any]]:
        """``tools``: ``[{"type": "function", "function": {name, description, parameters}}]``."""
        tools = body.get("tools") if isinstance(body, Mapping) else None
        out: dict[str, dict[str, Any]] = {}
        for item in tools if isinstance(tools, list) else []:
            function = item.get("function") if isinstance(item, Mapping) else None
            if not isinstance(function, Mapping) or item.get("type") != "function":
                raise AssertionError(f"a tool that is not a function definition: {item!r:.200}")
            out[str(function.get("name"))] = {
                "description": function.get("description"),
                "parameters": function.get("parameters"),
            }
        return out

    def tool_calls_sent(self, body: Any) -> list[ToolCall]:
        """The ``tool_calls`` of the assistant messages, arguments parsed from JSON text."""
        out = []
        for message in _messages(body):
            calls = message.get("tool_calls") if message.get("role") == "assistant" else None
            for call in calls if isinstance(calls, list) else []:
                function = call.get("function") if isinstance(call, Mapping) else None
                if not isinstance(function, Mapping):
                    raise AssertionError(f"a tool call without a function: {call!r:.200}")
                out.append(
                    ToolCall(
                        id=str(call.get("id")),
                        name=str(function.get("name")),
                        arguments=_arguments(function.get("arguments")),
                    )
                )
        return out

    def tool_results_sent(self, body: Any) -> list[tuple[str, str]]:
        """The ``{"role": "tool", "tool_call_id": ..., "content": ...}`` messages."""
        out = []
        for message in _messages(body):
            if message.get("role") == "tool":
                content = message.get("content")
                if isinstance(content, list):  # text parts are allowed too
                    content = "".join(
                        str(p.get("text", "")) for p in content if isinstance(p, Mapping)
                    )
                out.append((str(message.get("tool_call_id")), str(content)))
        return out

    def structured_schema(self, body: Any) -> Any:
        """``response_format: {"type": "json_schema", "json_schema": {name, schema, strict}}``."""
        fmt = body.get("response_format") if isinstance(body, Mapping) else None
        if fmt is None:
            return None
        spec = fmt.get("json_schema") if isinstance(fmt, Mapping) else None
        if (
            not isinstance(spec, Mapping)
            or fmt.get("type") != "json_schema"
            or not isinstance(spec.get("name"), str)
            or not spec.get("name")
            or not isinstance(spec.get("schema"), Mapping)
        ):
            raise AssertionError(
                "response_format must be {'type': 'json_schema', 'json_schema': {'name': ..., "
                f"'schema': {{...}}, 'strict': ...}}}}, not {fmt!r:.300}"
            )
        return spec["schema"]

    def needs_wrapper(self, schema: Any) -> bool:
        """OpenAI takes object schemas only: anything else is wrapped."""
        return not (isinstance(schema, Mapping) and schema.get("type") == "object")


FAKE = OpenAIChatFake()
