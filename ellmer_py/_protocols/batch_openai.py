"""OpenAI's Batch API (and Groq's, the same API): a JSONL file, then a batch.

(R: ``batch_submit()`` and friends for ``ProviderOpenAI`` and ``ProviderGroq``.)
The requests go in a JSON Lines file uploaded with ``POST files``
(``purpose=batch``); ``POST batches`` creates the batch from it, for one
endpoint (``/v1/responses`` for OpenAI, ``/v1/chat/completions`` for Groq),
with our tag in its ``metadata``. ``GET batches/{id}`` polls it; once it is
``completed``, ``failed``, ``expired`` or ``cancelled``, the answers are in
the output file and the failures in the error file (``GET files/{id}/content``),
one line per request, in no particular order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
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
    jsonl,
    multipart,
    read_jsonl,
)

if TYPE_CHECKING:
    from . import WireRequest

__all__ = ["OpenAIBatch"]

#: Where our tag goes in a batch's metadata.
TAG_KEY = "ellmer_py_job"
_TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
_LIST_PAGES = 20  # at most 2,000 recent batches are searched for a lost one


def _counts(batch: Mapping[str, Any]) -> tuple[int, int, int]:
    counts = batch.get("request_counts")
    counts = counts if isinstance(counts, Mapping) else {}

    def number(key: str) -> int:
        value = counts.get(key)
        return value if isinstance(value, int) and value >= 0 else 0

    return number("total"), number("completed"), number("failed")


def _batch_errors(batch: Mapping[str, Any]) -> str:
    """The batch-level errors (a failed validation), as one message."""
    errors = batch.get("errors")
    data = errors.get("data") if isinstance(errors, Mapping) else None
    messages = []
    for entry in data if isinstance(data, list) else []:
        if isinstance(entry, Mapping):
            line = entry.get("line")
            where = f" (line {line})" if isinstance(line, int) else ""
            messages.append(f"{entry.get('code') or 'error'}: {entry.get('message') or ''}{where}")
    return "; ".join(messages)


def _line_result(line: Any) -> tuple[str | None, ItemResult]:
    """One output- or error-file line: its custom id and outcome."""
    if not isinstance(line, Mapping):  # a line that was not JSON (R: openai_json_fallback)
        return None, ItemResult(error=f"unreadable result line: {str(line)[:200]!r}", status=500)
    cid = line.get("custom_id")
    cid = cid if isinstance(cid, str) else None
    response = line.get("response")
    error = line.get("error")
    if isinstance(response, Mapping):
        status = response.get("status_code")
        body = response.get("body")
        if status == 200 and isinstance(body, Mapping):
            return cid, ItemResult(doc=dict(body))
        message = None
        if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
            message = body["error"].get("message")
        if message is None and isinstance(error, Mapping):
            message = error.get("message")
        return cid, ItemResult(
            error=str(message or f"HTTP {status}"),
            status=status if isinstance(status, int) else None,
        )
    if isinstance(error, Mapping):
        code = error.get("code")
        text = str(error.get("message") or code or "failed")
        return cid, ItemResult(error=f"{code}: {text}" if code and code not in text else text)
    return cid, ItemResult(error="the result line carries neither a response nor an error")


@frozen
class OpenAIBatch:
    """The OpenAI Batch API for one endpoint (R: ``batch_submit()``, ``ProviderOpenAI``).

    ``endpoint`` is the path every line is sent to (``/v1/responses``,
    ``/v1/chat/completions``); the limits are OpenAI's (50,000 requests and
    200 MB a file), which Groq shares; a batch costs half the list price.
    """

    endpoint: str = "/v1/responses"
    name: str = "openai-batch"
    max_items: int = 50_000
    max_bytes: int = 200 * 1024 * 1024
    price_factor: float = 0.5
    completion_window: str = "24h"

    def item(self, custom_id: str, request: WireRequest) -> dict[str, Any]:
        """One line of the input file."""
        body = {k: v for k, v in request.body.items() if k != "stream"}
        return {"custom_id": custom_id, "method": "POST", "url": self.endpoint, "body": body}

    def submit(
        self, items: Sequence[Mapping[str, Any]], *, model: str, tag: str
    ) -> BatchSteps[dict[str, Any]]:
        """Upload the file (``POST files``), then create the batch (``POST batches``)."""
        data = jsonl(items)
        boundary = "ellmer-py-" + hashlib.sha256(data).hexdigest()[:32]
        body, content_type = multipart(
            {"purpose": "batch"}, "file", f"ellmer-py-{tag}.jsonl", data, boundary
        )
        answer = yield BatchCall("POST", "files", body=body, content_type=content_type)
        uploaded = answer_json(answer, "the file upload")
        file_id = uploaded.get("id")
        if not isinstance(file_id, str) or not file_id:
            raise ValueError(f"the file upload answered without a file id: {uploaded!r:.200}")
        answer = yield BatchCall(
            "POST",
            "batches",
            body={
                "input_file_id": file_id,
                "endpoint": self.endpoint,
                "completion_window": self.completion_window,
                "metadata": {TAG_KEY: tag},
            },
            creates=True,
        )
        return self._batch(answer, "the batch creation")

    def find(
        self, tag: str, *, model: str, count: int, since: float | None = None
    ) -> BatchSteps[dict[str, Any] | None]:
        """The batch created with ``tag``, from the newest ``GET batches`` pages, or None."""
        after: str | None = None
        for _ in range(_LIST_PAGES):
            query = {"limit": "100", **({"after": after} if after else {})}
            page = answer_json((yield BatchCall("GET", "batches", query=query)), "listing batches")
            data = page.get("data")
            rows = [b for b in data if isinstance(b, Mapping)] if isinstance(data, list) else []
            for batch in rows:
                metadata = batch.get("metadata")
                if isinstance(metadata, Mapping) and metadata.get(TAG_KEY) == tag:
                    return dict(batch)
            last = page.get("last_id") or (rows[-1].get("id") if rows else None)
            if not page.get("has_more") or not isinstance(last, str):
                return None
            after = last
        return None

    def poll(self, batch: Mapping[str, Any]) -> BatchSteps[dict[str, Any]]:
        """The batch now (``GET batches/{id}``)."""
        answer = yield BatchCall("GET", f"batches/{batch['id']}")
        return self._batch(answer, "polling the batch")

    def status(self, batch: Mapping[str, Any]) -> BatchStatus:
        """Working until the status is completed, failed, expired or cancelled."""
        state = str(batch.get("status") or "")
        total, completed, failed = _counts(batch)
        return BatchStatus(
            working=state not in _TERMINAL,
            total=total,
            succeeded=completed,
            failed=failed,
            state=state,
        )

    def retrieve(self, batch: Mapping[str, Any]) -> BatchSteps[dict[str, ItemResult]]:
        """Each request's answer or error, from the output and error files."""
        results: dict[str, ItemResult] = {}
        for key in ("output_file_id", "error_file_id"):
            file_id = batch.get(key)
            if not isinstance(file_id, str) or not file_id:
                continue
            answer: BatchAnswer = yield BatchCall(
                "GET", f"files/{file_id}/content", accept="application/octet-stream"
            )
            for line in read_jsonl(answer.body, f"the batch's {key.split('_')[0]} file"):
                cid, result = _line_result(line)
                if cid is not None and (cid not in results or result.doc is not None):
                    results[cid] = result
        state = str(batch.get("status") or "")
        if state != "completed":
            reason = _batch_errors(batch) or f"the batch ended {state}"
            results[EVERY_OTHER] = ItemResult(error=reason)
        return results

    def _batch(self, answer: BatchAnswer, what: str) -> dict[str, Any]:
        batch = answer_json(answer, what)
        if not isinstance(batch.get("id"), str):
            raise ValueError(f"the answer to {what} is not a batch: {batch!r:.200}")
        return batch
