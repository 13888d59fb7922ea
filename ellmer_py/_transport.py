"""HTTP through urllib3: one pool per provider, retries, timeouts, error mapping.

urllib3 is imported when the first request goes out, not when ellmer_py is
imported. Transport code never knows a provider's wire format: it sends
JSON and hands back JSON, or the raw bytes of a stream.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping
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
from ._redact import Secrets, redact
from ._retry import RETRY_STATUSES, make_retry, tries_of
from ._scope import Deadline, current_deadline, timed

if TYPE_CHECKING:
    import urllib3

__all__ = ["RETRY_STATUSES", "Transport"]

_READ_SIZE = 65536
_MAX_ERROR_BODY = 1 << 20
_RUNTIME = ("_pool", "_proxies", "_lock", "secrets")  # never copied nor pickled


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


class Transport:
    """Sends JSON requests for one provider through one urllib3 pool.

    ``max_tries`` and ``timeout_s`` default to ``ELLMER_MAX_TRIES`` and
    ``ELLMER_TIMEOUT_S`` (3 tries, 300 s), read when the transport is made.
    Connect errors and 408, 429, 500, 502, 503, 504, 529 answers are retried with
    jittered exponential backoff (retry n waits ``backoff_factor * 2**(n-1)``
    seconds plus up to ``backoff_factor`` of jitter, at most ``backoff_max``),
    or as long as ``Retry-After`` says, up to ``retry_after_cap`` seconds
    (``_retry``). A timeout or a connection dropped after the request was
    sent is not retried: the model may already be working on it.
    ``timeout_s`` bounds each try of a call as a whole (R's
    ``req_timeout()``); for a stream, the wait for its head and then for
    each next piece. ``http_proxy``/``HTTPS_PROXY``/``NO_PROXY`` are read
    per request, as curl reads them (``_settings.proxy_for``).
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
        error_message: Callable[[bytes], str | None] | None = None,
    ) -> None:
        self.provider = provider
        #: The provider's own reading of an error answer's body (None: the usual one).
        self.error_message = error_message
        self.max_tries = _settings.max_tries(max_tries)
        self.timeout_s = _settings.timeout_s(timeout_s)
        self.backoff_factor = backoff_factor
        self.backoff_max = backoff_max
        self.retry_after_cap = retry_after_cap
        self.user_agent = user_agent
        self._fresh()

    def _fresh(self) -> None:
        """No pool yet (made on first use), no proxy pool, no secret known."""
        self._pool: urllib3.PoolManager | None = None
        self._proxies: dict[str, urllib3.ProxyManager] = {}
        self._lock = threading.Lock()
        #: The credentials this transport has sent, hidden in whatever comes back.
        self.secrets = Secrets()

    # A copy or a pickle takes the settings only, and makes its pool on first use;
    # chats cloned in one process share their provider's transport, and so its pool.
    def __getstate__(self) -> dict[str, Any]:
        """The settings, without pools, sockets, lock or the secrets sent."""
        return {k: v for k, v in vars(self).items() if k not in _RUNTIME}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._fresh()

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
                    self._pool = self._new_manager(None)
        return self._pool

    def _new_manager(self, proxy: _settings.Proxy | None) -> urllib3.PoolManager:
        import urllib3

        from ._scope import scoped_pool_classes

        options: dict[str, Any] = {
            "num_pools": 4,
            "maxsize": 10,  # idle connections kept: as many as were ever in use at once
            "retries": make_retry(self),
            "timeout": urllib3.Timeout(connect=self.timeout_s, read=self.timeout_s),
        }
        manager = (
            urllib3.PoolManager(**options)
            if proxy is None
            else urllib3.ProxyManager(proxy.url, proxy_headers=proxy.headers, **options)
        )
        # Requests made in a RequestScope (chat_async, parallel_chat) can be throttled
        # and cancelled, and any under a Deadline cut; the pools are never full.
        manager.pool_classes_by_scheme = scoped_pool_classes()
        return manager

    def _manager(self, url: str) -> urllib3.PoolManager:
        """The pool for ``url``: the direct one, or that of the proxy the environment names."""
        proxy = _settings.proxy_for(url)
        if proxy is None:
            return self.pool
        key = f"{proxy.url} {sorted(proxy.headers.items())}"
        with self._lock:
            if key not in self._proxies:
                self.secrets.add_headers(proxy.headers)
                self._proxies[key] = self._new_manager(proxy)  # type: ignore[assignment]
            return self._proxies[key]

    def close(self) -> None:
        """Close every pooled connection."""
        if self._pool is not None:
            self._pool.clear()
        for manager in list(self._proxies.values()):
            manager.clear()

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

        from ._credentials import check_headers
        from ._redirect import follow

        if body is None or isinstance(body, bytes):
            payload = body
        else:
            payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        sent = self._headers(headers, payload is not None)
        check_headers(sent, self.provider)  # http.client would raise a ValueError quoting it
        self.secrets.add_headers(sent)

        def send(
            method: str, url: str, headers: Mapping[str, str], payload: bytes | None
        ) -> urllib3.BaseHTTPResponse:
            return self._manager(url).request(
                method,
                url,
                body=payload,
                headers=dict(headers),
                preload_content=not stream,
                redirect=False,
            )

        try:
            return follow(send, method, url, sent, payload, provider=self.provider, stream=stream)
        except urllib3.exceptions.MaxRetryError as exc:
            raise self._transport_error(exc.reason, url) from None
        except urllib3.exceptions.HTTPError as exc:
            raise self._transport_error(exc, url) from None

    def _timeout_error(self, what: str, url: str) -> RequestTimeoutError:
        """A timeout, saying which limit passed: the whole answer, a stream's head or a gap."""
        where, limit = _origin(url), f"within {self.timeout_s:g} s"
        text = {
            "start": f"the stream from {where} did not start {limit}",
            "gap": f"the stream from {where} stalled: nothing new arrived {limit}",
        }.get(what, f"no complete answer from {where} {limit}")
        return RequestTimeoutError(
            f"{self.provider}: {text}. Raise the timeout with ELLMER_TIMEOUT_S or timeout_s=.",
            provider=self.provider,
        )

    def _transport_error(self, reason: BaseException | None, url: str) -> EllmerError:
        import urllib3

        where = _origin(url)
        tries = f" after {self.max_tries} tries" if self.max_tries > 1 else ""
        if isinstance(reason, urllib3.exceptions.DecodeError):  # a corrupt gzip body, ...
            why = "; ".join(str(a).rstrip(".") for a in reason.args)
            return MalformedResponseError(
                f"{self.provider}: the answer from {where} could not be decoded: {why}.",
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
        if isinstance(reason, urllib3.exceptions.ProxyError):
            proxy = _settings.proxy_for(url)
            via = f" through the proxy in {proxy.variable}" if proxy else " through a proxy"
            return TransportError(
                f"{self.provider}: could not connect to {where}{via}{tries}: "
                f"{_reason_text(reason.original_error)}.",
                provider=self.provider,
            )
        deadline = current_deadline()
        if deadline is not None and deadline.expired:  # the watchdog cut the connection
            return self._timeout_error(deadline.expired, url)
        if isinstance(reason, urllib3.exceptions.ReadTimeoutError):
            return self._timeout_error(deadline.what if deadline else "answer", url)
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
        if response.status < 300:
            return  # a redirect reaching here was not followed: an error answer like any other
        try:
            body = response.read(_MAX_ERROR_BODY) if stream else response.data
        except Exception:
            body = b""
        finally:
            if stream:
                response.release_conn()
        error = error_from_response(
            self.provider,
            response.status,
            _lower(response.headers),
            body or b"",
            tries=tries_of(response.retries),
            secrets=self.secrets.values,
            reader=self.error_message,
        )
        raise error

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
        with timed(self.timeout_s, "answer"):
            response = self._send(method, url, headers, body, stream=False)
            self._raise_for_status(response, stream=False, sent=headers)
        if response_headers is not None:
            response_headers.update(_lower(response.headers))
        data = response.data
        try:
            return json.loads(data)
        except (ValueError, RecursionError):  # RecursionError: nested too deeply
            # redact the server's text before cutting it: a cut key would show its start
            snippet = redact(data[:4096].decode("utf-8", "replace"), self.secrets.values)[:200]
            raise MalformedResponseError(
                f"{self.provider}: the answer from {_origin(url)} is not JSON: {snippet!r}",
                provider=self.provider,
                status=response.status,
            ) from None

    def request_bytes(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: Mapping[str, Any] | bytes | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """Send one request and return the raw answer body and its headers (lower-cased)."""
        with timed(self.timeout_s, "answer"):
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
        with timed(self.timeout_s, "start") as deadline:
            response = self._send(method, url, headers, body, stream=True)
            self._raise_for_status(response, stream=True, sent=headers)
        return StreamResponse(self, response, url, deadline)


class StreamResponse:
    """An open streamed answer: iterate for byte chunks; always closed after.

    Each next piece must arrive within ``timeout_s`` (``deadline`` cuts the
    connection otherwise, and the read raises RequestTimeoutError).
    """

    def __init__(
        self,
        transport: Transport,
        response: urllib3.BaseHTTPResponse,
        url: str,
        deadline: Deadline,
    ) -> None:
        self._transport = transport
        self._response = response
        self._url = url
        self._deadline = deadline
        self.status = response.status
        self.headers = _lower(response.headers)
        self._done = False
        self._started = False  # a piece of the body arrived
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
        self._done = not self._deadline.expired  # a cut connection reads as an end

    def _next(self, clocked: bool = True) -> bytes | None:
        """The next piece of the body, or None at its end; errors become ours.

        ``clocked``: it must come within ``timeout_s`` (else the clock already runs).
        """
        import urllib3

        deadline, what = self._deadline, "gap" if self._started else "start"
        if clocked:
            deadline.start(what)
        try:
            chunk = next(self._source, None)
        except urllib3.exceptions.ReadTimeoutError:
            raise self._transport._timeout_error(what, self._url) from None
        except urllib3.exceptions.DecodeError as exc:
            raise self._transport._transport_error(exc, self._url) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            if deadline.expired:
                raise self._transport._timeout_error(deadline.expired, self._url) from None
            raise self._cut(exc) from None
        finally:
            if clocked:
                deadline.stop()
        if chunk is None and deadline.expired:
            raise self._transport._timeout_error(deadline.expired, self._url)
        self._started = True
        return chunk

    def __iter__(self) -> Iterator[bytes]:
        try:
            while (chunk := self._next()) is not None:
                yield chunk
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
        # the socket is never touched here: once the body has ended, its
        # connection is back in the pool (or closed, if the pool let it go)
        self._deadline.start("finish", grace)
        left = limit
        try:
            while left > 0:
                chunk = self._next(clocked=False)
                if chunk is None:
                    break
                left -= len(chunk)
        except Exception:  # a timeout or a cut: the connection is dropped below
            pass
        finally:
            self.close()

    def close(self) -> None:
        """Release the connection; drop it if the body was not read to its end. Idempotent."""
        try:
            if not self._done:
                self._response.close()
            self._response.release_conn()
        except OSError:  # the connection was closed already
            pass
        finally:
            self._deadline.end()


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
