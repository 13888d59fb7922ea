"""Turn an HTTP error answer into a typed error (pure: no I/O).

Servers answer errors in many shapes: ``{"error": "text"}``,
``{"error": {"message": ...}}``, ``{"message": ..., "reason": ...}``,
``{"detail": ...}``, plain text, or an HTML gateway page. Each becomes one
line of the server's own words, inside an error class chosen by status.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ._errors import (
    AuthenticationError,
    BadRequestError,
    HTTPStatusError,
    NotFoundError,
    PaymentRequiredError,
    RateLimitError,
    ServerError,
)
from ._redact import redact

__all__ = ["error_from_response", "server_message", "status_error_class"]

_MAX_MESSAGE = 500
_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-amzn-requestid", "cf-ray")
# HTML patterns, compiled (and cached by ``re``) on first use, not at import.
_HTML_FLAGS = re.IGNORECASE | re.DOTALL
_TAG = r"<[^>]+>"
_TITLE = r"<title[^>]*>(.*?)</title>"
_H1 = r"<h1[^>]*>(.*?)</h1>"
_BODY = r"<body[^>]*>(.*?)(?:</body\s*>|$)"
_INVISIBLE = r"<(head|script|style|noscript|template)\b[^>]*>.*?</\1\s*>|<!--.*?-->"
_MAX_HTML_TEXT = 200


def status_error_class(status: int) -> type[HTTPStatusError]:
    """The error class for an HTTP status."""
    if status in (401, 403):
        return AuthenticationError
    if status == 402:
        return PaymentRequiredError
    if status == 404:
        return NotFoundError
    if status == 429:
        return RateLimitError
    if status >= 500:
        return ServerError
    if status in (400, 422) or 400 <= status < 500:
        return BadRequestError
    return HTTPStatusError


#: Machine-readable reasons (google.rpc ``status`` and ``ErrorInfo.reason``) that say
#: the credential is wrong, whatever the HTTP status (Google answers a bad key with 400).
_AUTH_REASONS = frozenset({"UNAUTHENTICATED", "API_KEY_INVALID", "API_KEY_EXPIRED"})


def _says_bad_credential(body: bytes) -> bool:
    """Whether an error body names a bad credential in ``error.status`` or ``error.details``."""
    if b"API_KEY" not in body and b"UNAUTHENTICATED" not in body:
        return False
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return False
    error = doc.get("error") if isinstance(doc, Mapping) else None
    if not isinstance(error, Mapping):
        return False
    details = error.get("details")
    reasons = [error.get("status")] + [
        d.get("reason")
        for d in (details if isinstance(details, list) else [])
        if isinstance(d, Mapping)
    ]
    return any(isinstance(r, str) and r in _AUTH_REASONS for r in reasons)


def _one_line(text: str, secrets: Sequence[str] = ()) -> str:
    """One line of at most 500 characters, with the secrets hidden before it is cut."""
    text = " ".join(redact(text, secrets).split())
    if len(text) > _MAX_MESSAGE:
        text = text[: _MAX_MESSAGE - 1] + "…"
    return text


def _labelled(message: str, doc: Mapping[str, Any]) -> str:
    """The message with the server's machine-readable reason or code, when it adds one."""
    for key in ("reason", "code"):
        label = doc.get(key)
        if isinstance(label, str) and label and label not in message:
            return f"{message} ({label})"
    return message


#: How deep an error envelope is searched for its message (real ones are 2 or 3 deep).
_MAX_DEPTH = 8


def _json_text(value: Any) -> str | None:
    """A value as JSON text, or None when it can't be written (nested too deep)."""
    try:
        return json.dumps(value, default=str)
    except (ValueError, TypeError, RecursionError):
        return None


def _message_from_json(doc: Any, depth: int = 0) -> str | None:
    if isinstance(doc, str):
        return doc
    if depth > _MAX_DEPTH:
        return None  # a hostile or broken body, nested without end
    if isinstance(doc, list) and doc:
        return _message_from_json(doc[0], depth + 1)
    if not isinstance(doc, Mapping):
        return None
    error = doc.get("error")
    if isinstance(error, str) and error:
        return error
    if isinstance(error, Mapping):
        found = _message_from_json(error, depth + 1)
        kind = error.get("type")
        if found and doc.get("type") == "error" and isinstance(kind, str) and kind not in found:
            # Anthropic's envelope: {"type": "error", "error": {"type", "message"}} (R words it
            # "message [type]")
            return f"{found} [{kind}]"
        if found:
            return found
    for key in ("message", "Message", "detail", "error_message", "msg"):
        value = doc.get(key)
        if isinstance(value, str) and value:
            if key == "msg" and isinstance(doc.get("loc"), list):
                # one FastAPI validation error: {"loc": ["body", "messages"], "msg": ...}
                where = ".".join(str(p) for p in doc["loc"] if type(p) in (str, int))
                return f"{where}: {value}" if where else value
            return _labelled(value, doc) if key == "message" else value
        if value is not None and key == "detail":
            # FastAPI validation errors: a list of {"loc", "msg", ...}
            return _message_from_json(value, depth + 1) or _json_text(value)
    return None


def _html_message(text: str, secrets: Sequence[str] = ()) -> str:
    """One line from an HTML error page: its visible text if short, else its title."""
    import html  # only for HTML pages: html.entities is slow to import

    def words(fragment: str) -> str:
        return _one_line(html.unescape(re.sub(_TAG, " ", fragment)), secrets)

    page = re.sub(_INVISIBLE, " ", text, flags=_HTML_FLAGS)
    body = re.search(_BODY, page, _HTML_FLAGS)
    visible = words(body.group(1) if body else page)
    if visible and len(visible) <= _MAX_HTML_TEXT:
        return visible  # e.g. "502 Bad Gateway"
    for pattern in (_TITLE, _H1):
        match = re.search(pattern, text, _HTML_FLAGS)
        if match:
            inner = words(match.group(1))
            if inner:
                return inner
    return visible or "(an HTML error page with no text)"


def server_message(
    body: bytes,
    content_type: str | None,
    headers: Mapping[str, str] | None = None,
    *,
    secrets: Sequence[str] = (),
) -> str:
    """The server's own message about an error, as one readable line.

    The body is read as JSON (whatever the content type says), HTML or
    plain text; when it says nothing, the ``x-error-message`` header the
    Hugging Face router sets is used. ``secrets`` (see ellmer_py._redact)
    are hidden in whatever the server wrote, before it is shortened.
    """
    headers = headers or {}
    header_message = _one_line(headers.get("x-error-message") or "", secrets)
    text = redact(body.decode("utf-8", "replace"), secrets).strip()
    ctype = (content_type or "").lower()
    if text[:1] in ("{", "[", '"'):
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: nested too deep
            doc = None
        if doc is not None:
            found = _message_from_json(doc)
            return _one_line(found, secrets) if found else header_message or _one_line(text)
    if "html" in ctype or text[:1] == "<":
        return _html_message(text, secrets)
    if text:
        return _one_line(text)
    return header_message or "(the server sent no message)"


def _body_request_id(body: bytes) -> str | None:
    """The ``request_id`` an error body carries (Anthropic puts it there too)."""
    if b'"request_id"' not in body[:4096] and b'"request_id"' not in body[-4096:]:
        return None
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return None
    found = doc.get("request_id") if isinstance(doc, Mapping) else None
    return found if isinstance(found, str) and found else None


def _retry_after(headers: Mapping[str, str]) -> float | None:
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    from datetime import datetime, timezone  # rare: not worth their import time up front
    from email.utils import parsedate_to_datetime

    try:  # an HTTP date
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def error_from_response(
    provider: str,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tries: int = 1,
    secrets: Sequence[str] = (),
    reader: Callable[[bytes], str | None] | None = None,
) -> HTTPStatusError:
    """Build the typed error for an HTTP error answer.

    ``headers`` must have lower-case names. The message names the provider,
    the status and the server's own words, and how to fix the common cases.
    ``secrets`` (the credentials the request carried) never show, even
    where the server quoted them back. ``reader`` is a provider's own
    reading of the body (R: ``req_error(body = ...)``); where it gives
    nothing, or fails, the server's words are found as for any provider.
    """
    cls = status_error_class(status)
    if cls is BadRequestError and _says_bad_credential(body):
        cls = AuthenticationError
    said = ""
    if reader is not None:
        try:
            said = " ".join(redact(reader(body) or "", secrets).split())[:1000]
        except Exception:  # a reader that cannot read it: the usual message
            said = ""
    if not said:
        said = server_message(body, headers.get("content-type"), headers, secrets=secrets)
    # AWS names the error's type in a header ("ValidationException:http://...")
    aws_type = headers.get("x-amzn-errortype", "").split(":", 1)[0].strip()[:100]
    if aws_type.isidentifier() and aws_type not in said:
        said = f"{said.rstrip('.')} [{aws_type}]"
    request_id = next((headers[h] for h in _REQUEST_ID_HEADERS if h in headers), None)
    if request_id is None:
        request_id = _body_request_id(body)
    if request_id is not None:
        request_id = redact(request_id, secrets)[:200]
    hint = {
        AuthenticationError: " Check the credential (environment variable or `credentials=`).",
        PaymentRequiredError: " The account has no credits left for this provider.",
    }.get(cls, "")
    after = f" after {tries} tries" if tries > 1 else ""
    message = f"{provider}: HTTP {status}{after}: {said.rstrip('.')}.{hint}"
    if request_id:
        message += f" (request id {request_id})"
    kwargs: dict[str, Any] = {
        "provider": provider,
        "status": status,
        "server_message": said,
        "request_id": request_id,
    }
    if cls is RateLimitError:
        return RateLimitError(message, retry_after=_retry_after(headers), **kwargs)
    return cls(message, **kwargs)
