"""Request scopes: watch, throttle and cancel the HTTP requests made in a context.

urllib3 is synchronous, so ``chat_async()`` and ``parallel_chat()`` run
requests in worker threads. A :class:`RequestScope` made active in such a
thread (a context variable) sees every request the thread sends through a
provider's transport: before a connection is taken from the pool it may wait
for a rate limiter (``parallel_chat(rpm=)``) or refuse because the scope was
cancelled; after, it remembers the connection, so :meth:`RequestScope.cancel`
can shut its socket down from another thread. A read blocked on that socket
(waiting for the status line, or for the next piece of a stream) then ends
at once, instead of when the server next sends something.

The transport installs the pool classes of :func:`scoped_pool_classes` in its
``urllib3.PoolManager``; outside any scope they behave exactly like urllib3's.
"""

from __future__ import annotations

import contextlib
import functools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

from ._errors import TransportError

if TYPE_CHECKING:
    import urllib3

__all__ = ["RateLimiter", "RequestCancelled", "RequestScope", "scoped_pool_classes"]

_current: ContextVar[RequestScope | None] = ContextVar("ellmer_py_request_scope", default=None)


class RequestCancelled(TransportError):
    """A request was not sent, or was cut, because its scope was cancelled."""


class RateLimiter:
    """A token bucket: ``rpm`` requests a minute on average, bursts up to ``capacity``.

    The bucket starts full. :meth:`acquire` takes one token, waiting for it
    if needed; the wait ends early (returning False) when ``stop`` is set.
    """

    def __init__(
        self, rpm: float, capacity: float = 1.0, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if not rpm > 0:
            raise ValueError(f"rpm must be a positive number, not {rpm!r}")
        self.rate = rpm / 60.0
        self.capacity = max(1.0, float(capacity))
        self._clock = clock
        self._tokens = self.capacity
        self._updated = clock()
        self._lock = threading.Lock()

    def take(self) -> float:
        """Take a token if there is one (return 0.0), else return the seconds to wait."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return 0.0
            return (1.0 - self._tokens) / self.rate

    def acquire(self, stop: threading.Event | None = None) -> bool:
        """Wait for a token and take it; False if ``stop`` was set first."""
        while True:
            wait = self.take()
            if wait <= 0.0:
                return True
            if stop is None:
                time.sleep(wait)
            elif stop.wait(wait):
                return False


class RequestScope:
    """The requests made in one context: throttled by ``limiter``, cancelled together.

    Use :meth:`active` in the thread that makes the requests; call
    :meth:`cancel` from any thread.
    """

    def __init__(self, limiter: RateLimiter | None = None) -> None:
        self.limiter = limiter
        self.requests = 0  # requests that got past before_request()
        self._cancelled = threading.Event()
        self._refused = threading.Event()  # set by refuse() and cancel()
        self._lock = threading.Lock()
        self._connections: set[Any] = set()  # in use by this scope's requests

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._cancelled.is_set()

    @contextlib.contextmanager
    def active(self) -> Iterator[RequestScope]:
        """Make this the scope of the requests made in the ``with`` block (this context)."""
        token = _current.set(self)
        try:
            yield self
        finally:
            _current.reset(token)

    def before_request(self) -> None:
        """Called before a connection is taken: wait for the rate limit, or refuse."""
        if self.limiter is not None:
            self.limiter.acquire(self._refused)
        if self._refused.is_set():
            raise RequestCancelled("the request was cancelled before it was sent.")
        with self._lock:
            self.requests += 1

    def watch(self, conn: Any) -> None:
        """Remember a connection a request of this scope is about to use."""
        with self._lock:
            self._connections.add(conn)
            setattr(conn, _SCOPE_ATTR, self)
            if self._cancelled.is_set():
                _shutdown(conn)

    def forget(self, conn: Any) -> None:
        """A connection goes back to the pool: it is no longer this scope's to cut."""
        with self._lock:
            self._connections.discard(conn)
            setattr(conn, _SCOPE_ATTR, None)

    def refuse(self) -> None:
        """Send no new request (one waiting for the rate limit gives up); let others finish."""
        self._refused.set()

    def cancel(self) -> None:
        """Refuse new requests and shut down the sockets of the connections in use.

        Safe to call again (later calls shut down sockets connected since).
        Connections already back in the pool are never touched: another
        request may be using them.
        """
        self._refused.set()
        self._cancelled.set()
        with self._lock:
            for conn in self._connections:
                _shutdown(conn)


def _shutdown(conn: Any) -> None:
    """End any blocked read on a connection's socket, from any thread.

    ``socket.socket.shutdown`` is called on the plain socket even for TLS,
    so the SSL object another thread may be reading with is left alone.
    """
    sock = getattr(conn, "sock", None)
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


_SCOPE_ATTR = "_ellmer_py_scope"
_Conn = TypeVar("_Conn")


def _scoped_put_conn(conn: Any) -> None:
    scope = getattr(conn, _SCOPE_ATTR, None)
    if isinstance(scope, RequestScope):
        scope.forget(conn)


def _scoped_get_conn(get_conn: Callable[[float | None], _Conn], timeout: float | None) -> _Conn:
    scope = _current.get()
    if scope is None:
        return get_conn(timeout)
    scope.before_request()
    conn = get_conn(timeout)
    scope.watch(conn)
    return conn


@functools.cache
def scoped_pool_classes() -> dict[str, type[urllib3.HTTPConnectionPool]]:
    """urllib3 pool classes that tell the active :class:`RequestScope` of each request."""
    import urllib3

    class HTTPConnectionPool(urllib3.HTTPConnectionPool):
        def _get_conn(self, timeout: float | None = None) -> Any:
            return _scoped_get_conn(super()._get_conn, timeout)

        def _put_conn(self, conn: Any) -> None:
            _scoped_put_conn(conn)
            super()._put_conn(conn)

    class HTTPSConnectionPool(urllib3.HTTPSConnectionPool):
        def _get_conn(self, timeout: float | None = None) -> Any:
            return _scoped_get_conn(super()._get_conn, timeout)

        def _put_conn(self, conn: Any) -> None:
            _scoped_put_conn(conn)
            super()._put_conn(conn)

    return {"http": HTTPConnectionPool, "https": HTTPSConnectionPool}
