"""The batch-API seam: what a provider's batch API gives ``batch_chat()``.

A batch API (OpenAI's and Groq's Files + Batches, Anthropic's Message
Batches, Gemini's batch mode) takes many requests at once, answers them
within a day at half the price, and is reached in several HTTP steps
(upload, create, poll, download). Like a wire protocol it is pure code: each
step is a generator that yields the :class:`BatchCall` it needs sent and is
given back the :class:`BatchAnswer`, so the steps test without a server and
the driver (``ellmer_py._batch_job``) does all the I/O, through the
provider's own transport and authentication.

A :class:`BatchApi` says, for one provider:

- ``item(custom_id, request)``: one request as the API takes it (a JSONL
  line, an entry of a list), from the body the wire protocol built;
- ``submit(items, tag=)``: upload and create; returns the API's batch
  object (JSON); ``tag`` is written into the batch (metadata, display name)
  so that ``find(tag, since=)`` can recover a batch whose creation was never
  recorded (the process was killed in between);
- ``poll(batch)``, ``status(batch)``: the batch now, and how far it is;
- ``retrieve(batch)``: each item's answer document or error, by custom id
  (and under ``EVERY_OTHER`` the outcome of any item the API gave no line);
- ``max_items``/``max_bytes``: the API's limits (larger jobs are split);
- ``price_factor``: what a batched answer costs against the list price.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from attrs import field, frozen

from . import _frozen_map

if TYPE_CHECKING:
    from . import WireRequest

__all__ = [
    "EVERY_OTHER",
    "BatchAnswer",
    "BatchApi",
    "BatchCall",
    "BatchStatus",
    "BatchSteps",
    "ItemResult",
    "answer_json",
    "custom_id",
    "item_index",
    "jsonl",
    "multipart",
    "read_jsonl",
]

_T = TypeVar("_T")

#: The key of ``retrieve()``'s result for every request the API returned no line for.
EVERY_OTHER = "*"


@frozen
class BatchCall:
    """One HTTP request a batch step needs sent.

    ``path`` is relative to the provider's base URL, or an absolute URL,
    which must be on the same origin (the driver refuses to send
    credentials anywhere else). ``body`` is JSON (a mapping) or bytes
    (sent with ``content_type``). ``creates`` marks the request that
    creates a batch: the driver records that it is about to send it.
    """

    method: str
    path: str
    body: Mapping[str, Any] | bytes | None = None
    content_type: str | None = None
    query: Mapping[str, str] = field(factory=dict, converter=_frozen_map)
    headers: Mapping[str, str] = field(factory=dict, converter=_frozen_map)
    accept: str = "application/json"
    creates: bool = False


@frozen
class BatchAnswer:
    """The answer to a :class:`BatchCall`: its body and headers (lower-cased names)."""

    body: bytes
    headers: Mapping[str, str] = field(factory=dict, converter=_frozen_map)

    def json(self) -> Any:
        """The body decoded as JSON; ValueError when it is not."""
        return json.loads(self.body)


#: A batch step: yields calls, is sent their answers, returns its result.
BatchSteps = Generator[BatchCall, BatchAnswer, _T]


@frozen
class BatchStatus:
    """How far a batch is: ``working`` until the API says it has ended."""

    working: bool
    total: int
    succeeded: int = 0
    failed: int = 0
    #: The API's own name for the state (``in_progress``, ``ended``, ``BATCH_STATE_RUNNING``).
    state: str = ""

    @property
    def done(self) -> int:
        """Items answered so far, successfully or not."""
        return self.succeeded + self.failed


@frozen
class ItemResult:
    """One item's outcome: the answer document, or what went wrong.

    ``doc`` is what the wire protocol's ``parse_response()`` reads; when it
    is None, ``error`` says why (and ``status`` is the HTTP status the API
    gave the item, where it gave one).
    """

    doc: Any = None
    error: str | None = None
    status: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The result as the state file stores it."""
        if self.doc is not None:
            return {"doc": self.doc}
        return {"error": self.error or "failed", "status": self.status}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> ItemResult:
        """The result the state file stored."""
        if "doc" in value:
            return cls(doc=value["doc"])
        status = value.get("status")
        return cls(
            error=str(value.get("error")), status=status if isinstance(status, int) else None
        )


@runtime_checkable
class BatchApi(Protocol):
    """A provider's batch API (see the module docstring)."""

    @property
    def name(self) -> str:
        """``"openai-batch"``, ``"anthropic-batch"``, ``"gemini-batch"``."""
        ...

    @property
    def max_items(self) -> int:
        """The most requests one batch may hold."""
        ...

    @property
    def max_bytes(self) -> int:
        """The most bytes one batch's requests may take, as JSON Lines."""
        ...

    @property
    def price_factor(self) -> float:
        """What a batched answer costs against the list price (0.5: half)."""
        ...

    def item(self, custom_id: str, request: WireRequest) -> dict[str, Any]: ...

    def submit(
        self, items: Sequence[Mapping[str, Any]], *, model: str, tag: str
    ) -> BatchSteps[dict[str, Any]]: ...

    def find(
        self, tag: str, *, model: str, count: int, since: float | None = None
    ) -> BatchSteps[dict[str, Any] | None]: ...

    def poll(self, batch: Mapping[str, Any]) -> BatchSteps[dict[str, Any]]: ...

    def status(self, batch: Mapping[str, Any]) -> BatchStatus: ...

    def retrieve(self, batch: Mapping[str, Any]) -> BatchSteps[dict[str, ItemResult]]: ...


# -- shared wire helpers ---------------------------------------------------------------


def custom_id(index: int) -> str:
    """The id of prompt ``index`` (0-based) in a batch: ``chat-1``, ``chat-2``, ... as in R."""
    return f"chat-{index + 1}"


def item_index(value: Any) -> int | None:
    """The 0-based prompt index a custom id names, or None for one we did not make."""
    if isinstance(value, str) and value.startswith("chat-") and value[5:].isdigit():
        index = int(value[5:]) - 1
        return index if index >= 0 else None
    return None


def jsonl(lines: Sequence[Mapping[str, Any]]) -> bytes:
    """JSON Lines: one compact JSON document per line."""
    return b"".join(
        json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
        for line in lines
    )


def read_jsonl(data: bytes, what: str) -> list[Any]:
    """The documents of a JSON Lines file; a line that is not JSON is kept as its text.

    (R: ``read_ndjson(fallback=)``.) Blank lines are skipped. ``what`` names
    the file in the ValueError raised for a body that is not text.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{what} is not UTF-8 text") from None
    out: list[Any] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except (ValueError, RecursionError):
            out.append(line)
    return out


def multipart(
    fields: Mapping[str, str], file_field: str, filename: str, data: bytes, boundary: str
) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body (RFC 7578) and its content type.

    ``boundary`` must not occur in ``data``; the caller makes it from a hash
    of the data, so the body is the same for the same input.
    """
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            f"{value}\r\n".encode()
        )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
        f'filename="{filename}"\r\nContent-Type: application/jsonl\r\n\r\n'.encode()
    )
    parts.append(data)
    parts.append(f"\r\n--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def answer_json(answer: BatchAnswer, what: str) -> dict[str, Any]:
    """The answer's JSON object; ValueError naming ``what`` when it is not one."""
    try:
        doc = answer.json()
    except (ValueError, RecursionError):
        raise ValueError(f"the answer to {what} is not JSON: {answer.body[:200]!r}") from None
    if not isinstance(doc, dict):
        raise ValueError(f"the answer to {what} is not a JSON object: {doc!r:.200}")
    return doc
