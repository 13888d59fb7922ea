"""A loopback fake of Anthropic's Message Batches API.

Written from the Anthropic API reference (``POST /v1/messages/batches``,
``GET /v1/messages/batches/{id}``, ``GET .../{id}/results``, ``POST
.../{id}/cancel``, ``DELETE .../{id}``, ``GET /v1/messages/batches`` with
``before_id`` / ``after_id`` / ``limit``) and the anthropic-sdk-python
types. Paths are matched as suffixes of whatever base URL the client uses.

Every request needs ``x-api-key`` (when the fake has a key) and an
``anthropic-version`` header. A batch is ``{"requests": [{"custom_id",
"params"}]}``; the API checks the request synchronously (custom ids of 1-64
letters, digits, ``-`` or ``_``, unique; ``params`` with ``model``,
``max_tokens`` and ``messages``; no streaming), so a bad batch, or one over
the limits, is a 400 (413 above ``max_bytes``); ``fail=...`` makes every
create a 400 with that message. A batch is ``in_progress`` (``canceling``
after a cancel) and then ``ended``; ``request_counts`` are all
``processing`` until it ends. Its ``results_url`` (an absolute URL on the
same server) serves JSONL lines ``{"custom_id", "result": {"type":
"succeeded", "message"} | {"type": "errored", "error"} | {"type":
"expired"} | {"type": "canceled"}}``, in no particular order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ._batch_fake import (
    ApiError,
    BatchFake,
    FakeBatch,
    ItemError,
    json_body,
    jsonl,
    outcome_body,
    query_int,
    rfc3339,
    route,
)
from ._protocol import protocol_fake
from .fake_server import RecordedRequest, Reply

__all__ = ["FAKE_CLASS", "AnthropicBatchFake"]

_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_PROTOCOL = "anthropic-messages"
_BATCH = r"/messages/batches/(?P<id>[^/]+)"
_PARAMS = (("model", str), ("max_tokens", int), ("messages", list))


class AnthropicBatchFake(BatchFake):
    """Anthropic's Message Batches API (see the module docstring)."""

    api = "anthropic-batch"
    routes = (
        route("POST", r"/messages/batches", "create_batch"),
        route("GET", r"/messages/batches", "list_batches"),
        route("GET", _BATCH, "get_batch"),
        route("DELETE", _BATCH, "delete_batch"),
        route("GET", _BATCH + "/results", "results"),
        route("POST", _BATCH + "/cancel", "cancel_batch"),
    )

    def check_auth(
        self, request: RecordedRequest, query: Mapping[str, str], handler: str
    ) -> Reply | None:
        """``x-api-key`` (401 ``authentication_error``), then ``anthropic-version`` (400)."""
        sent = request.headers.get("x-api-key")
        if self.key is not None and not sent:
            return self.error(401, "x-api-key header is required")
        if self.key is not None and sent != self.key:
            return self.error(401, "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return self.error(400, "anthropic-version: header is required")
        return None

    def error(self, status: int, message: str, **fields: Any) -> Reply:
        """``{"type": "error", "error": {"type", "message"}, "request_id"}``."""
        return protocol_fake(_PROTOCOL).error(status, message)

    # -- routes ------------------------------------------------------------

    def create_batch(self, request: RecordedRequest, match: Any, query: Any) -> Reply:
        """``POST /messages/batches``: validated at once, as the API does."""
        self.maybe_server_error()
        if self.max_bytes is not None and len(request.body) > self.max_bytes:
            raise ApiError(
                413,
                f"Request exceeds the maximum size: {len(request.body)} bytes, at most "
                f"{self.max_bytes} bytes per Message Batch. Split the requests over batches.",
            )
        body = json_body(request)
        requests = body.get("requests")
        if not isinstance(requests, list) or not requests:
            raise ApiError(400, "requests: Field required (a non-empty list of requests)")
        if self.max_items is not None and len(requests) > self.max_items:
            raise ApiError(
                400,
                f"requests: a Message Batch holds at most {self.max_items} requests, not "
                f"{len(requests)}. Split them over several batches.",
            )
        items = _validate(requests)
        if self.fail is not None:
            raise ApiError(400, self.fail)
        seq = self.next_seq()
        batch = FakeBatch(f"msgbatch_fake{seq:06d}", items, state="in_progress", seq=seq)
        prefix = request.path.split("?")[0][: match.start()]
        host = request.headers.get("host", "127.0.0.1")
        batch.info.update(
            protocol=_PROTOCOL,
            created_at=self.epoch + seq,
            results_url=f"http://{host}{prefix}/messages/batches/{batch.id}/results",
        )
        self.add_batch(batch)
        return Reply.json(self._doc(batch))

    def get_batch(self, request: RecordedRequest, match: Any, query: Any) -> Reply:
        """``GET /messages/batches/{id}``: counts as one poll."""
        batch = self.find_batch(match["id"], "Message Batch")
        self.poll(batch)
        return Reply.json(self._doc(batch))

    def cancel_batch(self, request: RecordedRequest, match: Any, query: Any) -> Reply:
        """``POST .../cancel``: ``canceling`` now, ``ended`` at the next GET."""
        batch = self.find_batch(match["id"], "Message Batch")
        if batch.ended:
            raise ApiError(400, f"Message Batch {batch.id} has ended and cannot be canceled.")
        batch.info.setdefault("cancel", self.epoch + self.next_seq())
        batch.state = "canceling"
        return Reply.json(self._doc(batch))

    def delete_batch(self, request: RecordedRequest, match: Any, query: Any) -> Reply:
        """``DELETE .../{id}``: only an ended batch."""
        batch = self.find_batch(match["id"], "Message Batch")
        if not batch.ended:
            raise ApiError(
                400,
                f"Message Batch {batch.id} is still processing; cancel it and wait for it to "
                "end before deleting it.",
            )
        del self.batches[batch.id]
        return Reply.json({"id": batch.id, "type": "message_batch_deleted"})

    def results(self, request: RecordedRequest, match: Any, query: Any) -> Reply:
        """``GET .../{id}/results``: JSONL, one line per request, shuffled."""
        batch = self.find_batch(match["id"], "Message Batch")
        if not batch.ended:
            raise ApiError(
                400,
                f"Message Batch {batch.id} has not ended yet (processing_status "
                f"{batch.state!r}); its results are available once it has ended.",
            )
        lines = [
            {"custom_id": key, "result": _result(out)} for key, _, out in self.results_order(batch)
        ]
        return Reply.raw(200, jsonl(lines), content_type="application/binary")

    def list_batches(self, request: RecordedRequest, match: Any, query: Mapping[str, str]) -> Reply:
        """``GET /messages/batches``: newest first; ``after_id`` / ``before_id`` cursors."""
        limit = query_int(query, "limit", 20, 1, 1000)
        if "after_id" in query and "before_id" in query:
            raise ApiError(400, "Give before_id or after_id, not both.")
        batches = self.newest_first()
        ids = [b.id for b in batches]
        cursor = query.get("after_id") or query.get("before_id")
        if cursor is not None and cursor not in ids:
            raise ApiError(400, f"No Message Batch with id {cursor!r} to page from.")
        if "before_id" in query:
            end = ids.index(query["before_id"])
            page, more = batches[max(0, end - limit) : end], end > limit
        else:
            start = ids.index(query["after_id"]) + 1 if "after_id" in query else 0
            page, more = batches[start : start + limit], start + limit < len(batches)
        docs = [self._doc(b) for b in page]
        first, last = (docs[0]["id"], docs[-1]["id"]) if docs else (None, None)
        return Reply.json({"data": docs, "has_more": more, "first_id": first, "last_id": last})

    # -- documents ---------------------------------------------------------

    def finish(self, batch: FakeBatch) -> None:
        """The batch has ended: every request has its result."""
        batch.state = "ended"
        batch.info["ended_at"] = self.epoch + self.next_seq()

    def _doc(self, batch: FakeBatch) -> dict[str, Any]:
        info, tally = batch.info, self.counts(batch)
        processing = 0 if batch.ended else len(batch.items)
        cancel, ended = info.get("cancel"), info.get("ended_at")
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": batch.state,
            "request_counts": {"processing": processing, **tally},
            "ended_at": rfc3339(ended) if ended else None,
            "created_at": rfc3339(info["created_at"]),
            "expires_at": rfc3339(info["created_at"], 24),
            "archived_at": None,
            "cancel_initiated_at": rfc3339(cancel) if cancel else None,
            "results_url": info["results_url"] if batch.ended else None,
        }


def _result(outcome: Any) -> dict[str, Any]:
    if not isinstance(outcome, ItemError):
        return {"type": "succeeded", "message": outcome_body(_PROTOCOL, outcome)}
    if outcome.kind != "error":
        return {"type": outcome.kind}
    return {"type": "errored", "error": outcome_body(_PROTOCOL, outcome)}


def _validate(requests: list[Any]) -> list[tuple[str, dict[str, Any]]]:
    """The items of a create request, or a 400 naming the first bad field."""
    items: list[tuple[str, dict[str, Any]]] = []
    for index, entry in enumerate(requests):
        where = f"requests.{index}"
        if not isinstance(entry, dict):
            raise ApiError(400, f"{where}: Input should be an object with custom_id and params")
        custom_id, params = entry.get("custom_id"), entry.get("params")
        if not isinstance(custom_id, str) or not _CUSTOM_ID.match(custom_id):
            raise ApiError(
                400,
                f"{where}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$' "
                f"(got {custom_id!r})",
            )
        if any(custom_id == key for key, _ in items):
            raise ApiError(
                400, f"{where}.custom_id: duplicate custom_id {custom_id!r}; each must be unique"
            )
        if not isinstance(params, dict):
            raise ApiError(400, f"{where}.params: Field required (the Messages API parameters)")
        for name, kind in _PARAMS:
            if not isinstance(params.get(name), kind):
                raise ApiError(400, f"{where}.params.{name}: Field required ({kind.__name__})")
        if params.get("stream"):
            raise ApiError(400, f"{where}.params.stream: streaming is not supported in batches")
        items.append((custom_id, params))
    return items


FAKE_CLASS = AnthropicBatchFake
