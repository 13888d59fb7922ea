"""Redaction: the one place that hides credentials in text a user or a log could see.

What is secret about a request: the values of the headers that authenticate
it (``Authorization``, ``x-api-key``, any header from ``credentials=`` or
``api_headers``) and the user name, password and key-like query parameters of
its URL. :func:`redact` hides them in any text a server sent back, also
where the text was cut inside one (a cut key leaves a prefix, and a prefix
is still part of the key). Redact raw server text first, then shorten it.
:func:`redact_url` hides the secrets of a URL for display, and
:func:`install_log_filter` does the same for what urllib3 logs.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ._errors import EllmerError

if TYPE_CHECKING:
    from ._turn import AssistantTurn

__all__ = [
    "REDACTED",
    "Secrets",
    "install_log_filter",
    "is_secret_name",
    "redact",
    "redact_error",
    "redact_json",
    "redact_url",
    "secrets_of",
    "url_secrets",
]

REDACTED = "[REDACTED]"
#: Header and query parameter names that carry a credential.
_SECRET_NAME = re.compile(
    r"auth|key|token|secret|cookie|session|pass|pwd|sig|credential|code", re.IGNORECASE
)
#: Values shorter than this are not worth hiding (and would mangle messages).
_MIN_SECRET = 6
#: A cut leaves a prefix of a key; one this long or longer is hidden where the text
#: stops there, and one of _SURE_PREFIX characters or more wherever it is.
_MIN_PREFIX = 6
_SURE_PREFIX = 12
# For display and logs: "scheme://user:pass@" and "?name=value" with a secret name.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#@\s]+@")
_SECRET_QUERY = re.compile(
    r"(?i)([?&;][^=&;#\s\"'?]*(?:key|token|secret|pass|pwd|sig|auth|credential|session|code)"
    r"[^=&;#\s\"'?]*=)[^&;#\s\"']*"
)

_T = TypeVar("_T")
_E = TypeVar("_E", bound=EllmerError)


def is_secret_name(name: str) -> bool:
    """Whether a header or query parameter called ``name`` carries a credential."""
    return bool(_SECRET_NAME.search(name))


def _variants(value: str) -> set[str]:
    """``value`` and the ways a server or a message may spell it back."""
    out = {value}
    out.add(json.dumps(value, ensure_ascii=False)[1:-1])  # inside a JSON string
    out.add(repr(value)[1:-1])  # inside a repr'd snippet
    if " " not in value and any(c in value for c in "%+/=:@&?#"):
        from urllib.parse import quote, quote_plus, unquote

        out.update({quote(value, safe=""), quote_plus(value), unquote(value)})
    return out


def secrets_of(
    headers: Mapping[str, str] | None = None,
    *,
    extra: Iterable[str] = (),
    public: Iterable[str] = (),
) -> tuple[str, ...]:
    """The secret values of a request, longest first.

    A header is secret when its name says so (``is_secret_name``) unless it is
    in ``public`` (lower-case names of headers known to be harmless, such as
    the protocol's own). ``Authorization: Bearer <key>`` gives both the whole
    value and ``<key>``. ``extra`` adds values known to be secret (every
    header from ``credentials=`` and ``api_headers``, URL secrets).
    """
    found: set[str] = set()
    skip = {p.lower() for p in public}
    values = [
        v
        for k, v in (headers or {}).items()
        if isinstance(v, str) and k.lower() not in skip and is_secret_name(k)
    ]
    for value in [*values, *extra]:
        if not isinstance(value, str):
            continue
        value = value.strip()
        found.add(value)
        _, _, token = value.partition(" ")
        found.add(token.strip())
    out: set[str] = set()
    for value in found:
        if len(value) >= _MIN_SECRET:
            out.update(v for v in _variants(value) if len(v) >= _MIN_SECRET)
    return tuple(sorted(out, key=len, reverse=True))


def url_secrets(url: str) -> tuple[str, ...]:
    """The user name, password and key-like query values written in a URL."""
    from urllib.parse import parse_qsl, unquote, urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return ()
    found: list[str] = []
    userinfo, at, _ = parts.netloc.rpartition("@")
    if at:
        user, _, password = userinfo.partition(":")
        found += [user, password, unquote(user), unquote(password)]
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if is_secret_name(name):
            found.append(value)
    return tuple(v for v in found if v)


def redact(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every secret, and every prefix of one left by a cut, replaced.

    ``secrets`` as :func:`secrets_of` gives them, longest first. A secret
    with a space in it ("Bearer <key>") is replaced where it appears whole.
    A key is also replaced where only its first characters are left: at
    least 12 of them, or at least 6 where the text stops there (its end, a
    quote, an ellipsis, any punctuation), since a message cut inside a key
    would otherwise show its start. Prose that merely begins like a key
    ("conformance says" for a key "conformance-key-...") is left alone.
    """
    if not secrets or not text:
        return text
    for secret in secrets:
        if " " in secret:
            if secret in text:
                text = text.replace(secret, REDACTED)
            continue
        head = secret[:_MIN_PREFIX]
        start = text.find(head)
        if start < 0:
            continue
        parts: list[str] = []
        done = 0
        size, limit = len(text), len(secret)
        while start >= 0:
            end = start + len(head)
            while end < size and end - start < limit and text[end] == secret[end - start]:
                end += 1
            short = end - start < min(limit, _SURE_PREFIX)
            if short and end < size and (text[end].isalnum() or text[end].isspace()):
                start = text.find(head, start + 1)  # goes on in its own words: not a cut key
                continue
            parts += [text[done:start], REDACTED]
            done = end
            start = text.find(head, done)
        parts.append(text[done:])
        text = "".join(parts)
    return text


def redact_error(error: _E, secrets: Sequence[str]) -> _E:
    """``error`` with the secrets removed from its message and server message (in place)."""
    if not secrets:
        return error
    message = redact(error.message, secrets)
    if message != error.message:
        error.message = message
    if error.args != (error.message,):
        error.args = (error.message, *(_redact_value(a, secrets) for a in error.args[1:]))
    if error.server_message is not None:
        error.server_message = redact(error.server_message, secrets)
    for name, value in list(vars(error).items()):
        if name not in ("message", "server_message") and isinstance(value, str):
            setattr(error, name, redact(value, secrets))
    return error


def _redact_value(value: Any, secrets: Sequence[str]) -> Any:
    return redact(value, secrets) if isinstance(value, str) else value


def redact_json(doc: _T, secrets: Sequence[str]) -> _T:
    """A copy of a JSON document with the secrets removed from every key and string.

    The document is walked without recursion (a hostile one may be deep);
    ``doc`` itself is returned when there is nothing to hide.
    """
    if not secrets or not isinstance(doc, (dict, list, str)):
        return doc
    if isinstance(doc, str):
        return redact(doc, secrets)  # type: ignore[return-value]
    try:
        text = json.dumps(doc, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        text = None
    if text is not None and redact(text, secrets) == text:
        return doc
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any]] = [(doc, root, 0)]
    while stack:
        node, parent, slot = stack.pop()
        if isinstance(node, dict):
            copy: dict[Any, Any] = {}
            for key, value in node.items():
                new_key = redact(key, secrets) if isinstance(key, str) else key
                copy[new_key] = None
                stack.append((value, copy, new_key))
            parent[slot] = copy
        elif isinstance(node, (list, tuple)):
            items: list[Any] = [None] * len(node)
            stack.extend((value, items, i) for i, value in enumerate(node))
            parent[slot] = items
        elif isinstance(node, str):
            parent[slot] = redact(node, secrets)
        else:
            parent[slot] = node
    return root[0]  # type: ignore[no-any-return]


def redact_url(url: str) -> str:
    """A URL (or any text holding URLs) for display: no user:password, no key-like query values."""
    if "@" in url:
        url = _USERINFO.sub(rf"\1{REDACTED}@", url)
    if "=" in url:
        url = _SECRET_QUERY.sub(rf"\1{REDACTED}", url)
    return url


class Secrets:
    """The secrets one provider (one transport) has sent, to hide them in what comes back.

    Every request adds the values it carries; the most recent 64 are kept
    (rotating tokens). Thread-safe; ``repr`` never shows a value.
    """

    __slots__ = ("__weakref__", "_lock", "_raw", "values")
    _KEEP = 64

    def __init__(self) -> None:
        self._raw: dict[str, None] = {}
        self._lock = threading.Lock()
        #: Every known secret and the ways it may be spelled back, longest first.
        self.values: tuple[str, ...] = ()
        _BOXES.add(self)  # for the log filter

    def __repr__(self) -> str:
        return f"<Secrets: {len(self._raw)} hidden>"

    def add(self, values: Iterable[str]) -> None:
        """Remember ``values`` (cheap when they are known already)."""
        new = [
            v.strip()
            for v in values
            if isinstance(v, str) and v.strip() and v.strip() not in self._raw
        ]
        if not new:
            return
        with self._lock:
            for value in new:
                self._raw.pop(value, None)
                self._raw[value] = None
            while len(self._raw) > self._KEEP:
                del self._raw[next(iter(self._raw))]
            self.values = secrets_of(extra=self._raw)

    def add_headers(self, headers: Mapping[str, str]) -> None:
        """Remember the values of the headers whose names say they are credentials."""
        self.add(v for k, v in headers.items() if is_secret_name(k))

    def redact(self, text: str) -> str:
        """``text`` with every known secret hidden."""
        return redact(text, self.values)

    def redact_error(self, error: _E) -> _E:
        """``error`` (in place) without any known secret, nor a cause that shows one."""
        secrets = self.values
        if not secrets:
            return error
        redact_error(error, secrets)
        received = getattr(error, "received", None)
        if received is not None:
            with contextlib.suppress(Exception):  # what arrived, for a partial turn
                error.received = self.redact_turn(received)  # type: ignore[attr-defined]
        seen: set[int] = set()
        linked: BaseException | None = error
        while linked is not None and id(linked) not in seen:
            seen.add(id(linked))
            for attr in ("__cause__", "__context__"):
                other = getattr(linked, attr)
                if other is not None and _shows(other, secrets):
                    setattr(linked, attr, None)
                    linked.__suppress_context__ = True
            linked = linked.__cause__ or linked.__context__
        return error

    def redact_turn(self, turn: AssistantTurn) -> AssistantTurn:
        """``turn`` with no known secret in its raw JSON, finish reason or partial reason."""
        secrets = self.values
        if not secrets:
            return turn
        from attrs import evolve

        from ._turn import AssistantPartialTurn, AssistantTurn

        if not isinstance(turn, AssistantTurn):
            return turn
        changes: dict[str, Any] = {}
        doc = redact_json(turn.json, secrets)
        if doc is not turn.json:
            changes["json"] = doc
        if isinstance(turn.finish_reason, str):
            reason = redact(turn.finish_reason, secrets)
            if reason != turn.finish_reason:
                changes["finish_reason"] = reason
        if isinstance(turn, AssistantPartialTurn) and isinstance(turn.reason, str):
            why = redact(turn.reason, secrets)
            if why != turn.reason:
                changes["reason"] = why
        return evolve(turn, **changes) if changes else turn


#: Every live Secrets box: the log filter hides what any of them knows.
_BOXES: weakref.WeakSet[Secrets] = weakref.WeakSet()


def _shows(exc: BaseException, secrets: Sequence[str]) -> bool:
    try:
        text = f"{exc!s} {exc!r}"
    except Exception:
        return True
    return redact(text, secrets) != text


def redacting(exchange: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
    """Wrap ``exchange(provider, send, record, ...)``: what it records and raises shows no secret.

    The one place every answer passes on its way to the user: each turn
    recorded (its raw JSON, its partial reason) and each of our errors raised
    is redacted with the secrets the provider sent, whatever path made them.
    """

    @functools.wraps(exchange)
    def wrapper(provider: Any, send: Any, record: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        box = getattr(getattr(provider, "transport", None), "secrets", None)
        if not isinstance(box, Secrets):
            yield from exchange(provider, send, record, *args, **kwargs)
            return

        def clean(turn: AssistantTurn) -> None:
            record(box.redact_turn(turn))

        try:
            yield from exchange(provider, send, clean, *args, **kwargs)
        except EllmerError as exc:
            box.redact_error(exc)
            raise

    return wrapper


# -- logs ---------------------------------------------------------------------------------

_LOGGERS = (
    "ellmer_py",
    "urllib3",
    "urllib3.connectionpool",
    "urllib3.poolmanager",
    "urllib3.connection",
    "urllib3.response",
    "urllib3.util.retry",
)
_installed = False


def install_log_filter() -> None:
    """Make the log records of urllib3 and ellmer_py show no secret (idempotent).

    urllib3 logs each request's path and query at DEBUG (and retries at
    WARNING); a key in the query (``?key=``) or a user:password would be
    written to every log handler, and a server's text (a ``Retry-After``
    value) could quote a key. A filter on each of these loggers rewrites the
    record before any handler sees it: URL secrets by name, and every
    credential a live provider has sent. It costs nothing while the level
    is off (the record is never made).
    """
    global _installed
    if _installed:
        return
    import logging

    class _Filter(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            try:
                message = record.getMessage()
            except Exception:
                return True
            clean = redact_url(message)
            for box in list(_BOXES):
                clean = box.redact(clean)
            if clean != message:
                record.msg = clean
                record.args = ()
            return True

    flt = _Filter("ellmer_py.redact")
    for name in _LOGGERS:
        logging.getLogger(name).addFilter(flt)
    _installed = True
