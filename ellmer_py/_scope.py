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
``urllib3.PoolManager``; outside any scope they behave like urllib3's, but
for two things: a pool is never full (it keeps as many idle connections as
were ever in use at once, so a connection that served a stream is never
thrown away), and the :class:`Deadline` current in the requesting context
(the transport's ``timeout_s``) sees each connection its request uses.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import queue
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

from ._errors import TransportError

if TYPE_CHECKING:
    import urllib3

__all__ = [
    "Deadline",
    "RateLimiter",
    "RequestCancelled",
    "RequestScope",
    "current_deadline",
    "pause",
    "scoped_pool_classes",
    "timed",
]

_current: ContextVar[RequestScope | None] = ContextVar("ellmer_py_request_scope", default=None)
_deadline: ContextVar[Deadline | None] = ContextVar("ellmer_py_deadline", default=None)
#: [True] until the first request of a block entered with ``active(in_flight=True)``
_first: ContextVar[list[bool] | None] = ContextVar("ellmer_py_first_request", default=None)


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
    def active(self, *, in_flight: bool = False) -> Iterator[RequestScope]:
        """Make this the scope of the requests made in the ``with`` block (this context).

        ``in_flight``: the block's first request counts as sent already:
        :meth:`refuse` does not stop it (:meth:`cancel` does); the requests
        after it (tool rounds, retries) are new ones.
        """
        token = _current.set(self)
        first = _first.set([True] if in_flight else None)
        try:
            yield self
        finally:
            _first.reset(first)
            _current.reset(token)

    def before_request(self) -> None:
        """Called before a connection is taken: wait for the rate limit, or refuse."""
        first = _first.get()
        stop = self._cancelled if first else self._refused
        if first:
            first.clear()
        if self.limiter is not None:
            self.limiter.acquire(stop)
        if stop.is_set():
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

    def wait(self, seconds: float) -> None:
        """Sleep before a retry; ends early when the scope refuses new requests."""
        self._refused.wait(seconds)

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


def pause(seconds: float) -> None:
    """Sleep before a retry; in a scope, wake up early when it refuses new requests."""
    scope = _current.get()
    if scope is None:
        time.sleep(seconds)
    else:
        scope.wait(seconds)


# -- deadlines -----------------------------------------------------------------------


class Deadline:
    """The time limit of one call, enforced on the connections it uses.

    The transport makes one per call and makes it current (:meth:`active`)
    while urllib3 sends the request: each connection the call takes from a
    pool is attached, and :attr:`reused` says whether it had served an
    earlier request. Each try starts the clock (``what``: ``"answer"`` for a
    whole non-streamed answer, ``"start"`` for the head of a stream);
    :meth:`start` and :meth:`stop` run it again later (between the pieces of
    a stream). When the time is up, the sockets of the attached connections
    are shut down, so a read blocked on one ends at once, and :attr:`expired`
    names the limit that passed. A connection is detached before it goes
    back to its pool: the watchdog never touches a connection another
    request may be using.
    """

    def __init__(self, seconds: float, what: str) -> None:
        self.seconds = seconds
        self.what = what
        self.expired: str | None = None
        self.reused = False
        self.stale_retried = False  # one free retry on a reused connection was used
        self._try_what = what
        self._at: float | None = None
        self._conns: set[Any] = set()
        self._watched = False

    @contextlib.contextmanager
    def active(self) -> Iterator[Deadline]:
        """Make this the deadline of the requests sent in the ``with`` block (this context)."""
        token = _deadline.set(self)
        try:
            yield self
        finally:
            _deadline.reset(token)

    def start(self, what: str, seconds: float | None = None) -> None:
        """Run the clock: ``seconds`` (default: the call's) from now, for ``what``."""
        at = time.monotonic() + (self.seconds if seconds is None else seconds)
        with _WATCHDOG.cond:
            self.what, self._at, self.expired = what, at, None
            _WATCHDOG.watch(self, at)

    def stop(self) -> None:
        """Stop the clock (until the next :meth:`start` or the next try)."""
        with _WATCHDOG.cond:
            self._at = None

    def attach(self, conn: Any) -> None:
        """A try of the call takes ``conn``: note whether it is reused, run the clock."""
        at = time.monotonic() + self.seconds
        with _WATCHDOG.cond:
            self.reused = getattr(conn, "sock", None) is not None
            self._conns.add(conn)
            setattr(conn, _DEADLINE_ATTR, self)
            self.what, self._at, self.expired = self._try_what, at, None
            _WATCHDOG.watch(self, at)

    def detach(self, conn: Any) -> None:
        """``conn`` goes back to its pool (or is dropped): never cut it from now on."""
        with _WATCHDOG.cond:
            self._conns.discard(conn)
            setattr(conn, _DEADLINE_ATTR, None)

    def end(self) -> None:
        """The call is over: stop the clock and let go of its connections."""
        with _WATCHDOG.cond:
            self._at = None
            for conn in self._conns:
                setattr(conn, _DEADLINE_ATTR, None)
            self._conns.clear()
            _WATCHDOG.deadlines.discard(self)
            self._watched = False

    def _expire(self) -> None:  # the watchdog, holding its lock
        self.expired, self._at = self.what, None
        for conn in self._conns:
            _shutdown(conn)


class _Watchdog:
    """One daemon thread that cuts the connections of the deadlines that pass."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.deadlines: weakref.WeakSet[Deadline] = weakref.WeakSet()
        self._thread: threading.Thread | None = None
        self._wake = math.inf  # when the thread wakes up next

    def watch(self, deadline: Deadline, at: float) -> None:
        """Watch ``deadline`` (running until ``at``); the caller holds :attr:`cond`."""
        if not deadline._watched:
            self.deadlines.add(deadline)
            deadline._watched = True
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._run, name="ellmer-py-deadlines", daemon=True
            )
            self._thread.start()
        if at < self._wake:
            self.cond.notify()

    def _run(self) -> None:
        with self.cond:
            while True:
                now = time.monotonic()
                wake = math.inf
                for deadline in list(self.deadlines):
                    at = deadline._at
                    if at is None:
                        continue
                    if at <= now:
                        deadline._expire()
                    else:
                        wake = min(wake, at)
                self._wake = wake
                self.cond.wait(None if wake == math.inf else wake - now)


_WATCHDOG = _Watchdog()


def _after_fork() -> None:  # a child process has no watchdog thread, maybe a held lock
    global _WATCHDOG
    _WATCHDOG = _Watchdog()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


@contextlib.contextmanager
def timed(seconds: float, what: str) -> Iterator[Deadline]:
    """Send the block's request under a :class:`Deadline` of ``seconds`` a try.

    ``what``: ``"answer"`` (the whole answer) or ``"start"`` (a stream's
    head; the deadline then stays with the stream, to time its pieces, and
    the stream ends it).
    """
    deadline = Deadline(seconds, what)
    started = False
    try:
        with deadline.active():
            yield deadline
        started = what == "start"
    finally:
        if started:
            deadline.stop()
        else:
            deadline.end()


def current_deadline() -> Deadline | None:
    """The deadline of the call being sent in this context, if any."""
    return _deadline.get()


# -- the pools ------------------------------------------------------------------------

#: Idle connections a pool keeps at most (beyond that, one coming back is closed).
MAX_IDLE = 1024


class _Slots(queue.LifoQueue):  # type: ignore[type-arg]
    """A pool's idle connections: never full, so urllib3 never discards one with a warning.

    urllib3 makes a new connection when none is idle (``block=False``); each
    one comes back here when its answer has been read, so the pool holds as
    many connections as were ever in use at once (at most :data:`MAX_IDLE`).
    """

    def __init__(self, maxsize: int = 0) -> None:
        super().__init__(0)

    def _put(self, item: Any) -> None:
        if len(self.queue) < MAX_IDLE:
            self.queue.append(item)
        elif item is not None:
            item.close()


_SCOPE_ATTR = "_ellmer_py_scope"
_DEADLINE_ATTR = "_ellmer_py_deadline"
_Conn = TypeVar("_Conn")


def _scoped_put_conn(conn: Any) -> None:
    scope = getattr(conn, _SCOPE_ATTR, None)
    if isinstance(scope, RequestScope):
        scope.forget(conn)
    deadline = getattr(conn, _DEADLINE_ATTR, None)
    if isinstance(deadline, Deadline):
        deadline.detach(conn)


def _scoped_get_conn(get_conn: Callable[[float | None], _Conn], timeout: float | None) -> _Conn:
    scope = _current.get()
    deadline = _deadline.get()
    if scope is not None:
        scope.before_request()
    conn = get_conn(timeout)
    if scope is not None:
        scope.watch(conn)
    if deadline is not None:
        deadline.attach(conn)
    return conn


@functools.cache
def scoped_pool_classes() -> dict[str, type[urllib3.HTTPConnectionPool]]:
    """urllib3 pool classes that tell the active :class:`RequestScope` and
    :class:`Deadline` of each request, and are never full (:class:`_Slots`)."""
    import urllib3

    class HTTPConnectionPool(urllib3.HTTPConnectionPool):
        QueueCls = _Slots

        def _get_conn(self, timeout: float | None = None) -> Any:
            return _scoped_get_conn(super()._get_conn, timeout)

        def _put_conn(self, conn: Any) -> None:
            _scoped_put_conn(conn)
            super()._put_conn(conn)

    class HTTPSConnectionPool(urllib3.HTTPSConnectionPool):
        QueueCls = _Slots

        def _get_conn(self, timeout: float | None = None) -> Any:
            return _scoped_get_conn(super()._get_conn, timeout)

        def _put_conn(self, conn: Any) -> None:
            _scoped_put_conn(conn)
            super()._put_conn(conn)

    return {"http": HTTPConnectionPool, "https": HTTPSConnectionPool}
