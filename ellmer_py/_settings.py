"""Settings read from the environment (R: ``options(ellmer_*)``), and the proxy to use."""

from __future__ import annotations

import math
import os
from typing import Any, NamedTuple

from ._errors import ConfigurationError

__all__ = [
    "DEFAULT_MAX_TRIES",
    "DEFAULT_TIMEOUT_S",
    "Proxy",
    "max_tries",
    "no_proxy_matches",
    "proxy_for",
    "timeout_s",
]

DEFAULT_MAX_TRIES = 3
DEFAULT_TIMEOUT_S = 300.0


def _env_number(name: str, default: float, *, minimum: float, whole: bool = False) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(
            f"{name}={raw!r} is not a number; set it to a number such as {default:g}, or unset it."
        ) from None
    if not math.isfinite(value) or (whole and not value.is_integer()):
        what = "a whole number" if whole else "a finite number"
        raise ConfigurationError(
            f"{name}={raw!r} is not {what}; set it to a number such as {default:g}, or unset it."
        )
    if value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum:g}, not {raw!r}.")
    return value


def max_tries(value: int | None = None) -> int:
    """How many times a request is tried (R: ``ellmer_max_tries``; env ``ELLMER_MAX_TRIES``)."""
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigurationError(
                f"max_tries must be a whole number of at least 1, not {value!r}."
            )
        return value
    return int(_env_number("ELLMER_MAX_TRIES", DEFAULT_MAX_TRIES, minimum=1, whole=True))


def timeout_s(value: float | None = None) -> float:
    """Seconds to wait for the server (R: ``ellmer_timeout_s``; env ``ELLMER_TIMEOUT_S``)."""
    if value is not None:
        usable = isinstance(value, (int, float)) and 0 < value < math.inf
        if isinstance(value, bool) or not usable:
            raise ConfigurationError(f"timeout_s must be a positive number, not {value!r}.")
        return float(value)
    return _env_number("ELLMER_TIMEOUT_S", DEFAULT_TIMEOUT_S, minimum=0.001)


# -- proxies, from the environment as curl (R's httr2) reads them ------------------------


class Proxy(NamedTuple):
    """The proxy a request goes through: its URL (no user:password) and its headers."""

    url: str
    headers: dict[str, str]
    variable: str  # the environment variable it came from, for messages


def _getenv(name: str) -> str | None:
    """curl's ``curl_getenv()``: an empty variable counts as unset."""
    value = os.environ.get(name)
    return value if value else None


def no_proxy_matches(host: str, no_proxy: str) -> bool:
    """Whether ``host`` is in a ``NO_PROXY`` list, by curl's rules (``Curl_check_noproxy``).

    ``*`` alone matches every host. Otherwise the entries are separated by
    commas (blanks around them are skipped; a blank that is not followed by
    a comma ends the list). For a host name, an entry matches the name
    itself or any name below it (``example.com`` and ``.example.com`` both
    match ``example.com`` and ``api.example.com``, never ``badexample.com``),
    ignoring case and one trailing dot. For an IP address, an entry is an
    address or a CIDR range (``10.0.0.0/8``, ``::1``). An entry never names
    a port, and loopback is not special: ``localhost`` or ``127.0.0.1``
    bypass the proxy only when listed (and ``localhost`` does not cover
    ``127.0.0.1``).
    """
    import ipaddress

    if not host or not no_proxy:
        return False
    if no_proxy == "*":
        return True
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        address: Any = ipaddress.ip_address(host)
    except ValueError:
        address = None
        name = host[:-1] if host.endswith(".") else host
    rest = no_proxy
    while rest:
        rest = rest.lstrip(" \t")
        end = next((i for i, c in enumerate(rest) if c in " \t,"), len(rest))
        token, rest = rest[:end], rest[end:].lstrip(" \t")
        if token and address is not None:
            try:
                if address in ipaddress.ip_network(token, strict=False):
                    return True
            except ValueError:
                pass
        elif token:
            token = token[:-1] if token.endswith(".") else token
            token = token[1:] if token.startswith(".") else token
            cut = len(name) - len(token)  # where the token would start in the name
            below = cut == 0 or (cut > 0 and name[cut - 1] == ".")  # the name, or under it
            if token and below and name[cut:].lower() == token.lower():
                return True
        if not rest.startswith(","):
            break
        rest = rest.lstrip(",")
    return False


def proxy_for(url: str) -> Proxy | None:
    """The proxy the environment names for ``url``, as curl picks it; None to go direct.

    ``<scheme>_proxy`` (lower case first, then upper case, but never
    ``HTTP_PROXY``: curl ignores it, since a CGI program gets it from the
    client's ``Proxy:`` header), then ``all_proxy`` / ``ALL_PROXY``; none
    for a host that ``no_proxy`` / ``NO_PROXY`` lists. A proxy URL without a
    scheme is ``http://``; without a port, 1080 (443 for ``https://``), as
    curl. ``user:password@`` in it becomes a ``Proxy-Authorization`` header.
    """
    from urllib.parse import unquote

    from urllib3.util import make_headers, parse_url

    scheme = url.partition("://")[0].lower()
    found = None
    for name in (f"{scheme}_proxy", f"{scheme.upper()}_PROXY", "all_proxy", "ALL_PROXY"):
        if name != "HTTP_PROXY" and _getenv(name):
            found = name
            break
    if found is None:
        return None
    no_proxy = _getenv("no_proxy") or _getenv("NO_PROXY")
    if no_proxy and no_proxy_matches(parse_url(url).host or "", no_proxy):
        return None
    raw = os.environ[found].strip()
    try:
        parts = parse_url(raw if "://" in raw else f"http://{raw}")
    except ValueError:
        parts = None
    kind = (parts.scheme or "").lower() if parts is not None else ""
    if parts is None or not parts.host or kind not in ("http", "https"):
        what = f"a {kind}:// proxy" if kind else "not a proxy URL"
        raise ConfigurationError(
            f"The environment variable {found} is {what}; ellmer-py goes through http:// "
            f"and https:// proxies only. Set {found} to http://host:port, or unset it."
        )
    headers = {}
    if parts.auth:
        user, _, password = parts.auth.partition(":")
        credentials = f"{unquote(user)}:{unquote(password)}"
        headers = make_headers(proxy_basic_auth=credentials)
    port = parts.port or (443 if kind == "https" else 1080)
    return Proxy(f"{kind}://{parts.host}:{port}", headers, found)
