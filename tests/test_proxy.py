"""Proxies from the environment, as curl (R's httr2) reads them.

``http_proxy`` (lower case only), ``https_proxy`` / ``HTTPS_PROXY``,
``all_proxy`` / ``ALL_PROXY``, and ``no_proxy`` / ``NO_PROXY`` with curl's
matching rules. A small loopback proxy forwards plain-HTTP requests (sent
to it in absolute form) to a FakeServer origin and records what passed
through it; an HTTPS origin is asked for with CONNECT, which it refuses.
"""

from __future__ import annotations

import base64
import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from ellmer_py import Chat, ConfigurationError, TransportError
from ellmer_py._settings import no_proxy_matches, proxy_for
from ellmer_py._transport import Transport
from ellmer_py.conformance.fake_server import FakeServer, Reply, sse_data
from ellmer_py.providers.openai_compatible import chat_openai_compatible

ANSWER = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}}]}
PROXY_VARIABLES = (
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
)
_HOP_BY_HOP = {"proxy-authorization", "proxy-connection", "connection", "keep-alive"}


class Proxy(ThreadingHTTPServer):
    """A forwarding HTTP proxy on 127.0.0.1 that records each request line and its headers."""

    daemon_threads = True

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def lines(self) -> list[str]:
        with self.lock:
            return [line for line, _ in self.seen]


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Proxy

    def log_message(self, fmt: str, *args: Any) -> None:
        pass

    def _record(self) -> None:
        with self.server.lock:
            self.server.seen.append(
                (self.requestline, {k.lower(): v for k, v in self.headers.items()})
            )

    def do_CONNECT(self) -> None:  # an HTTPS origin: refused, so nothing leaves the machine
        self._record()
        self.send_response(403, "Forbidden by the test proxy")
        self.send_header("Content-Length", "0")
        self.end_headers()
        self.close_connection = True

    def _forward(self) -> None:
        self._record()
        target = urlsplit(self.path)  # absolute form: http://host:port/path
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        origin = http.client.HTTPConnection(target.hostname or "", target.port or 80, timeout=10)
        try:
            origin.request(self.command, target.path or "/", body=body, headers=headers)
            answer = origin.getresponse()
            data = answer.read()  # a buffering proxy: the whole answer, then all of it
            self.send_response(answer.status, answer.reason)
            for name, value in answer.getheaders():
                if name.lower() not in ("transfer-encoding", "content-length", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        finally:
            origin.close()

    do_GET = do_POST = _forward


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    server = Proxy()
    server.thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server
    assert not server.errors, server.errors


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*PROXY_VARIABLES, "ELLMER_MAX_TRIES", "ELLMER_TIMEOUT_S", "ELLMER_ECHO"):
        monkeypatch.delenv(name, raising=False)


def make_chat(srv: FakeServer, key: str = "sk-origin-key") -> Chat:
    return chat_openai_compatible(
        base_url=srv.base_url,
        model="m",
        credentials=lambda: key,
        echo="none",
        max_tries=1,
        timeout_s=10,
    )


# -- through the proxy ----------------------------------------------------------------------


def test_http_proxy_carries_the_request_and_the_origin_credentials(
    srv: FakeServer, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("http_proxy", proxy.url)
    srv.default = Reply.json(ANSWER)
    chat = make_chat(srv)
    assert chat.chat("hi") == "Hi"
    assert chat.chat("again") == "Hi"
    assert proxy.lines() == [f"POST {srv.base_url}/chat/completions HTTP/1.1"] * 2
    assert [r.headers["authorization"] for r in srv.requests] == ["Bearer sk-origin-key"] * 2
    assert "proxy-authorization" not in proxy.seen[0][1]


def test_a_stream_goes_through_the_proxy(
    srv: FakeServer, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("http_proxy", proxy.url)
    chunk = {"choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": None}]}
    srv.enqueue(Reply.sse([sse_data(chunk), sse_data("[DONE]")]))
    assert "".join(make_chat(srv).stream("hi")) == "Hel"
    assert len(proxy.lines()) == 1


def test_all_proxy_is_used_when_no_scheme_names_one(
    srv: FakeServer, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALL_PROXY", proxy.url)
    srv.default = Reply.json(ANSWER)
    assert make_chat(srv).chat("hi") == "Hi"
    assert len(proxy.lines()) == 1


def test_upper_case_http_proxy_is_ignored_as_curl_does(
    srv: FakeServer, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # curl never reads HTTP_PROXY: a CGI program gets it from the client's Proxy: header
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    srv.default = Reply.json(ANSWER)
    assert make_chat(srv).chat("hi") == "Hi"
    assert proxy.lines() == []


def test_proxy_user_and_password_become_proxy_authorization(
    srv: FakeServer, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = proxy.server_address[1]
    monkeypatch.setenv("http_proxy", f"http://al%40ce:p%3Ass@127.0.0.1:{port}")
    srv.default = Reply.json(ANSWER)
    assert make_chat(srv).chat("hi") == "Hi"
    sent = proxy.seen[0][1]["proxy-authorization"]
    assert sent == "Basic " + base64.b64encode(b"al@ce:p:ss").decode()
    assert "proxy-authorization" not in srv.requests[0].headers  # the proxy's, not the origin's


def test_an_https_origin_is_tunnelled_with_connect(
    proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = proxy.server_address[1]
    monkeypatch.setenv("HTTPS_PROXY", f"http://user:s3cret-pw@127.0.0.1:{port}")
    transport = Transport("Acme", max_tries=1, timeout_s=5)
    with pytest.raises(TransportError) as info:
        transport.request_json(
            "POST", "https://api.example.invalid/v1/chat", headers={}, body={"x": 1}
        )
    line, headers = proxy.seen[0]
    assert line.startswith("CONNECT api.example.invalid:443 HTTP/")
    assert headers["proxy-authorization"] == "Basic " + base64.b64encode(b"user:s3cret-pw").decode()
    assert "s3cret-pw" not in str(info.value)
    assert "https://api.example.invalid" in str(info.value)


# -- NO_PROXY -------------------------------------------------------------------------------


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "*", "localhost, 127.0.0.1", "127.0.0.0/8"])
def test_no_proxy_sends_the_request_directly(
    srv: FakeServer, proxy: Proxy, monkeypatch: pytest.MonkeyPatch, no_proxy: str
) -> None:
    monkeypatch.setenv("http_proxy", proxy.url)
    monkeypatch.setenv("NO_PROXY", no_proxy)
    srv.default = Reply.json(ANSWER)
    assert make_chat(srv).chat("hi") == "Hi"
    assert proxy.lines() == []


@pytest.mark.parametrize("no_proxy", ["localhost", "example.com", "127.0.0.2", "*.0.0.1"])
def test_loopback_is_not_special_unless_listed(
    srv: FakeServer, proxy: Proxy, monkeypatch: pytest.MonkeyPatch, no_proxy: str
) -> None:
    monkeypatch.setenv("http_proxy", proxy.url)
    monkeypatch.setenv("no_proxy", no_proxy)
    srv.default = Reply.json(ANSWER)
    assert make_chat(srv).chat("hi") == "Hi"
    assert len(proxy.lines()) == 1


def test_lower_case_no_proxy_wins_over_upper_case(
    srv: FakeServer, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("http_proxy", proxy.url)
    monkeypatch.setenv("no_proxy", "example.com")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    srv.default = Reply.json(ANSWER)
    make_chat(srv).chat("hi")
    assert len(proxy.lines()) == 1


@pytest.mark.parametrize(
    ("host", "no_proxy", "matches"),
    [
        ("example.com", "example.com", True),
        ("api.example.com", "example.com", True),
        ("api.example.com", ".example.com", True),
        ("example.com", ".example.com", True),
        ("badexample.com", "example.com", False),
        ("example.com", "api.example.com", False),
        ("API.Example.COM.", "example.com.", True),
        ("example.com", "example.com:443", False),  # curl: an entry names no port
        ("example.com", "a.org,  b.org ,example.com", True),
        ("example.com", "a.org example.com", False),  # curl: a blank ends the list
        ("example.com", "*", True),
        ("example.com", "*.com", False),  # only "*" alone is a wildcard
        ("example.com", "", False),
        ("10.1.2.3", "10.0.0.0/8", True),
        ("11.1.2.3", "10.0.0.0/8", False),
        ("127.0.0.1", "localhost", False),  # names do not cover addresses
        ("[::1]", "::1", True),
        ("[2001:db8::5]", "2001:db8::/32", True),
        ("[2001:db9::5]", "2001:db8::/32", False),
    ],
)
def test_no_proxy_rules_are_curls(host: str, no_proxy: str, matches: bool) -> None:
    assert no_proxy_matches(host, no_proxy) is matches


# -- reading the variables -------------------------------------------------------------------


def test_proxy_url_defaults_follow_curl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("https_proxy", "proxy.internal")
    found = proxy_for("https://api.example.com/v1")
    assert found is not None and found.url == "http://proxy.internal:1080"
    monkeypatch.setenv("https_proxy", "https://proxy.internal")
    found = proxy_for("https://api.example.com/v1")
    assert found is not None and found.url == "https://proxy.internal:443"
    monkeypatch.setenv("https_proxy", "")  # empty: unset, as curl_getenv() reads it
    assert proxy_for("https://api.example.com/v1") is None
    assert proxy_for("http://api.example.com/v1") is None


def test_an_unusable_proxy_is_a_configuration_error_without_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ALL_PROXY", "socks5://user:s3cret-pw@127.0.0.1:1080")
    with pytest.raises(ConfigurationError, match="ALL_PROXY is a socks5:// proxy") as info:
        proxy_for("https://api.example.com/v1")
    assert "s3cret-pw" not in str(info.value)
