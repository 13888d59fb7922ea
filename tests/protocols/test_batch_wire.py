"""The batch APIs' pure steps (ellmer_py._protocols.batch*), driven without a server.

Each step is a generator that yields the HTTP calls it needs; these tests
send it scripted answers and check what it asks for and what it makes of
the answers: the upload and create requests, the tag that lets a lost
batch be found, status counts, and every per-item outcome the APIs report.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Mapping
from typing import Any

import pytest

from ellmer_py._protocols import WireRequest
from ellmer_py._protocols.batch import (
    EVERY_OTHER,
    BatchAnswer,
    BatchCall,
    ItemResult,
    custom_id,
    item_index,
    jsonl,
    multipart,
    read_jsonl,
)
from ellmer_py._protocols.batch_anthropic import AnthropicBatch
from ellmer_py._protocols.batch_gemini import GeminiBatch, snake_case_body
from ellmer_py._protocols.batch_openai import OpenAIBatch


def drive(
    steps: Generator[BatchCall, BatchAnswer, Any], answers: list[Any]
) -> tuple[list[BatchCall], Any]:
    """Run ``steps``, answering each call with the next of ``answers``.

    An answer is JSON, bytes, or a BatchAnswer.
    """
    calls: list[BatchCall] = []
    try:
        call = next(steps)
        for answer in answers:
            calls.append(call)
            if isinstance(answer, BatchAnswer):
                reply = answer
            elif isinstance(answer, bytes):
                reply = BatchAnswer(answer)
            else:
                reply = BatchAnswer(json.dumps(answer).encode())
            call = steps.send(reply)
        raise AssertionError(f"the step asked for more calls than scripted: {call}")
    except StopIteration as stop:
        return calls, stop.value


# -- shared helpers ---------------------------------------------------------------------


def test_custom_ids_are_rs_and_round_trip() -> None:
    assert [custom_id(i) for i in range(3)] == ["chat-1", "chat-2", "chat-3"]
    assert [item_index(custom_id(i)) for i in (0, 9, 12345)] == [0, 9, 12345]
    for other in ("chat-0", "chat-x", "req-1", 3, None, "chat-"):
        assert item_index(other) is None


def test_jsonl_round_trip_keeps_unreadable_lines_as_text() -> None:
    docs = [{"a": 1, "text": "é\nnew line"}, {"b": [1, 2]}]
    data = jsonl(docs)
    assert data.count(b"\n") == 2
    assert read_jsonl(data + b"\n{broken\n", "f") == [*docs, "{broken"]
    with pytest.raises(ValueError, match="f is not UTF-8"):
        read_jsonl(b"\xff\xfe", "f")


def test_multipart_body_is_rfc7578() -> None:
    body, content_type = multipart({"purpose": "batch"}, "file", "x.jsonl", b'{"a":1}\n', "BOUND")
    assert content_type == "multipart/form-data; boundary=BOUND"
    assert body.startswith(b"--BOUND\r\n") and body.endswith(b"\r\n--BOUND--\r\n")
    assert b'name="purpose"\r\n\r\nbatch\r\n' in body
    assert (
        b'name="file"; filename="x.jsonl"\r\nContent-Type: application/jsonl\r\n\r\n{"a":1}\n'
        in body
    )


def test_item_results_round_trip_through_the_state_file() -> None:
    for result in (
        ItemResult(doc={"id": 1}),
        ItemResult(error="boom", status=400),
        ItemResult(error="x"),
    ):
        assert ItemResult.from_json(json.loads(json.dumps(result.to_json()))) == result


# -- OpenAI and Groq ----------------------------------------------------------------------

REQUEST = WireRequest(path="responses", body={"model": "m", "input": "hi", "stream": False})


def test_openai_line_drops_stream_and_names_the_endpoint() -> None:
    line = OpenAIBatch(endpoint="/v1/chat/completions").item("chat-1", REQUEST)
    assert line == {
        "custom_id": "chat-1",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "m", "input": "hi"},
    }


def test_openai_submit_uploads_then_creates_with_the_tag() -> None:
    api = OpenAIBatch()
    items = [api.item(custom_id(i), REQUEST) for i in range(2)]
    calls, batch = drive(
        api.submit(items, model="m", tag="T1"),
        [{"id": "file-9"}, {"id": "batch_1", "status": "validating"}],
    )
    upload, create = calls
    assert (upload.method, upload.path, upload.creates) == ("POST", "files", False)
    assert isinstance(upload.body, bytes) and upload.content_type is not None
    boundary = upload.content_type.split("boundary=")[1]
    assert boundary.encode() not in jsonl(items)
    assert jsonl(items) in upload.body
    assert (create.method, create.path, create.creates) == ("POST", "batches", True)
    assert create.body == {
        "input_file_id": "file-9",
        "endpoint": "/v1/responses",
        "completion_window": "24h",
        "metadata": {"ellmer_py_job": "T1"},
    }
    assert batch == {"id": "batch_1", "status": "validating"}


def test_openai_submit_refuses_an_upload_without_an_id() -> None:
    with pytest.raises(ValueError, match="without a file id"):
        drive(OpenAIBatch().submit([], model="m", tag="t"), [{"object": "file"}])


def test_openai_find_pages_until_the_tag() -> None:
    pages = [
        {
            "data": [{"id": "b3", "metadata": {}}, {"id": "b2", "metadata": None}],
            "has_more": True,
            "last_id": "b2",
        },
        {
            "data": [{"id": "b1", "metadata": {"ellmer_py_job": "T"}}],
            "has_more": False,
            "last_id": "b1",
        },
    ]
    calls, found = drive(OpenAIBatch().find("T", model="m", count=1), pages)
    assert found == {"id": "b1", "metadata": {"ellmer_py_job": "T"}}
    assert [dict(c.query) for c in calls] == [{"limit": "100"}, {"limit": "100", "after": "b2"}]
    _, none = drive(OpenAIBatch().find("T", model="m", count=1), [{"data": [], "has_more": False}])
    assert none is None


@pytest.mark.parametrize(
    ("status", "working"),
    [
        ("validating", True),
        ("in_progress", True),
        ("finalizing", True),
        ("cancelling", True),
        ("completed", False),
        ("failed", False),
        ("expired", False),
        ("cancelled", False),
    ],
)
def test_openai_status(status: str, working: bool) -> None:
    got = OpenAIBatch().status(
        {"status": status, "request_counts": {"total": 5, "completed": 3, "failed": 1}}
    )
    assert (got.working, got.total, got.succeeded, got.failed, got.done) == (working, 5, 3, 1, 4)


def test_openai_retrieve_reads_output_and_error_files() -> None:
    output = jsonl(
        [
            {
                "id": "r1",
                "custom_id": "chat-2",
                "response": {"status_code": 200, "body": {"id": "resp_2"}},
                "error": None,
            },
            {
                "id": "r2",
                "custom_id": "chat-1",
                "response": {"status_code": 400, "body": {"error": {"message": "bad input"}}},
                "error": None,
            },
        ]
    )
    errors = jsonl(
        [
            {
                "id": "r3",
                "custom_id": "chat-3",
                "response": None,
                "error": {
                    "code": "batch_expired",
                    "message": "The request could not be executed before the window expired.",
                },
            }
        ]
    )
    batch = {"id": "b", "status": "expired", "output_file_id": "f-out", "error_file_id": "f-err"}
    calls, results = drive(OpenAIBatch().retrieve(batch), [output, errors])
    assert [c.path for c in calls] == ["files/f-out/content", "files/f-err/content"]
    assert results["chat-2"] == ItemResult(doc={"id": "resp_2"})
    assert results["chat-1"] == ItemResult(error="bad input", status=400)
    assert "batch_expired" in (results["chat-3"].error or "")
    assert "expired" in (results[EVERY_OTHER].error or "")


def test_openai_failed_batch_gives_its_validation_errors_to_every_item() -> None:
    batch = {
        "id": "b",
        "status": "failed",
        "errors": {"data": [{"code": "invalid_json_line", "message": "bad", "line": 2}]},
    }
    calls, results = drive(OpenAIBatch().retrieve(batch), [])
    assert calls == []
    assert results == {EVERY_OTHER: ItemResult(error="invalid_json_line: bad (line 2)")}


# -- Anthropic -----------------------------------------------------------------------------


def test_anthropic_submits_inline_and_reads_counts() -> None:
    api = AnthropicBatch()
    item = api.item(
        "chat-1",
        WireRequest(path="messages", body={"model": "c", "max_tokens": 5, "stream": False}),
    )
    assert item == {"custom_id": "chat-1", "params": {"model": "c", "max_tokens": 5}}
    calls, _ = drive(
        api.submit([item], model="c", tag="t"),
        [{"id": "msgbatch_1", "processing_status": "in_progress"}],
    )
    assert calls[0].path == "messages/batches" and calls[0].creates
    assert calls[0].body == {"requests": [item]}
    counts = {"processing": 1, "succeeded": 2, "errored": 1, "canceled": 1, "expired": 1}
    status = api.status({"processing_status": "in_progress", "request_counts": counts})
    assert (status.working, status.total, status.succeeded, status.failed) == (True, 6, 2, 3)
    assert not api.status({"processing_status": "ended", "request_counts": counts}).working


def test_anthropic_retrieve_maps_every_result_type() -> None:
    lines = jsonl(
        [
            {"custom_id": "chat-1", "result": {"type": "succeeded", "message": {"id": "msg_1"}}},
            {
                "custom_id": "chat-2",
                "result": {
                    "type": "errored",
                    "error": {
                        "type": "error",
                        "error": {"type": "invalid_request_error", "message": "too long"},
                    },
                },
            },
            {"custom_id": "chat-3", "result": {"type": "expired"}},
            {"custom_id": "chat-4", "result": {"type": "canceled"}},
        ]
    )
    batch = {
        "id": "msgbatch_1",
        "results_url": "https://api.anthropic.com/v1/messages/batches/msgbatch_1/results",
    }
    calls, results = drive(AnthropicBatch().retrieve(batch), [lines])
    assert calls[0].path == batch["results_url"]
    assert results["chat-1"].doc == {"id": "msg_1"}
    assert results["chat-2"].error == "invalid_request_error: too long"
    assert "expired" in (results["chat-3"].error or "")
    assert "canceled" in (results["chat-4"].error or "")


def test_anthropic_find_matches_size_and_time_and_refuses_ambiguity() -> None:
    def batch(i: str, created: str, n: int) -> dict[str, Any]:
        return {"id": i, "created_at": created, "request_counts": {"processing": n}}

    since = 1_800_000_000.0  # 2027-01-15T08:00:00Z
    page = {
        "data": [
            batch("new3", "2027-01-15T08:00:05Z", 3),
            batch("new2", "2027-01-15T08:00:04Z", 2),
            batch("old3", "2026-01-01T00:00:00Z", 3),
        ],
        "has_more": True,
        "last_id": "old3",
    }
    calls, found = drive(AnthropicBatch().find("t", model="c", count=3, since=since), [page])
    assert found is not None and found["id"] == "new3"
    assert len(calls) == 1  # older batches end the search
    two = {
        "data": [batch("a", "2027-01-15T08:00:05Z", 3), batch("b", "2027-01-15T08:00:06Z", 3)],
        "has_more": False,
    }
    with pytest.raises(ValueError, match="a, b"):
        drive(AnthropicBatch().find("t", model="c", count=3, since=since), [two])


# -- Gemini ----------------------------------------------------------------------------------


def test_gemini_body_is_snake_case_but_user_data_is_not() -> None:
    body = {
        "contents": [
            {
                "role": "user",
                "parts": [{"text": "hi"}, {"functionCall": {"name": "f", "args": {"someArg": 1}}}],
            }
        ],
        "systemInstruction": {"parts": [{"text": ""}]},
        "generationConfig": {
            "responseMimeType": "application/json",
            "responseSchema": {"type": "object", "properties": {"firstName": {"type": "string"}}},
        },
    }
    out = snake_case_body(body)
    assert "system_instruction" not in out  # empty: the batch parser rejects it
    assert out["contents"][0]["parts"][1] == {
        "function_call": {"name": "f", "args": {"someArg": 1}}
    }
    assert out["generation_config"] == {
        "response_mime_type": "application/json",
        "response_json_schema": {"type": "object", "properties": {"firstName": {"type": "string"}}},
    }
    kept = snake_case_body({"systemInstruction": {"parts": [{"text": "Be brief"}]}})
    assert kept == {"system_instruction": {"parts": [{"text": "Be brief"}]}}


def test_gemini_submit_uploads_resumably_then_creates() -> None:
    api = GeminiBatch(base_url="http://127.0.0.1:9/v1beta/")
    item = api.item("chat-1", WireRequest(path="models/g:generateContent", body={"contents": []}))
    assert item == {"key": "chat-1", "request": {"contents": []}}
    calls, batch = drive(
        api.submit([item], model="g", tag="T"),
        [
            BatchAnswer(
                b"", {"x-goog-upload-url": "http://127.0.0.1:9/upload/v1beta/files?upload_id=u1"}
            ),
            {"file": {"name": "files/abc"}},
            {"name": "batches/b1", "metadata": {"state": "BATCH_STATE_PENDING"}},
        ],
    )
    start, send, create = calls
    assert start.path == "http://127.0.0.1:9/upload/v1beta/files"
    assert start.headers["X-Goog-Upload-Command"] == "start"
    assert start.headers["X-Goog-Upload-Header-Content-Length"] == str(len(jsonl([item])))
    assert send.path.endswith("upload_id=u1") and send.body == jsonl([item])
    assert send.headers["X-Goog-Upload-Command"] == "upload, finalize"
    assert create.path == "models/g:batchGenerateContent" and create.creates
    assert create.body == {
        "batch": {
            "displayName": "ellmer-py-T",
            "model": "models/g",
            "inputConfig": {"fileName": "files/abc"},
        }
    }
    assert batch["name"] == "batches/b1"


def test_gemini_submit_needs_the_upload_url() -> None:
    with pytest.raises(ValueError, match="X-Goog-Upload-URL"):
        drive(GeminiBatch().submit([], model="g", tag="t"), [BatchAnswer(b"{}")])


def _op(state: str, **extra: Any) -> dict[str, Any]:
    stats = {"requestCount": "3", "successfulRequestCount": "2", "failedRequestCount": "1"}
    return {"name": "batches/b1", "metadata": {"state": state, "batchStats": stats}, **extra}


def test_gemini_status_waits_for_the_responses_file() -> None:
    api = GeminiBatch()
    running = api.status(_op("BATCH_STATE_RUNNING"))
    assert (running.working, running.total, running.succeeded, running.failed) == (True, 3, 2, 1)
    assert api.status(_op("BATCH_STATE_SUCCEEDED")).working  # no file named yet
    done = _op("BATCH_STATE_SUCCEEDED", done=True, response={"responsesFile": "files/out"})
    assert not api.status(done).working
    assert not api.status(_op("BATCH_STATE_EXPIRED")).working


def test_gemini_retrieve_downloads_and_reads_keys_and_errors() -> None:
    lines = jsonl(
        [
            {"key": "chat-2", "response": {"candidates": []}},
            {"key": "chat-1", "error": {"code": 400, "message": "bad"}},
        ]
    )
    done = _op("BATCH_STATE_SUCCEEDED", done=True, response={"responsesFile": "files/out"})
    calls, results = drive(GeminiBatch().retrieve(done), [lines])
    assert calls[0].path == "files/out:download" and dict(calls[0].query) == {"alt": "media"}
    assert results["chat-2"].doc == {"candidates": []}
    assert results["chat-1"].error == "400: bad"
    failed = _op("BATCH_STATE_FAILED", error={"code": 13, "message": "internal"})
    calls, results = drive(GeminiBatch().retrieve(failed), [])
    assert calls == [] and results[EVERY_OTHER].error == "13: internal"


def test_gemini_find_reads_operations_pages() -> None:
    pages: list[Mapping[str, Any]] = [
        {
            "operations": [{"name": "batches/x", "metadata": {"displayName": "other"}}],
            "nextPageToken": "p2",
        },
        {"operations": [{"name": "batches/y", "metadata": {"displayName": "ellmer-py-T"}}]},
    ]
    calls, found = drive(GeminiBatch().find("T", model="g", count=1), list(pages))
    assert found is not None and found["name"] == "batches/y"
    assert dict(calls[1].query) == {"pageSize": "100", "pageToken": "p2"}
