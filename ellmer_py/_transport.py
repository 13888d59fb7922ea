"""HTTP through urllib3: one pool per provider, retries, timeouts, error mapping.

urllib3 is imported when the first request goes out, not when ellmer_py is
imported. Transport code never knows a provider's wire format: it sends
JSON and hands back JSON, or the raw bytes of a stream.
"""

from __future__ import annotations

import json
import math
import random
import re
import threading
import time
from collections.abc import Iterator, Mapping
from itertools import takewhile
from typing import TYPE_CHECKING, Any

from . import _settings
from ._errors import (
    ConnectionCutError,
    EllmerError,
    MalformedResponseError,
    RequestTimeoutError,
    TransportError,
)
from ._http_errors import error_from_response

if TYPE_CHECKING:
    import urllib3

__all__ = ["RETRY_STATUSES", "Transport"]

#: 529 is Anthropic's "overloaded" (R retries it for Claude); harmless elsewhere.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 529})
_READ_SIZE = 65536
_MAX_ERROR_BODY = 1 << 20


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


class Transport:
    """Sends JSON requests for one provider through one urllib3 pool.

    ``max_tries`` and ``timeout_s`` default to ``ELLMER_MAX_TRIES`` and
    ``ELLMER_TIMEOUT_S`` (3 tries, 300 s), read when the transport is made.
    Connect errors and 408, 429, 500, 502, 503, 504, 529 answers are retried with
    jittered exponential backoff (retry n waits ``backoff_factor * 2**(n-1)``
    seconds plus up to ``backoff_factor`` of jitter, at most ``backoff_max``),
    or as long as ``Retry-After`` says, up to ``retry_after_cap`` seconds.
    A read timeout or a connection dropped after the request was sent is not
    retried: the model may already be working on it.
    """

    def __init__(
        self,
        provider: str,
        *,
        max_tries: int | None = None,
        timeout_s: float | None = None,
        backoff_factor: float = 0.5,
        backoff_max: float = 20.0,
        retry_after_cap: int = 60,
        user_agent: str = "ellmer-py",
    ) -> None:
        self.provider = provider
        self.max_tries = _settings.max_tries(max_tries)
        self.timeout_s = _settings.timeout_s(timeout_s)
        self.backoff_factor = backoff_factor
        self.backoff_max = backoff_max
        self.retry_after_cap = retry_after_cap
        self.user_agent = user_agent
        self._pool: urllib3.PoolManager | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"Transport(provider={self.provider!r}, max_tries={self.max_tries}, "
            f"timeout_s={self.timeout_s:g})"
        )

    # -- the pool -----------------------------------------------------------

    @property
    def pool(self) -> urllib3.PoolManager:
        """The provider's one urllib3 pool, made on first use."""
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    import urllib3

                    from ._scope import scoped_pool_classes

                    pool = urllib3.PoolManager(
                        num_pools=4,
                        maxsize=16,
                        retries=self._retry(),
                        timeout=urllib3.Timeout(connect=self.timeout_s, read=self.timeout_s),
                    )
                    # Requests made in a RequestScope (chat_async, parallel_chat) can be
                    # throttled and cancelled; outside one these pools are urllib3's.
                    pool.pool_classes_by_scheme = scoped_pool_classes()
                    self._pool = pool
        return self._pool

    def _retry(self) -> urllib3.Retry:
        import urllib3

        class _Retry(urllib3.Retry):
            def get_retry_after(self, response: urllib3.BaseHTTPResponse) -> float | None:
                try:
                    return super().get_retry_after(response)
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
                errors = sum(
                    1
                    for _ in takewhile(
                        lambda x: x.redirect_location is None, reversed(self.history)
                    )
                )
                if errors == 0:
                    return 0.0
                value = self.backoff_factor * (2 ** (errors - 1))
                if self.backoff_jitter:
                    value += random.random() * self.backoff_jitter
                return float(max(0.0, min(self.backoff_max, value)))

        retries = self.max_tries - 1
        return _Retry(
            total=retries,
            connect=retries,
            read=0,
            status=retries,
            other=0,
            redirect=5,
            allowed_methods=None,  # POST too: urllib3 does not retry it by default
            status_forcelist=RETRY_STATUSES,
            backoff_factor=self.backoff_factor,
            backoff_max=self.backoff_max,
            backoff_jitter=self.backoff_factor,
            raise_on_status=False,
            respect_retry_after_header=True,
            retry_after_max=self.retry_after_cap,
        )

    def close(self) -> None:
        """Close every pooled connection."""
        if self._pool is not None:
            self._pool.clear()

    # -- requests -----------------------------------------------------------

    def _headers(self, headers: Mapping[str, str], body: bool) -> dict[str, str]:
        out = {"User-Agent": self.user_agent, "Accept": "application/json"}
        if body:
            out["Content-Type"] = "application/json"
        given = {k.lower() for k in headers}
        out = {k: v for k, v in out.items() if k.lower() not in given}
        out.update(headers)
        return out

    def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: Mapping[str, Any] | bytes | None,
        *,
        stream: bool,
    ) -> urllib3.BaseHTTPResponse:
        import urllib3

        if body is None or isinstance(body, bytes):
            payload = body
        else:
            payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        try:
            return self.pool.request(
                method,
                url,
                body=payload,
                headers=self._headers(headers, payload is not None),
                preload_content=not stream,
            )
        except urllib3.exceptions.MaxRetryError as exc:
            raise self._transport_error(exc.reason, url) from None
        except urllib3.exceptions.HTTPError as exc:
            raise self._transport_error(exc, url) from None

    def _transport_error(self, reason: BaseException | None, url: str) -> TransportError:
        import urllib3

        where = _origin(url)
        tries = f" after {self.max_tries} tries" if self.max_tries > 1 else ""
        if isinstance(reason, urllib3.exceptions.ReadTimeoutError):
            return RequestTimeoutError(
                f"{self.provider}: no answer from {where} within {self.timeout_s:g} s. "
                "Raise the timeout with ELLMER_TIMEOUT_S or timeout_s=.",
                provider=self.provider,
            )
        # NewConnectionError (refused, unreachable, DNS) subclasses
        # ConnectTimeoutError in urllib3, but it is no timeout: test it first.
        if isinstance(reason, urllib3.exceptions.ConnectTimeoutError) and not isinstance(
            reason, urllib3.exceptions.NewConnectionError
        ):
            return RequestTimeoutError(
                f"{self.provider}: could not connect to {where}{tries}: timed out.",
                provider=self.provider,
            )
        if isinstance(reason, urllib3.exceptions.ProtocolError):
            return ConnectionCutError(
                f"{self.provider}: the connection to {where} was closed before the answer "
                f"was complete ({_reason_text(reason)}).",
                provider=self.provider,
            )
        return TransportError(
            f"{self.provider}: could not connect to {where}{tries}: {_reason_text(reason)}.",
            provider=self.provider,
        )

    def _raise_for_status(
        self, response: urllib3.BaseHTTPResponse, stream: bool, sent: Mapping[str, str]
    ) -> None:
        if response.status < 400:
            return
        try:
            body = response.read(_MAX_ERROR_BODY) if stream else response.data
        except Exception:
            body = b""
        finally:
            if stream:
                response.release_conn()
        history = response.retries.history if response.retries is not None else ()
        error = error_from_response(
            self.provider,
            response.status,
            _lower(response.headers),
            body or b"",
            tries=len(history) + 1,
        )
        raise _redacted(error, sent)

    def request_json(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: Mapping[str, Any] | bytes | None = None,
        response_headers: dict[str, str] | None = None,
    ) -> Any:
        """Send one request and return the decoded JSON answer.

        A dict passed as ``response_headers`` is filled with the answer's
        headers (lower-cased names).
        """
        response = self._send(method, url, headers, body, stream=False)
        self._raise_for_status(response, stream=False, sent=headers)
        if response_headers is not None:
            response_headers.update(_lower(response.headers))
        data = response.data
        try:
            return json.loads(data)
        except ValueError:
            snippet = data[:200].decode("utf-8", "replace")
            error = MalformedResponseError(
                f"{self.provider}: the answer from {_origin(url)} is not JSON: {snippet!r}",
                provider=self.provider,
                status=response.status,
            )
            raise _redacted(error, headers) from None

    def request_bytes(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: Mapping[str, Any] | bytes | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """Send one request and return the raw answer body and its headers (lower-cased)."""
        response = self._send(method, url, headers, body, stream=False)
        self._raise_for_status(response, stream=False, sent=headers)
        return response.data, _lower(response.headers)

    def stream(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: Mapping[str, Any] | bytes | None = None,
    ) -> StreamResponse:
        """Send one request and return its body as chunks read as they arrive.

        ``Accept`` defaults to ``text/event-stream`` unless ``headers`` name another.
        """
        if not any(k.lower() == "accept" for k in headers):
            headers = {**headers, "Accept": "text/event-stream"}
        response = self._send(method, url, headers, body, stream=True)
        self._raise_for_status(response, stream=True, sent=headers)
        return StreamResponse(self, response, url)


class StreamResponse:
    """An open streamed answer: iterate for byte chunks; always closed after."""

    def __init__(self, transport: Transport, response: urllib3.BaseHTTPResponse, url: str) -> None:
        self._transport = transport
        self._response = response
        self._url = url
        self.status = response.status
        self.headers = _lower(response.headers)
        self._done = False
        self._source = self._raw_chunks()

    @property
    def content_type(self) -> str:
        """The media type of the answer, lower-cased, without parameters."""
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def _raw_chunks(self) -> Iterator[bytes]:
        """The body as it arrives: one piece per HTTP chunk, never waiting to fill a buffer."""
        response = self._response
        if response.chunked and response.supports_chunked_reads():  # type: ignore[attr-defined]
            # urllib3 hands over each HTTP chunk as soon as it is complete
            # (much faster than read1, which goes through http.client).
            for chunk in response.read_chunked(decode_content=True):
                if chunk:
                    yield chunk
        else:
            while True:
                chunk = response.read1(_READ_SIZE)
                if not chunk:
                    break
                yield chunk
        self._done = True

    def _next(self) -> bytes | None:
        """The next piece of the body, or None at its end; errors become ours."""
        import urllib3

        try:
            return next(self._source, None)
        except urllib3.exceptions.ReadTimeoutError as exc:
            raise self._transport._transport_error(exc, self._url) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._cut(exc) from None

    def __iter__(self) -> Iterator[bytes]:
        import urllib3

        try:
            yield from self._source
        except urllib3.exceptions.ReadTimeoutError as exc:
            raise self._transport._transport_error(exc, self._url) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._cut(exc) from None
        finally:
            self.close()

    def _cut(self, exc: BaseException) -> ConnectionCutError:
        return ConnectionCutError(
            f"{self._transport.provider}: the stream from {_origin(self._url)} was "
            f"cut before it ended ({_reason_text(exc)}).",
            provider=self._transport.provider,
            status=self.status,
        )

    def finish(self, grace: float = 0.25, limit: int = _READ_SIZE) -> None:
        """The caller has all it needs (e.g. ``[DONE]``): end the answer without waiting.

        What is left of the body is read for up to ``grace`` seconds or
        ``limit`` bytes, so that a connection whose answer ends promptly goes
        back to the pool; a server that lingers (keep-alive comments after the
        end, a slow proxy) costs its connection, never the caller's time.
        """
        if self._done:
            self.close()
            return
        response = self._response
        sock = getattr(getattr(response, "connection", None), "sock", None)
        old_timeout = sock.gettimeout() if sock is not None else None
        deadline = time.monotonic() + grace
        left = limit
        try:
            while left > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                if sock is not None:
                    sock.settimeout(remaining)
                chunk = self._next()
                if chunk is None:
                    break
                left -= len(chunk)
        except Exception:  # a timeout or a cut: the connection is dropped below
            pass
        finally:
            if sock is not None and self._done:
                sock.settimeout(old_timeout)
            self.close()

    def close(self) -> None:
        """Release the connection; drop it if the body was not read to its end."""
        if not self._done:
            self._response.close()
        self._response.release_conn()


_SECRET_HEADER = re.compile(r"auth|key|token|secret|cookie|session|password", re.IGNORECASE)
_REDACTED = "[REDACTED]"


def _secrets(headers: Mapping[str, str]) -> list[str]:
    """Values of the credential-like headers a request carried, longest first.

    ``Authorization: Bearer <key>`` gives both the whole value and ``<key>``;
    values shorter than 6 characters are not worth hiding and would mangle
    the message.
    """
    found: set[str] = set()
    for name, value in headers.items():
        if not _SECRET_HEADER.search(name) or not isinstance(value, str):
            continue
        found.add(value.strip())
        _, _, token = value.strip().partition(" ")
        found.add(token.strip())
    return sorted((v for v in found if len(v) >= 6), key=len, reverse=True)


def _redacted(error: EllmerError, headers: Mapping[str, str]) -> EllmerError:
    """Hide any credential a server quoted back (e.g. "Incorrect API key: sk-...")."""
    secrets = _secrets(headers)

    def scrub(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, _REDACTED)
        return text

    if any(s in error.message or s in (error.server_message or "") for s in secrets):
        error.message = scrub(error.message)
        error.args = (error.message,)
        if error.server_message is not None:
            error.server_message = scrub(error.server_message)
    return error


def _origin(url: str) -> str:
    """``scheme://host:port`` of a URL, for messages: no user:password, path or query."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    host = re.split(r"[/?#]", rest, maxsplit=1)[0].rpartition("@")[2]
    return f"{scheme}://{host}" if scheme else host


def _reason_text(reason: BaseException | None) -> str:
    if reason is None:
        return "unknown error"
    text = str(reason)
    # urllib3 wraps its reasons as "<Connection object at 0x..>: Failed to ..."
    if ">: " in text:
        text = text.split(">: ", 1)[1]
    return text.strip() or type(reason).__name__
