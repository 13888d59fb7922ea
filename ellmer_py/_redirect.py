"""Redirects, followed by ellmer-py rather than urllib3, so that no credential leaves its origin.

urllib3 only strips ``Authorization``, ``Cookie`` and ``Proxy-Authorization``
on a redirect to another host, and resends a POST body on 301/302. An API
client sends its key in many headers (``x-api-key``, ``api-key``,
``x-goog-api-key``, ``x-portkey-api-key``, whatever ``credentials=`` or
``api_headers`` add), so :func:`follow` decides instead:

- to the same origin (scheme, host and port): 307 and 308 repeat the request
  as it was; 301 and 302 too (a POST stays a POST: a chat request turned into
  a GET is no request at all); 303 becomes a GET without the body;
- to another origin: only ``User-Agent`` and ``Accept`` go along, never a
  credential header nor a body. A request with a body (every chat request)
  is not sent there at all: an HTTPStatusError says where the server wanted
  it to go;
- at most :data:`MAX_REDIRECTS` hops; a redirect is not a retry, so one 307
  works with ``max_tries=1``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING

from ._errors import HTTPStatusError, TransportError

if TYPE_CHECKING:
    import urllib3

__all__ = ["MAX_REDIRECTS", "follow", "origin_of"]

MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
#: What may go along to another origin: nothing that can identify the caller.
_CROSS_ORIGIN_HEADERS = frozenset({"user-agent", "accept", "accept-encoding", "accept-language"})
_DEFAULT_PORTS = {"http": 80, "https": 443}

#: ``send(method, url, headers, body)`` -> the answer, with redirects not followed.
Send = Callable[[str, str, Mapping[str, str], "bytes | None"], "urllib3.BaseHTTPResponse"]


@lru_cache(maxsize=256)
def origin_of(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a URL, lower-cased, with the scheme's default port filled in.

    Cached: a provider asks for the same few URLs on every request.
    """
    from urllib3.util import parse_url

    parts = parse_url(url)
    scheme = (parts.scheme or "").lower()
    host = (parts.host or "").lower().rstrip(".")
    return scheme, host, parts.port or _DEFAULT_PORTS.get(scheme)


def _shown(url: str) -> str:
    """``scheme://host[:port]`` of a URL for a message: no user, path or query."""
    scheme, host, port = origin_of(url)
    default = _DEFAULT_PORTS.get(scheme)
    return f"{scheme}://{host}" + (f":{port}" if port and port != default else "")


def _discard(response: urllib3.BaseHTTPResponse, stream: bool) -> None:
    """Drop a redirect answer; a streamed one is not read (its body may never end)."""
    try:
        if stream:
            response.close()
        response.release_conn()
    except Exception:
        pass


def follow(
    send: Send,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    *,
    provider: str,
    stream: bool,
) -> urllib3.BaseHTTPResponse:
    """Send a request and follow its redirects by the rules above; return the final answer.

    Messages name the provider and the origin asked for, never a credential
    nor the path or query the server redirected to.
    """
    start = origin_of(url)
    sent = dict(headers)
    for _ in range(MAX_REDIRECTS + 1):
        response = send(method, url, sent, body)
        status = response.status
        location = response.headers.get("location") if status in _REDIRECTS else None
        if not location:
            return response  # a 3xx without Location is an error answer like any other
        _discard(response, stream)
        from urllib.parse import urljoin

        target = urljoin(url, location.strip())
        scheme, host, _port = origin_of(target)
        if scheme not in _DEFAULT_PORTS or not host:
            raise HTTPStatusError(
                f"{provider}: HTTP {status}: the server redirected the request to a URL "
                "ellmer-py cannot follow.",
                provider=provider,
                status=status,
            )
        if status == 303 and method != "HEAD":
            method, body = "GET", None
            sent = {k: v for k, v in sent.items() if k.lower() != "content-type"}
        if origin_of(target) != start:
            if body is not None:
                raise HTTPStatusError(
                    f"{provider}: HTTP {status}: the server redirected the request to another "
                    f"origin ({_shown(target)}); ellmer-py does not send your conversation or "
                    f"credentials there. If you trust {_shown(target)}, make it the base_url.",
                    provider=provider,
                    status=status,
                )
            sent = {k: v for k, v in sent.items() if k.lower() in _CROSS_ORIGIN_HEADERS}
        url = target
    raise TransportError(
        f"{provider}: the server redirected the request more than {MAX_REDIRECTS} times "
        f"(last to {_shown(url)}).",
        provider=provider,
    )
