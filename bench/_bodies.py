"""What the bench server sends, per API: every response body, built once.

``_server.py`` caches these bytes and only copies them to sockets.  Every
stream is ``Transfer-Encoding: chunked`` with one HTTP chunk per SSE event,
as a real server that flushes per token does, and carries ``n`` one-token
content events whose tokens come from ``_wire`` (which the workers use to
check the text).  Shapes follow the real recordings in
``/work/shared/fixtures/native``.
"""

from __future__ import annotations

import json

from _wire import REPLY, token

__all__ = [
    "chat_stream",
    "completion",
    "dumps",
    "gemini",
    "gemini_stream",
    "message",
    "message_stream",
    "response",
    "response_stream",
]

_CREATED = 1_700_000_000
_ID = "chatcmpl-bench"
_MSG_ID = "msg_bench"
_RESP_ID = "resp_bench"
_GEMINI_ID = "bench-response-id"
_END = b"0\r\n\r\n"  # the last (empty) HTTP chunk


# --- OpenAI chat completions and Anthropic Messages ----------------------------


def dumps(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def completion(model: str) -> bytes:
    return dumps(
        {
            "id": _ID,
            "object": "chat.completion",
            "created": _CREATED,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": REPLY},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 9, "completion_tokens": 9, "total_tokens": 18},
        }
    )


def _chunk(model: str, delta: dict[str, str], finish: str | None) -> dict[str, object]:
    return {
        "id": _ID,
        "object": "chat.completion.chunk",
        "created": _CREATED,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def _sse_event(payload: bytes) -> bytes:
    event = b"data: " + payload + b"\n\n"
    # One HTTP chunk per SSE event.
    return b"%x\r\n%s\r\n" % (len(event), event)


def chat_stream(model: str, n: int, include_usage: bool) -> bytes:
    parts = [_sse_event(dumps(_chunk(model, {"role": "assistant", "content": ""}, None)))]
    parts.extend(_sse_event(dumps(_chunk(model, {"content": token(i)}, None))) for i in range(n))
    parts.append(_sse_event(dumps(_chunk(model, {}, "stop"))))
    if include_usage:
        usage = {"prompt_tokens": 9, "completion_tokens": n, "total_tokens": 9 + n}
        payload = {
            "id": _ID,
            "object": "chat.completion.chunk",
            "created": _CREATED,
            "model": model,
            "choices": [],
            "usage": usage,
        }
        parts.append(_sse_event(dumps(payload)))
    parts.append(_sse_event(b"[DONE]"))
    parts.append(_END)
    return b"".join(parts)


def message(model: str) -> bytes:
    return dumps(
        {
            "id": _MSG_ID,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": REPLY}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 9, "output_tokens": 9},
        }
    )


def _named_event(name: bytes, payload: bytes) -> bytes:
    event = b"event: " + name + b"\ndata: " + payload + b"\n\n"
    # One HTTP chunk per SSE event, as for chat completions.
    return b"%x\r\n%s\r\n" % (len(event), event)


def message_stream(model: str, n: int) -> bytes:
    start = {
        "type": "message_start",
        "message": {
            "id": _MSG_ID,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 9, "output_tokens": 1},
        },
    }
    block_start = {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    }
    parts = [
        _named_event(b"message_start", dumps(start)),
        _named_event(b"content_block_start", dumps(block_start)),
        _named_event(b"ping", dumps({"type": "ping"})),
    ]
    parts.extend(
        _named_event(
            b"content_block_delta",
            dumps(
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": token(i)},
                }
            ),
        )
        for i in range(n)
    )
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"input_tokens": 9, "output_tokens": n},
    }
    parts.append(
        _named_event(b"content_block_stop", dumps({"type": "content_block_stop", "index": 0}))
    )
    parts.append(_named_event(b"message_delta", dumps(delta)))
    parts.append(_named_event(b"message_stop", dumps({"type": "message_stop"})))
    parts.append(_END)
    return b"".join(parts)


# --- OpenAI Responses ----------------------------------------------------------------


def _response_usage(output_tokens: int) -> dict[str, object]:
    return {
        "input_tokens": 9,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 9 + output_tokens,
    }


def _output_message(text: str | None) -> dict[str, object]:
    """The one output item: finished with ``text``, or just opened (``None``)."""
    item: dict[str, object] = {"id": _MSG_ID, "type": "message"}
    if text is None:
        item.update(status="in_progress", content=[])
    else:
        part = {"type": "output_text", "annotations": [], "logprobs": [], "text": text}
        item.update(status="completed", content=[part])
    item["role"] = "assistant"
    return item


def _response_doc(model: str, text: str | None, output_tokens: int) -> dict[str, object]:
    """A ``response`` object: in progress (``text`` None, no output) or completed."""
    done = text is not None
    return {
        "id": _RESP_ID,
        "object": "response",
        "created_at": _CREATED,
        "status": "completed" if done else "in_progress",
        "background": False,
        "completed_at": _CREATED if done else None,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "max_tool_calls": None,
        "model": model,
        "output": [_output_message(text)] if done else [],
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "prompt_cache_key": None,
        "reasoning": {"effort": None, "summary": None},
        "safety_identifier": None,
        "service_tier": "default",
        "store": False,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": [],
        "top_logprobs": 0,
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": _response_usage(output_tokens) if done else None,
        "user": None,
        "metadata": {},
    }


def response(model: str) -> bytes:
    """``POST /v1/responses`` without streaming: one completed ``response``."""
    return dumps(_response_doc(model, REPLY, 9))


def response_stream(model: str, n: int) -> bytes:
    """The Responses stream, named events as the real API sends them (no ``[DONE]``).

    ``response.created``, ``response.in_progress``, ``response.output_item.added``,
    ``response.content_part.added``, ``n`` one-token ``response.output_text.delta``,
    ``response.output_text.done``, ``response.content_part.done``,
    ``response.output_item.done``, ``response.completed`` (with the whole output).
    """
    text = "".join(token(i) for i in range(n))
    part = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
    where = {"item_id": _MSG_ID, "output_index": 0, "content_index": 0}
    head: list[tuple[str, dict[str, object]]] = [
        ("response.created", {"response": _response_doc(model, None, 0)}),
        ("response.in_progress", {"response": _response_doc(model, None, 0)}),
        ("response.output_item.added", {"output_index": 0, "item": _output_message(None)}),
        ("response.content_part.added", {**where, "part": part}),
    ]
    deltas = [
        ("response.output_text.delta", {**where, "delta": token(i), "logprobs": []})
        for i in range(n)
    ]
    tail: list[tuple[str, dict[str, object]]] = [
        ("response.output_text.done", {**where, "text": text, "logprobs": []}),
        ("response.content_part.done", {**where, "part": {**part, "text": text}}),
        ("response.output_item.done", {"output_index": 0, "item": _output_message(text)}),
        ("response.completed", {"response": _response_doc(model, text, n)}),
    ]
    parts = [
        _named_event(name.encode(), dumps({"type": name, **fields, "sequence_number": seq}))
        for seq, (name, fields) in enumerate([*head, *deltas, *tail])
    ]
    parts.append(_END)
    return b"".join(parts)


# --- Gemini ------------------------------------------------------------------------------


def _gemini_doc(
    model: str, text: str, finish: str | None, candidates_tokens: int
) -> dict[str, object]:
    """A ``GenerateContentResponse`` with one candidate and one text part."""
    candidate: dict[str, object] = {"content": {"parts": [{"text": text}], "role": "model"}}
    if finish is not None:
        candidate["finishReason"] = finish
    candidate["index"] = 0
    return {
        "candidates": [candidate],
        "usageMetadata": {
            "promptTokenCount": 9,
            "candidatesTokenCount": candidates_tokens,
            "totalTokenCount": 9 + candidates_tokens,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 9}],
        },
        "modelVersion": model,
        "responseId": _GEMINI_ID,
    }


def gemini(model: str) -> bytes:
    """``models/{model}:generateContent``: one response, ``finishReason: STOP``."""
    return dumps(_gemini_doc(model, REPLY, "STOP", 9))


def gemini_stream(model: str, n: int) -> bytes:
    """``:streamGenerateContent?alt=sse``: every ``data:`` a whole response.

    ``n`` responses carrying one token each (and the usage so far, as the
    real API sends), then one with an empty text part and ``finishReason``.
    """
    parts = [_sse_event(dumps(_gemini_doc(model, token(i), None, i + 1))) for i in range(n)]
    parts.append(_sse_event(dumps(_gemini_doc(model, "", "STOP", n))))
    parts.append(_END)
    return b"".join(parts)
