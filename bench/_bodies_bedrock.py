"""What the bench server sends for AWS Bedrock Converse, built once.

``converse`` is the JSON of ``POST /model/{modelId}/converse``;
``converse_stream`` is the body of ``.../converse-stream``: AWS event-stream
frames (``application/vnd.amazon.eventstream``), made with ellmer-py's
``encode_message`` and sent as ``Transfer-Encoding: chunked`` with one HTTP
chunk per frame, as for the SSE streams in ``_bodies``.  Shapes follow the
real recording ``/work/shared/fixtures/native/aws_bedrock/pydantic-ai/
test_bedrock_model_stream.json``, including the ``"p"`` padding field
Bedrock adds to every event payload (its length varies from event to event).
"""

from __future__ import annotations

from _bodies import dumps
from _wire import REPLY, token

from ellmer_py._eventstream import encode_message

__all__ = ["converse", "converse_stream"]

_PAD = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_LATENCY_MS = 268


def _pad(i: int) -> str:
    """Bedrock's ``p`` padding: a deterministic stand-in for its random length."""
    return _PAD[: 2 + (i * 37) % (len(_PAD) - 1)]


def _usage(output_tokens: int) -> dict[str, int]:
    return {"inputTokens": 9, "outputTokens": output_tokens, "totalTokens": 9 + output_tokens}


def converse() -> bytes:
    """``POST /model/{modelId}/converse``: one text block, ``end_turn``, usage, metrics."""
    return dumps(
        {
            "metrics": {"latencyMs": _LATENCY_MS},
            "output": {"message": {"content": [{"text": REPLY}], "role": "assistant"}},
            "stopReason": "end_turn",
            "usage": _usage(9),
        }
    )


def _frame(event_type: str, payload: dict[str, object]) -> bytes:
    headers = {
        ":event-type": event_type,
        ":content-type": "application/json",
        ":message-type": "event",
    }
    frame = encode_message(headers, dumps(payload))
    # One HTTP chunk per event-stream frame.
    return b"%x\r\n%s\r\n" % (len(frame), frame)


def converse_stream(n: int) -> bytes:
    """``messageStart``, ``n`` one-token ``contentBlockDelta``, ``contentBlockStop``,
    ``messageStop`` (``end_turn``), ``metadata`` (usage and metrics)."""
    parts = [_frame("messageStart", {"p": _pad(0), "role": "assistant"})]
    parts.extend(
        _frame(
            "contentBlockDelta",
            {"contentBlockIndex": 0, "delta": {"text": token(i)}, "p": _pad(i + 1)},
        )
        for i in range(n)
    )
    parts.append(_frame("contentBlockStop", {"contentBlockIndex": 0, "p": _pad(n + 1)}))
    parts.append(_frame("messageStop", {"p": _pad(n + 2), "stopReason": "end_turn"}))
    metadata = {
        "metrics": {"latencyMs": _LATENCY_MS},
        "p": _pad(n + 3),
        "usage": {**_usage(n), "serverToolUsage": {}},
    }
    parts.append(_frame("metadata", metadata))
    parts.append(b"0\r\n\r\n")  # the last (empty) HTTP chunk
    return b"".join(parts)
