"""Scripted answers for the OpenAI chat-completions protocol (``"openai-chat"``).

``completion()`` builds a non-streamed ``chat.completion`` document and
``chunks()`` the equivalent list of ``chat.completion.chunk`` documents (role,
reasoning, text, tool-call deltas, the finish reason, then usage), so the
same answer can be served both ways. ``FAKE`` is this protocol's
:class:`~ellmer_py.conformance._protocol.ProtocolFake`.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from ._protocol import Answer, Usage
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
    if answer.tool_call is not None:
        call = answer.tool_call
        message["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": "".join(answer.arguments_pieces)},
            }
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
    if answer.tool_call is not None:
        call = answer.tool_call
        pieces = list(answer.arguments_pieces) or [""]
        function = {"name": call.name, "arguments": pieces[0]}
        head = {"index": 0, "id": call.id, "type": "function", "function": function}
        out.append(_chunk({"tool_calls": [head]}))
        out += [
            _chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
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


FAKE = OpenAIChatFake()
