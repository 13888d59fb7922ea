"""Anthropic's Message Batches API.

(R: ``batch_submit()`` and friends for ``ProviderAnthropic``.) ``POST
messages/batches`` takes the requests inline (``custom_id`` and the
Messages ``params``); ``GET messages/batches/{id}`` polls it until its
``processing_status`` is ``ended``; the results are JSON Lines at the
batch's ``results_url``, one per request, ``succeeded`` (with the message),
``errored``, ``canceled`` or ``expired``, in no particular order.

The API keeps no metadata on a batch, so a batch whose creation was never
recorded is found by its size and creation time (``find``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from attrs import frozen

from .batch import (
    EVERY_OTHER,
    BatchAnswer,
    BatchCall,
    BatchStatus,
    BatchSteps,
    ItemResult,
    answer_json,
    read_jsonl,
)

if TYPE_CHECKING:
    from . import WireRequest

__all__ = ["AnthropicBatch"]

_LIST_PAGES = 20
#: How long before the job recorded that it was creating a batch one may have been made.
_SLACK_S = 300.0


def _counts(batch: Mapping[str, Any]) -> dict[str, int]:
    counts = batch.get("request_counts")
    counts = counts if isinstance(counts, Mapping) else {}
    out = {}
    for key in ("processing", "succeeded", "errored", "canceled", "expired"):
        value = counts.get(key)
        out[key] = value if isinstance(value, int) and value >= 0 else 0
    return out


def _created(batch: Mapping[str, Any]) -> float | None:
    value = batch.get("created_at")
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _result(value: Any) -> ItemResult:
    if not isinstance(value, Mapping):
        return ItemResult(error="the result carries no outcome")
    kind = value.get("type")
    if kind == "succeeded" and isinstance(value.get("message"), Mapping):
        return ItemResult(doc=dict(value["message"]))
    if kind == "errored":
        error = value.get("error")
        inner = error.get("error") if isinstance(error, Mapping) else None
        source = inner if isinstance(inner, Mapping) else error
        if isinstance(source, Mapping):
            return ItemResult(error=f"{source.get('type') or 'error'}: {source.get('message')}")
        return ItemResult(error="errored")
    if kind == "expired":
        return ItemResult(error="the request expired before it was processed (24 hours)")
    if kind == "canceled":
        return ItemResult(error="the request was canceled")
    return ItemResult(error=f"unknown result type {kind!r}")


@frozen
class AnthropicBatch:
    """Anthropic's Message Batches (100,000 requests or 256 MB a batch; half price)."""

    name: str = "anthropic-batch"
    max_items: int = 100_000
    max_bytes: int = 256 * 1000 * 1000
    price_factor: float = 0.5

    def item(self, custom_id: str, request: WireRequest) -> dict[str, Any]:
        """One request of the batch: its custom id and the Messages parameters."""
        params = {k: v for k, v in request.body.items() if k != "stream"}
        return {"custom_id": custom_id, "params": params}

    def submit(
        self, items: Sequence[Mapping[str, Any]], *, model: str, tag: str
    ) -> BatchSteps[dict[str, Any]]:
        """Create the batch (``POST messages/batches``) with the requests inline."""
        answer = yield BatchCall(
            "POST", "messages/batches", body={"requests": list(items)}, creates=True
        )
        return self._batch(answer, "the batch creation")

    def find(
        self, tag: str, *, model: str, count: int, since: float | None = None
    ) -> BatchSteps[dict[str, Any] | None]:
        """The one batch of ``count`` requests created after ``since``, or None.

        Several such batches are an error (ValueError naming them): which is
        this job's cannot be told.
        """
        found: list[dict[str, Any]] = []
        after: str | None = None
        for _ in range(_LIST_PAGES):
            query = {"limit": "100", **({"after_id": after} if after else {})}
            page = answer_json(
                (yield BatchCall("GET", "messages/batches", query=query)), "listing batches"
            )
            data = page.get("data")
            rows = [b for b in data if isinstance(b, Mapping)] if isinstance(data, list) else []
            old = False
            for batch in rows:
                created = _created(batch)
                if since is not None and created is not None and created < since - _SLACK_S:
                    old = True  # newest first: the rest are older still
                    continue
                if sum(_counts(batch).values()) == count:
                    found.append(dict(batch))
            last = page.get("last_id")
            if old or not page.get("has_more") or not isinstance(last, str):
                break
            after = last
        if len(found) > 1:
            ids = ", ".join(str(b.get("id")) for b in found)
            raise ValueError(
                f"several batches of {count} requests were created when this job was "
                f"interrupted ({ids}); cannot tell which is this job's"
            )
        return found[0] if found else None

    def poll(self, batch: Mapping[str, Any]) -> BatchSteps[dict[str, Any]]:
        """The batch now (``GET messages/batches/{id}``)."""
        answer = yield BatchCall("GET", f"messages/batches/{batch['id']}")
        return self._batch(answer, "polling the batch")

    def status(self, batch: Mapping[str, Any]) -> BatchStatus:
        """Working until ``processing_status`` is ``ended``."""
        counts = _counts(batch)
        failed = counts["errored"] + counts["canceled"] + counts["expired"]
        state = str(batch.get("processing_status") or "")
        return BatchStatus(
            working=state != "ended",
            total=sum(counts.values()),
            succeeded=counts["succeeded"],
            failed=failed,
            state=state,
        )

    def retrieve(self, batch: Mapping[str, Any]) -> BatchSteps[dict[str, ItemResult]]:
        """Each request's outcome, from the JSON Lines at ``results_url``."""
        url = batch.get("results_url")
        if not isinstance(url, str) or not url:
            path = f"messages/batches/{batch['id']}/results"
        else:
            path = url
        answer: BatchAnswer = yield BatchCall("GET", path, accept="application/binary")
        results: dict[str, ItemResult] = {}
        for line in read_jsonl(answer.body, "the batch's results"):
            if isinstance(line, Mapping) and isinstance(line.get("custom_id"), str):
                results[line["custom_id"]] = _result(line.get("result"))
        results[EVERY_OTHER] = ItemResult(error="the batch ended without a result for it")
        return results

    def _batch(self, answer: BatchAnswer, what: str) -> dict[str, Any]:
        batch = answer_json(answer, what)
        if not isinstance(batch.get("id"), str):
            raise ValueError(f"the answer to {what} is not a batch: {batch!r:.200}")
        return batch
