"""AWS Signature Version 4: sign a request's headers, and check a signature.

A pure signer, as AWS documents SigV4 ("Create a signed AWS API request"):
no I/O and no clock, the time is an argument. :func:`sign_headers` returns
the headers to add to a request (``X-Amz-Date``, ``Authorization`` and, with
temporary credentials, ``X-Amz-Security-Token``); :func:`canonical_request`,
:func:`string_to_sign` and :func:`signature` are its three steps, public so
the published test vectors can check each one. :func:`verify` does the
server's side, for a loopback test server.

The URL is the one that goes on the wire: its path is already
percent-encoded. Every service but S3 signs that path encoded once more
(``double_encode``), so a model id's ``%3A`` is signed as ``%253A``, and with
its ``.``/``..`` segments and duplicate slashes removed (``normalize_path``).
Only header signing is implemented, not presigned URLs.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from urllib.parse import quote, unquote_to_bytes, urlsplit

from attrs import frozen

__all__ = [
    *("ALGORITHM", "AwsCredentials", "canonical_request", "sign_headers"),
    *("signature", "string_to_sign", "verify"),
]

ALGORITHM = "AWS4-HMAC-SHA256"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SPACES = re.compile(r"\s+", re.ASCII)
_AUTHORIZATION = re.compile(
    ALGORITHM + r" Credential=([^,\s]+), *SignedHeaders=([^,\s]+), *Signature=([0-9a-f]{64})"
)
#: Headers sign_headers adds itself, so a caller may not pass them.
_ADDED = ("authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256")


@frozen(repr=False)
class AwsCredentials:
    """An AWS access key; the repr never shows the secret key or the session token."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None
    #: When temporary credentials expire (an aware UTC datetime), if they do.
    expiry: datetime | None = None

    def __repr__(self) -> str:
        token = None if self.session_token is None else "'<hidden>'"
        return (
            f"AwsCredentials(access_key_id={self.access_key_id!r}, "
            f"secret_access_key='<hidden>', session_token={token}, expiry={self.expiry!r})"
        )


def _utc(timestamp: datetime) -> datetime:
    if timestamp.tzinfo is None or timestamp.utcoffset() is None:
        raise ValueError("the timestamp must be timezone-aware")
    return timestamp.astimezone(timezone.utc)


def _amz_date(timestamp: datetime) -> str:
    return _utc(timestamp).strftime("%Y%m%dT%H%M%SZ")


def _scope(timestamp: datetime, region: str, service: str) -> str:
    return f"{_utc(timestamp):%Y%m%d}/{region}/{service}/aws4_request"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _encode(data: str | bytes) -> str:
    """URI-encode as SigV4 does: keep A-Za-z0-9-_.~, %XX (upper case) for every other byte."""
    return quote(data, safe="")


def _normalize(path: str) -> str:
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment not in ("", "."):
            segments.append(segment)
    normalized = "/" + "/".join(segments)
    if path.endswith("/") and not normalized.endswith("/"):
        normalized += "/"
    return normalized


def _canonical_uri(path: str, *, double_encode: bool, normalize_path: bool) -> str:
    if normalize_path:
        path = _normalize(path)
    if double_encode:
        segments = [_encode(segment) for segment in path.split("/")]
    else:  # S3: encoded once, so only normalize what is already encoded
        segments = [_encode(unquote_to_bytes(segment)) for segment in path.split("/")]
    return "/".join(segments) or "/"


def _canonical_query(query: str) -> str:
    pairs = []
    for item in query.split("&"):
        if item:
            key, _, value = item.partition("=")
            pairs.append((_encode(unquote_to_bytes(key)), _encode(unquote_to_bytes(value))))
    return "&".join(f"{key}={value}" for key, value in sorted(pairs))


def _header_map(headers: Mapping[str, str]) -> dict[str, str]:
    """Lower-cased names -> trimmed values, a repeated header's values joined by commas."""
    merged: dict[str, list[str]] = {}
    for name, value in headers.items():
        merged.setdefault(name.strip().lower(), []).append(_SPACES.sub(" ", value).strip())
    return {name: ",".join(values) for name, values in merged.items()}


def canonical_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    signed_headers: Sequence[str] | None = None,
    double_encode: bool = True,
    normalize_path: bool = True,
    payload_hash: str | None = None,
) -> str:
    """The SigV4 canonical request, as AWS documents it, of a request as sent on the wire.

    ``headers`` must hold every header to sign (``host`` and ``x-amz-date``
    too); ``signed_headers`` picks some of them (default: all). The payload
    hash is the SHA-256 of ``body`` unless ``payload_hash`` is given.
    """
    values = _header_map(headers)
    names = sorted(values if signed_headers is None else {n.lower() for n in signed_headers})
    missing = [name for name in names if name not in values]
    if missing:
        raise ValueError(f"signed headers not in the request: {', '.join(missing)}")
    parts = urlsplit(url)
    lines = [
        method.upper(),
        _canonical_uri(parts.path, double_encode=double_encode, normalize_path=normalize_path),
        _canonical_query(parts.query),
        *(f"{name}:{values[name]}" for name in names),
        "",
        ";".join(names),
        _sha256(body) if payload_hash is None else payload_hash,
    ]
    return "\n".join(lines)


def string_to_sign(canonical: str, *, timestamp: datetime, region: str, service: str) -> str:
    """The SigV4 string to sign: algorithm, time, credential scope, canonical request's hash."""
    scope = _scope(timestamp, region, service)
    return f"{ALGORITHM}\n{_amz_date(timestamp)}\n{scope}\n{_sha256(canonical.encode())}"


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def signature(
    secret_access_key: str, string_to_sign: str, *, timestamp: datetime, region: str, service: str
) -> str:
    """The SigV4 signature (hex) of a string to sign, with the key AWS derives for the scope."""
    key = _hmac(f"AWS4{secret_access_key}".encode(), f"{_utc(timestamp):%Y%m%d}")
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def _sign(secret: str, canonical: str, timestamp: datetime, region: str, service: str) -> str:
    to_sign = string_to_sign(canonical, timestamp=timestamp, region=region, service=service)
    return signature(secret, to_sign, timestamp=timestamp, region=region, service=service)


def _host(url: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    if not host:
        raise ValueError(f"the URL has no host: {url!r}")
    port = parts.port
    if port is not None and port == _DEFAULT_PORTS.get(parts.scheme.lower()):
        host = host.rsplit(":", 1)[0]
    return host


def sign_headers(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    credentials: AwsCredentials,
    region: str,
    service: str,
    timestamp: datetime,
    double_encode: bool = True,
    normalize_path: bool = True,
    sign_body: bool = False,
    omit_session_token: bool = False,
) -> dict[str, str]:
    """Sign a request with SigV4, as AWS documents it; return the headers to add to it.

    Signs ``host`` (from the URL, or a ``Host`` header if given), every header in
    ``headers``, ``x-amz-date`` and the session token if any. ``sign_body`` also
    adds and signs ``x-amz-content-sha256`` (as S3 wants); ``omit_session_token``
    adds the token header without signing it (as a few services want).
    """
    given = _header_map(headers)
    clash = sorted(set(given) & set(_ADDED))
    if clash:
        raise ValueError(f"sign_headers adds these headers itself: {', '.join(clash)}")
    amz_date = _amz_date(timestamp)
    payload_hash = _sha256(body)
    added: dict[str, str] = {}
    to_sign = {"host": _host(url), **given, "x-amz-date": amz_date}
    if credentials.session_token is not None:
        added["X-Amz-Security-Token"] = credentials.session_token
        if not omit_session_token:
            to_sign["x-amz-security-token"] = credentials.session_token
    added["X-Amz-Date"] = amz_date
    if sign_body:
        added["x-amz-content-sha256"] = to_sign["x-amz-content-sha256"] = payload_hash
    canonical = canonical_request(
        method,
        url,
        to_sign,
        body,
        double_encode=double_encode,
        normalize_path=normalize_path,
        payload_hash=payload_hash,
    )
    hex_signature = _sign(credentials.secret_access_key, canonical, timestamp, region, service)
    scope = _scope(timestamp, region, service)
    added["Authorization"] = (
        f"{ALGORITHM} Credential={credentials.access_key_id}/{scope}, "
        f"SignedHeaders={';'.join(sorted(to_sign))}, Signature={hex_signature}"
    )
    return added


def verify(
    method: str,
    raw_path_and_query: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    lookup_secret: Callable[[str], str | None],
    service: str,
    now: datetime | None = None,
    max_skew: timedelta = timedelta(minutes=5),
    double_encode: bool = True,
    normalize_path: bool = True,
) -> str | None:
    """Check a request's SigV4 ``Authorization`` header as AWS does; None if valid, else why not.

    ``lookup_secret`` maps an access key id to its secret key (None: unknown);
    ``now`` defaults to the current time.
    """
    if not raw_path_and_query.startswith("/"):
        return "malformed request target"
    values = _header_map(headers)
    if "authorization" not in values:
        return "missing authorization header"
    authorization = values["authorization"]
    if not authorization.startswith(f"{ALGORITHM} "):
        return f"unsupported algorithm {authorization.partition(' ')[0]!r}"
    match = _AUTHORIZATION.fullmatch(authorization)
    if match is None:
        return "malformed authorization header"
    credential, signed_headers, claimed_signature = match.groups()
    scope = credential.split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        return "malformed credential scope"
    access_key_id, day, region, scope_service, _ = scope
    if scope_service != service:
        return f"credential scope service is {scope_service!r}, expected {service!r}"
    if "x-amz-date" not in values:
        return "missing x-amz-date"
    try:
        timestamp = datetime.strptime(values["x-amz-date"], "%Y%m%dT%H%M%SZ")
    except ValueError:
        return "malformed x-amz-date"
    timestamp = timestamp.replace(tzinfo=timezone.utc)
    if day != f"{timestamp:%Y%m%d}":
        return "credential scope date does not match x-amz-date"
    current = datetime.now(timezone.utc) if now is None else _utc(now)
    if abs(current - timestamp) > max_skew:
        return "request time too skewed"
    names = signed_headers.split(";")
    if names != sorted(set(names)) or any(name != name.lower() for name in names):
        return "malformed SignedHeaders"
    if not {"host", "x-amz-date"} <= set(names):
        return "host and x-amz-date must be signed"
    missing = [name for name in names if name not in values]
    if missing:
        return f"signed header {missing[0]!r} missing"
    payload_hash = _sha256(body)
    if values.get("x-amz-content-sha256", payload_hash) != payload_hash:
        return "x-amz-content-sha256 does not match the body"
    secret = lookup_secret(access_key_id)
    if secret is None:
        return "unknown access key id"
    canonical = canonical_request(
        method,
        f"http://verify{raw_path_and_query}",
        values,
        body,
        signed_headers=names,
        double_encode=double_encode,
        normalize_path=normalize_path,
        payload_hash=payload_hash,
    )
    expected = _sign(secret, canonical, timestamp, region, service)
    if not hmac.compare_digest(expected, claimed_signature):
        return "signature does not match"
    return None
