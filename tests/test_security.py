"""Secrets under attack: redirects, bad key values, keys quoted back, keys in base_url, plain http.

Every test talks to real loopback servers (two FakeServers on two ports are
two origins), for chat completions and Anthropic Messages, streamed and not.
"""

from __future__ import annotations

import base64
import json
import logging
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ellmer_py import (
    AuthenticationError,
    Chat,
    ConfigurationError,
    EllmerError,
    HTTPStatusError,
    MalformedResponseError,
    StreamErrorEvent,
    TransportError,
    chat_anthropic,
    chat_azure_openai,
    chat_huggingface,
    chat_openai_compatible,
    chat_portkey,
    contents_record,
)
from ellmer_py._cli import main
from ellmer_py._redact import REDACTED, Secrets, redact, redact_url, secrets_of
from ellmer_py._turn import AssistantPartialTurn
from ellmer_py.conformance.fake_server import FakeServer, Reply, sse_data

KEY = "sk-SecretKey-7f3a9c2b4d6e8f01"
OTHER = "x-extra-secret-value-42f9e1"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ambient credentials; one try per request, so a redirect can't hide behind a retry."""
    for name in (
        "HUGGINGFACE_API_KEY",
        "HF_TOKEN",
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "AZURE_OPENAI_API_KEY",
        "AZURE_OPENAI_ENDPOINT",
        "PORTKEY_API_KEY",
        "ELLMER_ECHO",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("ELLMER_MAX_TRIES", "1")


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server
    assert not server.errors, server.errors


@pytest.fixture
def other() -> Iterator[FakeServer]:
    """A second server: another port, so another origin."""
    with FakeServer() as server:
        yield server


# -- answers of both protocols --------------------------------------------------------------


def openai_answer(text: str = "fine") -> Reply:
    return Reply.json(
        {
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1},
        }
    )


def anthropic_answer(text: str = "fine") -> Reply:
    return Reply.json(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-test",
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 3, "output_tokens": 1},
        }
    )


def anthropic_event(kind: str, doc: dict[str, Any]) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **doc})}\n\n".encode()


def anthropic_start(text: str) -> list[bytes]:
    """The first events of a Messages stream, with some text."""
    return [
        anthropic_event(
            "message_start",
            {"message": {"id": "msg_1", "role": "assistant", "usage": {"input_tokens": 3}}},
        ),
        anthropic_event(
            "content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}
        ),
        anthropic_event(
            "content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": text}}
        ),
    ]


def openai_start(text: str) -> list[bytes]:
    return [sse_data({"choices": [{"index": 0, "delta": {"content": text}}]})]


# -- what a user can see --------------------------------------------------------------------


def error_texts(exc: BaseException) -> str:
    """Everything an error shows: str, repr, args, attributes, and its whole chain."""
    parts = [str(exc), repr(exc), repr(exc.args)]
    parts += [repr(v) for v in vars(exc).values()]
    seen: set[int] = set()
    linked: BaseException | None = exc
    while linked is not None and id(linked) not in seen:
        seen.add(id(linked))
        for other in (linked.__cause__, linked.__context__):
            if other is not None:
                parts += [str(other), repr(other)]
        linked = linked.__cause__ or linked.__context__
    return "\n".join(parts)


def chat_texts(chat: Chat) -> str:
    """Everything a chat keeps of its answers: turns, partial reasons, raw JSON, the record."""
    parts = [repr(chat), repr(chat.get_turns()), json.dumps(contents_record(chat))]
    for turn in chat.get_turns():
        parts.append(repr(getattr(turn, "reason", "")))
        parts.append(json.dumps(getattr(turn, "json", None), default=repr))
    return "\n".join(parts)


def assert_hidden(text: str, secret: str = KEY) -> None:
    """Neither ``secret`` nor its first half (a cut key) is in ``text``."""
    assert secret not in text, f"secret leaked into: {text!r}"
    assert secret[: len(secret) // 2] not in text, f"half a secret leaked into: {text!r}"


def assert_no_part(text: str, secret: str) -> None:
    """No 5 characters in a row of ``secret`` (outside its line breaks) show in ``text``."""
    for piece in secret.replace("\r", "\n").split("\n"):
        for i in range(len(piece) - 4):
            assert piece[i : i + 5] not in text, f"part of the secret in: {text!r}"


# -- 1. cross-origin redirects ----------------------------------------------------------------

Maker = Callable[[str], Chat]


def _hf(base: str) -> Chat:
    return chat_huggingface(model="org/m", base_url=f"{base}/v1", credentials=lambda: KEY)


def _anthropic(base: str) -> Chat:
    return chat_anthropic(model="claude-test", base_url=f"{base}/v1", credentials=lambda: KEY)


def _azure(base: str) -> Chat:
    return chat_azure_openai(endpoint=base, model="dep", credentials=lambda: KEY)


def _portkey(base: str) -> Chat:
    return chat_portkey(model="@p/m", base_url=f"{base}/v1", credentials=lambda: KEY)


def _goog(base: str) -> Chat:
    return chat_openai_compatible(
        f"{base}/v1", model="m", credentials=lambda: {"x-goog-api-key": KEY}
    )


def _dict_any_name(base: str) -> Chat:
    return chat_openai_compatible(f"{base}/v1", model="m", credentials=lambda: {"X-Tenant": KEY})


def _api_headers(base: str) -> Chat:
    return chat_openai_compatible(
        f"{base}/v1", model="m", credentials=lambda: OTHER, api_headers={"X-Extra": KEY}
    )


def _userinfo(base: str) -> Chat:
    return chat_openai_compatible(base.replace("://", f"://user:{KEY}@") + "/v1", model="m")


#: (how the key is sent, the header that carries it, a chat sending it, answers are Anthropic's)
KINDS: list[tuple[str, str, Maker, bool]] = [
    ("authorization", "authorization", _hf, False),
    ("x-api-key", "x-api-key", _anthropic, True),
    ("api-key", "api-key", _azure, False),
    ("x-goog-api-key", "x-goog-api-key", _goog, False),
    ("x-portkey-api-key", "x-portkey-api-key", _portkey, False),
    ("credentials-dict", "x-tenant", _dict_any_name, False),
    ("api_headers", "x-extra", _api_headers, False),
    ("base_url-userinfo", "authorization", _userinfo, False),
]


def sent_value(header: str, kind: str) -> str:
    if kind == "authorization":
        return f"Bearer {KEY}"
    if kind == "base_url-userinfo":
        return "Basic " + base64.b64encode(f"user:{KEY}".encode()).decode()
    return KEY


def assert_nothing_secret_arrived(server: FakeServer) -> None:
    """The other origin saw no credential header, no key anywhere, and no body."""
    for request in server.requests:
        shown = json.dumps(request.headers) + request.path
        assert KEY not in shown and OTHER not in shown
        assert base64.b64encode(f"user:{KEY}".encode()).decode() not in shown
        for name in ("authorization", "x-api-key", "api-key", "x-goog-api-key"):
            assert name not in request.headers
        assert not {"x-portkey-api-key", "x-tenant", "x-extra"} & set(request.headers)
        assert request.body == b""
        assert request.method == "GET"
        assert "hello there" not in request.text


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize(("kind", "header", "make", "anthropic"), KINDS, ids=[k[0] for k in KINDS])
def test_a_redirect_to_another_origin_gets_no_credential_and_no_body(
    srv: FakeServer,
    other: FakeServer,
    kind: str,
    header: str,
    make: Maker,
    anthropic: bool,
    status: int,
    stream: bool,
) -> None:
    srv.enqueue(Reply.raw(status, "moved", headers={"Location": f"{other.url}/stolen?x=1"}))
    other.enqueue(
        anthropic_answer("from elsewhere") if anthropic else openai_answer("from elsewhere")
    )
    chat = make(srv.url)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no warning matters here
        if status == 303:
            # "see other": the answer is fetched with a GET, without body or credentials
            answer = chat.chat("hello there", echo="output" if stream else "none")
            assert "from elsewhere" in str(answer)
            assert len(other.requests) == 1
        else:
            with pytest.raises(HTTPStatusError) as info:
                chat.chat("hello there", echo="output" if stream else "none")
            message = str(info.value)
            assert f"HTTP {status}" in message
            assert "another origin" in message and other.url in message
            assert "does not send your conversation or credentials there" in message
            assert message.startswith(chat.get_provider().name + ":")
            assert_hidden(error_texts(info.value))
            assert other.requests == []
    assert srv.requests[0].headers[header] == sent_value(header, kind)  # it was really sent
    assert srv.requests[0].json is not None
    assert_nothing_secret_arrived(other)


def test_another_host_name_on_the_same_port_is_another_origin(srv: FakeServer) -> None:
    target = srv.url.replace("127.0.0.1", "localhost")
    srv.enqueue(Reply.raw(307, "", headers={"Location": f"{target}/v1/chat/completions"}))
    with pytest.raises(HTTPStatusError, match="another origin"):
        _hf(srv.url).chat("hi", echo="none")
    assert len(srv.requests) == 1


def test_a_credential_is_never_restored_after_leaving_the_origin(
    srv: FakeServer, other: FakeServer
) -> None:
    """A -> 303 -> B (GET, nothing secret) -> 307 -> back to A: still nothing secret."""
    srv.enqueue(Reply.raw(303, "", headers={"Location": f"{other.url}/see"}))
    other.enqueue(Reply.raw(307, "", headers={"Location": f"{srv.url}/back"}))
    srv.enqueue(openai_answer("came back"))
    assert _api_headers(srv.url).chat("hello there", echo="none") is not None
    back = srv.requests[1]
    assert back.method == "GET" and back.body == b""
    assert "authorization" not in back.headers and "x-extra" not in back.headers
    assert_nothing_secret_arrived(other)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("status", [307, 308, 301, 302])
@pytest.mark.parametrize(
    ("kind", "header", "make", "anthropic"), KINDS[:2], ids=["openai", "anthropic"]
)
def test_a_redirect_within_the_origin_keeps_the_request_with_one_try(
    srv: FakeServer,
    kind: str,
    header: str,
    make: Maker,
    anthropic: bool,
    status: int,
    stream: bool,
) -> None:
    assert chat_huggingface(model="m").get_provider().transport.max_tries == 1
    srv.enqueue(Reply.raw(status, "", headers={"Location": "/v2/moved"}))  # relative
    srv.enqueue(anthropic_answer("moved fine") if anthropic else openai_answer("moved fine"))
    chat = make(srv.url)
    assert "moved fine" in str(chat.chat("hello there", echo="output" if stream else "none"))
    first, second = srv.requests
    assert second.path == "/v2/moved"
    assert second.method == "POST" and second.body == first.body != b""
    assert second.headers[header] == first.headers[header] == sent_value(header, kind)


def test_a_get_follows_a_redirect_to_another_origin_without_credentials(
    srv: FakeServer, other: FakeServer
) -> None:
    """A request without a body (a model list) may go on, but bare."""
    provider = _anthropic(srv.url).get_provider()
    srv.enqueue(Reply.raw(302, "", headers={"Location": f"{other.url}/models"}))
    other.enqueue(Reply.json({"data": []}))
    url = f"{srv.base_url}/models"
    doc = provider.transport.request_json("GET", url, headers=provider.auth_only_headers())
    assert doc == {"data": []}
    assert srv.requests[0].headers["x-api-key"] == KEY
    assert len(other.requests) == 1
    assert_nothing_secret_arrived(other)


def test_a_303_within_the_origin_becomes_a_get_with_credentials(srv: FakeServer) -> None:
    srv.enqueue(Reply.raw(303, "", headers={"Location": f"{srv.url}/v1/result"}), openai_answer())
    _hf(srv.url).chat("hello there", echo="none")
    second = srv.requests[1]
    assert second.method == "GET" and second.body == b""
    assert "content-type" not in second.headers
    assert second.headers["authorization"] == f"Bearer {KEY}"


def test_a_redirect_loop_stops(srv: FakeServer) -> None:
    srv.default = Reply.raw(307, "", headers={"Location": "/v1/chat/completions"})
    with pytest.raises(TransportError, match="redirected the request more than 5 times"):
        _hf(srv.url).chat("hi", echo="none")
    assert len(srv.requests) == 6


@pytest.mark.parametrize("location", ["ftp://127.0.0.1/x", "file:///etc/passwd"])
def test_a_redirect_to_another_scheme_is_refused(srv: FakeServer, location: str) -> None:
    srv.enqueue(Reply.raw(307, "", headers={"Location": location}))
    with pytest.raises(HTTPStatusError, match="cannot follow"):
        _hf(srv.url).chat("hi", echo="none")


def test_a_3xx_without_location_is_an_error_answer(srv: FakeServer) -> None:
    srv.enqueue(Reply.json({"error": "moved, no idea where"}, status=302))
    with pytest.raises(HTTPStatusError) as info:
        _hf(srv.url).chat("hi", echo="none")
    assert info.value.status == 302
    assert "moved, no idea where" in str(info.value)


# -- 2. credential values ---------------------------------------------------------------------


def test_a_key_read_from_a_file_is_stripped(srv: FakeServer, tmp_path: Path) -> None:
    path = tmp_path / "key.txt"
    path.write_text(f"  {KEY}\r\n", encoding="utf-8")
    srv.enqueue(openai_answer(), openai_answer())
    chat = chat_huggingface(
        model="m",
        base_url=srv.base_url,
        credentials=lambda: open(path).read(),  # noqa: SIM115 (the issue's very words)
        echo="none",
    )
    chat.chat("hi")
    dict_chat = chat_openai_compatible(
        srv.base_url, model="m", credentials=lambda: {" X-Api-Key ": f"{KEY}\n"}, echo="none"
    )
    dict_chat.chat("hi")
    assert srv.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert srv.requests[1].headers["x-api-key"] == KEY


BAD_KEYS = {
    "lf-inside": "sk-Zq9Xw7Vb\nKp3Lm5Nt",
    "cr-inside": "sk-Zq9Xw7Vb\rKp3Lm5Nt",
    "crlf-header-injection": "sk-Zq9Xw7Vb\r\nX-Evil: Kp3Lm5Nt",
    "nul": "sk-Zq9Xw7Vb\x00Kp3Lm5Nt",
    "escape": "sk-Zq9Xw7Vb\x1bKp3Lm5Nt",
    "delete": "sk-Zq9Xw7Vb\x7fKp3Lm5Nt",
    "emoji": "sk-Zq9Xw7Vb\U0001f511Kp3Lm5Nt",
    "curly-quote": "sk-Zq9Xw7Vb\u2019Kp3Lm5Nt",
}


@pytest.mark.parametrize("key", list(BAD_KEYS.values()), ids=list(BAD_KEYS))
def test_a_key_that_cannot_be_sent_is_a_clear_error_showing_none_of_it(key: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        chat_huggingface(model="m", credentials=lambda: key)
    text = error_texts(info.value)
    assert "chat_huggingface(credentials=...)" in text
    assert "cannot be sent" in text
    assert_no_part(text, key)


@pytest.mark.parametrize("key", list(BAD_KEYS.values()), ids=list(BAD_KEYS))
def test_a_rotated_key_that_cannot_be_sent_fails_before_any_request(
    srv: FakeServer, key: str
) -> None:
    keys = iter([KEY, key])
    chat = chat_anthropic(
        model="claude-test", base_url=srv.base_url, credentials=lambda: next(keys), echo="none"
    )
    with pytest.raises(ConfigurationError) as info:
        chat.chat("hi")
    assert str(info.value).startswith("Anthropic: ")
    assert_no_part(error_texts(info.value), key)
    assert srv.requests == []


@pytest.mark.parametrize("key", list(BAD_KEYS.values()), ids=list(BAD_KEYS))
def test_a_header_value_from_credentials_that_cannot_be_sent(key: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        chat_openai_compatible(
            "http://127.0.0.1:9/v1", model="m", credentials=lambda: {"X-Api-Key": key}
        )
    assert "'X-Api-Key'" in str(info.value)
    assert_no_part(error_texts(info.value), key)


@pytest.mark.parametrize("name", ["X-Key\r\nX-Evil", "X Key Zq9Xw7Vb", "X-Key:Zq9Xw7Vb", ""])
def test_a_header_name_that_cannot_be_sent(name: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        chat_openai_compatible("http://127.0.0.1:9/v1", model="m", credentials=lambda: {name: KEY})
    assert "not a valid HTTP header name" in str(info.value)
    assert_no_part(error_texts(info.value), name)
    with pytest.raises(ConfigurationError) as info:
        _hf_with(api_headers={name: KEY})
    assert "api_headers" in str(info.value)
    assert_no_part(error_texts(info.value), name)


def _hf_with(**kwargs: Any) -> Chat:
    return chat_huggingface(
        model="m", base_url="http://127.0.0.1:9/v1", credentials=lambda: "k", **kwargs
    )


@pytest.mark.parametrize("value", list(BAD_KEYS.values()), ids=list(BAD_KEYS))
def test_api_headers_that_cannot_be_sent_fail_at_construction(value: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        _hf_with(api_headers={"X-Extra": value})
    assert "api_headers" in str(info.value) and "'X-Extra'" in str(info.value)
    assert_no_part(error_texts(info.value), value)


def test_api_headers_are_stripped(srv: FakeServer) -> None:
    srv.enqueue(openai_answer())
    chat = chat_huggingface(
        model="m", base_url=srv.base_url, credentials=lambda: KEY, api_headers={"X-Extra ": " v1\n"}
    )
    chat.chat("hi", echo="none")
    assert srv.requests[0].headers["x-extra"] == "v1"


def test_an_env_key_that_cannot_be_sent(monkeypatch: pytest.MonkeyPatch, srv: FakeServer) -> None:
    monkeypatch.setenv("HUGGINGFACE_API_KEY", "hf_Zq9Xw7Vb\nKp3Lm5Nt")
    chat = chat_huggingface(model="m", base_url=srv.base_url, echo="none")
    with pytest.raises(ConfigurationError) as info:
        chat.chat("hi")
    assert "HUGGINGFACE_API_KEY" in str(info.value)
    assert_no_part(error_texts(info.value), "hf_Zq9Xw7Vb\nKp3Lm5Nt")
    assert srv.requests == []


def test_a_protocol_header_that_cannot_be_sent_is_no_raw_value_error(srv: FakeServer) -> None:
    chat = chat_anthropic(
        model="claude-test",
        base_url=srv.base_url,
        credentials=lambda: KEY,
        beta_headers=["files-api\r\nX-Evil: 1"],
        echo="none",
    )
    with pytest.raises(ConfigurationError, match="anthropic-beta"):
        chat.chat("hi")
    assert srv.requests == []


# -- 3. keys quoted back, in every text a server sends ----------------------------------------


def quoted(prefix: int = 0) -> str:
    """A text quoting the key, after ``prefix`` characters of padding."""
    return "p" * prefix + f"bad key {KEY} (sent as 'Bearer {KEY}')"


def _check_chat(chat: Chat, exc: EllmerError) -> None:
    assert_hidden(error_texts(exc))
    assert_hidden(chat_texts(chat))


@pytest.mark.parametrize("cut", [0, 180, 290, 480])
def test_an_error_in_a_200_json_body(srv: FakeServer, cut: int) -> None:
    srv.enqueue(Reply.json({"error": {"message": quoted(cut)}}))
    chat = _hf(srv.url)
    with pytest.raises(StreamErrorEvent) as info:
        chat.chat("hi", echo="none")
    _check_chat(chat, info.value)
    assert REDACTED in str(info.value)


@pytest.mark.parametrize("cut", [0, 180, 290, 480])
def test_an_anthropic_error_in_a_200_json_body(srv: FakeServer, cut: int) -> None:
    srv.enqueue(Reply.json({"type": "error", "error": {"type": "x", "message": quoted(cut)}}))
    chat = _anthropic(srv.url)
    with pytest.raises(StreamErrorEvent) as info:
        chat.chat("hi", echo="none")
    _check_chat(chat, info.value)


@pytest.mark.parametrize("cut", [0, 180, 290])
@pytest.mark.parametrize("anthropic", [False, True], ids=["openai", "anthropic"])
def test_an_sse_error_event_after_some_text(srv: FakeServer, cut: int, anthropic: bool) -> None:
    start = anthropic_start("partial answer") if anthropic else openai_start("partial answer")
    error = json.dumps({"type": "error", "error": {"type": "x", "message": quoted(cut)}})
    srv.enqueue(Reply.sse([*start, f"event: error\ndata: {error}\n\n"]))
    chat = _anthropic(srv.url) if anthropic else _hf(srv.url)
    with pytest.raises(StreamErrorEvent) as info:
        chat.chat("hi", echo="output")  # streamed
    _check_chat(chat, info.value)
    turn = chat.get_turns()[-1]
    assert isinstance(turn, AssistantPartialTurn)
    assert turn.text == "partial answer"  # nothing the user saw is lost
    assert REDACTED in turn.reason


@pytest.mark.parametrize("cut", [0, 100, 180, 190, 290])
@pytest.mark.parametrize("anthropic", [False, True], ids=["openai", "anthropic"])
@pytest.mark.parametrize("event", ["message", "error"])
def test_sse_data_that_is_not_json(srv: FakeServer, cut: int, anthropic: bool, event: str) -> None:
    start = anthropic_start("partial") if anthropic else openai_start("partial")
    srv.enqueue(Reply.sse([*start, f"event: {event}\ndata: {quoted(cut)}\n\n"]))
    chat = _anthropic(srv.url) if anthropic else _hf(srv.url)
    with pytest.raises((MalformedResponseError, StreamErrorEvent)) as info:
        chat.chat("hi", echo="output")  # streamed
    _check_chat(chat, info.value)
    turn = chat.get_turns()[-1]
    assert isinstance(turn, AssistantPartialTurn) and turn.text == "partial"


@pytest.mark.parametrize("cut", [0, 150, 190])
def test_a_200_body_that_is_not_json(srv: FakeServer, cut: int) -> None:
    srv.enqueue(Reply.raw(200, quoted(cut)))
    chat = _hf(srv.url)
    with pytest.raises(MalformedResponseError) as info:
        chat.chat("hi", echo="none")
    _check_chat(chat, info.value)


@pytest.mark.parametrize("cut", [0, 470, 490])
@pytest.mark.parametrize(("kind", "header", "make", "anthropic"), KINDS, ids=[k[0] for k in KINDS])
def test_an_http_error_cut_inside_the_key(
    srv: FakeServer, cut: int, kind: str, header: str, make: Maker, anthropic: bool
) -> None:
    """Redacted before it is shortened: the 500-character limit must not leave half a key."""
    srv.enqueue(Reply.json({"error": {"message": quoted(cut)}}, status=401))
    chat = make(srv.url)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(AuthenticationError) as info:
            chat.chat("hi", echo="none")
    _check_chat(chat, info.value)


def test_an_html_page_spelling_the_key_with_entities(srv: FakeServer) -> None:
    spelled = "".join(f"&#{ord(c)};" for c in KEY)
    srv.enqueue(Reply.raw(403, f"<html><title>no: {spelled}</title></html>", "text/html"))
    with pytest.raises(AuthenticationError) as info:
        _hf(srv.url).chat("hi", echo="none")
    assert_hidden(error_texts(info.value))
    assert "no: " + REDACTED in str(info.value)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_key_in_the_raw_json_of_an_answer(srv: FakeServer, stream: bool) -> None:
    doc = {
        "id": KEY,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1},
        "note": quoted(300),
    }
    chunk = {**doc, "choices": [{"index": 0, "delta": {"content": "ok"}, "finish_reason": "stop"}]}
    srv.enqueue(Reply.sse([sse_data(chunk), sse_data("[DONE]")]) if stream else Reply.json(doc))
    chat = _hf(srv.url)
    chat.chat("hi", echo="output" if stream else "none")
    assert_hidden(chat_texts(chat))


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_key_in_a_field_of_the_wrong_type(srv: FakeServer, stream: bool) -> None:
    usage = {"prompt_tokens": quoted(80), "completion_tokens": 1}
    done = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": usage}
    if stream:
        srv.enqueue(Reply.sse([*openai_start("text"), sse_data(done), sse_data("[DONE]")]))
    else:
        body = {"choices": [{"index": 0, "message": {"content": "text"}}], "usage": usage}
        srv.enqueue(Reply.json(body))
    chat = _hf(srv.url)
    try:
        chat.chat("hi", echo="output" if stream else "none")
    except EllmerError as exc:
        assert_hidden(error_texts(exc))
    assert_hidden(chat_texts(chat))


def test_the_cli_never_prints_a_key(
    srv: FakeServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HUGGINGFACE_API_KEY", KEY)
    error = json.dumps({"error": {"message": quoted(250)}})
    srv.enqueue(Reply.sse([*openai_start("some text"), f"event: error\ndata: {error}\n\n"]))
    srv.enqueue(Reply.json({"error": quoted(490)}, status=401))
    assert main(["--base-url", srv.base_url, "-m", "org/m", "hi"]) == 1
    assert main(["--base-url", srv.base_url, "-m", "org/m", "hi"]) == 1
    out = capsys.readouterr()
    assert "ellmer-py: " in out.err and REDACTED in out.err
    assert_hidden(out.out + out.err)


# -- 4. a key or password in base_url -----------------------------------------------------------


@pytest.mark.parametrize(
    "secret_part",
    [
        f"user:{KEY}@",
        f"{KEY}@",
        f"{KEY}:@",
    ],
)
def test_userinfo_in_base_url(
    srv: FakeServer, secret_part: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    base_url = srv.base_url.replace("://", "://" + secret_part)
    srv.enqueue(openai_answer(), Reply.json({"error": f"who is {secret_part}?"}, status=401))
    chat = chat_openai_compatible(base_url, model="m", echo="none")
    chat.chat("hi")
    with pytest.raises(AuthenticationError) as info:
        chat.chat("again")
    user, _, password = secret_part.rstrip("@").partition(":")
    expected = base64.b64encode(f"{user}:{password}".encode()).decode()
    assert srv.requests[0].headers["authorization"] == f"Basic {expected}"
    assert srv.requests[0].path == "/v1/chat/completions"
    provider = chat.get_provider()
    shown = "\n".join(
        [repr(chat), repr(provider), str(provider), error_texts(info.value), caplog.text]
    )
    assert_hidden(shown)
    assert REDACTED in repr(provider)
    assert expected not in shown


@pytest.mark.parametrize("name", ["key", "api_key", "token", "access_token", "sig"])
def test_a_key_in_the_base_url_query(
    srv: FakeServer, other: FakeServer, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # urllib3 logs every request's path and query
    srv.enqueue(
        Reply.json({"error": "busy"}, status=503),  # retried: urllib3 logs the retry too
        openai_answer(),
        Reply.json({"error": f"bad {name}={KEY} in /v1/chat/completions?{name}={KEY}"}, status=403),
    )
    chat = chat_openai_compatible(
        f"{srv.base_url}?{name}={KEY}", model="m", credentials=lambda: OTHER, max_tries=2
    )
    chat.chat("hi", echo="none")
    assert srv.requests[0].path == f"/v1/chat/completions?{name}={KEY}"  # it is sent
    with pytest.raises(AuthenticationError) as info:
        chat.chat("again", echo="none")
    assert "urllib3" in caplog.text and "chat/completions" in caplog.text  # logged, hidden
    shown = "\n".join([repr(chat), repr(chat.get_provider()), error_texts(info.value), caplog.text])
    assert_hidden(shown)
    assert_hidden(shown, OTHER)


def test_url_params_with_base_url_query(srv: FakeServer) -> None:
    srv.enqueue(openai_answer())
    chat = chat_azure_openai(
        endpoint=srv.url, model="dep", credentials=lambda: KEY, base_url=f"{srv.base_url}?code=abc"
    )
    chat.chat("hi", echo="none")
    assert srv.requests[0].path.startswith("/v1/chat/completions?code=abc&api-version=")


@pytest.mark.parametrize(
    "url",
    ["api.example.com/v1", "ftp://host/v1", "http://", "http://ho st/v1", f"http://h/v1\n{KEY}"],
)
def test_a_base_url_that_cannot_be_used(url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        chat_huggingface(model="m", base_url=url, credentials=lambda: "k")
    assert_hidden(error_texts(info.value))


# -- 5. a key over plain http ----------------------------------------------------------------


def test_a_key_sent_over_plain_http_to_another_host_warns_once() -> None:
    # 192.0.2.1 (TEST-NET-1) is never routed: the request fails at once or times out
    chat = chat_huggingface(
        model="m", base_url="http://192.0.2.1:9/v1", credentials=lambda: KEY, timeout_s=0.2
    )
    for _ in range(2):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises(TransportError):
                chat.chat("hi", echo="none")
        plain = [w for w in caught if "plain http://" in str(w.message)]
        if _ == 0:
            assert len(plain) == 1
            assert plain[0].category is UserWarning
            assert "192.0.2.1" in str(plain[0].message)
            assert_hidden(str(plain[0].message))
            assert plain[0].filename == __file__  # points at the caller
        else:
            assert plain == []  # once per provider


@pytest.mark.parametrize("host", ["127.0.0.1", "127.3.4.5", "localhost", "[::1]", "api.localhost"])
def test_no_warning_for_loopback(host: str) -> None:
    provider = chat_huggingface(
        model="m", base_url=f"http://{host}:9/v1", credentials=lambda: KEY
    ).get_provider()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        provider.auth_only_headers()


def test_no_warning_for_https_or_without_a_key() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        chat_huggingface(
            model="m", base_url="https://api.example.com/v1", credentials=lambda: KEY
        ).get_provider().auth_only_headers()
        chat_openai_compatible(
            "http://api.example.com/v1",
            model="m",
            credentials=lambda: {},
            api_headers={"X-Title": "my app"},
        ).get_provider().auth_only_headers()


def test_a_password_in_base_url_over_plain_http_warns() -> None:
    provider = chat_openai_compatible(
        "http://u:pw-123456@api.example.com/v1", model="m"
    ).get_provider()
    with pytest.warns(UserWarning, match="api.example.com") as caught:
        provider.auth_only_headers()
    assert "pw-123456" not in str(caught[0].message)


# -- the redaction helpers ---------------------------------------------------------------------


def test_redact_hides_whole_keys_and_cut_prefixes() -> None:
    secrets = secrets_of({"Authorization": f"Bearer {KEY}"})
    assert redact(f"a {KEY} b", secrets) == f"a {REDACTED} b"
    assert redact(f"'Bearer {KEY}'", secrets) == f"'{REDACTED}'"
    for cut in range(6, len(KEY)):
        assert KEY[:cut] not in redact(f"x {KEY[:cut]}", secrets)
    assert redact("sk-Se", secrets) == "sk-Se"  # five characters are not a key
    # a cut key followed by more words (f"{value[:40]} (capped)") is still a cut key
    assert redact(f"{KEY[:14]} (capped)", secrets) == f"{REDACTED} (capped)"
    # prose that only begins like a key is left alone
    readable = secrets_of(extra=["conformance-key-0123abcdef"])
    assert redact("conformance says 401", readable) == "conformance says 401"
    assert redact("nothing here", secrets) == "nothing here"


def test_secrets_box_never_shows_its_values() -> None:
    box = Secrets()
    box.add([KEY, OTHER, ""])
    assert KEY not in repr(box) and OTHER not in repr(box)
    assert box.redact(f"{KEY}{OTHER}") == REDACTED + REDACTED


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"https://u:{KEY}@h/v1", f"https://{REDACTED}@h/v1"),
        (f"https://h/v1?key={KEY}&api-version=1", f"https://h/v1?key={REDACTED}&api-version=1"),
        (f"/v1/x?access_token={KEY}", f"/v1/x?access_token={REDACTED}"),
        ("https://h/v1?api-version=2024", "https://h/v1?api-version=2024"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_our_own_logs_hide_every_sent_credential(
    srv: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    srv.enqueue(openai_answer())
    _api_headers(srv.url).chat("hi", echo="none")
    logging.getLogger("ellmer_py").warning("the server said %s and %s", KEY, OTHER[:15])
    assert "the server said" in caplog.text
    assert_hidden(caplog.text)
    assert_hidden(caplog.text, OTHER)
