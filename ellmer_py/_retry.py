"""What a failed try is retried for, and how long to wait first (urllib3's ``Retry``, narrowed).

Retried, as the README says: connect errors and 408, 429, 500, 502, 503,
504 and 529 answers, ``max_tries`` times in all, with jittered exponential
backoff or as long as ``Retry-After`` says, up to a cap. Nothing else: not
a 413 with ``Retry-After`` (urllib3 would retry it), not a read timeout nor
a connection dropped after the request went out (the model may be working
on it). One exception costs no try: a request that failed on a *reused*
keep-alive connection before any byte of the answer arrived (the server
had closed it just after its previous answer) is sent once more, on a fresh
connection, even with ``max_tries=1``: nothing of it was processed.

Each wait is logged (logger ``ellmer_py``, INFO) and, when the chat echoes,
shown on its echo stream.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import time
from typing import TYPE_CHECKING, Any, Protocol

from ._echo import show_notice
from ._scope import current_deadline, pause

if TYPE_CHECKING:
    import urllib3

__all__ = ["RETRY_STATUSES", "make_retry", "tries_of"]

#: 529 is Anthropic's "overloaded" (R retries it for Claude); harmless elsewhere.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 529})

logger = logging.getLogger("ellmer_py")


class Transport(Protocol):
    """What the retry policy reads of a transport."""

    provider: str
    max_tries: int
    backoff_factor: float
    backoff_max: float
    retry_after_cap: int


class StaleConnection(Exception):
    """In a retry history: the try failed on a reused connection the server had closed."""


def tries_of(retries: urllib3.Retry | None) -> int:
    """How many tries a request took (a free retry on a stale connection is not one)."""
    history = retries.history if retries is not None else ()
    return 1 + sum(1 for h in history if not isinstance(h.error, StaleConnection))


def _stale(error: Exception | None) -> bool:
    """Whether ``error`` is a reused connection closed under us before any answer."""
    deadline = current_deadline()
    if error is None or deadline is None:
        return False
    if deadline.stale_retried or not deadline.reused or deadline.expired:
        return False
    cause = error.args[-1] if error.args else error
    # RemoteDisconnected (no status line at all) is a ConnectionResetError
    if isinstance(cause, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
        deadline.stale_retried = True
        return True
    return False


def _asked(raw: str) -> float | None:
    """The seconds a ``Retry-After`` value asks for, before any cap (None if unreadable)."""
    try:
        value = float(raw)
    except ValueError:
        parsed = email.utils.parsedate_tz(raw)
        return None if parsed is None else email.utils.mktime_tz(parsed) - time.time()
    return value if math.isfinite(value) else None


def make_retry(transport: Transport) -> urllib3.Retry:
    """The ``Retry`` of one transport: its tries, backoff and ``Retry-After`` cap."""
    import urllib3
    from urllib3.util.retry import RequestHistory

    class _Retry(urllib3.Retry):
        def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
            # urllib3 also retries 413 (and any status in RETRY_AFTER_STATUS_CODES) that
            # carries Retry-After: only what the README names is retried.
            return status_code in RETRY_STATUSES and self._is_method_retryable(method)

        def increment(
            self,
            method: str | None = None,
            url: str | None = None,
            response: urllib3.BaseHTTPResponse | None = None,
            error: Exception | None = None,
            _pool: Any = None,
            _stacktrace: Any = None,
        ) -> _Retry:
            if response is None and _stale(error):
                entry = RequestHistory(method, url, StaleConnection(error), None, None)
                return self.new(history=(*self.history, entry))  # costs no try
            return super().increment(method, url, response, error, _pool, _stacktrace)

        def get_retry_after(self, response: urllib3.BaseHTTPResponse) -> float | None:
            try:
                return super().get_retry_after(response)  # an HTTP-date is capped too
            except urllib3.exceptions.InvalidHeader:
                # "1.5", "nan" or garbage: a finite number is honoured (capped),
                # anything else falls back to our own backoff
                raw = response.headers.get("Retry-After", "")
                try:
                    value = float(raw)
                except ValueError:
                    return None
                if not math.isfinite(value):
                    return float(self.retry_after_max) if value > 0 else None
                return min(max(value, 0.0), float(self.retry_after_max))

        def get_backoff_time(self) -> float:
            # urllib3 retries the first time at once; back off from the first
            # retry on: factor * 2**(n-1) plus jitter, capped at backoff_max.
            errors = 0
            for entry in reversed(self.history):
                if entry.redirect_location is not None:
                    break
                if isinstance(entry.error, StaleConnection):
                    if errors == 0:
                        return 0.0  # a fresh connection at once
                    continue
                errors += 1
            if errors == 0:
                return 0.0
            value = self.backoff_factor * (2 ** (errors - 1))
            if self.backoff_jitter:
                value += random.random() * self.backoff_jitter
            return float(max(0.0, min(self.backoff_max, value)))

        def sleep(self, response: urllib3.BaseHTTPResponse | None = None) -> None:
            retry_after = None
            if response is not None and self.respect_retry_after_header:
                retry_after = self.get_retry_after(response)
            wait = retry_after or self.get_backoff_time()
            if wait > 0:
                _announce(transport, self, response, wait, bool(retry_after))
                pause(wait)

    retries = transport.max_tries - 1
    return _Retry(
        total=retries,
        connect=retries,
        read=0,
        status=retries,
        other=0,
        redirect=0,  # redirects are followed by _redirect.follow, never by urllib3
        allowed_methods=None,  # POST too: urllib3 does not retry it by default
        status_forcelist=RETRY_STATUSES,
        backoff_factor=transport.backoff_factor,
        backoff_max=transport.backoff_max,
        backoff_jitter=transport.backoff_factor,
        raise_on_status=False,
        respect_retry_after_header=True,
        retry_after_max=transport.retry_after_cap,
    )


def _announce(
    transport: Transport,
    retry: urllib3.Retry,
    response: urllib3.BaseHTTPResponse | None,
    wait: float,
    honoured: bool,
) -> None:
    """Log (and show, when echoing) what the next try waits for, and why."""
    if response is not None:
        why = f"the server answered {response.status}"
        raw = response.headers.get("Retry-After")
        if honoured and raw is not None:
            asked = _asked(raw.strip())
            why += f" with Retry-After: {raw.strip()[:40]}"
            if asked is None or asked > wait + 1:
                why += f" (capped at {transport.retry_after_cap:g} s)"
    else:
        last = retry.history[-1].error if retry.history else None
        reason = str(last).split(">: ", 1)[-1] if last is not None else "unknown error"
        why = f"the try failed ({reason})"
    text = (
        f"{transport.provider}: {why}; waiting {wait:.3g} s before try "
        f"{tries_of(retry)} of {transport.max_tries}."
    )
    logger.info("%s", text)
    show_notice(text)
