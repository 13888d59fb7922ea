"""Loopback chat-completions and Messages server used by ``bench/run.py``.

Run it as a script; it binds ``127.0.0.1`` on a free port (or ``--port``),
prints ``PORT <n>`` on stdout once it listens, and serves until killed:

    python bench/_server.py --chunks 10000

It is a small asyncio HTTP/1.1 keep-alive server with every response body
precomputed and cached, so that it is never the bottleneck: the client under
test does all the parsing work, the server only copies bytes to a socket.

Routes (only ``POST``):

``/v1/chat/completions``
    Without ``"stream": true`` in the JSON body: one ``chat.completion``
    object with ``usage``, sent with ``Content-Length``.  With it: an SSE
    stream, sent with ``Transfer-Encoding: chunked`` (one HTTP chunk per SSE
    event, as a real server that flushes per token does): a role event, the
    configured number of one-token ``chat.completion.chunk`` events, a
    ``finish_reason`` event, a usage event when the body asks for
    ``stream_options.include_usage``, then ``data: [DONE]``.

``/v1/messages``
    Anthropic's Messages API, shaped like the real recordings in
    ``/work/shared/fixtures/native/anthropic``.  Without ``"stream": true``:
    one ``message`` object (a single text block, ``end_turn``, ``usage``).
    With it: ``event:``/``data:`` SSE pairs, one HTTP chunk each:
    ``message_start``, ``content_block_start``, a ``ping`` (the real API
    sends one there too), the configured number of one-token
    ``content_block_delta`` / ``text_delta`` events, ``content_block_stop``,
    ``message_delta`` (``stop_reason`` and ``usage``), ``message_stop``.

``/chunks/<k>/v1/chat/completions``, ``/chunks/<k>/v1/messages``
    The same, but a stream carries ``k`` content events instead of the
    default.  ``run.py`` uses them for short warm-up streams.

Anything else gets a JSON 404.  The streamed tokens come from ``_wire``,
which the workers also import to check that a client consumed everything.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json

from _wire import MODEL, REPLY, token

__all__ = ["main"]

_CREATED = 1_700_000_000
_ID = "chatcmpl-bench"
_MSG_ID = "msg_bench"
_MAX_HEADER_BYTES = 64 * 1024


def _dumps(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _completion_body(model: str) -> bytes:
    return _dumps(
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


def _stream_body(model: str, n: int, include_usage: bool) -> bytes:
    parts = [_sse_event(_dumps(_chunk(model, {"role": "assistant", "content": ""}, None)))]
    parts.extend(_sse_event(_dumps(_chunk(model, {"content": token(i)}, None))) for i in range(n))
    parts.append(_sse_event(_dumps(_chunk(model, {}, "stop"))))
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
        parts.append(_sse_event(_dumps(payload)))
    parts.append(_sse_event(b"[DONE]"))
    parts.append(b"0\r\n\r\n")
    return b"".join(parts)


def _message_body(model: str) -> bytes:
    return _dumps(
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


def _message_stream_body(model: str, n: int) -> bytes:
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
        _named_event(b"message_start", _dumps(start)),
        _named_event(b"content_block_start", _dumps(block_start)),
        _named_event(b"ping", _dumps({"type": "ping"})),
    ]
    parts.extend(
        _named_event(
            b"content_block_delta",
            _dumps(
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
        _named_event(b"content_block_stop", _dumps({"type": "content_block_stop", "index": 0}))
    )
    parts.append(_named_event(b"message_delta", _dumps(delta)))
    parts.append(_named_event(b"message_stop", _dumps({"type": "message_stop"})))
    parts.append(b"0\r\n\r\n")
    return b"".join(parts)


def _head(status: str, headers: list[tuple[str, str]], keep_alive: bool) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers)]
    lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class _Cache:
    """Precomputed full responses (head + body), keyed by what varies."""

    def __init__(self, default_chunks: int) -> None:
        self.default_chunks = default_chunks
        self._items: dict[tuple[object, ...], bytes] = {}

    def completion(self, model: str, keep_alive: bool) -> bytes:
        key = ("c", model, keep_alive)
        hit = self._items.get(key)
        if hit is None:
            body = _completion_body(model)
            headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            hit = self._items[key] = _head("200 OK", headers, keep_alive) + body
        return hit

    def stream(self, model: str, n: int, include_usage: bool, keep_alive: bool) -> bytes:
        key = ("s", model, n, include_usage, keep_alive)
        hit = self._items.get(key)
        if hit is None:
            headers = [
                ("Content-Type", "text/event-stream"),
                ("Cache-Control", "no-cache"),
                ("Transfer-Encoding", "chunked"),
            ]
            body = _stream_body(model, n, include_usage)
            hit = self._items[key] = _head("200 OK", headers, keep_alive) + body
        return hit

    def message(self, model: str, keep_alive: bool) -> bytes:
        key = ("m", model, keep_alive)
        hit = self._items.get(key)
        if hit is None:
            body = _message_body(model)
            headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            hit = self._items[key] = _head("200 OK", headers, keep_alive) + body
        return hit

    def message_stream(self, model: str, n: int, keep_alive: bool) -> bytes:
        key = ("ms", model, n, keep_alive)
        hit = self._items.get(key)
        if hit is None:
            headers = [
                ("Content-Type", "text/event-stream; charset=utf-8"),
                ("Cache-Control", "no-cache"),
                ("Transfer-Encoding", "chunked"),
            ]
            body = _message_stream_body(model, n)
            hit = self._items[key] = _head("200 OK", headers, keep_alive) + body
        return hit

    @staticmethod
    def error(status: str, message: str, keep_alive: bool) -> bytes:
        body = _dumps({"error": {"message": message, "type": "invalid_request_error"}})
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        return _head(status, headers, keep_alive) + body


def _dechunk(buf: bytearray, start: int) -> tuple[bytes, int] | None:
    """Decode a chunked request body starting at ``start``.

    Return ``(body, end)`` or ``None`` when more bytes are needed.
    """
    out = bytearray()
    pos = start
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(bytes(buf[pos:eol]).split(b";", 1)[0], 16)
        pos = eol + 2
        if size == 0:
            end = buf.find(b"\r\n\r\n", pos - 2)  # trailers end with a blank line
            return (bytes(out), end + 4) if end >= 0 else None
        if len(buf) < pos + size + 2:
            return None
        out += buf[pos : pos + size]
        pos += size + 2


class _Connection(asyncio.Protocol):
    """asyncio protocol for one keep-alive HTTP/1.1 connection."""

    def __init__(self, cache: _Cache) -> None:
        self._cache = cache
        self._buf = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def eof_received(self) -> bool:
        return False

    def data_received(self, data: bytes) -> None:
        self._buf += data
        while self._transport is not None and self._handle_one():
            pass

    def _handle_one(self) -> bool:
        """Serve one complete request from the buffer; False if incomplete."""
        buf = self._buf
        head_end = buf.find(b"\r\n\r\n")
        if head_end < 0:
            if len(buf) > _MAX_HEADER_BYTES:
                self._reply(
                    self._cache.error("431 Request Header Fields Too Large", "", False), False
                )
            return False
        lines = bytes(buf[:head_end]).decode("latin-1").split("\r\n")
        try:
            method, target, version = lines[0].split(" ", 2)
        except ValueError:
            self._reply(self._cache.error("400 Bad Request", "bad request line", False), False)
            return False
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body_start = head_end + 4
        if "chunked" in headers.get("transfer-encoding", "").lower():
            decoded = _dechunk(buf, body_start)
            if decoded is None:
                return False
            body, end = decoded
        else:
            end = body_start + int(headers.get("content-length", "0"))
            if len(buf) < end:
                return False
            body = bytes(buf[body_start:end])
        del buf[:end]

        connection = headers.get("connection", "").lower()
        keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
        self._reply(self._respond(method, target, body, keep_alive), keep_alive)
        return keep_alive

    def _respond(self, method: str, target: str, body: bytes, keep_alive: bool) -> bytes:
        path = target.split("?", 1)[0]
        n = self._cache.default_chunks
        if path.startswith("/chunks/"):
            _, _, count, rest = (path + "/").split("/", 3)
            if not count.isdigit():
                return self._cache.error("404 Not Found", f"bad chunk count {count!r}", keep_alive)
            n, path = int(count), "/" + rest.rstrip("/")
        if method != "POST" or path not in ("/v1/chat/completions", "/v1/messages"):
            return self._cache.error("404 Not Found", f"no route {method} {path}", keep_alive)
        try:
            request = json.loads(body) if body else {}
        except ValueError:
            return self._cache.error("400 Bad Request", "body is not JSON", keep_alive)
        model = str(request.get("model") or MODEL)
        if path == "/v1/messages":
            if request.get("stream") is True:
                return self._cache.message_stream(model, n, keep_alive)
            return self._cache.message(model, keep_alive)
        if request.get("stream") is True:
            options = request.get("stream_options") or {}
            include_usage = bool(options.get("include_usage"))
            return self._cache.stream(model, n, include_usage, keep_alive)
        return self._cache.completion(model, keep_alive)

    def _reply(self, data: bytes, keep_alive: bool) -> None:
        transport = self._transport
        if transport is None:
            return
        transport.write(data)
        if not keep_alive:
            transport.close()
            self._transport = None


async def _serve(host: str, port: int, default_chunks: int) -> None:
    cache = _Cache(default_chunks)
    # Build the big bodies now, not during the first client's timed stream.
    for include_usage in (False, True):
        cache.stream(MODEL, default_chunks, include_usage, keep_alive=True)
    cache.completion(MODEL, keep_alive=True)
    cache.message_stream(MODEL, default_chunks, keep_alive=True)
    cache.message(MODEL, keep_alive=True)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Connection(cache), host, port)
    bound = server.sockets[0].getsockname()[1]
    print(f"PORT {bound}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and serve until the process is terminated."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--chunks", type=int, default=10_000, help="content events per stream")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve("127.0.0.1", args.port, args.chunks))


if __name__ == "__main__":
    main()
