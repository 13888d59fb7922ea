"""Authentication applied to a serialized request (the ``Auth`` side of the seam).

A credential is a key or a dict of headers (see ellmer_py._credentials);
:class:`HeaderAuth` puts a key in one header after a prefix
(``Authorization: Bearer <key>``, Anthropic's ``x-api-key: <key>``). Auth runs
after the body is serialized, so a signing scheme (AWS SigV4) can hash it.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableSet
from functools import lru_cache
from typing import Any

from attrs import field, frozen

from ._credentials import Credentials, _checked_headers, auth_headers
from ._errors import ConfigurationError, MissingCredentialsError
from ._redact import Secrets, is_secret_name, url_secrets

__all__ = ["HeaderAuth", "check_endpoint", "join_url", "secure_request"]


@frozen(repr=False)
class HeaderAuth:
    """A key from ``credentials`` in ``header`` after ``prefix``; a dict is sent as headers.

    ``credentials`` is called for every request, so rotating tokens work;
    None sends no authentication.
    """

    credentials: Credentials | None = field(eq=False)
    header: str = "Authorization"
    prefix: str = "Bearer "

    def __repr__(self) -> str:
        return f"HeaderAuth(header={self.header!r})"

    def apply(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, str]:
        """The headers that authenticate this request."""
        if self.credentials is None:
            return {}
        return auth_headers(self.credentials(), self.header, self.prefix)


# -- the endpoint: base_url and api_headers, checked once and kept secret ------------------


def check_endpoint(name: str, base_url: object, api_headers: object) -> dict[str, str]:
    """Check a provider's ``base_url`` and ``api_headers``; return the headers, stripped.

    Errors name what is wrong and how to fix it, never a header value nor
    the secrets of the URL.
    """
    if not isinstance(base_url, str) or not base_url.strip():
        raise ConfigurationError(f"{name}: base_url must be a non-empty string (an http(s) URL).")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in base_url):
        raise ConfigurationError(
            f"{name}: base_url contains white space or a control character (the URL is not "
            "shown in case it holds a key); check where it comes from."
        )
    scheme = base_url.partition("://")[0].lower() if "://" in base_url else ""
    try:
        from urllib.parse import urlsplit

        host = urlsplit(base_url).hostname
    except ValueError:
        host = None
    if scheme not in ("http", "https") or not host:
        raise ConfigurationError(
            f"{name}: base_url must be an http(s) URL with a host, such as "
            "'https://api.example.com/v1'."
        )
    if not isinstance(api_headers, Mapping):
        raise ConfigurationError(f"{name}: api_headers must be a dict of strings to strings.")
    for key, value in api_headers.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ConfigurationError(f"{name}: api_headers must be a dict of strings to strings.")
    return _checked_headers(api_headers, f"{name}: api_headers")


def _split(base_url: str) -> tuple[str, str, str]:
    """(base without user:password@ and query, user:password, query) of a base URL."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(base_url)
    userinfo, at, host = parts.netloc.rpartition("@")
    base = urlunsplit((parts.scheme, host, parts.path, "", ""))
    return base, userinfo if at else "", parts.query


def join_url(base_url: str, path: str, query: Mapping[str, str]) -> str:
    """The URL of a request: base URL and path, the base URL's own query, then ``query``.

    A user:password in the base URL is left out (it goes in an
    ``Authorization: Basic`` header, see :func:`secure_request`).
    """
    if "@" not in base_url and "?" not in base_url:
        url = base_url.rstrip("/") + "/" + path.lstrip("/")
        own = ""
    else:
        base, _, own = _split(base_url)
        url = base.rstrip("/") + "/" + path.lstrip("/")
    if "?" in url:  # the path brought its own query (Gemini's alt=sse)
        url, _, from_path = url.partition("?")
        own = "&".join(q for q in (own, from_path) if q)
    if query:
        from urllib.parse import urlencode

        own = "&".join(q for q in (own, urlencode(query)) if q)
    return f"{url}?{own}" if own else url


def _basic(userinfo: str) -> str:
    import base64
    from urllib.parse import unquote

    user, _, password = userinfo.partition(":")
    raw = f"{unquote(user)}:{unquote(password)}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


@lru_cache(maxsize=256)
def _is_loopback(host: str) -> bool:
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def secure_request(
    provider: Any,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    warned: MutableSet[str],
) -> dict[str, str]:
    """``headers`` with authentication applied last, so no other header can switch it off.

    ``provider`` gives ``name``, ``auth``, ``base_url``, ``api_headers``,
    ``url_params`` and ``transport``. A user:password in the base URL becomes
    ``Authorization: Basic`` unless authentication set one (and stands in for
    credentials that are not set). Every credential goes to the transport's
    :class:`~ellmer_py._redact.Secrets`, so that no answer shows it back. A
    credential about to cross the network in clear (http:// to a host that
    is not loopback) gets one UserWarning per provider, naming the host.
    """
    base_url: str = provider.base_url
    userinfo = _split(base_url)[1] if "@" in base_url else ""
    try:
        auth = provider.auth.apply(method, url, headers, body)
    except MissingCredentialsError:
        if not userinfo:
            raise
        auth = {}  # the user:password of the base URL is the credential
    lower = {k.lower() for k in auth}
    headers = {k: v for k, v in headers.items() if k.lower() not in lower}
    headers.update(auth)
    secret = list(auth.values())
    if userinfo or "?" in base_url:
        secret += url_secrets(base_url)
        if userinfo and not any(k.lower() == "authorization" for k in headers):
            headers["Authorization"] = _basic(userinfo)
    secret += [v for k, v in provider.url_params.items() if is_secret_name(k)]
    secret += [v for k, v in headers.items() if is_secret_name(k)]
    box = getattr(provider.transport, "secrets", None)
    if isinstance(box, Secrets):
        # every api_headers value too: a secret may hide under any name ("X-Extra")
        box.add([*secret, *provider.api_headers.values()])
    if secret and url[:7].lower() == "http://" and "plain-http" not in warned:
        from urllib.parse import urlsplit

        host = urlsplit(url).hostname or ""
        if not _is_loopback(host):
            warned.add("plain-http")
            import warnings

            from ._params import _caller_stacklevel

            warnings.warn(
                f"{provider.name}: sending credentials over plain http:// to {host}; anyone on "
                "the network between can read them. Use an https:// base_url.",
                UserWarning,
                stacklevel=_caller_stacklevel(),
            )
    return headers
