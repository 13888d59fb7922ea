"""A loopback fake of the Gemini API's Batch Mode and its Files API.

Written from the Gemini API reference (``models.batchGenerateContent``,
``batches.get/list/cancel/delete``, ``media.upload`` resumable uploads,
``files.get``, ``files.download``) and googleapis/python-genai. Paths are
matched as suffixes: ``{base}/v1beta/models/{m}:batchGenerateContent``,
``{base}/v1beta/batches/{id}``, uploads at ``{base}/upload/v1beta/files``
and downloads at ``{base}/v1beta/files/{id}:download?alt=media``.

Auth: ``x-goog-api-key`` (or ``?key=``); none is a 403 ``PERMISSION_DENIED``
and a wrong one a 400 ``INVALID_ARGUMENT`` with reason ``API_KEY_INVALID``,
as the real API answers (the upload session URL carries its own id and
needs no key). A batch reads a JSONL file uploaded first (lines ``{"key",
"request"}``, with the protobuf snake_case field names: R ellmer found the
batch file parser rejects camelCase, so does this fake) or inline requests
(``inputConfig.requests.requests[{request, metadata: {key}}]``). Every
batch document is a long-running ``Operation``: ``metadata`` (a
``GenerateContentBatch``: ``state``, ``batchStats`` with int64 counts as
strings and zero counts left out) and, once ``done``, ``response`` with the
``responsesFile`` (lines ``{"key", "response"}`` or ``{"key", "error"}``,
shuffled) or the ``inlinedResponses`` (in request order). States: ``PENDING``
when created, ``RUNNING`` while polled, then ``SUCCEEDED``, ``FAILED`` (with
an ``error`` status), ``EXPIRED`` or ``CANCELLED``; an expired or cancelled
batch keeps the answers it had (the API documents no per-item expiry, so
the other items are absent from its output).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ._batch_fake import (
    ApiError,
    BatchFake,
    FakeBatch,
    ItemError,
    bad,
    json_body,
    jsonl,
    outcome_body,
    query_int,
    rfc3339,
    route,
    shuffled,
)
from .fake_server import RecordedRequest, Reply
from .gemini import status_of

__all__ = ["FAKE_CLASS", "GeminiBatchFake"]

_PROTOCOL = "gemini"
_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch"
_ENDED = {None: "SUCCEEDED", "expired": "EXPIRED", "canceled": "CANCELLED"}
#: Keys whose values are the user's own data (schemas, arguments), not protobuf fields.
_FREE = {
    "response_schema",
    "response_json_schema",
    "parameters",
    "parameters_json_schema",
    "response",
    "args",
    "labels",
    "metadata",
}
_KEY_INVALID = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
_NO_KEY = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)


def _field(doc: Mapping[str, Any], camel: str) -> Any:
    """A field by its JSON (camelCase) or protobuf (snake_case) name."""
    return doc.get(camel, doc.get(re.sub(r"([A-Z])", lambda m: "_" + m[1].lower(), camel)))


class GeminiBatchFake(BatchFake):
    """Gemini Batch Mode with the Files API (see the module docstring)."""

    api = "gemini-batch"
    routes = (
        route("POST", r"/upload/v1[a-z0-9]*/files", "upload"),
        route("GET", r"/files/(?P<id>[^/:]+)", "get_file"),
        route("GET", r"/files/(?P<id>[^/:]+):download", "download"),
        route("POST", r"/models/(?P<model>[^/:]+):batchGenerateContent", "create_batch"),
        route("GET", r"/batches", "list_batches"),
        route("GET", r"/batches/(?P<id>[^/:]+)", "get_batch"),
        route("DELETE", r"/batches/(?P<id>[^/:]+)", "delete_batch"),
        route("POST", r"/batches/(?P<id>[^/:]+):cancel", "cancel_batch"),
    )

    def check_auth(
        self, request: RecordedRequest, query: Mapping[str, str], handler: str
    ) -> Reply | None:
        """``x-goog-api-key`` or ``?key=``: 403 when missing, 400 when wrong."""
        if self.key is None or (handler == "upload" and "upload_id" in query):
            return None
        sent = request.headers.get("x-goog-api-key") or query.get("key")
        if not sent:
            return self.error(403, _NO_KEY)
        if sent != self.key:
            why = "API key not valid. Please pass a valid API key."
            return self.error(400, why, details=[_KEY_INVALID])
        return None

    def error(self, status: int, message: str, **fields: Any) -> Reply:
        """``{"error": {"code", "message", "status"}}`` (google.rpc.Status)."""
        doc = {"code": status, "message": message, "status": status_of(status), **fields}
        return Reply.json({"error": doc}, status=status)

    # -- files -------------------------------------------------------------

    def upload(self, request: RecordedRequest, match: Any, query: Mapping[str, str]) -> Reply:
        """The resumable upload: ``start``, then ``upload`` / ``finalize`` on the session URL."""
        command = request.headers.get("x-goog-upload-command", "").replace(" ", "").split(",")
        if "upload_id" not in query:
            if request.headers.get("x-goog-upload-protocol", "").lower() != "resumable":
                raise bad("Send X-Goog-Upload-Protocol: resumable (the only kind the fake takes).")
            if command != ["start"]:
                raise bad("Start a resumable upload with X-Goog-Upload-Command: start.")
            return self._start_upload(request, match)
        session = self.sessions.get(query["upload_id"])
        if session is None or session["done"]:
            raise ApiError(404, f"No active upload session {query['upload_id']!r}.")
        data, offset = session["data"], request.headers.get("x-goog-upload-offset", "")
        if "query" in command:
            return _upload_status("active", len(data))
        if offset != str(len(data)):
            raise bad(f"X-Goog-Upload-Offset {offset!r} is not the {len(data)} bytes received.")
        data += request.body
        self.check_limits(None, len(data))
        if "finalize" not in command:
            return _upload_status("active", len(data))
        if session["declared"] not in (None, len(data)):
            why = f"X-Goog-Upload-Header-Content-Length said {session['declared']} bytes"
            raise bad(f"The upload has {len(data)} bytes, but {why}.")
        session["done"] = True
        doc = self._add_file(bytes(session["data"]), session, "UPLOADED")
        return Reply.json({"file": doc}, headers={"x-goog-upload-status": "final"})

    def _start_upload(self, request: RecordedRequest, match: Any) -> Reply:
        declared = request.headers.get("x-goog-upload-header-content-length")
        if declared is not None and not declared.isdigit():
            raise bad(f"X-Goog-Upload-Header-Content-Length {declared!r} is not a size.")
        self.check_limits(None, int(declared or 0))
        body = json_body(request) if request.body else {}
        file: dict[str, Any] = body["file"] if isinstance(body.get("file"), dict) else {}
        upload_id = f"fake-upload-{self.next_seq():06d}"
        prefix = request.path.split("?")[0][: match.start()]
        mime = request.headers.get("x-goog-upload-header-content-type", "application/octet-stream")
        root = f"http://{request.headers.get('host')}{prefix}"
        session: dict[str, Any] = {"data": bytearray(), "done": False, "mime": mime, "root": root}
        session.update(
            declared=int(declared) if declared else None, display=_field(file, "displayName")
        )
        self.sessions[upload_id] = session
        url = f"{root}{match.group(0)}?upload_id={upload_id}&upload_protocol=resumable"
        reply = _upload_status("active", 0)
        return replace(reply, headers=(*reply.headers, ("x-goog-upload-url", url)))

    def _add_file(self, data: bytes, session: Mapping[str, Any], source: str) -> dict[str, Any]:
        seq = self.next_seq()
        name = session.get("name") or f"files/fake{seq:06d}"
        (self.uploads if source == "UPLOADED" else self.outputs)[name] = data
        stamp = rfc3339(self.epoch + seq)
        digest = base64.b64encode(hashlib.sha256(data).hexdigest().encode()).decode()
        doc = {"name": name, "mimeType": session["mime"], "sizeBytes": str(len(data))}
        doc.update(createTime=stamp, updateTime=stamp, expirationTime=rfc3339(self.epoch + seq, 48))
        doc.update(sha256Hash=digest, uri=f"{session['root']}/v1beta/{name}", state="ACTIVE")
        doc["source"] = source
        if session.get("display"):
            doc["displayName"] = session["display"]
        if source == "GENERATED":
            doc["downloadUri"] = f"{doc['uri']}:download?alt=media"
        self.files[name] = doc
        return doc

    def _file(self, file_id: str) -> dict[str, Any]:
        name = f"files/{file_id}"
        if name not in self.files:
            msg = f"You do not have permission to access the File {file_id} or it may not exist."
            raise ApiError(403, msg)
        return self.files[name]

    def get_file(self, request: RecordedRequest, match: Any, query: Any) -> Reply:
        """``GET files/{id}``: the File resource."""
        return Reply.json(self._file(match["id"]))

    def download(self, request: RecordedRequest, match: Any, query: Mapping[str, str]) -> Reply:
        """``GET files/{id}:download?alt=media``: a generated file's bytes."""
        doc = self._file(match["id"])
        if query.get("alt") != "media":
            raise bad("Add the query parameter alt=media to download a file's bytes.")
        if doc["source"] != "GENERATED":
            raise bad(f"Only generated files can be downloaded; {doc['name']} was uploaded.")
        return Reply.raw(200, self.content(doc["name"]), content_type=doc["mimeType"])

    # -- batches -----------------------------------------------------------

    def create_batch(self, request: RecordedRequest, match: Any, query: Any) -> Reply:
        """``POST models/{model}:batchGenerateContent``: a file or inline requests."""
        self.maybe_server_error()
        spec = json_body(request).get("batch")
        if not isinstance(spec, dict):
            raise bad("batch: required (an object with displayName and inputConfig).")
        model, sent_model = f"models/{match['model']}", _field(spec, "model")
        if sent_model is not None and sent_model != model:
            raise bad(f"batch.model {sent_model!r} does not match the URL's {model!r}.")
        if not isinstance(_field(spec, "displayName"), str):
            raise bad("batch.display_name: required (a string naming the batch).")
        source = _field(spec, "inputConfig") or {}
        file_name, inline = _field(source, "fileName"), _field(source, "requests")
        if (file_name is None) == (inline is None):
            raise bad("batch.input_config: give exactly one of file_name or requests.")
        items = self._file_items(file_name) if file_name is not None else _inline_items(inline)
        self.check_limits(len(items), None if file_name else len(request.body))
        seq = self.next_seq()
        meta = {k: v for k, v in spec.items() if k not in ("inputConfig", "input_config")}
        state = "BATCH_STATE_PENDING"
        batch = FakeBatch(f"batches/fake{seq:06d}", items, metadata=meta, state=state, seq=seq)
        batch.info.update(protocol=_PROTOCOL, model=model, created=self.epoch + seq, file=file_name)
        self.add_batch(batch)
        return Reply.json(self._operation(batch))

    def _file_items(self, file_name: Any) -> list[tuple[str, dict[str, Any]]]:
        if not isinstance(file_name, str) or file_name not in self.uploads:
            raise ApiError(
                400,
                f"batch.input_config.file_name: {file_name!r} is not an uploaded "
                "file; upload the JSONL first (upload/v1beta/files).",
            )
        items: list[tuple[str, dict[str, Any]]] = []
        for number, line in enumerate(
            self.uploads[file_name].decode("utf-8", "replace").splitlines(), 1
        ):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
            except ValueError:
                doc = None
            where = f"{file_name} line {number}"
            if not isinstance(doc, dict) or not isinstance(doc.get("request"), dict):
                raise bad(f'{where}: expected a JSON object {{"key", "request"}}.')
            camel = _camel_key(doc["request"])
            if camel is not None:
                raise ApiError(
                    400,
                    f'{where}: Unknown name "{camel}": the batch file takes the '
                    "protobuf (snake_case) field names.",
                )
            items.append((str(doc.get("key", "")), doc["request"]))
        return items

    def get_batch(self, request: RecordedRequest, match: Any, query: Any) -> Reply:
        """``GET batches/{id}``: counts as one poll."""
        batch = self.find_batch(f"batches/{match['id']}")
        self.poll(batch)
        if not batch.ended:
            batch.state = "BATCH_STATE_RUNNING"
        return Reply.json(self._operation(batch))

    def cancel_batch(self, request: RecordedRequest, match: Any, query: Any) -> Reply:
        """``POST batches/{id}:cancel``: it ends ``CANCELLED`` at the next GET."""
        batch = self.find_batch(f"batches/{match['id']}")
        if batch.ended:
            raise bad(f"{batch.id} has already ended ({batch.state}).")
        batch.info["cancel"] = True
        return Reply.json({})

    def delete_batch(self, request: RecordedRequest, match: Any, query: Any) -> Reply:
        """``DELETE batches/{id}``."""
        del self.batches[self.find_batch(f"batches/{match['id']}").id]
        return Reply.json({})

    def list_batches(self, request: RecordedRequest, match: Any, query: Mapping[str, str]) -> Reply:
        """``GET batches?pageSize=&pageToken=``: newest first (a ``ListOperationsResponse``)."""
        size = query_int(query, "pageSize", 50, 1, 1000)
        token = query.get("pageToken") or "page-0"
        start = int(token[5:]) if re.fullmatch(r"page-\d+", token) else -1
        batches = self.newest_first()
        if not 0 <= start <= len(batches):
            raise bad(f"Invalid page token {token!r}; pass the nextPageToken you got.")
        doc: dict[str, Any] = {
            "operations": [self._operation(b) for b in batches[start : start + size]]
        }
        if start + size < len(batches):
            doc["nextPageToken"] = f"page-{start + size}"
        return Reply.json(doc)

    # -- documents ---------------------------------------------------------

    def finish(self, batch: FakeBatch) -> None:
        """The end state and output of a batch whose outcomes are known."""
        batch.info["ended"] = self.epoch + self.next_seq()
        if not batch.outcomes:
            batch.state = "BATCH_STATE_FAILED"
            return
        batch.state = "BATCH_STATE_" + _ENDED[self._cut_kind(batch)]
        kept = [
            (k, out)
            for k, _, out in batch.outcomes
            if not (isinstance(out, ItemError) and out.kind != "error")
        ]
        if batch.info["file"] is None:
            lines = [{**_line(out), **({"metadata": {"key": k}} if k else {})} for k, out in kept]
            batch.info["output"] = {"inlinedResponses": {"inlinedResponses": lines}}
            return
        lines = [{**({"key": k} if k else {}), **_line(out)} for k, out in shuffled(kept, batch.id)]
        session = {
            "name": f"files/batch-{batch.id[8:]}",
            "mime": "application/jsonl",
            "root": self.files[batch.info["file"]]["uri"].rsplit("/v1beta/", 1)[0],
        }
        self._add_file(jsonl(lines), session, "GENERATED")
        batch.info["output"] = {"responsesFile": session["name"]}

    def _operation(self, batch: FakeBatch) -> dict[str, Any]:
        info, tally = batch.info, self.counts(batch)
        stats = {
            "requestCount": len(batch.items),
            "pendingRequestCount": 0 if batch.ended else len(batch.items),
            "successfulRequestCount": tally["succeeded"],
            "failedRequestCount": len(batch.outcomes) - tally["succeeded"],
        }
        created = rfc3339(info["created"])
        meta: dict[str, Any] = {"@type": _TYPE, "model": info["model"], **batch.metadata}
        if info["file"] is not None:
            meta["inputConfig"] = {"fileName": info["file"]}
        meta.update(createTime=created, updateTime=rfc3339(info.get("ended", info["created"])))
        meta["batchStats"] = {k: str(v) for k, v in stats.items() if v}
        meta.update(state=batch.state, name=batch.id)
        doc: dict[str, Any] = {"name": batch.id, "metadata": meta}
        if not batch.ended:
            return doc
        meta["endTime"] = rfc3339(info["ended"])
        doc["done"] = True
        if "output" in info:
            meta["output"] = info["output"]
            doc["response"] = {"@type": _TYPE + "Output", **info["output"]}
        else:
            doc["error"] = {"code": 13, "message": self.fail or "The batch failed."}
        return doc


def _line(outcome: Any) -> dict[str, Any]:
    if isinstance(outcome, ItemError):
        return {"error": outcome_body(_PROTOCOL, outcome)["error"]}
    return {"response": outcome_body(_PROTOCOL, outcome)}


def _upload_status(status: str, received: int) -> Reply:
    headers = {"x-goog-upload-status": status, "x-goog-upload-size-received": str(received)}
    return Reply.raw(200, b"", content_type=None, headers=headers)


def _inline_items(inline: Any) -> list[tuple[str, dict[str, Any]]]:
    entries = inline.get("requests") if isinstance(inline, dict) else None
    if not isinstance(entries, list) or not entries:
        raise bad("batch.input_config.requests.requests: a non-empty list is required.")
    items: list[tuple[str, dict[str, Any]]] = []
    for index, entry in enumerate(entries):
        request = entry.get("request") if isinstance(entry, dict) else None
        if not isinstance(request, dict):
            raise bad(f"batch.input_config.requests.requests[{index}].request: required.")
        metadata = entry.get("metadata") if isinstance(entry.get("metadata"), dict) else {}
        items.append((str(metadata.get("key", "")), request))
    return items


def _camel_key(value: Any) -> str | None:
    """The first camelCase field name in a request, skipping the user's own data."""
    if isinstance(value, list):
        return next((k for k in map(_camel_key, value) if k is not None), None)
    if not isinstance(value, dict):
        return None
    for key, inner in value.items():
        if re.search(r"[A-Z]", key):
            return str(key)
        found = None if key in _FREE else _camel_key(inner)
        if found is not None:
            return found
    return None


FAKE_CLASS = GeminiBatchFake
