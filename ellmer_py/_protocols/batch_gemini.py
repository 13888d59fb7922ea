"""Gemini's batch mode (the Gemini Developer API; Vertex AI's differs and is not supported).

(R: ``batch_submit()`` and friends for ``ProviderGoogleGemini``.) The
requests go in a JSON Lines file (``{"key": ..., "request": ...}``) uploaded
through the Files API's resumable upload (``upload/v1beta/files``: a start
request whose answer names the upload URL, then the bytes); ``POST
models/{model}:batchGenerateContent`` creates the batch from it, with our tag
in its display name. ``GET batches/{id}`` polls the operation until its
state ends; the answers are then a JSON Lines file (``responsesFile``,
fetched with ``files/{id}:download?alt=media``), one line per request.

The batch file is read by a protobuf parser that takes field names in
snake_case only (R: ``gemini_prepare_batch_body()``): the request's field
names are converted, but not the user's data inside it (schemas, tool
arguments and results), and ``responseSchema`` goes as ``response_json_schema``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

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
    read_jsonl,
)

if TYPE_CHECKING:
    from . import WireRequest

__all__ = ["GeminiBatch", "snake_case_body"]

_TERMINAL = frozenset(
    {"BATCH_STATE_SUCCEEDED", "BATCH_STATE_FAILED", "BATCH_STATE_CANCELLED", "BATCH_STATE_EXPIRED"}
)
#: Fields whose value is the user's data (a schema, arguments, a result): kept as they are.
_OPAQUE = frozenset(
    {
        "response_schema",
        "response_json_schema",
        "parameters",
        "parameters_json_schema",
        "args",
        "response",
    }
)
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_LIST_PAGES = 20
_DISPLAY_PREFIX = "ellmer-py-"


def _snake(name: str) -> str:
    return _CAMEL.sub(r"\1_\2", name).lower()


def _convert(value: Any) -> Any:
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            name = _snake(str(key))
            out[name] = item if name in _OPAQUE else _convert(item)
        return out
    if isinstance(value, list):
        return [_convert(v) for v in value]
    return value


def snake_case_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """A generateContent body as the batch file parser takes it (R: ``gemini_prepare_batch_body``).

    Field names in snake_case (the user's data left alone), an empty system
    instruction dropped, and the response schema sent as ``response_json_schema``.
    """
    out: dict[str, Any] = _convert({k: v for k, v in body.items() if k != "model"})
    system = out.get("system_instruction")
    if isinstance(system, Mapping):
        parts = system.get("parts")
        texts = [p.get("text") for p in parts if isinstance(p, Mapping)] if parts else []
        if not any(texts):
            out.pop("system_instruction")
    config = out.get("generation_config")
    if isinstance(config, dict) and "response_schema" in config:
        config["response_json_schema"] = config.pop("response_schema")
    return out


def _root_and_version(base_url: str) -> tuple[str, str]:
    """``https://host/`` and ``v1beta`` from ``https://host/v1beta/``."""
    parts = urlsplit(base_url)
    path = parts.path.rstrip("/")
    head, _, version = path.rpartition("/")
    if not re.fullmatch(r"v\d+\w*", version):
        head, version = path, "v1beta"
    return f"{parts.scheme}://{parts.netloc}{head}/", version


def _stats(batch: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = batch.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    stats = metadata.get("batchStats")
    return stats if isinstance(stats, Mapping) else {}


def _number(stats: Mapping[str, Any], key: str) -> int:
    value = stats.get(key)
    try:
        return max(int(value), 0) if value is not None else 0  # int64 comes as a string
    except (TypeError, ValueError):
        return 0


def _state(batch: Mapping[str, Any]) -> str:
    metadata = batch.get("metadata")
    state = metadata.get("state") if isinstance(metadata, Mapping) else None
    return str(state or "BATCH_STATE_UNSPECIFIED")


def _responses_file(batch: Mapping[str, Any]) -> str | None:
    for holder in (batch.get("response"), (batch.get("metadata") or {}).get("output")):
        if isinstance(holder, Mapping):
            name = holder.get("responsesFile")
            if isinstance(name, str) and name:
                return name
    return None


def _error_text(error: Any) -> str:
    if isinstance(error, Mapping):
        code, message = error.get("code"), error.get("message")
        return f"{code}: {message}" if code is not None else str(message or "failed")
    return str(error or "failed")


@frozen
class GeminiBatch:
    """Gemini's batch mode, given the provider's base URL (2 GB a file; half price)."""

    base_url: str = "https://generativelanguage.googleapis.com/v1beta/"
    name: str = "gemini-batch"
    max_items: int = 1_000_000
    max_bytes: int = 2_000_000_000
    price_factor: float = 0.5

    def item(self, custom_id: str, request: WireRequest) -> dict[str, Any]:
        """One line of the input file: its key and the request in snake_case."""
        return {"key": custom_id, "request": snake_case_body(request.body)}

    def submit(
        self, items: Sequence[Mapping[str, Any]], *, model: str, tag: str
    ) -> BatchSteps[dict[str, Any]]:
        """Upload the file (resumable upload), then create the batch."""
        data = jsonl(items)
        root, version = _root_and_version(self.base_url)
        start = yield BatchCall(
            "POST",
            f"{root}upload/{version}/files",
            body={"file": {"display_name": f"{_DISPLAY_PREFIX}{tag}.jsonl"}},
            headers={
                "X-Goog-Upload-Protocol": "resumable",
                "X-Goog-Upload-Command": "start",
                "X-Goog-Upload-Header-Content-Length": str(len(data)),
                "X-Goog-Upload-Header-Content-Type": "application/jsonl",
            },
        )
        upload_url = start.headers.get("x-goog-upload-url")
        if not upload_url:
            raise ValueError("the file upload was not given an upload URL (X-Goog-Upload-URL)")
        answer = yield BatchCall(
            "POST",
            upload_url,
            body=data,
            content_type="application/jsonl",
            headers={"X-Goog-Upload-Offset": "0", "X-Goog-Upload-Command": "upload, finalize"},
        )
        uploaded = answer_json(answer, "the file upload")
        file = uploaded.get("file")
        file_name = file.get("name") if isinstance(file, Mapping) else None
        if not isinstance(file_name, str) or not file_name:
            raise ValueError(f"the file upload answered without a file name: {uploaded!r:.200}")
        model_name = model if model.startswith("models/") else f"models/{model}"
        answer = yield BatchCall(
            "POST",
            f"{model_name}:batchGenerateContent",
            body={
                "batch": {
                    "displayName": f"{_DISPLAY_PREFIX}{tag}",
                    "model": model_name,
                    "inputConfig": {"fileName": file_name},
                }
            },
            creates=True,
        )
        return self._batch(answer, "the batch creation")

    def find(
        self, tag: str, *, model: str, count: int, since: float | None = None
    ) -> BatchSteps[dict[str, Any] | None]:
        """The batch whose display name carries ``tag`` (``GET batches``), or None."""
        token: str | None = None
        for _ in range(_LIST_PAGES):
            query = {"pageSize": "100", **({"pageToken": token} if token else {})}
            page = answer_json((yield BatchCall("GET", "batches", query=query)), "listing batches")
            for key in ("operations", "batches"):
                rows = page.get(key)
                for batch in rows if isinstance(rows, list) else []:
                    metadata = batch.get("metadata") if isinstance(batch, Mapping) else None
                    shown = metadata.get("displayName") if isinstance(metadata, Mapping) else None
                    if shown == f"{_DISPLAY_PREFIX}{tag}":
                        return dict(batch)
            token = page.get("nextPageToken")
            if not isinstance(token, str) or not token:
                return None
        return None

    def poll(self, batch: Mapping[str, Any]) -> BatchSteps[dict[str, Any]]:
        """The batch operation now (``GET batches/{id}``)."""
        answer = yield BatchCall("GET", str(batch["name"]))
        return self._batch(answer, "polling the batch")

    def status(self, batch: Mapping[str, Any]) -> BatchStatus:
        """Working until the state ends (and, when it succeeded, its file is named)."""
        stats = _stats(batch)
        state = _state(batch)
        total = _number(stats, "requestCount")
        succeeded = _number(stats, "successfulRequestCount")
        failed = _number(stats, "failedRequestCount")
        if batch.get("error") is not None and total and not failed:
            failed = total - succeeded
        working = state not in _TERMINAL
        if state == "BATCH_STATE_SUCCEEDED" and _responses_file(batch) is None:
            working = not _inlined(batch)  # the file is named a little after the state changes
        return BatchStatus(
            working=working, total=total, succeeded=succeeded, failed=failed, state=state
        )

    def retrieve(self, batch: Mapping[str, Any]) -> BatchSteps[dict[str, ItemResult]]:
        """Each request's answer or error, from the responses file (or inline answers)."""
        results: dict[str, ItemResult] = {}
        name = _responses_file(batch)
        lines: list[Any] = _inlined(batch)
        if name is not None:
            answer: BatchAnswer = yield BatchCall(
                "GET", f"{name}:download", query={"alt": "media"}, accept="*/*"
            )
            lines = read_jsonl(answer.body, "the batch's responses file")
        for line in lines:
            if not isinstance(line, Mapping):
                continue
            key = line.get("key")
            if not isinstance(key, str):
                metadata = line.get("metadata")
                key = metadata.get("key") if isinstance(metadata, Mapping) else None
            if not isinstance(key, str):
                continue
            if line.get("error") is not None or line.get("status") is not None:
                results[key] = ItemResult(error=_error_text(line.get("error") or line["status"]))
            elif isinstance(line.get("response"), Mapping):
                results[key] = ItemResult(doc=dict(line["response"]))
        state = _state(batch)
        reason = (
            _error_text(batch["error"])
            if batch.get("error") is not None
            else f"the batch ended {state.removeprefix('BATCH_STATE_').lower()}"
            if state != "BATCH_STATE_SUCCEEDED"
            else "the batch ended without a result for it"
        )
        results[EVERY_OTHER] = ItemResult(error=reason)
        return results

    def _batch(self, answer: BatchAnswer, what: str) -> dict[str, Any]:
        batch = answer_json(answer, what)
        if not isinstance(batch.get("name"), str):
            raise ValueError(f"the answer to {what} is not a batch operation: {batch!r:.200}")
        return batch


def _inlined(batch: Mapping[str, Any]) -> list[Any]:
    """Answers given inline (a batch created with inline requests)."""
    response = batch.get("response")
    holder = response.get("inlinedResponses") if isinstance(response, Mapping) else None
    rows = holder.get("inlinedResponses") if isinstance(holder, Mapping) else holder
    return list(rows) if isinstance(rows, list) else []
