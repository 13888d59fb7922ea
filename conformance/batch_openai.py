"""A loopback fake of the OpenAI (and Groq) Files + Batch APIs.

Written from the OpenAI API reference (Files: ``POST /files``,
``GET /files/{id}``, ``GET /files/{id}/content``, ``DELETE /files/{id}``;
Batch: ``POST /batches``, ``GET /batches/{id}``, ``POST
/batches/{id}/cancel``, ``GET /batches?after=&limit=``) and Groq's
OpenAI-compatible copy of them (base ``.../openai/v1``). Paths are matched
as suffixes, so any base URL prefix works.

The flow: the client uploads a JSONL file (multipart, ``purpose=batch``;
a malformed body or a line that is not a JSON object is a 400), creates a
batch from it (``endpoint`` equal to the lines' ``url``,
``completion_window`` ``"24h"``; Groq also takes up to ``"7d"``). The batch
is ``validating`` when created, ``in_progress`` (then ``finalizing``) while
polled, and ends ``completed``, ``expired``, ``cancelled`` or ``failed``.
What the real API checks while validating (``custom_id`` present and
unique, ``method`` POST, ``url`` matching the endpoint, ``body`` an object,
one model) fails the batch with ``errors.data`` entries as the real one
does. Results: successes in the output file, failures in the error file,
each line ``{"id", "custom_id", "response": {"status_code", "request_id",
"body"}, "error"}``; expired/cancelled items have ``response: null`` and an
``error`` with code ``batch_expired`` / ``batch_cancelled``.
"""

from __future__ import annotations

import json
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
    route,
)
from .fake_server import RecordedRequest, Reply

__all__ = ["FAKE_CLASS", "OpenAIBatchFake", "parse_multipart"]

_PROTOCOLS = {"/v1/responses": "openai-responses", "/v1/chat/completions": "openai-chat"}
_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
_GROQ_WINDOW = re.compile(r"^(\d+)([hd])$")
_ENDED = ("completed", "failed", "expired", "cancelled")
_STAMPED = ("in_progress", "finalizing", "cancelling", *_ENDED)
_END_STATE = {None: "completed", "expired": "expired", "canceled": "cancelled"}
_NO_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization "
    "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
)
_MALFORMED = "The multipart body is malformed:"
_ERROR_CODES = {401: "invalid_api_key", 404: "not_found", 429: "rate_limit_exceeded"}


def _bad(message: str, param: str | None = None, code: str | None = None) -> ApiError:
    return ApiError(400, message, param=param, code=code)


def parse_multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """The fields of a ``multipart/form-data`` body: name -> (filename, content).

    Raises :class:`ApiError` (400) saying what is malformed.
    """
    found = re.search(r'boundary="?([^";]+)"?', content_type or "")
    if not (content_type or "").lower().startswith("multipart/form-data") or not found:
        why = f"Expected a multipart/form-data body with a boundary, not {content_type!r}."
        raise _bad(f"{why} Send 'purpose' and 'file' as form fields.")
    delim = b"--" + found.group(1).encode("latin-1")
    start = body.find(delim)
    end = body.find(b"\r\n" + delim + b"--", max(start, 0))
    if start < 0 or end < 0:
        raise _bad(f"{_MALFORMED} no opening or closing boundary.")
    fields: dict[str, tuple[str | None, bytes]] = {}
    for chunk in body[start + len(delim) : end].split(b"\r\n" + delim):
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not head.startswith(b"\r\n") or not sep:
            raise _bad(f"{_MALFORMED} a part has no header block.")
        disposition = ""
        for line in head[2:].split(b"\r\n"):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-disposition":
                disposition = value.strip()
        field = re.search(r';\s*name="([^"]*)"', disposition)
        if not disposition.lower().startswith("form-data") or field is None:
            raise _bad(f"{_MALFORMED} a part has no form-data name.")
        filename = re.search(r';\s*filename="([^"]*)"', disposition)
        fields[field.group(1)] = (filename.group(1) if filename else None, content)
    return fields


class OpenAIBatchFake(BatchFake):
    """The OpenAI / Groq Files + Batch API (see the module docstring)."""

    api = "openai-batch"
    routes = (
        route("POST", r"/files", "upload_file"),
        route("GET", r"/files/(?P<id>[^/]+)", "get_file"),
        route("DELETE", r"/files/(?P<id>[^/]+)", "delete_file"),
        route("GET", r"/files/(?P<id>[^/]+)/content", "file_content"),
        route("POST", r"/batches", "create_batch"),
        route("GET", r"/batches", "list_batches"),
        route("GET", r"/batches/(?P<id>[^/]+)", "get_batch"),
        route("POST", r"/batches/(?P<id>[^/]+)/cancel", "cancel_batch"),
    )

    # -- shape -------------------------------------------------------------

    def check_auth(
        self, request: RecordedRequest, query: Mapping[str, str], handler: str
    ) -> Reply | None:
        """``Authorization: Bearer <key>``; 401 ``invalid_api_key`` otherwise."""
        if self.key is None:
            return None
        auth = request.headers.get("authorization", "")
        if not auth:
            return self.error(401, _NO_KEY, code=None)
        token = auth[7:] if auth.lower().startswith("bearer ") else auth
        if token != self.key:
            shown = f"{token[:3]}***{token[-2:]}" if len(token) > 6 else "***"
            return self.error(401, f"Incorrect API key provided: {shown}.")
        return None

    def error(self, status: int, message: str, **fields: Any) -> Reply:
        """``{"error": {"message", "type", "param", "code"}}`` with an ``x-request-id``."""
        kind = "server_error" if status >= 500 else "invalid_request_error"
        code = fields.get("code", _ERROR_CODES.get(status))
        doc = {"message": message, "type": kind, "param": fields.get("param"), "code": code}
        return Reply.json({"error": doc}, status=status, headers={"x-request-id": "req_fake"})

    # -- files -------------------------------------------------------------

    def upload_file(self, request: RecordedRequest, match: Any, query: Any) -> Reply:
        """``POST /files``: multipart ``purpose`` + ``file``; batch files must be JSONL."""
        fields = parse_multipart(request.headers.get("content-type", ""), request.body)
        for name in ("purpose", "file"):
            if name not in fields:
                raise _bad(f"Missing required parameter: '{name}'.", name)
        purpose = fields["purpose"][1].decode("utf-8", errors="replace").strip()
        filename, content = fields["file"]
        if purpose not in _PURPOSES:
            raise _bad(
                f"Invalid value for 'purpose': {purpose!r}; use one of {_PURPOSES}.", "purpose"
            )
        if filename is None:
            raise _bad("The 'file' field must be a file part (with a filename).", "file")
        if purpose == "batch":
            self._check_jsonl(content)
        seq = self.next_seq()
        file_id = f"file-fake{seq:06d}"
        self.uploads[file_id] = content
        return Reply.json(self._add_file(file_id, filename or "upload", purpose, content, seq))

    def _check_jsonl(self, content: bytes) -> None:
        self.check_limits(None, len(content))
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            raise _bad("The batch file is not UTF-8 text.", "file") from None
        for number, line in enumerate(text.splitlines(), start=1):
            try:
                doc = json.loads(line) if line.strip() else {}
            except ValueError:
                doc = None
            if not isinstance(doc, dict):
                why = f"Invalid file format for Batch API: line {number} is not a JSON object."
                shape = 'Each line is one request: {"custom_id", "method", "url", "body"}.'
                raise _bad(f"{why} {shape}", "file", "invalid_json_line")

    def _add_file(
        self, file_id: str, filename: str, purpose: str, content: bytes, seq: int
    ) -> dict[str, Any]:
        doc = {
            "id": file_id,
            "object": "file",
            "bytes": len(content),
            "created_at": self.epoch + seq,
        }
        doc.update(filename=filename, purpose=purpose, status="processed", expires_at=None)
        self.files[file_id] = {**doc, "status_details": None}
        return self.files[file_id]

    def _file(self, file_id: str) -> dict[str, Any]:
        if file_id not in self.files:
            raise ApiError(404, f"No such File object: {file_id}", param="id")
        return self.files[file_id]

    def get_file(self, request: RecordedRequest, match: Any, query: Any) -> Reply:
        """``GET /files/{id}``: the File object."""
        return Reply.json(self._file(match["id"]))

    def delete_file(self, request: RecordedRequest, match: Any, query: Any) -> Reply:
        """``DELETE /files/{id}``."""
        self._file(match["id"])
        del self.files[match["id"]]
        self.uploads.pop(match["id"], None)
        self.outputs.pop(match["id"], None)
        return Reply.json({"id": match["id"], "object": "file", "deleted": True})

    def file_content(self, request: RecordedRequest, match: Any, query: Any) -> Reply:
        """``GET /files/{id}/content``: the file's bytes."""
        data = self.content(self._file(match["id"])["id"])
        return Reply.raw(200, data, content_type="application/octet-stream")

    # -- batches -----------------------------------------------------------

    def create_batch(self, request: RecordedRequest, match: Any, query: Any) -> Reply:
        """``POST /batches``: ``input_file_id``, ``endpoint``, ``completion_window``."""
        self.maybe_server_error()
        body = json_body(request)
        for name in ("input_file_id", "endpoint", "completion_window"):
            if not isinstance(body.get(name), str):
                why = f"Missing required parameter: '{name}'."
                raise _bad(why, name, "missing_required_parameter")
        endpoint, window = body["endpoint"], body["completion_window"]
        groq = "/openai/v1/" in request.path
        if endpoint not in _PROTOCOLS:
            why = f"Invalid value for 'endpoint': {endpoint!r}; the fake serves {list(_PROTOCOLS)}."
            raise _bad(why, "endpoint", "invalid_value")
        if not _window_ok(window, groq):
            allowed = "'24h' to '7d'" if groq else "'24h'"
            why = f"Invalid value for 'completion_window': {window!r}; it must be {allowed}."
            raise _bad(why, "completion_window", "invalid_value")
        metadata = _metadata(body.get("metadata"))
        file_doc = self.files.get(body["input_file_id"])
        if file_doc is None or file_doc["purpose"] != "batch":
            why = f"Invalid 'input_file_id': {body['input_file_id']!r} is not a batch file."
            raise _bad(f"{why} Upload it with purpose 'batch' first.", "input_file_id")
        text = self.uploads[file_doc["id"]].decode()
        lines = [json.loads(x) for x in text.splitlines() if x.strip()]
        self.check_limits(len(lines), None)
        items, errors = _validate_lines(lines, endpoint)
        seq = self.next_seq()
        batch = FakeBatch(f"batch_fake{seq:06d}", items, metadata=metadata or {}, seq=seq)
        info = {"protocol": _PROTOCOLS[endpoint], "endpoint": endpoint, "window": window, "at": {}}
        info.update(errors=errors, invalid=bool(errors), raw_metadata=metadata, model=_model(items))
        batch.info.update(info, input_file_id=file_doc["id"], created_at=self.epoch + seq)
        batch.state = "validating"
        self.add_batch(batch)
        return Reply.json(self._doc(batch))

    def get_batch(self, request: RecordedRequest, match: Any, query: Any) -> Reply:
        """``GET /batches/{id}``: counts as one poll."""
        batch = self.find_batch(match["id"])
        self.poll(batch)
        if not batch.ended:
            doomed = self.fail is not None or batch.info["invalid"]
            if not doomed:
                late = batch.polls == self.polls and self.polls >= 2
                self._move(batch, "finalizing" if late else "in_progress")
        return Reply.json(self._doc(batch))

    def cancel_batch(self, request: RecordedRequest, match: Any, query: Any) -> Reply:
        """``POST /batches/{id}/cancel``: ``cancelling`` now, ``cancelled`` at the next GET."""
        batch = self.find_batch(match["id"])
        if batch.ended:
            raise _bad(f"Cannot cancel a batch with status '{batch.state}'.")
        batch.info["cancel"] = True
        self._move(batch, "cancelling")
        return Reply.json(self._doc(batch))

    def list_batches(self, request: RecordedRequest, match: Any, query: Mapping[str, str]) -> Reply:
        """``GET /batches?after=&limit=``: newest first, cursor pagination."""
        limit = query_int(query, "limit", 20, 1, 100)
        batches = self.newest_first()
        if "after" in query:
            ids = [b.id for b in batches]
            if query["after"] not in ids:
                raise _bad(f"'after': no batch with id {query['after']!r}.", "after")
            batches = batches[ids.index(query["after"]) + 1 :]
        page = [self._doc(b) for b in batches[:limit]]
        first, last = (page[0]["id"], page[-1]["id"]) if page else (None, None)
        more = len(batches) > limit
        doc = {"object": "list", "data": page, "first_id": first, "last_id": last}
        return Reply.json({**doc, "has_more": more})

    def finish(self, batch: FakeBatch) -> None:
        """End state, output and error files of a batch whose outcomes are known."""
        if not batch.outcomes:  # failed validation, or fail=...
            if self.fail is not None and not batch.info["errors"]:
                batch.info["errors"] = [_batch_error("batch_failed", self.fail)]
            return self._move(batch, "failed")
        files: dict[str, list[dict[str, Any]]] = {"output": [], "error": []}
        for index, (key, _, outcome) in enumerate(self.results_order(batch)):
            ids = f"{batch.id[6:]}_{index}"
            line: dict[str, Any] = {
                "id": f"batch_req_{ids}",
                "custom_id": key,
                "response": None,
                "error": None,
            }
            if isinstance(outcome, ItemError) and outcome.kind != "error":
                word = "expired" if outcome.kind == "expired" else "cancelled"
                why = f"This request was not executed: the batch {word} before it ran."
                line["error"] = {"code": f"batch_{word}", "message": why}
            else:
                status = outcome.status if isinstance(outcome, ItemError) else 200
                body = outcome_body(batch.info["protocol"], outcome)
                line["response"] = {"status_code": status, "request_id": f"req_{ids}", "body": body}
            files["error" if isinstance(outcome, ItemError) else "output"].append(line)
        for name, lines in files.items():
            if lines:
                seq = self.next_seq()
                file_id = batch.info[f"{name}_file_id"] = f"file-fake{seq:06d}"
                self.outputs[file_id] = jsonl(lines)
                name = f"{batch.id}_{name}.jsonl"
                self._add_file(file_id, name, "batch_output", self.outputs[file_id], seq)
        cut = self._cut_kind(batch)
        self._move(batch, "in_progress")
        if cut != "canceled":
            self._move(batch, "finalizing")
        self._move(batch, _END_STATE[cut])

    def _move(self, batch: FakeBatch, state: str) -> None:
        """Enter ``state``, stamping its ``<state>_at`` time the first time."""
        batch.state = state
        batch.info["at"].setdefault(state, self.epoch + self.next_seq())

    def _doc(self, batch: FakeBatch) -> dict[str, Any]:
        info, tally = batch.info, self.counts(batch)
        counted = batch.state != "validating" and not info["invalid"]
        failed = batch.state == "failed"
        return {
            "id": batch.id,
            "object": "batch",
            "endpoint": info["endpoint"],
            "model": info["model"],
            "errors": {"object": "list", "data": info["errors"]} if failed else None,
            "input_file_id": info["input_file_id"],
            "completion_window": info["window"],
            "status": batch.state,
            "output_file_id": info.get("output_file_id"),
            "error_file_id": info.get("error_file_id"),
            "created_at": info["created_at"],
            "expires_at": info["created_at"] + 86_400,
            **{f"{state}_at": info["at"].get(state) for state in _STAMPED},
            "request_counts": {
                "total": len(batch.items) if counted else 0,
                "completed": tally["succeeded"],
                "failed": tally["errored"] + tally["expired"] + tally["canceled"],
            },
            "metadata": info["raw_metadata"],
        }


def _window_ok(window: str, groq: bool) -> bool:
    if window == "24h":
        return True
    found = _GROQ_WINDOW.match(window) if groq else None
    if found is None:
        return False
    hours = int(found[1]) * (24 if found[2] == "d" else 1)
    return 24 <= hours <= 168


def _metadata(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    pairs = value.items() if isinstance(value, dict) and len(value) <= 16 else [(0, 0)]
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in pairs):
        raise _bad("Invalid 'metadata': at most 16 string pairs.", "metadata", "invalid_value")
    return dict(value)


def _batch_error(
    code: str, message: str, line: int | None = None, param: str | None = None
) -> dict[str, Any]:
    return {"code": code, "message": message, "param": param, "line": line}


def _validate_lines(
    lines: list[dict[str, Any]], endpoint: str
) -> tuple[list[tuple[str, dict[str, Any]]], list[dict[str, Any]]]:
    """The items, and the ``errors.data`` the real API's validation would report."""
    items: list[tuple[str, dict[str, Any]]] = []
    errors: list[dict[str, Any]] = []
    models: set[str] = set()
    if not lines:
        errors.append(_batch_error("empty_file", "The input file has no requests."))
    for number, line in enumerate(lines, start=1):

        def bad(code: str, message: str, param: str, number: int = number) -> None:
            errors.append(_batch_error(code, message, number, param))

        for name in ("custom_id", "method", "url", "body"):
            if name not in line:
                bad("missing_required_parameter", f"Missing required parameter: '{name}'.", name)
        custom_id, body = line.get("custom_id"), line.get("body")
        if "custom_id" in line and (not isinstance(custom_id, str) or not custom_id):
            bad("invalid_value", "'custom_id' must be a non-empty string.", "custom_id")
        elif any(custom_id == key for key, _ in items):
            why = f"The custom_id {custom_id!r} is used twice; custom_ids are unique in a batch."
            bad("duplicate_custom_id", why, "custom_id")
        if line.get("method", "POST") != "POST":
            bad("invalid_value", f"'method' must be 'POST', not {line['method']!r}.", "method")
        if line.get("url", endpoint) != endpoint:
            why = f"The url {line['url']!r} does not match the batch endpoint {endpoint!r}."
            bad("url_mismatch", why, "url")
        if "body" in line and not isinstance(body, dict):
            bad("invalid_value", "'body' must be a JSON object.", "body")
        if isinstance(body, dict):
            model = str(body.get("model"))
            if models and model not in models:
                why = "Every request in a batch must use the same model."
                bad("model_mismatch", why, "body.model")
            models.add(model)
        if isinstance(custom_id, str):
            items.append((custom_id, body if isinstance(body, dict) else {}))
    return items, errors


def _model(items: list[tuple[str, dict[str, Any]]]) -> str | None:
    model = items[0][1].get("model") if items else None
    return model if isinstance(model, str) else None


FAKE_CLASS = OpenAIBatchFake
