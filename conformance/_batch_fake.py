"""The shared half of the loopback fakes of the providers' batch APIs.

A batch fake is one responder for :class:`~.fake_server.FakeServer`
(``FakeServer(default=fake)``) that keeps the state of a provider's batch
service: uploaded files, batches, how often each was polled, and the
per-item answers. The API-specific modules (``batch_openai``,
``batch_anthropic``, ``batch_gemini``) supply the routes, the document
shapes and the error shape; this module supplies what they share:

- routing by path *suffix* (whatever prefix the client's base URL holds);
- the credential check hook, the one-time 500 on batch creation;
- the poll counter: a batch stays in progress for ``polls`` GETs of it and
  ends on the next one (listing batches does not count as a poll);
- the per-item outcomes: ``respond(key, body)`` gives an
  :class:`~._protocol.Answer` or an :class:`ItemError`; when a batch
  expires or is cancelled, the first ``n // 2`` items (in submission order)
  keep their answers and the rest get the API's expiry/cancel outcome;
- a deterministic shuffle, so results never come back in submission order.

Everything runs under :attr:`BatchFake.lock` (the server calls the fake from
one thread per connection).
"""

from __future__ import annotations

import abc
import json
import random
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar, TypeAlias, TypeVar
from urllib.parse import parse_qsl, urlsplit

from ._protocol import Answer, Usage, protocol_fake
from .fake_server import RecordedRequest, Reply

__all__ = [
    "ApiError",
    "BatchFake",
    "FakeBatch",
    "ItemError",
    "Respond",
    "bad",
    "echo_answer",
    "route",
    "shuffled",
]


@dataclass(frozen=True)
class ItemError:
    """What ``respond()`` returns to fail one item of a batch.

    ``kind`` says how the API reports it: ``"error"`` (the request failed
    with HTTP ``status`` and ``message``), ``"expired"`` (the batch ended
    before the item ran) or ``"canceled"`` (the batch was cancelled first).
    """

    status: int = 500
    message: str = "internal error"
    kind: str = "error"

    def __post_init__(self) -> None:
        if self.kind not in ("error", "expired", "canceled"):
            raise ValueError(
                f"ItemError.kind must be 'error', 'expired' or 'canceled', not {self.kind!r}"
            )


Respond: TypeAlias = Callable[[str, dict[str, Any]], "Answer | ItemError"]
"""``(custom_id or key, the item's request body) -> Answer | ItemError``."""
Result: TypeAlias = "tuple[str, dict[str, Any], Answer | ItemError]"


@dataclass
class FakeBatch:
    """One batch as the fake holds it.

    ``items`` are ``(custom_id/key, request body)`` in submission order;
    ``polls`` counts the GETs of this batch so far; ``metadata`` is what the
    client attached (OpenAI ``metadata``, Gemini ``displayName`` ...);
    ``state`` is the API's own status name. ``outcomes`` (submission order)
    is filled when the batch ends; ``info`` holds API-specific details.
    """

    id: str
    items: list[tuple[str, dict[str, Any]]]
    polls: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)
    state: str = ""
    seq: int = 0
    ended: bool = False
    outcomes: list[Result] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


class ApiError(Exception):
    """Raised inside a route; the fake answers with the API's error shape."""

    def __init__(self, status: int, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = fields


def echo_answer(protocol: str, body: Any) -> Answer:
    """The default answer: ``echo: <the user text of body>``, usage 10 in / 5 out."""
    text = protocol_fake(protocol).user_text(body)
    return Answer(text_pieces=(f"echo: {text}",), usage=Usage(10, 5))


_T = TypeVar("_T")


def shuffled(items: Sequence[_T], seed: str) -> list[_T]:
    """``items`` in a deterministic order that differs from theirs when there are two or more."""
    out = list(items)
    random.Random(seed).shuffle(out)
    if len(out) > 1 and out == list(items):
        out = out[1:] + out[:1]
    return out


def rfc3339(unix: int, hours: int = 0) -> str:
    """The RFC 3339 UTC timestamp (``2023-11-14T22:13:20Z``) ``hours`` after ``unix``."""
    moment = datetime.fromtimestamp(unix, tz=timezone.utc) + timedelta(hours=hours)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


Route = tuple[str, "re.Pattern[str]", str]


def route(verb: str, suffix: str, handler: str) -> Route:
    """A route: ``verb`` on paths ending with the ``suffix`` regex, served by ``handler``."""
    return verb, re.compile(suffix + "$"), handler


def bad(message: str, **fields: Any) -> ApiError:
    """A 400 in the API's shape (``fields``: ``param``, ``code`` where the API has them)."""
    return ApiError(400, message, **fields)


class BatchFake(abc.ABC):
    """Base of the batch fakes; one instance per test, used as ``FakeServer(default=fake)``.

    ``key``: the credential the client must send (``None``: any or none);
    ``respond``: the per-item outcome (default: :func:`echo_answer`);
    ``polls``: GETs a batch stays in progress (``0``: the first GET sees it
    ended); ``expire``: the batch ends expired; ``fail``: a batch-level
    failure message; ``max_items`` / ``max_bytes``: limits above which the
    API's own 400 rejects a batch (or its file); ``server_error_once``: the
    first batch-create request gets a 500.

    What it holds (read it in tests, under :attr:`lock` if the server is busy):
    ``created`` (batches created), ``batches`` (by id/name, in creation
    order), ``uploads`` (the bytes the client uploaded, by file id/name),
    ``outputs`` (the result files the API wrote), ``files`` (the file
    resources it reports), ``sessions`` (open resumable uploads),
    ``requests_seen`` (``"METHOD path"`` of every request, in order).
    """

    api: ClassVar[str] = ""
    #: ``(METHOD, path-suffix regex, handler method name)``, tried in order.
    routes: ClassVar[Sequence[Route]] = ()

    def __init__(
        self,
        *,
        key: str | None = None,
        respond: Respond | None = None,
        polls: int = 1,
        expire: bool = False,
        fail: str | None = None,
        max_items: int | None = None,
        max_bytes: int | None = None,
        server_error_once: bool = False,
    ) -> None:
        """Configure the fake (see the class docstring)."""
        if polls < 0:
            raise ValueError(f"polls must be 0 or more, not {polls}")
        for name, limit in (("max_items", max_items), ("max_bytes", max_bytes)):
            if limit is not None and limit < 1:
                raise ValueError(f"{name} must be None or at least 1, not {limit}")
        self.key = key
        self.respond = respond
        self.polls = polls
        self.expire = expire
        self.fail = fail
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.server_error_once = server_error_once
        self.created = 0
        #: Unix time of the fake's first object (each new one is a second later): the
        #: clock's, as the real APIs stamp batches, so "created since" searches work.
        self.epoch = int(time.time())
        self.batches: dict[str, FakeBatch] = {}
        self.uploads: dict[str, bytes] = {}
        self.outputs: dict[str, bytes] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self.requests_seen: list[str] = []
        self.lock = threading.Lock()
        self._seq = 0

    def __repr__(self) -> str:
        """Name, batch and upload counts (never the key)."""
        return f"<{type(self).__name__} batches={len(self.batches)} uploads={len(self.uploads)}>"

    # -- the responder -----------------------------------------------------

    def __call__(self, request: RecordedRequest) -> Reply:
        """Answer one request as the provider's batch API would."""
        parts = urlsplit(request.path)
        path = parts.path
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        with self.lock:
            self.requests_seen.append(f"{request.method} {path}")
            try:
                handler, match = self._find_route(request.method, path)
                denied = self.check_auth(request, query, handler)
                if denied is not None:
                    return denied
                reply: Reply = getattr(self, handler)(request, match, query)
                return reply
            except ApiError as exc:
                return self.error(exc.status, exc.message, **exc.fields)

    def _find_route(self, method: str, path: str) -> tuple[str, re.Match[str]]:
        allowed = []
        for verb, pattern, handler in self.routes:
            match = pattern.search(path)
            if match is None:
                continue
            if verb == method:
                return handler, match
            allowed.append(verb)
        if allowed:
            raise ApiError(405, f"Method {method} is not allowed on {path} (use {allowed[0]}).")
        raise ApiError(404, f"Invalid URL ({method} {path}): no such route in the {self.api} API.")

    # -- hooks for the API modules -------------------------------------------

    @abc.abstractmethod
    def check_auth(
        self, request: RecordedRequest, query: Mapping[str, str], handler: str
    ) -> Reply | None:
        """An error reply when the request lacks the credential, else ``None``."""

    @abc.abstractmethod
    def error(self, status: int, message: str, **fields: Any) -> Reply:
        """An error reply in the API's own shape."""

    @abc.abstractmethod
    def finish(self, batch: FakeBatch) -> None:
        """Set the batch's end state and results once its outcomes are known."""

    # -- shared helpers ----------------------------------------------------

    def next_seq(self) -> int:
        """A fresh sequence number (ids, timestamps, creation order)."""
        self._seq += 1
        return self._seq

    def maybe_server_error(self) -> None:
        """Raise the one-time 500 of ``server_error_once`` (on batch creation)."""
        if self.server_error_once:
            self.server_error_once = False
            raise ApiError(500, "The server had an error while processing your request.")

    def check_limits(self, items: int | None, size: int | None, status: int = 400) -> None:
        """A 400 (``status`` for size) when a batch is over ``max_items`` / ``max_bytes``."""
        split = "Split the requests over several batches."
        if items is not None and self.max_items is not None and items > self.max_items:
            raise bad(
                f"The batch has {items} requests; at most {self.max_items} are allowed. {split}"
            )
        if size is not None and self.max_bytes is not None and size > self.max_bytes:
            why = f"Request payload size exceeds the limit: {self.max_bytes} bytes (got {size})."
            raise ApiError(status, f"{why} {split}")

    def content(self, file_id: str) -> bytes:
        """The bytes of an uploaded or generated file."""
        return self.uploads[file_id] if file_id in self.uploads else self.outputs[file_id]

    def add_batch(self, batch: FakeBatch) -> FakeBatch:
        """Record a newly created batch."""
        self.batches[batch.id] = batch
        self.created += 1
        return batch

    def find_batch(self, batch_id: str, what: str = "batch") -> FakeBatch:
        """The batch with this id, or a 404 in the API's shape."""
        batch = self.batches.get(batch_id)
        if batch is None:
            raise ApiError(404, f"No {what} found with id '{batch_id}'.")
        return batch

    def newest_first(self) -> list[FakeBatch]:
        """All batches, the most recently created first."""
        return sorted(self.batches.values(), key=lambda b: b.seq, reverse=True)

    def poll(self, batch: FakeBatch) -> None:
        """Count one GET of ``batch``; end it once it has been polled enough."""
        batch.polls += 1
        if batch.ended:
            return
        if batch.info.get("cancel") or batch.polls > self.polls:
            self.end(batch)

    def end(self, batch: FakeBatch) -> None:
        """Work out every item's outcome and let the API module finish the batch."""
        cut = self._cut_kind(batch)
        answered = len(batch.items) // 2 if cut else len(batch.items)
        outcomes: list[Result] = []
        if self.fail is None and not batch.info.get("invalid"):
            for index, (key, body) in enumerate(batch.items):
                if index >= answered:
                    outcome: Answer | ItemError = ItemError(
                        504 if cut == "expired" else 499, f"request {cut}", kind=cut or "error"
                    )
                else:
                    outcome = self._respond(batch, key, body)
                outcomes.append((key, body, outcome))
        batch.outcomes = outcomes
        batch.ended = True
        self.finish(batch)

    def _cut_kind(self, batch: FakeBatch) -> str | None:
        if batch.info.get("cancel"):
            return "canceled"
        return "expired" if self.expire else None

    def _respond(self, batch: FakeBatch, key: str, body: dict[str, Any]) -> Answer | ItemError:
        if self.respond is None:
            return echo_answer(batch.info["protocol"], body)
        outcome = self.respond(key, body)
        if not isinstance(outcome, (Answer, ItemError)):
            raise TypeError(
                f"respond({key!r}, body) returned {type(outcome).__name__}; "
                "return an Answer or an ItemError"
            )
        return outcome

    def counts(self, batch: FakeBatch) -> dict[str, int]:
        """Outcome tallies: ``succeeded``, ``errored``, ``expired``, ``canceled``."""
        tally = {"succeeded": 0, "errored": 0, "expired": 0, "canceled": 0}
        for _, _, outcome in batch.outcomes:
            if isinstance(outcome, Answer):
                tally["succeeded"] += 1
            else:
                tally["errored" if outcome.kind == "error" else outcome.kind] += 1
        return tally

    def results_order(self, batch: FakeBatch) -> list[Result]:
        """The outcomes in the (shuffled) order the API hands them back."""
        return shuffled(batch.outcomes, batch.id)


def json_body(request: RecordedRequest) -> dict[str, Any]:
    """The request body as a JSON object, or a 400 saying what is wrong with it."""
    if not request.body:
        raise ApiError(400, "The request body is empty; send a JSON object.")
    try:
        doc = json.loads(request.body)
    except ValueError as exc:
        raise ApiError(400, f"The request body is not valid JSON ({exc}).") from None
    if not isinstance(doc, dict):
        raise ApiError(400, f"The request body must be a JSON object, not {type(doc).__name__}.")
    return doc


def query_int(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter in ``[low, high]``, or a 400 naming it."""
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"'{name}' must be an integer, not {raw!r}.", param=name) from None
    if not low <= value <= high:
        raise ApiError(400, f"'{name}' must be between {low} and {high}, not {value}.", param=name)
    return value


def jsonl(docs: Sequence[Any]) -> bytes:
    """Documents as JSON lines, each ending with a newline."""
    return b"".join(json.dumps(d).encode("utf-8") + b"\n" for d in docs)


def outcome_body(protocol: str, outcome: Answer | ItemError) -> dict[str, Any]:
    """The document ``protocol``'s servers send for ``outcome``: the answer or the error."""
    fake = protocol_fake(protocol)
    if isinstance(outcome, Answer):
        reply = fake.answer(outcome)
    else:
        reply = fake.error(outcome.status, outcome.message)
    doc: dict[str, Any] = json.loads(reply.body)
    return doc
