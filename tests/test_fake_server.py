"""Tests of the loopback fake server, with plain ``http.client`` / ``urllib``."""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ellmer_py.conformance.fake_server import (
    FakeServer,
    RecordedRequest,
    Reply,
    load_recording,
    sse_data,
)

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "hf-router"
STREAMED_FIXTURE = FIXTURES / "chatlas" / "test_huggingface_simple_streaming_request.json"
JSON_FIXTURE = (
    FIXTURES
    / "huggingface_hub"
    / "TestInferenceClient.test_chat_completion_no_stream_cerebras_conversational.json"
)


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server
    assert not server.errors, server.errors


def connect(srv: FakeServer, timeout: float = 5.0) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout)


def post_json(srv: FakeServer, path: str, payload: Any) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(
        srv.url + path,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "Authorization": "Bearer k"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        headers = {k.lower(): v for k, v in err.headers.items()}
        return err.code, headers, err.read()


def load_response(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    response: dict[str, Any] = data["interactions"][0]["response"]
    return response


# -- addresses and lifecycle -------------------------------------------------


def test_urls_point_at_loopback(srv: FakeServer) -> None:
    assert srv.url == f"http://127.0.0.1:{srv.port}"
    assert srv.base_url == srv.url + "/v1"
    assert srv.port > 0


def test_url_before_start_is_an_error() -> None:
    with pytest.raises(RuntimeError):
        _ = FakeServer().url


def test_stop_closes_listening_socket() -> None:
    with FakeServer() as server:
        port = server.port
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_stop_closes_idle_keep_alive_connections() -> None:
    with FakeServer(default=Reply.json({})) as server:
        conn = connect(server)
        conn.request("GET", "/")
        conn.getresponse().read()
        assert conn.sock is not None
        sock = conn.sock
    sock.settimeout(2)
    assert sock.recv(1) == b""  # the server closed it
    conn.close()


# -- JSON replies and recorded requests ---------------------------------------


def test_json_reply_and_recorded_request(srv: FakeServer) -> None:
    srv.enqueue(Reply.json({"a": 1}, status=201, headers={"x-request-id": "r1"}))
    status, headers, body = post_json(
        srv, "/v1/chat/completions?x=1", {"model": "m", "messages": []}
    )
    assert status == 201
    assert headers["content-type"] == "application/json"
    assert headers["x-request-id"] == "r1"
    assert headers["content-length"] == str(len(body))
    assert json.loads(body) == {"a": 1}

    [req] = srv.requests
    assert isinstance(req, RecordedRequest)
    assert req.method == "POST"
    assert req.path == "/v1/chat/completions?x=1"
    assert req.headers["content-type"] == "application/json"
    assert req.headers["authorization"] == "Bearer k"
    assert all(name == name.lower() for name in req.headers)
    assert req.body == b'{"model": "m", "messages": []}'
    assert req.json == {"model": "m", "messages": []}
    assert req.connection == 1


def test_recorded_request_is_frozen_and_json_tolerant() -> None:
    req = RecordedRequest(method="GET", path="/", headers={}, body=b"")
    assert req.json is None
    assert RecordedRequest("GET", "/", {}, b"not json").json is None
    with pytest.raises(AttributeError):
        req.method = "POST"  # type: ignore[misc]


def test_get_and_other_methods_on_any_path(srv: FakeServer) -> None:
    srv.default = Reply.json({"ok": True})
    conn = connect(srv)
    for method in ("GET", "DELETE", "PATCH", "FROB"):
        conn.request(method, "/v1/models/some/thing")
        resp = conn.getresponse()
        assert resp.status == 200
        assert json.loads(resp.read()) == {"ok": True}
    conn.close()
    assert [r.method for r in srv.requests] == ["GET", "DELETE", "PATCH", "FROB"]
    assert {r.path for r in srv.requests} == {"/v1/models/some/thing"}
    assert all(r.body == b"" for r in srv.requests)


def test_chunked_request_body_is_decoded(srv: FakeServer) -> None:
    srv.enqueue(Reply.json({}))
    conn = connect(srv)
    conn.request("POST", "/v1/x", body=iter([b'{"a":', b" 1}"]), encode_chunked=True)
    assert conn.getresponse().read() == b"{}"
    conn.close()
    assert srv.requests[0].json == {"a": 1}


def test_head_request_gets_no_body(srv: FakeServer) -> None:
    srv.enqueue(Reply.json({"a": 1}), Reply.json({"b": 2}))
    conn = connect(srv)
    conn.request("HEAD", "/")
    resp = conn.getresponse()
    assert resp.read() == b""
    conn.request("GET", "/")
    assert json.loads(conn.getresponse().read()) == {"b": 2}
    conn.close()


# -- queue and default ---------------------------------------------------------


def test_queue_order_then_default_then_no_reply(srv: FakeServer) -> None:
    srv.enqueue(Reply.json({"n": 1}), Reply.json({"n": 2}))
    srv.enqueue(Reply.json({"n": 3}))
    assert srv.pending == 3
    got = [json.loads(post_json(srv, "/", {})[2])["n"] for _ in range(3)]
    assert got == [1, 2, 3]
    assert srv.pending == 0

    status, _, body = post_json(srv, "/", {})
    assert status == 500
    assert json.loads(body) == {"error": "fake server: no reply queued"}

    srv.default = Reply.json({"n": "default"})
    srv.enqueue(Reply.json({"n": 4}))
    got = [json.loads(post_json(srv, "/", {})[2])["n"] for _ in range(3)]
    assert got == [4, "default", "default"]
    assert len(srv.requests) == 7


def test_default_given_to_constructor() -> None:
    with FakeServer(default=Reply.json({"d": 1})) as server:
        assert json.loads(post_json(server, "/", {})[2]) == {"d": 1}


def test_enqueue_rejects_non_replies(srv: FakeServer) -> None:
    with pytest.raises(TypeError):
        srv.enqueue({"a": 1})  # type: ignore[arg-type]


def test_reset_forgets_everything(srv: FakeServer) -> None:
    srv.default = Reply.json({})
    srv.enqueue(Reply.json({}))
    post_json(srv, "/", {})
    srv.enqueue(Reply.json({}))
    srv.reset()
    assert srv.requests == []
    assert srv.pending == 0
    assert srv.default is None


def test_wait_for_requests(srv: FakeServer) -> None:
    srv.enqueue(Reply.json({}))
    post_json(srv, "/", {"q": 1})
    [req] = srv.wait_for_requests(1, timeout=1)
    assert req.json == {"q": 1}
    with pytest.raises(TimeoutError, match="expected 2"):
        srv.wait_for_requests(2, timeout=0.05)


# -- raw replies ---------------------------------------------------------------


def test_raw_html_error_page(srv: FakeServer) -> None:
    page = b"<html><body>502 Bad Gateway</body></html>"
    srv.enqueue(Reply.raw(502, page, content_type="text/html", headers={}))
    status, headers, body = post_json(srv, "/v1/chat/completions", {})
    assert status == 502
    assert headers["content-type"] == "text/html"
    assert body == page


def test_raw_header_content_type_wins(srv: FakeServer) -> None:
    srv.enqueue(Reply.raw(200, "plain", headers={"Content-Type": "x/y"}))
    _, headers, body = post_json(srv, "/", {})
    assert headers["content-type"] == "x/y"
    assert body == b"plain"


# -- streaming -------------------------------------------------------------------


def read_items(resp: http.client.HTTPResponse, items: list[bytes], start: float) -> list[float]:
    """Arrival time (since ``start``) of each expected item, read incrementally."""
    times: list[float] = []
    buf = b""
    expected = b""
    for item in items:
        expected += item
        while len(buf) < len(expected):
            data = resp.read1(65536)
            assert data, "stream ended early"
            buf += data
        times.append(time.monotonic() - start)
        assert buf.startswith(expected)
    assert resp.read() == b""
    return times


def test_sse_items_arrive_incrementally(srv: FakeServer) -> None:
    items = [sse_data({"i": i}) for i in range(4)] + [sse_data("[DONE]")]
    srv.enqueue(Reply.sse(items, delay=0.1))
    conn = connect(srv)
    start = time.monotonic()
    conn.request("POST", "/v1/chat/completions", body=b"{}")
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.getheader("Content-Type") == "text/event-stream"
    assert resp.getheader("Transfer-Encoding") == "chunked"
    times = read_items(resp, items, start)
    conn.close()
    assert times[0] < 0.2, times
    assert times[-1] - times[0] >= 0.3, times
    assert items[-1] == b"data: [DONE]\n\n"


def test_sse_accepts_str_items_and_skips_empty_ones(srv: FakeServer) -> None:
    srv.enqueue(Reply.sse(["data: a\n\n", b"", "data: b\n\n"]))
    status, _, body = post_json(srv, "/", {})
    assert status == 200
    assert body == b"data: a\n\ndata: b\n\n"


def test_keep_alive_reuses_one_connection(srv: FakeServer) -> None:
    srv.enqueue(
        Reply.json({"n": 1}),
        Reply.sse([b"data: 1\n\n", b"data: 2\n\n"]),
        Reply.raw(404, b"nope"),
        Reply.json({"n": 4}),
    )
    conn = connect(srv)
    conn.request("POST", "/v1/a", body=b"{}")
    assert json.loads(conn.getresponse().read()) == {"n": 1}
    sock = conn.sock
    assert sock is not None
    conn.request("POST", "/v1/b", body=b"{}")
    assert conn.getresponse().read() == b"data: 1\n\ndata: 2\n\n"
    conn.request("GET", "/v1/c")
    assert conn.getresponse().read() == b"nope"
    conn.request("GET", "/v1/d")
    assert json.loads(conn.getresponse().read()) == {"n": 4}
    assert conn.sock is sock
    conn.close()
    assert [r.connection for r in srv.requests] == [1, 1, 1, 1]


def test_separate_connections_are_numbered(srv: FakeServer) -> None:
    srv.default = Reply.json({})
    for _ in range(2):
        conn = connect(srv)
        conn.request("GET", "/")
        conn.getresponse().read()
        conn.close()
    srv.wait_for_requests(2)
    assert [r.connection for r in srv.requests] == [1, 2]


# -- broken connections ------------------------------------------------------------


def test_cut_breaks_the_stream(srv: FakeServer) -> None:
    srv.enqueue(Reply.cut(b'data: {"partial"'))
    conn = connect(srv)
    conn.request("POST", "/v1/chat/completions", body=b"{}")
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.getheader("Content-Type") == "text/event-stream"
    with pytest.raises((http.client.IncompleteRead, ConnectionError)) as info:
        resp.read()
    if isinstance(info.value, http.client.IncompleteRead):
        assert info.value.partial == b'data: {"partial"'
    conn.close()


def test_cut_after_several_items_then_server_still_serves(srv: FakeServer) -> None:
    srv.enqueue(Reply.cut(b"data: 1\n\n", b"data: 2\n\n", delay=0.05))
    srv.enqueue(Reply.json({"after": True}))
    conn = connect(srv)
    conn.request("POST", "/", body=b"{}")
    resp = conn.getresponse()
    assert resp.read1(65536) == b"data: 1\n\n"
    with pytest.raises((http.client.IncompleteRead, ConnectionError)):
        resp.read()
    conn.close()
    assert json.loads(post_json(srv, "/", {})[2]) == {"after": True}


def test_cut_is_an_error_for_urllib(srv: FakeServer) -> None:
    srv.enqueue(Reply.cut(b"data: x"))
    req = urllib.request.Request(srv.url + "/v1/x", data=b"{}", method="POST")
    with (
        urllib.request.urlopen(req, timeout=5) as resp,
        pytest.raises((http.client.IncompleteRead, ConnectionError)),
    ):
        resp.read()


def test_drop_closes_without_a_response(srv: FakeServer) -> None:
    srv.enqueue(Reply.drop(), Reply.json({"ok": 1}))
    conn = connect(srv)
    conn.request("POST", "/", body=b"{}")
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        conn.getresponse()
    conn.close()
    assert json.loads(post_json(srv, "/", {})[2]) == {"ok": 1}
    assert len(srv.requests) == 2


# -- delays and hangs ------------------------------------------------------------


def test_json_delay(srv: FakeServer) -> None:
    srv.enqueue(Reply.json({"slow": True}, delay=0.2))
    start = time.monotonic()
    assert json.loads(post_json(srv, "/", {})[2]) == {"slow": True}
    assert time.monotonic() - start >= 0.2


def test_hang_times_out_the_client_and_stop_is_quick() -> None:
    with FakeServer() as server:
        server.enqueue(Reply.hang(30))
        conn = connect(server, timeout=0.2)
        conn.request("POST", "/v1/chat/completions", body=b"{}")
        with pytest.raises(TimeoutError):
            conn.getresponse()
        conn.close()
        server.wait_for_requests(1)
        start = time.monotonic()
    assert time.monotonic() - start < 2
    assert not server.errors


def test_hang_answers_empty_object_eventually(srv: FakeServer) -> None:
    srv.enqueue(Reply.hang(0.1))
    status, _, body = post_json(srv, "/", {})
    assert (status, body) == (200, b"{}")


# -- callable replies ------------------------------------------------------------


def test_callable_reply_sees_the_request(srv: FakeServer) -> None:
    def echo(req: RecordedRequest) -> Reply:
        return Reply.json({"path": req.path, "model": req.json["model"]}, status=202)

    srv.enqueue(echo)
    srv.default = lambda req: Reply.raw(418, req.method)
    status, _, body = post_json(srv, "/v1/chat/completions", {"model": "m1"})
    assert status == 202
    assert json.loads(body) == {"path": "/v1/chat/completions", "model": "m1"}
    status, _, body = post_json(srv, "/", {})
    assert (status, body) == (418, b"POST")


def test_callable_that_raises_gives_500_and_is_recorded() -> None:
    def boom(req: RecordedRequest) -> Reply:
        raise ValueError("kaboom")

    with FakeServer() as server:
        server.enqueue(boom)
        status, _, body = post_json(server, "/", {})
    assert status == 500
    assert "kaboom" in json.loads(body)["error"]
    assert [type(e) for e in server.errors] == [ValueError]


# -- recordings ------------------------------------------------------------------


def test_from_recording_streamed(srv: FakeServer) -> None:
    response = load_response(STREAMED_FIXTURE)
    assert response["headers"]["content-type"].startswith("text/event-stream")
    srv.enqueue(Reply.from_recording(response))
    conn = connect(srv)
    conn.request("POST", "/v1/chat/completions", body=b"{}")
    resp = conn.getresponse()
    assert resp.status == response["status"]
    assert resp.getheader("Content-Type") == response["headers"]["content-type"]
    assert resp.getheader("X-Inference-Provider") == "cerebras"
    assert resp.getheader("Transfer-Encoding") == "chunked"
    assert resp.getheader("Content-Length") is None
    assert resp.read().decode() == response["body"]
    conn.close()


def test_from_recording_streams_one_event_per_chunk(srv: FakeServer) -> None:
    response = load_response(STREAMED_FIXTURE)
    reply = Reply.from_recording(response, delay=0.05)
    events = [e + "\n\n" for e in response["body"].split("\n\n") if e]
    assert [c.decode() for c in reply.chunks] == events
    srv.enqueue(reply)
    conn = connect(srv)
    start = time.monotonic()
    conn.request("POST", "/v1/chat/completions", body=b"{}")
    times = read_items(conn.getresponse(), list(reply.chunks), start)
    conn.close()
    assert times[-1] - times[0] >= 0.05 * (len(events) - 1) - 0.01


def test_from_recording_json(srv: FakeServer) -> None:
    response = load_response(JSON_FIXTURE)
    assert response["headers"]["content-type"] == "application/json"
    srv.enqueue(Reply.from_recording(response))
    status, headers, body = post_json(srv, "/v1/chat/completions", {})
    assert status == response["status"]
    assert headers["content-type"] == "application/json"
    assert headers["x-request-id"] == response["headers"]["x-request-id"]
    assert headers["content-length"] == str(len(body))
    assert "transfer-encoding" not in headers
    assert body.decode() == response["body"]


def test_from_recording_accepts_a_whole_interaction_and_load_recording() -> None:
    data = json.loads(JSON_FIXTURE.read_text(encoding="utf-8"))
    interaction = data["interactions"][0]
    assert Reply.from_recording(interaction) == Reply.from_recording(interaction["response"])
    assert load_recording(JSON_FIXTURE) == [Reply.from_recording(interaction["response"])]


def test_from_recording_error_with_crlf_stream_and_parsed_body() -> None:
    reply = Reply.from_recording(
        {
            "status": 200,
            "headers": {"content-type": "text/event-stream"},
            "body": "data: 1\r\n\r\ndata: 2\n\ndata: 3",
        }
    )
    assert reply.chunks == (b"data: 1\r\n\r\n", b"data: 2\n\n", b"data: 3")
    reply = Reply.from_recording({"status": 422, "headers": {}, "body": {"error": "bad"}})
    assert (reply.status, json.loads(reply.body)) == (422, {"error": "bad"})


# -- concurrency -----------------------------------------------------------------


def test_concurrent_requests_are_all_recorded(srv: FakeServer) -> None:
    import threading

    srv.default = lambda req: Reply.json(req.json, delay=0.05)
    results: list[Any] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        body = json.loads(post_json(srv, "/", {"i": i})[2])
        with lock:
            results.append(body["i"])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(10)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == list(range(10))
    assert len(srv.wait_for_requests(10)) == 10
    assert time.monotonic() - start < 0.45  # served in parallel, not one by one
