"""A loopback TCP server for tests where HTTP itself must misbehave.

Each accepted connection runs ``handler(conn, server)`` in a daemon thread.
Handlers write raw bytes (trickled heads, a keep-alive answer followed by a
close, a corrupt gzip body, ...) with the helpers below; every loop is
bounded and ends when :meth:`RawServer.stop` is called, so a test never
hangs on its server.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from typing import Any

Handler = Callable[[socket.socket, "RawServer"], None]


class RawServer:
    """A server on 127.0.0.1 running ``handler`` for each connection; a context manager."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.stopping = threading.Event()
        self.requests: list[bytes] = []  # the request heads read by read_request()
        self.connections = 0
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self._listener.settimeout(0.1)
        self.port = int(self._listener.getsockname()[1])
        self._accepter = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> RawServer:
        self._accepter.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def stop(self) -> None:
        self.stopping.set()
        self._accepter.join(5)
        self._listener.close()
        with self._lock:
            conns, threads = list(self._conns), list(self._threads)
        for conn in conns:
            close(conn)
        for thread in threads:
            thread.join(5)

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            conn.settimeout(10)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            with self._lock:
                self.connections += 1
                self._conns.append(conn)
                self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            self.handler(conn, self)
        close(conn)

    def read_request(self, conn: socket.socket) -> bytes | None:
        """Read one request (head and Content-Length body); None if the client closed first."""
        data = b""
        while b"\r\n\r\n" not in data:
            piece = conn.recv(65536)
            if not piece:
                return None
            data += piece
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            piece = conn.recv(65536)
            if not piece:
                return None
            body += piece
        with self._lock:
            self.requests.append(head)
        return head

    def trickle(self, conn: socket.socket, data: bytes, every: float) -> bool:
        """Send ``data`` one byte at a time, ``every`` seconds apart; False once stopped."""
        for i in range(len(data)):
            if self.stopping.wait(every):
                return False
            conn.sendall(data[i : i + 1])
        return True


def close(conn: socket.socket) -> None:
    """Close a socket at once (any blocked reader sees the end)."""
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        conn.close()


def head(status: str = "200 OK", **headers: str | int) -> bytes:
    """A response head: ``head("200 OK", Content_Length=2)`` (``_`` becomes ``-``)."""
    lines = [f"HTTP/1.1 {status}"] + [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
