"""Loopback server for ``bench/run.py``: five chat APIs, every body precomputed.

Run it as a script; it binds ``127.0.0.1`` on a free port (or ``--port``),
prints ``PORT <n>`` on stdout once it listens, and serves until killed:

    python bench/_server.py --chunks 10000

It is a small asyncio HTTP/1.1 keep-alive server with every response built
once (by ``_bodies``) and cached, so that it is never the bottleneck: the
client under test does all the parsing work, the server only copies bytes to
a socket.  Every stream is ``Transfer-Encoding: chunked``, one HTTP chunk
per SSE event or event-stream frame (as a real server that flushes per
token does), and carries
the configured number of one-token content events; every non-streamed reply
is sent with ``Content-Length`` and carries ``_wire.REPLY``.

Routes (only ``POST``):

``/v1/chat/completions``
    OpenAI chat completions.  Without ``"stream": true`` in the JSON body:
    one ``chat.completion`` object with ``usage``.  With it: a role event,
    the one-token ``chat.completion.chunk`` events, a ``finish_reason``
    event, a usage event when the body asks for
    ``stream_options.include_usage``, then ``data: [DONE]``.

``/v1/messages``
    Anthropic's Messages API, shaped like the real recordings in
    ``/work/shared/fixtures/native/anthropic``.  Without ``"stream": true``:
    one ``message`` object (a single text block, ``end_turn``, ``usage``).
    With it: ``event:``/``data:`` SSE pairs: ``message_start``,
    ``content_block_start``, a ``ping`` (the real API sends one there too),
    the one-token ``content_block_delta`` / ``text_delta`` events,
    ``content_block_stop``, ``message_delta`` (``stop_reason`` and
    ``usage``), ``message_stop``.

``/v1/responses``
    OpenAI's Responses API, shaped like ``/work/shared/fixtures/native/openai``.
    Without ``"stream": true``: one completed ``response`` (one ``message``
    output item, ``usage``).  With it: named events ``response.created``,
    ``response.in_progress``, ``response.output_item.added``,
    ``response.content_part.added``, the one-token
    ``response.output_text.delta`` events, the ``*.done`` events and
    ``response.completed`` carrying the whole response; no ``[DONE]``.

``/v1beta/models/{model}:generateContent``, ``...:streamGenerateContent?alt=sse``
    Gemini, shaped like ``/work/shared/fixtures/native/google_gemini``: one
    ``GenerateContentResponse``; or (``alt=sse`` required) a stream whose
    every ``data:`` is a whole response carrying one token and the usage so
    far, then one with an empty text part and ``finishReason: STOP``.

``/model/{modelId}/converse``, ``/model/{modelId}/converse-stream``
    AWS Bedrock Converse, shaped like
    ``/work/shared/fixtures/native/aws_bedrock`` (``_bodies_bedrock``); the
    model id arrives percent-encoded (``%3A``) and any id is accepted, and
    SigV4 signatures are not checked.  ``converse``: one Converse document
    (one text block, ``end_turn``, ``usage``, ``metrics``).
    ``converse-stream``: AWS event-stream frames
    (``application/vnd.amazon.eventstream``), one HTTP chunk each:
    ``messageStart``, the one-token ``contentBlockDelta`` events,
    ``contentBlockStop``, ``messageStop``, ``metadata`` (usage).

``/chunks/<k>/...``
    Any of the above, but a stream carries ``k`` content events instead of
    the default.  ``run.py`` uses them for short warm-up streams.

Anything else gets a JSON 404.  The streamed tokens come from ``_wire``,
which the workers also import to check that a client consumed everything.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from collections.abc import Callable
from urllib.parse import unquote

import _bodies
import _bodies_bedrock
from _wire import MODEL

__all__ = ["main"]

_MAX_HEADER_BYTES = 64 * 1024

#: JSON-body routes: path -> reply kind, (non-streamed, streamed) by ``"stream": true``.
_JSON_ROUTES = {
    "/v1/chat/completions": ("completion", "chat_stream"),
    "/v1/messages": ("message", "message_stream"),
    "/v1/responses": ("response", "response_stream"),
}
#: Gemini's routes: the model and the method are in the path.
_GEMINI_PREFIX = "/v1beta/models/"
#: Bedrock's routes: ``/model/{modelId}/{action}``, action -> reply kind.
_BEDROCK_PREFIX = "/model/"
_BEDROCK_ACTIONS = {"converse": "converse", "converse-stream": "converse_stream"}


def _head(status: str, headers: list[tuple[str, str]], keep_alive: bool) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers)]
    lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


#: Per reply kind: its body builder (called with the cache key's arguments),
#: its Content-Type, and whether it is a chunked SSE stream.
_KINDS: dict[str, tuple[Callable[..., bytes], str, bool]] = {
    "completion": (_bodies.completion, "application/json", False),
    "chat_stream": (_bodies.chat_stream, "text/event-stream", True),
    "message": (_bodies.message, "application/json", False),
    "message_stream": (_bodies.message_stream, "text/event-stream; charset=utf-8", True),
    "response": (_bodies.response, "application/json", False),
    "response_stream": (_bodies.response_stream, "text/event-stream; charset=utf-8", True),
    "gemini": (_bodies.gemini, "application/json; charset=UTF-8", False),
    "gemini_stream": (_bodies.gemini_stream, "text/event-stream", True),
    "converse": (_bodies_bedrock.converse, "application/json", False),
    "converse_stream": (
        _bodies_bedrock.converse_stream,
        "application/vnd.amazon.eventstream",
        True,
    ),
}


class _Cache:
    """Precomputed full responses (head + body), keyed by what varies."""

    def __init__(self, default_chunks: int) -> None:
        self.default_chunks = default_chunks
        self._items: dict[tuple[object, ...], bytes] = {}

    def get(self, kind: str, args: tuple[object, ...], keep_alive: bool) -> bytes:
        """The whole response of ``kind`` (a ``_KINDS`` key) built from ``args``."""
        key = (kind, *args, keep_alive)
        hit = self._items.get(key)
        if hit is None:
            build, content_type, streamed = _KINDS[kind]
            body = build(*args)
            headers = [("Content-Type", content_type)]
            if streamed:
                headers += [("Cache-Control", "no-cache"), ("Transfer-Encoding", "chunked")]
            else:
                headers.append(("Content-Length", str(len(body))))
            hit = self._items[key] = _head("200 OK", headers, keep_alive) + body
        return hit

    @staticmethod
    def error(status: str, message: str, keep_alive: bool) -> bytes:
        body = _bodies.dumps({"error": {"message": message, "type": "invalid_request_error"}})
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
        path, _, query = target.partition("?")
        n = self._cache.default_chunks
        if path.startswith("/chunks/"):
            _, _, count, rest = (path + "/").split("/", 3)
            if not count.isdigit():
                return self._cache.error("404 Not Found", f"bad chunk count {count!r}", keep_alive)
            n, path = int(count), "/" + rest.rstrip("/")
        gemini = path.startswith(_GEMINI_PREFIX)
        bedrock = path.startswith(_BEDROCK_PREFIX)
        if method != "POST" or not (gemini or bedrock or path in _JSON_ROUTES):
            return self._cache.error("404 Not Found", f"no route {method} {path}", keep_alive)
        try:
            request = json.loads(body) if body else {}
        except ValueError:
            return self._cache.error("400 Bad Request", "body is not JSON", keep_alive)
        if gemini:
            return self._gemini(path[len(_GEMINI_PREFIX) :], query, n, keep_alive)
        if bedrock:
            return self._bedrock(path[len(_BEDROCK_PREFIX) :], n, keep_alive)
        model = str(request.get("model") or MODEL)
        stream = request.get("stream") is True
        kind = _JSON_ROUTES[path][stream]
        if kind == "chat_stream":
            options = request.get("stream_options") or {}
            include_usage = bool(options.get("include_usage"))
            return self._cache.get(kind, (model, n, include_usage), keep_alive)
        return self._cache.get(kind, (model, n) if stream else (model,), keep_alive)

    def _gemini(self, rest: str, query: str, n: int, keep_alive: bool) -> bytes:
        """``models/{model}:generateContent`` or ``:streamGenerateContent?alt=sse``."""
        name, _, action = rest.rpartition(":")
        model = unquote(name) or MODEL
        if action == "generateContent":
            return self._cache.get("gemini", (model,), keep_alive)
        if action != "streamGenerateContent":
            return self._cache.error("404 Not Found", f"no Gemini method {action!r}", keep_alive)
        if "alt=sse" not in query.split("&"):
            return self._cache.error("400 Bad Request", "only alt=sse streams", keep_alive)
        return self._cache.get("gemini_stream", (model, n), keep_alive)

    def _bedrock(self, rest: str, n: int, keep_alive: bool) -> bytes:
        """``model/{modelId}/converse`` or ``.../converse-stream`` (signature not checked)."""
        model, _, action = rest.rpartition("/")
        kind = _BEDROCK_ACTIONS.get(action)
        if not unquote(model) or "/" in model or kind is None:
            return self._cache.error("404 Not Found", f"no Bedrock route {rest!r}", keep_alive)
        return self._cache.get(kind, (n,) if kind == "converse_stream" else (), keep_alive)

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
    n = default_chunks
    for kind, args in [
        ("chat_stream", (MODEL, n, False)),
        ("chat_stream", (MODEL, n, True)),
        ("message_stream", (MODEL, n)),
        ("response_stream", (MODEL, n)),
        ("gemini_stream", (MODEL, n)),
        ("converse_stream", (n,)),
        ("completion", (MODEL,)),
        ("message", (MODEL,)),
        ("response", (MODEL,)),
        ("gemini", (MODEL,)),
        ("converse", ()),
    ]:
        cache.get(kind, args, keep_alive=True)
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
