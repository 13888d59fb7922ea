"""An independent AWS Signature Version 4 verifier, for the fake Bedrock server.

Written from the AWS documentation ("Create a signed AWS API request",
https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html, and
"Elements of an AWS API request signature"), on purpose without looking at
ellmer-py's own signer: the conformance suite checks one implementation with
the other. It does what the server does with a header-signed request:

1. read ``Authorization: AWS4-HMAC-SHA256 Credential=<key id>/<yyyymmdd>/<region>/
   <service>/aws4_request, SignedHeaders=<h1;h2;...>, Signature=<hex>``;
2. rebuild the canonical request from the request *as received*: the method;
   the canonical URI (the path as sent, dot segments and empty segments
   removed, then URI-encoded once more: every byte but ``A-Z a-z 0-9 - _ . ~``
   and ``/`` becomes ``%XY``, so a ``%3A`` the client sent becomes ``%253A``);
   the canonical query (every parameter decoded, encoded again, sorted by
   name then value, ``name=value`` joined with ``&``); the signed headers,
   lower-cased, sorted, each ``name:value`` with the values trimmed, inner
   runs of spaces made one, repeated headers joined with ``,``; the list of
   signed headers; and the hex SHA-256 of the exact body;
3. the string to sign: ``AWS4-HMAC-SHA256``, the ``X-Amz-Date``, the
   credential scope and the hex SHA-256 of the canonical request, one a line;
4. the signing key: HMAC-SHA256 chained from ``"AWS4" + secret`` over the
   date, the region, the service and ``aws4_request``; the signature is the
   hex HMAC-SHA256 of the string to sign with that key, compared in constant
   time.

Besides the signature it requires what a Bedrock endpoint requires: the
``host`` and ``x-amz-date`` headers signed, the credential scope's date equal
to the ``X-Amz-Date`` day, the time within ``max_skew`` of now, the service
``bedrock`` (not ``bedrock-runtime``), an ``X-Amz-Content-SHA256`` (when sent)
equal to the body's hash, and an ``X-Amz-Security-Token`` (when sent) among
the signed headers. Presigned URLs (``X-Amz-Signature`` in the query) are not
what Bedrock clients send: rejected.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote_to_bytes

__all__ = [
    "ALGORITHM",
    "Rejection",
    "canonical_query",
    "canonical_request",
    "canonical_uri",
    "check",
    "signing_key",
    "string_to_sign",
    "verify",
]

#: The only algorithm SigV4 header signing uses.
ALGORITHM = "AWS4-HMAC-SHA256"

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z")
_HEX_SIGNATURE = re.compile(r"[0-9a-f]{64}")
_SPACES = re.compile(r"\s+")
_DEFAULT_SKEW = timedelta(minutes=5)

Headers = Mapping[str, str] | Iterable[tuple[str, str]]


@dataclass(frozen=True)
class Rejection:
    """Why a request is refused: the AWS error it earns and the reason in words.

    ``error`` is the exception name an AWS endpoint answers with (HTTP 403):
    ``MissingAuthenticationTokenException`` (no SigV4 ``Authorization``),
    ``IncompleteSignatureException`` (a malformed one),
    ``UnrecognizedClientException`` (an unknown access key id) or
    ``InvalidSignatureException`` (anything else: a wrong signature, an
    expired or future date, a wrong scope).
    """

    error: str
    reason: str


# -- the canonical request -----------------------------------------------------------


def _encode(data: bytes, safe: frozenset[int]) -> str:
    """URI-encode bytes the SigV4 way: unreserved (and ``safe``) as is, the rest ``%XY``."""
    return "".join(chr(b) if b in _UNRESERVED or b in safe else f"%{b:02X}" for b in data)


def _bytes(text: str | bytes) -> bytes:
    return text if isinstance(text, bytes) else text.encode("utf-8")


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 dot-segment removal, empty segments dropped (``//`` is ``/``)."""
    kept: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if kept:
                kept.pop()
            continue
        kept.append(segment)
    out = "/" + "/".join(kept)
    if kept and path.endswith("/"):
        out += "/"
    return out


def canonical_uri(path: str | bytes, *, normalize: bool = True) -> str:
    """The canonical URI of a path as sent (no query): normalized, then encoded again.

    Every service but S3 normalizes the path (``normalize=False`` skips it,
    as the S3 rules do). A ``str`` path is taken as UTF-8 text.
    """
    raw = _bytes(path)
    if not raw:
        return "/"
    if normalize:
        raw = _remove_dot_segments(raw.decode("latin-1")).encode("latin-1")
    return _encode(raw, frozenset(b"/"))


def canonical_query(query: str | bytes) -> str:
    """The canonical query string: each parameter decoded, encoded again, then sorted."""
    raw = _bytes(query)
    pairs: list[tuple[str, str]] = []
    for part in raw.split(b"&"):
        if not part:
            continue
        name, _, value = part.partition(b"=")
        pairs.append(
            (
                _encode(unquote_to_bytes(name), frozenset()),
                _encode(unquote_to_bytes(value), frozenset()),
            )
        )
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def _header_pairs(headers: Headers) -> list[tuple[str, str]]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [(str(name).lower(), str(value)) for name, value in items]


def _canonical_value(values: list[str]) -> str:
    return ",".join(_SPACES.sub(" ", v.strip()) for v in values)


def canonical_request(
    method: str,
    path_with_query: str | bytes,
    headers: Headers,
    signed_headers: Iterable[str],
    body: bytes,
    *,
    normalize: bool = True,
) -> str:
    """The canonical request of a request as received, for the given signed headers.

    Raises ``KeyError`` naming a signed header the request does not carry.
    """
    raw = _bytes(path_with_query)
    path, _, query = raw.partition(b"?")
    pairs = _header_pairs(headers)
    names = list(signed_headers)
    lines = []
    for name in names:
        values = [v for n, v in pairs if n == name]
        if not values:
            raise KeyError(name)
        lines.append(f"{name}:{_canonical_value(values)}\n")
    return "\n".join(
        [
            method.upper(),
            canonical_uri(path, normalize=normalize),
            canonical_query(query),
            "".join(lines),
            ";".join(names),
            hashlib.sha256(body).hexdigest(),
        ]
    )


def string_to_sign(amz_date: str, scope: str, canonical: str) -> str:
    """``AWS4-HMAC-SHA256``, the time, the credential scope and the canonical request's hash."""
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    """HMAC-SHA256 chained from ``"AWS4" + secret`` over day, region, service, ``aws4_request``."""
    key = _hmac(("AWS4" + secret).encode("utf-8"), day)
    key = _hmac(key, region)
    key = _hmac(key, service)
    return _hmac(key, "aws4_request")


# -- the verdict ----------------------------------------------------------------------


def _authorization_fields(value: str) -> dict[str, str] | str:
    """``Credential``, ``SignedHeaders`` and ``Signature`` of the header, or why not."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        return f"the Authorization header is not {ALGORITHM}: it starts with {algorithm!r}"
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, eq, field_value = part.strip().partition("=")
        if not eq or name in fields:
            return f"the Authorization header has a malformed or repeated part {part.strip()!r}"
        fields[name] = field_value
    missing = [n for n in ("Credential", "SignedHeaders", "Signature") if n not in fields]
    if missing or len(fields) != 3:
        return (
            "the Authorization header must have exactly Credential, SignedHeaders and "
            f"Signature; it has {sorted(fields)}"
        )
    return fields


def check(
    method: str,
    path_with_query: str | bytes,
    headers: Headers,
    body: bytes,
    secrets: Mapping[str, str],
    *,
    service: str = "bedrock",
    region: str | None = None,
    now: datetime | None = None,
    max_skew: timedelta = _DEFAULT_SKEW,
    normalize: bool = True,
    require_signed_token: bool = True,
) -> Rejection | None:
    """Verify a header-signed SigV4 request; None when valid, else the :class:`Rejection`.

    ``secrets`` maps access key ids to secret access keys; ``region=None``
    takes any region the credential scope names; ``now`` defaults to the
    current time. ``require_signed_token=False`` accepts an
    ``X-Amz-Security-Token`` left out of the signed headers (the AWS suite's
    ``post-sts-header-after`` case; Bedrock's clients sign it).
    """
    pairs = _header_pairs(headers)
    query = _bytes(path_with_query).partition(b"?")[2]
    if b"x-amz-signature=" in query.lower():
        return Rejection(
            "IncompleteSignatureException",
            "a presigned URL (X-Amz-Signature in the query): Bedrock requests are signed in "
            "the Authorization header",
        )
    authorizations = [v for n, v in pairs if n == "authorization"]
    if not authorizations:
        return Rejection("MissingAuthenticationTokenException", "no Authorization header")
    if len(authorizations) > 1:
        return Rejection("IncompleteSignatureException", "more than one Authorization header")
    fields = _authorization_fields(authorizations[0])
    if isinstance(fields, str):
        return Rejection("IncompleteSignatureException", fields)

    scope_parts = fields["Credential"].split("/")
    if len(scope_parts) != 5:
        return Rejection(
            "IncompleteSignatureException",
            "the Credential must be <key id>/<yyyymmdd>/<region>/<service>/aws4_request, not "
            f"{fields['Credential']!r}",
        )
    key_id, day, scope_region, scope_service, terminator = scope_parts
    scope = "/".join(scope_parts[1:])
    if terminator != "aws4_request":
        return Rejection(
            "IncompleteSignatureException", f"the credential scope ends in {terminator!r}"
        )
    if scope_service != service:
        return Rejection(
            "InvalidSignatureException",
            f"the credential scope names the service {scope_service!r}, expected {service!r}",
        )
    if region is not None and scope_region != region:
        return Rejection(
            "InvalidSignatureException",
            f"the credential scope names the region {scope_region!r}, expected {region!r}",
        )
    if key_id not in secrets:
        return Rejection(
            "UnrecognizedClientException", f"the access key id {key_id!r} is not known"
        )

    signed = fields["SignedHeaders"].split(";")
    if signed != sorted(set(signed)) or any(n != n.lower() or not n for n in signed):
        return Rejection(
            "IncompleteSignatureException",
            f"SignedHeaders must be lower-case, sorted and unique: {fields['SignedHeaders']!r}",
        )
    for required in ("host", "x-amz-date"):
        if required not in signed:
            return Rejection("InvalidSignatureException", f"the {required} header is not signed")
    token_sent = any(n == "x-amz-security-token" for n, _ in pairs)
    if require_signed_token and token_sent and "x-amz-security-token" not in signed:
        return Rejection(
            "InvalidSignatureException",
            "an X-Amz-Security-Token is sent but is not among the signed headers",
        )

    dates = [v.strip() for n, v in pairs if n == "x-amz-date"]
    if len(dates) != 1 or not _AMZ_DATE.fullmatch(dates[0]):
        return Rejection(
            "IncompleteSignatureException",
            f"X-Amz-Date must be one yyyymmddThhmmssZ time, not {dates!r}",
        )
    amz_date = dates[0]
    try:
        when = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return Rejection("IncompleteSignatureException", f"X-Amz-Date {amz_date!r} is no time")
    if day != amz_date[:8]:
        return Rejection(
            "InvalidSignatureException",
            f"the credential scope's date {day!r} is not the X-Amz-Date day {amz_date[:8]!r}",
        )
    current = now if now is not None else datetime.now(timezone.utc)
    if abs(current - when) > max_skew:
        return Rejection(
            "InvalidSignatureException",
            f"Signature expired: X-Amz-Date {amz_date} is more than {max_skew} away from "
            f"{current:%Y%m%dT%H%M%SZ}",
        )

    body_hash = hashlib.sha256(body).hexdigest()
    content_hashes = [v.strip() for n, v in pairs if n == "x-amz-content-sha256"]
    if content_hashes and content_hashes != [body_hash]:
        return Rejection(
            "InvalidSignatureException",
            f"X-Amz-Content-SHA256 {content_hashes!r} is not the body's hash {body_hash}",
        )

    signature = fields["Signature"]
    if not _HEX_SIGNATURE.fullmatch(signature):
        return Rejection(
            "IncompleteSignatureException", "the Signature must be 64 lower-case hex digits"
        )
    try:
        canonical = canonical_request(
            method, path_with_query, pairs, signed, body, normalize=normalize
        )
    except KeyError as missing:
        return Rejection(
            "InvalidSignatureException",
            f"the signed header {missing.args[0]!r} is not in the request",
        )
    to_sign = string_to_sign(amz_date, scope, canonical)
    key = signing_key(secrets[key_id], day, scope_region, scope_service)
    expected = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return Rejection(
            "InvalidSignatureException",
            "the signature does not match. The canonical request should have been "
            f"{canonical!r}; the string to sign {to_sign!r}",
        )
    return None


def verify(
    method: str,
    path_with_query: str | bytes,
    headers: Headers,
    body: bytes,
    secrets: Mapping[str, str],
    *,
    service: str = "bedrock",
    region: str | None = None,
    now: datetime | None = None,
    max_skew: timedelta = _DEFAULT_SKEW,
    normalize: bool = True,
    require_signed_token: bool = True,
) -> str | None:
    """None when the request carries a valid SigV4 signature, else the reason in words.

    ``path_with_query`` is the request target as received (``RecordedRequest.path``);
    ``headers`` a mapping or ``(name, value)`` pairs (repeated headers kept in
    order); ``body`` the exact bytes. See :func:`check` for the keywords.
    """
    rejection = check(
        method,
        path_with_query,
        headers,
        body,
        secrets,
        service=service,
        region=region,
        now=now,
        max_skew=max_skew,
        normalize=normalize,
        require_signed_token=require_signed_token,
    )
    return None if rejection is None else rejection.reason
