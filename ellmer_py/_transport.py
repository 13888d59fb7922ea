"""HTTP through urllib3: one pool per provider, retries, timeouts, error mapping.

urllib3 is imported when the first request goes out, not when ellmer_py is
imported. Transport code never knows a provider's wire format: it sends
JSON and hands back JSON, or the raw bytes of a stream.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from . import _settings
from ._errors import (
    ConnectionCutError,
    MalformedResponseError,
    RequestTimeoutError,
    TransportError,
)
from ._http_errors import error_from_response

if TYPE_CHECKING:
    import urllib3

__all__ = ["RETRY_STATUSES", "Transport"]

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_READ_SIZE = 65536
_MAX_ERROR_BODY = 1 << 20


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


class Transport:
    """Sends JSON requests for one provider through one urllib3 pool.

    ``max_tries`` and ``timeout_s`` default to ``ELLMER_MAX_TRIES`` and
    ``ELLMER_TIMEOUT_S`` (3 tries, 300 s), read when the transport is made.
    Connect errors and 408, 429, 500, 502, 503, 504 answers are retried with
    jittered exponential backoff, honouring ``Retry-After`` up to
    ``retry_after_cap`` seconds.
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

                    self._pool = urllib3.PoolManager(
                        num_pools=4,
                        maxsize=16,
                        retries=self._retry(),
                        timeout=urllib3.Timeout(connect=self.timeout_s, read=self.timeout_s),
                    )
        return self._pool

    def _retry(self) -> urllib3.Retry:
        import urllib3

        class _Retry(urllib3.Retry):
            def get_retry_after(self, response: urllib3.BaseHTTPResponse) -> float | None:
                try:
                    return super().get_retry_after(response)
                except urllib3.exceptions.InvalidHeader:
                    # "1.5" or garbage: fall back to our own backoff
                    raw = response.headers.get("Retry-After", "")
                    try:
                        return min(max(float(raw), 0.0), float(self.retry_after_max))
                    except ValueError:
                        return None

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
        out.update(headers)
        return out

    def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: Mapping[str, Any] | None,
        *,
        stream: bool,
    ) -> urllib3.BaseHTTPResponse:
        import urllib3

        payload = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
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
        if isinstance(reason, urllib3.exceptions.ConnectTimeoutError):
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

    def _raise_for_status(self, response: urllib3.BaseHTTPResponse, stream: bool) -> None:
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
        raise error_from_response(
            self.provider,
            response.status,
            _lower(response.headers),
            body or b"",
            tries=len(history) + 1,
        )

    def request_json(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        """Send one request and return the decoded JSON answer."""
        response = self._send(method, url, headers, body, stream=False)
        self._raise_for_status(response, stream=False)
        data = response.data
        try:
            return json.loads(data)
        except ValueError:
            snippet = data[:200].decode("utf-8", "replace")
            raise MalformedResponseError(
                f"{self.provider}: the answer from {_origin(url)} is not JSON: {snippet!r}",
                provider=self.provider,
                status=response.status,
            ) from None

    def stream(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: Mapping[str, Any] | None = None,
    ) -> StreamResponse:
        """Send one request and return its body as chunks read as they arrive."""
        response = self._send(method, url, {**headers, "Accept": "text/event-stream"}, body, stream=True)
        self._raise_for_status(response, stream=True)
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

    @property
    def content_type(self) -> str:
        """The media type of the answer, lower-cased, without parameters."""
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def __iter__(self) -> Iterator[bytes]:
        import urllib3

        response = self._response
        try:
            while True:
                try:
                    chunk = response.read1(_READ_SIZE)  # type: ignore[attr-defined]
                except urllib3.exceptions.ReadTimeoutError as exc:
                    raise self._transport._transport_error(exc, self._url) from None
                except (urllib3.exceptions.HTTPError, OSError) as exc:
                    raise ConnectionCutError(
                        f"{self._transport.provider}: the stream from {_origin(self._url)} was "
                        f"cut before it ended ({_reason_text(exc)}).",
                        provider=self._transport.provider,
                        status=self.status,
                    ) from None
                if not chunk:
                    self._done = True
                    return
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        """Release the connection; drop it if the body was not read to its end."""
        if not self._done:
            self._response.close()
        self._response.release_conn()


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}" if rest else url


def _reason_text(reason: BaseException | None) -> str:
    if reason is None:
        return "unknown error"
    text = str(reason)
    # urllib3 wraps its reasons as "<Connection object at 0x..>: Failed to ..."
    if ">: " in text:
        text = text.split(">: ", 1)[1]
    return text.strip() or type(reason).__name__
