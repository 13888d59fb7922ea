"""A real loopback HTTP server that fakes an OpenAI-compatible API in tests.

The server binds ``127.0.0.1`` on a free port, serves from daemon threads and
answers every request, whatever its method and path, with the next queued
:class:`Reply` (or ``FakeServer.default`` when the queue is empty).  It
speaks HTTP/1.1 with keep-alive, so a client's connection pool really reuses
its connections; streamed replies use chunked transfer encoding and are
flushed item by item with Nagle's algorithm off, so a client sees the first
item long before the last.

Example::

    with FakeServer() as srv:
        srv.enqueue(Reply.json({"ok": True}))
        ...  # point the client at srv.base_url
        assert srv.requests[0].json == {...}

Nothing here ever touches the network beyond the loopback interface.
"""

from __future__ import annotations

import contextlib
import json as _json
import re
import socket
import socketserver
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

if TYPE_CHECKING:
    from types import TracebackType

__all__ = [
    "FakeServer",
    "RecordedRequest",
    "Reply",
    "Responder",
    "load_recording",
    "sse_data",
]

_NO_REPLY_MESSAGE = "fake server: no reply queued"
# Framing headers are always computed by the server; user values are ignored.
_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding"})
# Split a recorded event stream after each blank line, keeping the separators.
_SSE_EVENT_END = re.compile(r"(?<=\n\n)|(?<=\r\n\r\n)|(?<=\r\r)")


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake server received it.

    ``path`` includes the query string; ``headers`` has lower-cased names
    (repeated headers are joined with ``", "``); ``body`` is the raw body
    (chunked request bodies are decoded).  ``received_at`` is a
    ``time.monotonic()`` timestamp taken once the body was read, and
    ``connection`` numbers the TCP connections the server accepted (1, 2, ...)
    so tests can check that a client reused one.
    """

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float = field(default=0.0, compare=False)
    connection: int = field(default=0, compare=False)

    @property
    def json(self) -> Any:
        """The body parsed as JSON, or ``None`` if it is empty or not JSON."""
        if not self.body:
            return None
        try:
            return _json.loads(self.body)
        except ValueError:
            return None

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (undecodable bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Reply:
    """What the fake server sends back for one request.

    Build one with the class methods (:meth:`json`, :meth:`sse`, :meth:`raw`,
    :meth:`cut`, :meth:`drop`, :meth:`hang`, :meth:`from_recording`); the
    fields are public so ``dataclasses.replace`` can adjust one.

    ``mode`` says how the body is framed: ``"length"`` sends all ``chunks``
    joined, with ``Content-Length``; ``"chunked"`` sends each chunk as one
    HTTP chunk, flushed, waiting ``interval`` seconds before every chunk
    after the first; ``"cut"`` does the same but then closes the socket
    without the final zero-length chunk; ``"drop"`` reads the request and
    closes the connection without sending anything.  ``delay`` is waited
    before the status line is sent.
    """

    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    chunks: tuple[bytes, ...] = ()
    mode: Literal["length", "chunked", "cut", "drop"] = "length"
    delay: float = 0.0
    interval: float = 0.0

    @property
    def body(self) -> bytes:
        """All body chunks joined."""
        return b"".join(self.chunks)

    @classmethod
    def json(
        cls,
        obj: Any,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        *,
        delay: float = 0.0,
    ) -> Reply:
        """Answer with a JSON body (``application/json``) and ``Content-Length``.

        ``delay`` seconds are waited before anything is sent.
        """
        return cls(
            status=status,
            headers=_with_content_type("application/json", headers),
            chunks=(_json.dumps(obj).encode("utf-8"),),
            mode="length",
            delay=delay,
        )

    @classmethod
    def sse(
        cls,
        items: Iterable[bytes | str],
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        *,
        delay: float = 0.0,
        content_type: str = "text/event-stream",
    ) -> Reply:
        """Stream the items: each one written as one chunk and flushed as is.

        Items are sent verbatim (so include the ``data: `` prefix and the
        blank line; see :func:`sse_data`).  ``delay`` seconds are slept
        before each item after the first.  The stream ends with the
        zero-length chunk, so the connection stays reusable.
        """
        return cls(
            status=status,
            headers=_with_content_type(content_type, headers),
            chunks=tuple(_to_bytes(item) for item in items),
            mode="chunked",
            interval=delay,
        )

    @classmethod
    def raw(
        cls,
        status: int,
        body: bytes | str = b"",
        content_type: str | None = "text/plain; charset=utf-8",
        headers: Mapping[str, str] | None = None,
        *,
        delay: float = 0.0,
    ) -> Reply:
        """Any body, sent with ``Content-Length``.

        ``content_type=None`` sends no ``Content-Type`` header at all (unless
        ``headers`` has one).  A ``str`` body is encoded as UTF-8.
        """
        return cls(
            status=status,
            headers=_with_content_type(content_type, headers),
            chunks=(_to_bytes(body),),
            mode="length",
            delay=delay,
        )

    @classmethod
    def cut(
        cls,
        *items: bytes | str,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        content_type: str = "text/event-stream",
        delay: float = 0.0,
    ) -> Reply:
        """Start a stream and break it: headers, the items, then an abrupt close.

        Sends the status line and chunked headers, writes each item as one
        chunk (sleeping ``delay`` seconds before each item after the first),
        then shuts the socket down without the terminating zero-length
        chunk, so the client sees an incomplete body.
        """
        return cls(
            status=status,
            headers=_with_content_type(content_type, headers),
            chunks=tuple(_to_bytes(item) for item in items),
            mode="cut",
            interval=delay,
        )

    @classmethod
    def drop(cls, *, delay: float = 0.0) -> Reply:
        """Read the request, then close the connection without any response.

        Clients see this as a remote disconnect (a retryable connection
        error).
        """
        return cls(status=0, mode="drop", delay=delay)

    @classmethod
    def hang(cls, seconds: float) -> Reply:
        """Accept the request, sleep ``seconds``, then answer 200 ``{}``.

        Meant for client timeout tests; stopping the server ends the wait
        early and closes the connection without an answer.
        """
        return cls.json({}, delay=seconds)

    @classmethod
    def from_recording(
        cls,
        response: Mapping[str, Any],
        *,
        delay: float = 0.0,
    ) -> Reply:
        """Replay a recorded response from ``/work/shared/fixtures``.

        ``response`` is ``{"status": int, "headers": {...}, "body": str}``
        (a whole interaction ``{"request": ..., "response": ...}`` is also
        accepted).  A ``text/event-stream`` body is streamed chunked, one
        chunk per event, sleeping ``delay`` seconds between events; any
        other body is sent with ``Content-Length`` (after ``delay``).  The
        recorded headers are sent as they are, except framing headers.
        """
        if "status" not in response and isinstance(response.get("response"), Mapping):
            response = response["response"]
        status = int(response.get("status", 200))
        recorded_headers = response.get("headers") or {}
        headers = tuple((str(k), str(v)) for k, v in dict(recorded_headers).items())
        raw_body = response.get("body")
        if raw_body is None:
            body = b""
        elif isinstance(raw_body, (str, bytes)):
            body = _to_bytes(raw_body)
        else:  # a JSON value stored parsed
            body = _json.dumps(raw_body).encode("utf-8")
        content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
        if content_type.lower().startswith("text/event-stream"):
            text = body.decode("utf-8")
            events = [e.encode("utf-8") for e in _SSE_EVENT_END.split(text) if e]
            return cls(
                status=status,
                headers=headers,
                chunks=tuple(events),
                mode="chunked",
                interval=delay,
            )
        return cls(status=status, headers=headers, chunks=(body,), mode="length", delay=delay)


Responder: TypeAlias = Reply | Callable[[RecordedRequest], Reply]
"""A queued answer: a :class:`Reply`, or a function building one per request."""


def sse_data(obj: Any) -> bytes:
    """Format one server-sent event: ``data: <payload>`` and a blank line.

    A ``str`` payload is sent as is (``sse_data("[DONE]")``); anything else
    is JSON-encoded.
    """
    payload = obj if isinstance(obj, str) else _json.dumps(obj)
    return f"data: {payload}\n\n".encode()


def load_recording(path: str | Path, *, delay: float = 0.0) -> list[Reply]:
    """Load the replies of every interaction in a fixture file, in order."""
    data = _json.loads(Path(path).read_text(encoding="utf-8"))
    return [
        Reply.from_recording(interaction["response"], delay=delay)
        for interaction in data["interactions"]
    ]


def _to_bytes(value: bytes | str) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"expected bytes or str, got {type(value).__name__}")


def _with_content_type(
    content_type: str | None, headers: Mapping[str, str] | None
) -> tuple[tuple[str, str], ...]:
    extra = tuple((str(k), str(v)) for k, v in (headers or {}).items())
    if content_type is None or any(k.lower() == "content-type" for k, _ in extra):
        return extra
    return (("Content-Type", content_type), *extra)


class FakeServer:
    """A loopback HTTP server answering with queued :class:`Reply` objects.

    Use it as a context manager (``with FakeServer() as srv:``) or call
    :meth:`start` and :meth:`stop`.  Replies are consumed in order, one per
    request; when the queue is empty :attr:`default` answers, and without a
    default the server answers 500 ``{"error": "fake server: no reply
    queued"}``.  Every request is recorded in :attr:`requests`.
    """

    def __init__(self, *, default: Responder | None = None) -> None:
        """Create a stopped server; ``default`` answers when the queue is empty."""
        self.default: Responder | None = default
        self._cond = threading.Condition()
        self._queue: deque[Responder] = deque()
        self._requests: list[RecordedRequest] = []
        self._errors: list[BaseException] = []
        self._connections = 0
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> FakeServer:
        """Bind ``127.0.0.1`` on a free port and serve in a daemon thread."""
        if self._httpd is not None:
            raise RuntimeError("fake server already started")
        self._stopping.clear()
        httpd = _HTTPServer(self)
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"fake-server-{httpd.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every open connection and the listening socket.

        Pending delays (``Reply.hang``, slow streams) end at once, their
        connections closed without an answer.  Calling it twice is harmless.
        """
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        if thread is not None:
            thread.join()
        httpd.close_all_connections()
        httpd.server_close()
        httpd.join_handlers(timeout=2.0)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FakeServer:
        """Start the server (if not started) and return it."""
        if self._httpd is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        self.stop()

    # -- addresses ---------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        if self._httpd is None:
            raise RuntimeError("fake server is not running; use start() or `with`")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``, the OpenAI-style API root."""
        return f"{self.url}/v1"

    # -- replies -----------------------------------------------------------

    def enqueue(self, *replies: Responder) -> None:
        """Queue replies (or reply functions), answered in this order."""
        for reply in replies:
            if not isinstance(reply, Reply) and not callable(reply):
                raise TypeError(f"enqueue expects Reply or a callable, got {type(reply).__name__}")
        with self._cond:
            self._queue.extend(replies)

    @property
    def pending(self) -> int:
        """How many queued replies have not been used yet."""
        with self._cond:
            return len(self._queue)

    def reset(self) -> None:
        """Forget queued replies, recorded requests, errors and the default."""
        with self._cond:
            self._queue.clear()
            self._requests.clear()
            self._errors.clear()
            self.default = None

    # -- inspection --------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the requests received so far, in arrival order."""
        with self._cond:
            return list(self._requests)

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions raised while serving (reply functions, server bugs)."""
        with self._cond:
            return list(self._errors)

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until at least ``n`` requests arrived; return them all.

        Raises ``TimeoutError`` if fewer than ``n`` arrive within ``timeout``
        seconds.
        """
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._requests) >= n, timeout):
                raise TimeoutError(
                    f"fake server: expected {n} request(s) within {timeout}s, "
                    f"got {len(self._requests)}"
                )
            return list(self._requests)

    # -- used by the handler threads ----------------------------------------

    def _new_connection(self) -> int:
        with self._cond:
            self._connections += 1
            return self._connections

    def _record_error(self, exc: BaseException) -> None:
        with self._cond:
            self._errors.append(exc)

    def _reply_for(self, request: RecordedRequest) -> Reply:
        with self._cond:
            self._requests.append(request)
            self._cond.notify_all()
            responder = self._queue.popleft() if self._queue else self.default
        if responder is None:
            return Reply.json({"error": _NO_REPLY_MESSAGE}, status=500)
        if isinstance(responder, Reply):
            return responder
        try:
            reply = responder(request)
        except Exception as exc:  # reported in the reply and .errors
            self._record_error(exc)
            return Reply.json(
                {"error": f"fake server: reply function raised {type(exc).__name__}: {exc}"},
                status=500,
            )
        if not isinstance(reply, Reply):
            err = TypeError(
                f"fake server: reply function returned {type(reply).__name__}, not Reply"
            )
            self._record_error(err)
            return Reply.json({"error": str(err)}, status=500)
        return reply


class _HTTPServer(ThreadingHTTPServer):
    """The socket server behind :class:`FakeServer`; tracks its connections."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, fake: FakeServer) -> None:
        self.fake = fake
        self._conn_lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._handlers: list[threading.Thread] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup
        # that can take seconds; we know the name.
        socketserver.TCPServer.server_bind(self)
        self.server_name = "127.0.0.1"
        self.server_port = int(self.server_address[1])

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conn_lock:
            self._open.add(request)
            self._handlers = [t for t in self._handlers if t.is_alive()]
            thread = threading.Thread(
                target=self.process_request_thread,
                args=(request, client_address),
                name="fake-server-connection",
                daemon=True,
            )
            self._handlers.append(thread)
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        with self._conn_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if exc is None or isinstance(exc, (ConnectionError, TimeoutError)):
            return  # a client went away or timed out: not a server problem
        if self.fake._stopping.is_set() and isinstance(exc, OSError):
            return  # its socket was closed by stop()
        self.fake._record_error(exc)

    def close_all_connections(self) -> None:
        with self._conn_lock:
            conns = list(self._open)
        for conn in conns:
            _hard_close(conn)

    def join_handlers(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._conn_lock:
            handlers = list(self._handlers)
        for thread in handlers:
            thread.join(max(0.0, deadline - time.monotonic()))


def _hard_close(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    """Answers every method on every path with the fake server's next reply."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "ellmer-py-fake-server"
    connection_id = 0

    @property
    def _httpd(self) -> _HTTPServer:
        server = self.server
        assert isinstance(server, _HTTPServer)
        return server

    def setup(self) -> None:
        super().setup()
        self.connection_id = self._httpd.fake._new_connection()

    def __getattr__(self, name: str) -> Any:
        # BaseHTTPRequestHandler dispatches to do_<METHOD>: accept them all.
        if name.startswith("do_"):
            return self._handle_any
        raise AttributeError(name)

    def log_message(self, fmt: str, *args: Any) -> None:
        """Silence the default per-request logging to stderr."""

    # -- request -----------------------------------------------------------

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts: list[bytes] = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline(65537)  # CRLF after the chunk
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle_any(self) -> None:
        body = self._read_body()
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        request = RecordedRequest(
            method=self.command,
            path=self.path,
            headers=headers,
            body=body,
            received_at=time.monotonic(),
            connection=self.connection_id,
        )
        reply = self._httpd.fake._reply_for(request)
        try:
            self._send(reply)
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    # -- response ----------------------------------------------------------

    def _wait(self, seconds: float) -> bool:
        """Sleep; False if the server is stopping (the caller aborts)."""
        if seconds > 0:
            return not self._httpd.fake._stopping.wait(seconds)
        return not self._httpd.fake._stopping.is_set()

    def _abort(self) -> None:
        self.close_connection = True
        _hard_close(self.connection)

    def _send(self, reply: Reply) -> None:
        if not self._wait(reply.delay) or reply.mode == "drop":
            self._abort()
            return
        head_only = self.command == "HEAD"
        self.send_response(reply.status)
        for name, value in reply.headers:
            if name.lower() not in _FRAMING_HEADERS:
                self.send_header(name, value)
        if reply.mode == "length":
            body = reply.body
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head_only:
                self.wfile.write(body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if not head_only:
            self._send_chunks(reply)

    def _send_chunks(self, reply: Reply) -> None:
        for i, chunk in enumerate(reply.chunks):
            if i > 0 and not self._wait(reply.interval):
                self._abort()
                return
            if chunk:  # an empty chunk would end the body
                self.wfile.write(b"%X\r\n%b\r\n" % (len(chunk), chunk))
        if reply.mode == "cut":
            self._abort()
            return
        self.wfile.write(b"0\r\n\r\n")
