"""Turn an HTTP error answer into a typed error (pure: no I/O).

Servers answer errors in many shapes: ``{"error": "text"}``,
``{"error": {"message": ...}}``, ``{"message": ..., "reason": ...}``,
``{"detail": ...}``, plain text, or an HTML gateway page. Each becomes one
line of the server's own words, inside an error class chosen by status.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
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

__all__ = ["error_from_response", "server_message", "status_error_class"]

_MAX_MESSAGE = 500
_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-amzn-requestid", "cf-ray")
_TAG = re.compile(r"<[^>]+>")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_H1 = re.compile(r"<h1[^>]*>(.*?)</h1>", re.IGNORECASE | re.DOTALL)


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


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > _MAX_MESSAGE:
        text = text[: _MAX_MESSAGE - 1] + "…"
    return text


def _message_from_json(doc: Any) -> str | None:
    if isinstance(doc, str):
        return doc
    if isinstance(doc, list) and doc:
        return _message_from_json(doc[0])
    if not isinstance(doc, Mapping):
        return None
    error = doc.get("error")
    if isinstance(error, str):
        return error
    if isinstance(error, Mapping):
        found = _message_from_json(error)
        if found:
            return found
    for key in ("message", "detail", "error_message", "msg"):
        value = doc.get(key)
        if isinstance(value, str):
            reason = doc.get("reason")
            if key == "message" and isinstance(reason, str) and reason not in value:
                return f"{value} ({reason})"
            return value
        if value is not None and key == "detail":
            # FastAPI validation errors: a list of {"loc", "msg", ...}
            return _message_from_json(value) or json.dumps(value)
    return None


def server_message(body: bytes, content_type: str | None, headers: Mapping[str, str] | None = None) -> str:
    """The server's own message about an error, as one readable line."""
    headers = headers or {}
    text = body.decode("utf-8", "replace").strip()
    ctype = (content_type or "").lower()
    if text[:1] in "{[":
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if doc is not None:
            found = _message_from_json(doc)
            return _one_line(found if found else text)
    if "html" in ctype or text[:1] == "<":
        match = _TITLE.search(text) or _H1.search(text)
        inner = match.group(1) if match else _TAG.sub(" ", text)
        inner = html.unescape(_TAG.sub(" ", inner))
        return _one_line(inner) or "(an HTML error page with no title)"
    if text:
        return _one_line(text)
    header_message = headers.get("x-error-message")
    if header_message:
        return _one_line(header_message)
    return "(the server sent no message)"


def _retry_after(headers: Mapping[str, str]) -> float | None:
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


def error_from_response(
    provider: str,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tries: int = 1,
) -> HTTPStatusError:
    """Build the typed error for an HTTP error answer.

    ``headers`` must have lower-case names. The message names the provider,
    the status and the server's own words, and how to fix the common cases.
    """
    cls = status_error_class(status)
    said = server_message(body, headers.get("content-type"), headers)
    request_id = next((headers[h] for h in _REQUEST_ID_HEADERS if h in headers), None)
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
