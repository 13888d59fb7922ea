"""The batch-API fakes of the conformance suite, driven over real loopback HTTP.

Each fake (OpenAI/Groq Files + Batch, Anthropic Message Batches, Gemini
Batch Mode + Files) is put behind a ``FakeServer`` and talked to with plain
urllib3, the way a client would: submit, poll, download; and the expiry,
per-item errors, batch failures, limits, credentials and list pagination.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from ellmer_py.conformance._batch_fake import FakeBatch, ItemError, shuffled
from ellmer_py.conformance._protocol import Answer, Usage
from ellmer_py.conformance.batch_anthropic import FAKE_CLASS as ANTHROPIC_CLASS
from ellmer_py.conformance.batch_anthropic import AnthropicBatchFake
from ellmer_py.conformance.batch_gemini import FAKE_CLASS as GEMINI_CLASS
from ellmer_py.conformance.batch_gemini import GeminiBatchFake
from ellmer_py.conformance.batch_openai import FAKE_CLASS as OPENAI_CLASS
from ellmer_py.conformance.batch_openai import OpenAIBatchFake
from ellmer_py.conformance.fake_server import FakeServer

HTTP = urllib3.PoolManager(retries=False, timeout=10.0)
OA_KEY = {"Authorization": "Bearer sk-test-123456"}
AN_HEAD = {"x-api-key": "ant-key", "anthropic-version": "2023-06-01"}
GM_KEY = {"x-goog-api-key": "gm-key"}


def call(
    method: str, url: str, *, body: Any = None, headers: dict[str, str] | None = None, **kw: Any
) -> tuple[int, Any, Any]:
    """(status, parsed JSON or raw bytes, headers) of one request."""
    resp = HTTP.request(method, url, json=body, headers=headers, **kw)
    try:
        doc = json.loads(resp.data) if resp.data else None
    except ValueError:
        doc = resp.data
    return resp.status, doc, resp.headers


def lines(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(x) for x in data.decode().splitlines() if x.strip()]


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[FakeServer] = []

    def start(fake: Any) -> FakeServer:
        srv = FakeServer(default=fake).start()
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        assert not srv.errors, srv.errors
        srv.stop()


def test_fake_classes_and_helpers() -> None:
    classes = (OPENAI_CLASS, ANTHROPIC_CLASS, GEMINI_CLASS)
    assert classes == (OpenAIBatchFake, AnthropicBatchFake, GeminiBatchFake)
    assert [c.api for c in classes] == ["openai-batch", "anthropic-batch", "gemini-batch"]
    assert shuffled([1, 2], "x") == [2, 1]
    assert shuffled(list(range(9)), "s") == shuffled(list(range(9)), "s") != list(range(9))
    with pytest.raises(ValueError, match="kind"):
        ItemError(kind="oops")
    with pytest.raises(ValueError, match="polls"):
        OpenAIBatchFake(polls=-1)
    assert "secret" not in repr(OpenAIBatchFake(key="secret"))


def test_unknown_routes_and_bad_respond() -> None:
    fake = OpenAIBatchFake(polls=0, respond=lambda key, body: "not an answer")
    with FakeServer(default=fake) as srv:
        status, doc, _ = call("GET", srv.base_url + "/nowhere")
        assert status == 404 and "no such route" in doc["error"]["message"]
        status, doc, _ = call("PUT", srv.base_url + "/batches")
        assert status == 405 and doc["error"]["type"] == "invalid_request_error"
        batch = oa_submit(srv.base_url, [oa_line(1)])
        status, doc, _ = call("GET", f"{srv.base_url}/batches/{batch['id']}")
        assert status == 500 and "return an Answer or an ItemError" in doc["error"]
        assert isinstance(srv.errors[0], TypeError)


# -- OpenAI / Groq ---------------------------------------------------------


def oa_line(i: int, url: str = "/v1/responses", **over: Any) -> dict[str, Any]:
    if url == "/v1/responses":
        body = {
            "model": "m",
            "input": [{"role": "user", "content": [{"type": "input_text", "text": f"q{i}"}]}],
        }
    else:
        body = {"model": "m", "messages": [{"role": "user", "content": f"q{i}"}]}
    return {"custom_id": f"chat-{i}", "method": "POST", "url": url, "body": body, **over}


def oa_upload(base: str, docs: list[Any], headers: dict[str, str] = OA_KEY) -> tuple[int, Any]:
    data = "\n".join(d if isinstance(d, str) else json.dumps(d) for d in docs).encode()
    fields = {"purpose": "batch", "file": ("batch.jsonl", data, "application/jsonl")}
    status, doc, _ = call("POST", base + "/files", fields=fields, headers=headers)
    return status, doc


def oa_submit(base: str, docs: list[Any], endpoint: str = "/v1/responses", **extra: Any) -> Any:
    status, file_doc = oa_upload(base, docs)
    assert status == 200, file_doc
    assert file_doc["object"] == "file" and file_doc["purpose"] == "batch"
    body = {"input_file_id": file_doc["id"], "endpoint": endpoint, "completion_window": "24h"}
    status, batch, _ = call("POST", base + "/batches", body={**body, **extra}, headers=OA_KEY)
    assert status == 200, batch
    return batch


def oa_get(base: str, batch_id: str) -> Any:
    status, doc, _ = call("GET", f"{base}/batches/{batch_id}", headers=OA_KEY)
    assert status == 200, doc
    return doc


def oa_file(base: str, file_id: str) -> list[dict[str, Any]]:
    resp = HTTP.request("GET", f"{base}/files/{file_id}/content", headers=OA_KEY)
    assert resp.status == 200
    return lines(resp.data)


def test_openai_full_cycle(serve: Any) -> None:
    fake = OpenAIBatchFake(key="sk-test-123456", polls=2)
    base = serve(fake).base_url
    batch = oa_submit(base, [oa_line(i) for i in range(1, 5)], metadata={"job": "j1"})
    assert batch["status"] == "validating" and batch["output_file_id"] is None
    assert batch["completion_window"] == "24h" and batch["metadata"] == {"job": "j1"}
    seen = [oa_get(base, batch["id"]) for _ in range(3)]
    assert [d["status"] for d in seen] == ["in_progress", "finalizing", "completed"]
    done = seen[-1]
    assert done["request_counts"] == {"total": 4, "completed": 4, "failed": 0}
    assert done["error_file_id"] is None and done["completed_at"] is not None
    out = oa_file(base, done["output_file_id"])
    ids = [line["custom_id"] for line in out]
    assert sorted(ids) == ["chat-1", "chat-2", "chat-3", "chat-4"] and ids != sorted(ids)
    for line in out:
        assert line["error"] is None and line["response"]["status_code"] == 200
        body = line["response"]["body"]
        assert body["object"] == "response"
        text = body["output"][-1]["content"][0]["text"]
        assert text == f"echo: q{line['custom_id'][5:]}"
        assert body["usage"]["input_tokens"] == 10 and body["usage"]["output_tokens"] == 5
    stored = fake.batches[batch["id"]]
    assert isinstance(stored, FakeBatch) and stored.polls == 3 and stored.state == "completed"
    assert stored.metadata == {"job": "j1"} and [k for k, _ in stored.items] == [
        "chat-1",
        "chat-2",
        "chat-3",
        "chat-4",
    ]
    assert fake.created == 1 and fake.requests_seen[:2] == ["POST /v1/files", "POST /v1/batches"]
    status, meta, _ = call("GET", f"{base}/files/{done['output_file_id']}", headers=OA_KEY)
    assert status == 200 and meta["purpose"] == "batch_output"


def test_groq_chat_completions_and_windows(serve: Any) -> None:
    srv = serve(OpenAIBatchFake(polls=0))
    groq = srv.url + "/openai/v1"
    batch = oa_submit(
        groq, [oa_line(1, "/v1/chat/completions")], "/v1/chat/completions", completion_window="48h"
    )
    done = oa_get(groq, batch["id"])
    assert done["status"] == "completed" and done["completion_window"] == "48h"
    (line,) = oa_file(groq, done["output_file_id"])
    assert line["response"]["body"]["choices"][0]["message"]["content"] == "echo: q1"
    # OpenAI itself takes only 24h; Groq not more than 7d
    for base, window in ((srv.base_url, "48h"), (groq, "8d"), (groq, "1h")):
        status, file_doc = oa_upload(base, [oa_line(1)])
        body = {
            "input_file_id": file_doc["id"],
            "endpoint": "/v1/responses",
            "completion_window": window,
        }
        status, doc, _ = call("POST", base + "/batches", body=body)
        assert status == 400 and doc["error"]["param"] == "completion_window", (base, window)


def test_openai_item_error_and_expiry(serve: Any) -> None:
    def respond(key: str, body: dict[str, Any]) -> Answer | ItemError:
        if key == "chat-1":
            return ItemError(429, "slow down")
        return Answer(text_pieces=("fine",), usage=Usage(3, 2))

    fake = OpenAIBatchFake(respond=respond, polls=0, expire=True)
    base = serve(fake).base_url
    done = oa_get(base, oa_submit(base, [oa_line(i) for i in range(1, 5)])["id"])
    assert done["status"] == "expired" and done["expired_at"] is not None
    assert done["request_counts"] == {"total": 4, "completed": 1, "failed": 3}
    (good,) = oa_file(base, done["output_file_id"])
    assert good["custom_id"] == "chat-2"
    assert good["response"]["body"]["output"][-1]["content"][0]["text"] == "fine"
    errors = {line["custom_id"]: line for line in oa_file(base, done["error_file_id"])}
    assert set(errors) == {"chat-1", "chat-3", "chat-4"}
    assert errors["chat-1"]["response"]["status_code"] == 429
    assert errors["chat-1"]["response"]["body"]["error"]["message"] == "slow down"
    assert errors["chat-3"]["response"] is None
    assert errors["chat-3"]["error"]["code"] == "batch_expired"


def test_openai_cancel(serve: Any) -> None:
    base = serve(OpenAIBatchFake(polls=5)).base_url
    batch = oa_submit(base, [oa_line(i) for i in range(1, 5)])
    status, doc, _ = call("POST", f"{base}/batches/{batch['id']}/cancel", headers=OA_KEY)
    assert status == 200 and doc["status"] == "cancelling"
    done = oa_get(base, batch["id"])
    assert done["status"] == "cancelled" and done["cancelled_at"] is not None
    codes = {x["custom_id"]: x["error"] for x in oa_file(base, done["error_file_id"])}
    assert codes == {
        k: {"code": "batch_cancelled", "message": codes[k]["message"]} for k in ("chat-3", "chat-4")
    }
    status, doc, _ = call("POST", f"{base}/batches/{batch['id']}/cancel")
    assert status == 400


def test_openai_validation_failure(serve: Any) -> None:
    base = serve(OpenAIBatchFake(polls=1)).base_url
    docs = [
        oa_line(1),
        oa_line(1),
        oa_line(2, url="/v1/chat/completions"),
        {"custom_id": "chat-3", "url": "/v1/responses", "body": {"model": "m"}},
        oa_line(4, method="GET"),
        oa_line(5, body={"model": "other"}),
    ]
    batch = oa_submit(base, docs)
    assert oa_get(base, batch["id"])["status"] == "validating"
    failed = oa_get(base, batch["id"])
    assert failed["status"] == "failed" and failed["output_file_id"] is None
    found = {(e["code"], e["line"]) for e in failed["errors"]["data"]}
    assert found == {
        ("duplicate_custom_id", 2),
        ("url_mismatch", 3),
        ("missing_required_parameter", 4),
        ("invalid_value", 5),
        ("model_mismatch", 6),
    }


def test_openai_batch_failure(serve: Any) -> None:
    base = serve(OpenAIBatchFake(polls=0, fail="the model is gone")).base_url
    failed = oa_get(base, oa_submit(base, [oa_line(1)])["id"])
    assert failed["status"] == "failed" and failed["failed_at"] is not None
    assert [e["message"] for e in failed["errors"]["data"]] == ["the model is gone"]


def test_openai_upload_errors(serve: Any) -> None:
    base = serve(OpenAIBatchFake()).base_url
    status, doc, _ = call("POST", base + "/files", body={"purpose": "batch"})
    assert status == 400 and "multipart/form-data" in doc["error"]["message"]
    status, doc = oa_upload(base, [oa_line(1), "{not json"])
    assert status == 400 and doc["error"]["code"] == "invalid_json_line"
    assert "line 2" in doc["error"]["message"]
    fields = {"file": ("batch.jsonl", b"{}", "application/jsonl")}
    status, doc, _ = call("POST", base + "/files", fields=fields)
    assert status == 400 and doc["error"]["param"] == "purpose"
    raw = b'--XX\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
    resp = HTTP.request(
        "POST",
        base + "/files",
        body=raw,
        headers={"Content-Type": "multipart/form-data; boundary=XX"},
    )
    assert resp.status == 400 and b"closing boundary" in resp.data
    status, doc, _ = call(
        "POST",
        base + "/batches",
        body={
            "input_file_id": "file-nope",
            "endpoint": "/v1/responses",
            "completion_window": "24h",
        },
    )
    assert status == 400 and doc["error"]["param"] == "input_file_id"
    status, doc, _ = call("GET", base + "/batches/batch_nope")
    assert status == 404 and doc["error"]["type"] == "invalid_request_error"


def test_openai_limits(serve: Any) -> None:
    base = serve(OpenAIBatchFake(max_bytes=300, max_items=2)).base_url
    status, doc = oa_upload(base, [oa_line(i) for i in range(1, 4)])
    assert status == 400 and "300 bytes" in doc["error"]["message"]
    fake = OpenAIBatchFake(max_items=2)
    base = serve(fake).base_url
    status, file_doc = oa_upload(base, [oa_line(i) for i in range(1, 4)])
    body = {
        "input_file_id": file_doc["id"],
        "endpoint": "/v1/responses",
        "completion_window": "24h",
    }
    status, doc, _ = call("POST", base + "/batches", body=body)
    assert status == 400 and "at most 2" in doc["error"]["message"] and fake.created == 0


def test_openai_auth(serve: Any) -> None:
    fake = OpenAIBatchFake(key="sk-test-123456")
    base = serve(fake).base_url
    status, doc, _ = call("GET", base + "/batches")
    assert status == 401 and doc["error"]["type"] == "invalid_request_error"
    status, doc, _ = call("GET", base + "/batches", headers={"Authorization": "Bearer sk-wrong-99"})
    assert status == 401 and doc["error"]["code"] == "invalid_api_key"
    assert "sk-wrong-99" not in doc["error"]["message"]
    assert call("GET", base + "/batches", headers=OA_KEY)[0] == 200


def test_openai_server_error_once(serve: Any) -> None:
    fake = OpenAIBatchFake(server_error_once=True)
    base = serve(fake).base_url
    status, file_doc = oa_upload(base, [oa_line(1)])
    body = {
        "input_file_id": file_doc["id"],
        "endpoint": "/v1/responses",
        "completion_window": "24h",
    }
    status, doc, _ = call("POST", base + "/batches", body=body)
    assert status == 500 and doc["error"]["type"] == "server_error" and fake.created == 0
    assert call("POST", base + "/batches", body=body)[0] == 200 and fake.created == 1


def test_openai_list_pagination(serve: Any) -> None:
    fake = OpenAIBatchFake()
    base = serve(fake).base_url
    made = [oa_submit(base, [oa_line(1)], metadata={"n": str(n)})["id"] for n in range(5)]
    pages, after = [], None
    while True:
        query = {"limit": "2", **({"after": after} if after else {})}
        status, page, _ = call("GET", base + "/batches", fields=query)
        assert status == 200 and page["object"] == "list"
        pages.append([b["id"] for b in page["data"]])
        if not page["has_more"]:
            break
        after = page["last_id"]
    assert pages == [made[4:2:-1], made[2:0:-1], made[:1]]
    assert all(b.polls == 0 for b in fake.batches.values())  # listing is not polling
    assert call("GET", base + "/batches", fields={"limit": "0"})[0] == 400
    assert call("GET", base + "/batches", fields={"after": "batch_x"})[0] == 400


# -- Anthropic -------------------------------------------------------------


def an_requests(n: int, **params: Any) -> list[dict[str, Any]]:
    base = {"model": "claude", "max_tokens": 100}
    return [
        {
            "custom_id": f"chat-{i}",
            "params": {**base, "messages": [{"role": "user", "content": f"q{i}"}], **params},
        }
        for i in range(1, n + 1)
    ]


def an_create(base: str, requests: list[Any], headers: dict[str, str] = AN_HEAD) -> Any:
    return call("POST", base + "/messages/batches", body={"requests": requests}, headers=headers)


def an_get(base: str, batch_id: str) -> Any:
    status, doc, _ = call("GET", f"{base}/messages/batches/{batch_id}", headers=AN_HEAD)
    assert status == 200, doc
    return doc


def an_results(doc: Any) -> list[dict[str, Any]]:
    resp = HTTP.request("GET", doc["results_url"], headers=AN_HEAD)
    assert resp.status == 200, resp.data
    return lines(resp.data)


def test_anthropic_full_cycle(serve: Any) -> None:
    fake = AnthropicBatchFake(key="ant-key", polls=1)
    srv = serve(fake)
    status, batch, _ = an_create(srv.base_url, an_requests(4))
    assert status == 200 and batch["type"] == "message_batch"
    assert batch["processing_status"] == "in_progress" and batch["results_url"] is None
    assert batch["request_counts"] == {
        "processing": 4,
        "succeeded": 0,
        "errored": 0,
        "canceled": 0,
        "expired": 0,
    }
    assert an_get(srv.base_url, batch["id"])["processing_status"] == "in_progress"
    status, early, _ = call(
        "GET", f"{srv.base_url}/messages/batches/{batch['id']}/results", headers=AN_HEAD
    )
    assert status == 400 and early["error"]["type"] == "invalid_request_error"
    done = an_get(srv.base_url, batch["id"])
    assert done["processing_status"] == "ended" and done["ended_at"].endswith("Z")
    assert done["request_counts"]["succeeded"] == 4 and done["request_counts"]["processing"] == 0
    assert done["results_url"] == f"{srv.base_url}/messages/batches/{batch['id']}/results"
    results = an_results(done)
    ids = [r["custom_id"] for r in results]
    assert sorted(ids) == ["chat-1", "chat-2", "chat-3", "chat-4"] and ids != sorted(ids)
    for r in results:
        assert r["result"]["type"] == "succeeded"
        message = r["result"]["message"]
        assert message["type"] == "message"
        assert message["content"] == [{"type": "text", "text": f"echo: q{r['custom_id'][5:]}"}]
    assert fake.created == 1 and fake.batches[batch["id"]].items[0][0] == "chat-1"


def test_anthropic_headers_and_auth(serve: Any) -> None:
    base = serve(AnthropicBatchFake(key="ant-key")).base_url
    status, doc, _ = an_create(base, an_requests(1), {"anthropic-version": "2023-06-01"})
    assert status == 401 and doc["error"]["type"] == "authentication_error"
    status, doc, _ = an_create(base, an_requests(1), {**AN_HEAD, "x-api-key": "wrong"})
    assert status == 401 and doc["type"] == "error"
    status, doc, _ = an_create(base, an_requests(1), {"x-api-key": "ant-key"})
    assert status == 400 and "anthropic-version" in doc["error"]["message"]


def test_anthropic_validation(serve: Any) -> None:
    fake = AnthropicBatchFake()
    base = serve(fake).base_url
    bad_id = [{**an_requests(1)[0], "custom_id": "chat 1!"}]
    no_tokens = [{"custom_id": "a", "params": {"model": "c", "messages": []}}]
    streamed = an_requests(1, stream=True)
    for requests, part in (
        (bad_id, "custom_id"),
        (an_requests(1) * 2, "duplicate"),
        (no_tokens, "max_tokens"),
        (streamed, "stream"),
        ([], "requests"),
    ):
        status, doc, _ = an_create(base, requests)
        assert status == 400 and part in doc["error"]["message"], (part, doc)
    assert fake.created == 0


def test_anthropic_item_error_and_expiry(serve: Any) -> None:
    def respond(key: str, body: dict[str, Any]) -> Answer | ItemError:
        return ItemError(529, "overloaded") if key == "chat-1" else Answer(text_pieces=("ok",))

    base = serve(AnthropicBatchFake(respond=respond, polls=0, expire=True)).base_url
    done = an_get(base, an_create(base, an_requests(4))[1]["id"])
    assert done["request_counts"] == {
        "processing": 0,
        "succeeded": 1,
        "errored": 1,
        "canceled": 0,
        "expired": 2,
    }
    results = {r["custom_id"]: r["result"] for r in an_results(done)}
    assert results["chat-1"]["type"] == "errored"
    assert results["chat-1"]["error"]["error"] == {
        "type": "overloaded_error",
        "message": "overloaded",
    }
    assert results["chat-2"]["message"]["content"][0]["text"] == "ok"
    assert results["chat-3"] == results["chat-4"] == {"type": "expired"}


def test_anthropic_cancel_and_delete(serve: Any) -> None:
    fake = AnthropicBatchFake(polls=3)
    base = serve(fake).base_url
    batch = an_create(base, an_requests(2))[1]
    url = f"{base}/messages/batches/{batch['id']}"
    assert call("DELETE", url, headers=AN_HEAD)[0] == 400  # still processing
    status, doc, _ = call("POST", url + "/cancel", headers=AN_HEAD)
    assert status == 200 and doc["processing_status"] == "canceling"
    assert doc["cancel_initiated_at"] is not None
    done = an_get(base, batch["id"])
    assert done["request_counts"]["canceled"] == 1 and done["request_counts"]["succeeded"] == 1
    assert {r["custom_id"]: r["result"]["type"] for r in an_results(done)} == {
        "chat-1": "succeeded",
        "chat-2": "canceled",
    }
    status, doc, _ = call("DELETE", url, headers=AN_HEAD)
    assert doc == {"id": batch["id"], "type": "message_batch_deleted"} and not fake.batches


def test_anthropic_failure_limits_and_retry(serve: Any) -> None:
    fake = AnthropicBatchFake(fail="requests.0.params.model: unknown model")
    base = serve(fake).base_url
    status, doc, _ = an_create(base, an_requests(1))
    assert status == 400 and doc["error"]["message"].endswith("unknown model")
    assert fake.created == 0
    base = serve(AnthropicBatchFake(max_items=2, max_bytes=400)).base_url
    status, doc, _ = an_create(base, an_requests(3))
    assert status == 400 and "at most 2" in doc["error"]["message"]
    status, doc, _ = an_create(base, an_requests(2, system="x" * 400))
    assert status == 413 and doc["error"]["type"] == "request_too_large"
    fake = AnthropicBatchFake(server_error_once=True)
    base = serve(fake).base_url
    status, doc, _ = an_create(base, an_requests(1))
    assert status == 500 and doc["error"]["type"] == "api_error"
    assert an_create(base, an_requests(1))[0] == 200 and fake.created == 1


def test_anthropic_list_pagination(serve: Any) -> None:
    base = serve(AnthropicBatchFake()).base_url
    made = [an_create(base, an_requests(1))[1]["id"] for _ in range(5)]
    url = base + "/messages/batches"
    status, first, _ = call("GET", url, fields={"limit": "2"}, headers=AN_HEAD)
    assert status == 200 and [b["id"] for b in first["data"]] == made[4:2:-1]
    assert first["has_more"] and first["first_id"] == made[4] and first["last_id"] == made[3]
    _, second, _ = call("GET", url, fields={"limit": "2", "after_id": made[3]}, headers=AN_HEAD)
    _, third, _ = call("GET", url, fields={"limit": "2", "after_id": made[1]}, headers=AN_HEAD)
    assert [b["id"] for b in second["data"]] == made[2:0:-1] and second["has_more"]
    assert [b["id"] for b in third["data"]] == made[:1] and not third["has_more"]
    _, back, _ = call("GET", url, fields={"limit": "2", "before_id": made[1]}, headers=AN_HEAD)
    assert [b["id"] for b in back["data"]] == made[3:1:-1] and back["has_more"]
    both = {"before_id": made[1], "after_id": made[2]}
    assert call("GET", url, fields=both, headers=AN_HEAD)[0] == 400
    assert call("GET", url, fields={"limit": "1001"}, headers=AN_HEAD)[0] == 400


# -- Gemini ----------------------------------------------------------------


def gm_line(i: int, **extra: Any) -> dict[str, Any]:
    request = {"contents": [{"role": "user", "parts": [{"text": f"q{i}"}]}], **extra}
    return {"key": f"chat-{i}", "request": request}


def gm_upload(
    srv: FakeServer, data: bytes, chunks: int = 1, headers: dict[str, str] = GM_KEY
) -> tuple[int, Any]:
    start = {
        "X-Goog-Upload-Protocol": "resumable",
        "X-Goog-Upload-Command": "start",
        "X-Goog-Upload-Header-Content-Length": str(len(data)),
        "X-Goog-Upload-Header-Content-Type": "application/jsonl",
        **headers,
    }
    status, doc, head = call(
        "POST",
        srv.url + "/upload/v1beta/files",
        body={"file": {"display_name": "in.jsonl"}},
        headers=start,
    )
    if status != 200:
        return status, doc
    assert head["x-goog-upload-status"] == "active"
    url, size = head["x-goog-upload-url"], -(-len(data) // chunks)
    assert url.startswith(srv.url + "/upload/v1beta/files?upload_id=")
    for offset in range(0, len(data), size):
        last = offset + size >= len(data)
        command = "upload, finalize" if last else "upload"
        resp = HTTP.request(
            "POST",
            url,
            body=data[offset : offset + size],
            headers={"X-Goog-Upload-Command": command, "X-Goog-Upload-Offset": str(offset)},
        )
        assert resp.headers["x-goog-upload-status"] == ("final" if last else "active")
    return resp.status, json.loads(resp.data)


def gm_create(srv: FakeServer, source: dict[str, Any], headers: dict[str, str] = GM_KEY) -> Any:
    body = {"batch": {"displayName": "ellmer-1", "model": "models/gem", "inputConfig": source}}
    return call(
        "POST", srv.url + "/v1beta/models/gem:batchGenerateContent", body=body, headers=headers
    )


def gm_get(srv: FakeServer, name: str) -> Any:
    status, doc, _ = call("GET", f"{srv.url}/v1beta/{name}", headers=GM_KEY)
    assert status == 200, doc
    return doc


def gm_file(srv: FakeServer, name: str) -> list[dict[str, Any]]:
    resp = HTTP.request("GET", f"{srv.url}/v1beta/{name}:download?alt=media", headers=GM_KEY)
    assert resp.status == 200, resp.data
    return lines(resp.data)


def gm_submit(srv: FakeServer, docs: list[Any], chunks: int = 1) -> Any:
    status, up = gm_upload(srv, b"\n".join(json.dumps(d).encode() for d in docs), chunks)
    assert status == 200, up
    status, op, _ = gm_create(srv, {"fileName": up["file"]["name"]})
    assert status == 200, op
    return op


def test_gemini_full_cycle(serve: Any) -> None:
    fake = GeminiBatchFake(key="gm-key", polls=1)
    srv = serve(fake)
    status, up = gm_upload(srv, b'{"key": "a", "request": {"contents": []}}\n', chunks=3)
    file = up["file"]
    assert status == 200 and file["state"] == "ACTIVE" and file["sizeBytes"] == "42"
    assert file["mimeType"] == "application/jsonl" and file["displayName"] == "in.jsonl"
    status, meta, _ = call("GET", f"{srv.url}/v1beta/{file['name']}", headers=GM_KEY)
    assert status == 200 and meta == file
    op = gm_submit(
        srv, [gm_line(i, system_instruction={"parts": [{"text": "s"}]}) for i in range(1, 5)]
    )
    assert op["name"].startswith("batches/") and "done" not in op
    assert op["metadata"]["state"] == "BATCH_STATE_PENDING"
    assert op["metadata"]["batchStats"] == {"requestCount": "4", "pendingRequestCount": "4"}
    assert op["metadata"]["displayName"] == "ellmer-1" and op["metadata"]["model"] == "models/gem"
    assert gm_get(srv, op["name"])["metadata"]["state"] == "BATCH_STATE_RUNNING"
    done = gm_get(srv, op["name"])
    assert done["done"] is True and done["metadata"]["state"] == "BATCH_STATE_SUCCEEDED"
    assert done["metadata"]["batchStats"] == {"requestCount": "4", "successfulRequestCount": "4"}
    name = done["response"]["responsesFile"]
    assert name == done["metadata"]["output"]["responsesFile"] and name.startswith("files/batch-")
    out = gm_file(srv, name)
    keys = [line["key"] for line in out]
    assert sorted(keys) == ["chat-1", "chat-2", "chat-3", "chat-4"] and keys != sorted(keys)
    for line in out:
        text = line["response"]["candidates"][0]["content"]["parts"][0]["text"]
        assert text == f"echo: q{line['key'][5:]}"
    assert fake.created == 1 and fake.batches[op["name"]].metadata["displayName"] == "ellmer-1"
    assert up["file"]["name"] in fake.uploads


def test_gemini_inline_requests(serve: Any) -> None:
    srv = serve(GeminiBatchFake(polls=0))
    requests = [{"request": gm_line(i)["request"], "metadata": {"key": f"k{i}"}} for i in (1, 2)]
    status, op, _ = gm_create(srv, {"requests": {"requests": requests}})
    assert status == 200, op
    inlined = gm_get(srv, op["name"])["response"]["inlinedResponses"]["inlinedResponses"]
    assert [r["metadata"]["key"] for r in inlined] == ["k1", "k2"]
    assert inlined[1]["response"]["candidates"][0]["content"]["parts"][0]["text"] == "echo: q2"


def test_gemini_bad_input(serve: Any) -> None:
    srv = serve(GeminiBatchFake())
    status, up = gm_upload(srv, json.dumps(gm_line(1, systemInstruction={"parts": []})).encode())
    status, doc, _ = gm_create(srv, {"fileName": up["file"]["name"]})
    assert status == 400 and "systemInstruction" in doc["error"]["message"]
    assert doc["error"]["status"] == "INVALID_ARGUMENT"
    schema = {"response_json_schema": {"properties": {"firstName": {"type": "string"}}}}
    assert gm_submit(srv, [gm_line(1, generation_config=schema)])["name"]  # user data is free
    status, up = gm_upload(srv, b'{"key": "a"}\n')
    assert gm_create(srv, {"fileName": up["file"]["name"]})[0] == 400
    assert gm_create(srv, {"fileName": "files/nope"})[0] == 400
    assert gm_create(srv, {})[0] == 400
    resp = HTTP.request(
        "POST",
        srv.url + "/upload/v1beta/files?upload_id=zz",
        body=b"x",
        headers={"X-Goog-Upload-Command": "upload, finalize"},
    )
    assert resp.status == 404
    status, doc, _ = call(
        "GET", f"{srv.url}/v1beta/{up['file']['name']}:download", fields={"alt": "media"}
    )
    assert status == 400 and "generated" in doc["error"]["message"]


def test_gemini_auth(serve: Any) -> None:
    srv = serve(GeminiBatchFake(key="gm-key"))
    status, doc = gm_upload(srv, b"{}", headers={})
    assert status == 403 and doc["error"]["status"] == "PERMISSION_DENIED"
    status, doc, _ = call("GET", srv.url + "/v1beta/batches", headers={"x-goog-api-key": "bad"})
    assert status == 400 and doc["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    assert call("GET", srv.url + "/v1beta/batches", fields={"key": "gm-key"})[0] == 200


def test_gemini_item_error_and_expiry(serve: Any) -> None:
    def respond(key: str, body: dict[str, Any]) -> Answer | ItemError:
        return ItemError(400, "bad part") if key == "chat-1" else Answer(text_pieces=("ok",))

    srv = serve(GeminiBatchFake(respond=respond, polls=0, expire=True))
    done = gm_get(srv, gm_submit(srv, [gm_line(i) for i in range(1, 5)])["name"])
    assert done["metadata"]["state"] == "BATCH_STATE_EXPIRED"
    assert done["metadata"]["batchStats"] == {
        "requestCount": "4",
        "successfulRequestCount": "1",
        "failedRequestCount": "3",
    }
    out = {line["key"]: line for line in gm_file(srv, done["response"]["responsesFile"])}
    assert set(out) == {"chat-1", "chat-2"}  # the unanswered are absent
    assert out["chat-1"]["error"] == {
        "code": 400,
        "message": "bad part",
        "status": "INVALID_ARGUMENT",
    }
    assert "response" in out["chat-2"]


def test_gemini_failure_cancel_limits_retry(serve: Any) -> None:
    srv = serve(GeminiBatchFake(polls=0, fail="quota gone"))
    failed = gm_get(srv, gm_submit(srv, [gm_line(1)])["name"])
    assert failed["metadata"]["state"] == "BATCH_STATE_FAILED" and "response" not in failed
    assert failed["error"]["message"] == "quota gone" and failed["done"] is True
    srv = serve(GeminiBatchFake(polls=4))
    op = gm_submit(srv, [gm_line(1), gm_line(2)])
    assert call("POST", f"{srv.url}/v1beta/{op['name']}:cancel")[1] == {}
    assert gm_get(srv, op["name"])["metadata"]["state"] == "BATCH_STATE_CANCELLED"
    srv = serve(GeminiBatchFake(max_bytes=100))
    status, doc = gm_upload(srv, b"x" * 101)
    assert status == 400 and "exceeds the limit" in doc["error"]["message"]
    requests = {"requests": [{"request": gm_line(i)["request"]} for i in (1, 2, 3)]}
    status, doc, _ = gm_create(srv, {"requests": requests})
    assert status == 400 and "exceeds the limit" in doc["error"]["message"]
    fake = GeminiBatchFake(max_items=1)
    srv = serve(fake)
    status, up = gm_upload(srv, b"\n".join(json.dumps(gm_line(i)).encode() for i in (1, 2)))
    status, doc, _ = gm_create(srv, {"fileName": up["file"]["name"]})
    assert status == 400 and "at most 1" in doc["error"]["message"] and fake.created == 0
    fake = GeminiBatchFake(server_error_once=True)
    srv = serve(fake)
    status, up = gm_upload(srv, json.dumps(gm_line(1)).encode())
    status, doc, _ = gm_create(srv, {"fileName": up["file"]["name"]})
    assert status == 500 and doc["error"]["status"] == "INTERNAL" and fake.created == 0
    assert gm_create(srv, {"fileName": up["file"]["name"]})[0] == 200 and fake.created == 1


def test_gemini_list_pagination(serve: Any) -> None:
    srv = serve(GeminiBatchFake())
    requests = {"requests": [{"request": gm_line(1)["request"]}]}
    made = [gm_create(srv, {"requests": requests})[1]["name"] for _ in range(5)]
    pages, token = [], None
    while True:
        query = {"pageSize": "2", **({"pageToken": token} if token else {})}
        status, page, _ = call("GET", srv.url + "/v1beta/batches", fields=query)
        assert status == 200
        pages.append([op["name"] for op in page["operations"]])
        token = page.get("nextPageToken")
        if token is None:
            break
    assert pages == [made[4:2:-1], made[2:0:-1], made[:1]]
    assert call("GET", srv.url + "/v1beta/batches", fields={"pageToken": "bogus"})[0] == 400
