"""Credentials never show: not in repr, errors, logs, echo output or records.

Each test uses a distinctive key and looks for it (and for its bare value
without "Bearer ") everywhere a user could see text.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ellmer_py import (
    AuthenticationError,
    BadRequestError,
    Chat,
    EllmerError,
    ModelLimitationError,
    RequestTimeoutError,
    ServerError,
    TransportError,
    chat_huggingface,
    chat_openai_compatible,
    contents_record,
)
from ellmer_py.conformance.fake_server import FakeServer, Reply, sse_data

KEY = "hf_SuperSecretKey_7f3a9c"
HEADER_SECRET = "x-secret-header-value-42"


def answer(text: str = "fine") -> Reply:
    """A minimal 200 chat-completions answer."""
    return Reply.json(
        {
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
        }
    )


def streamed(text: str) -> Reply:
    """A one-piece SSE answer."""
    return Reply.sse(
        [
            sse_data(
                {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": "stop"}]}
            ),
            sse_data("[DONE]"),
        ]
    )


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ambient credentials or settings."""
    for name in (
        "HUGGINGFACE_API_KEY",
        "HF_TOKEN",
        "OPENAI_API_KEY",
        "ELLMER_ECHO",
        "XDG_CACHE_HOME",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("ELLMER_MAX_TRIES", "1")


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server
    assert not server.errors, server.errors


def hf(base_url: str, **kwargs: Any) -> Chat:
    """chat_huggingface with the secret key."""
    kwargs.setdefault("credentials", lambda: KEY)
    kwargs.setdefault("echo", "none")
    kwargs.setdefault("timeout_s", 5)
    return chat_huggingface(model="org/m", base_url=base_url, max_tries=1, **kwargs)


def assert_hidden(text: str, *secrets: str) -> None:
    """None of the secrets (default: the key) is in ``text``."""
    for secret in secrets or (KEY,):
        assert secret not in text, f"secret leaked into: {text!r}"


def error_texts(exc: BaseException) -> str:
    """Everything an error shows: str, repr, args, attributes, and its chain."""
    parts = [str(exc), repr(exc), repr(exc.args)]
    parts += [repr(v) for v in vars(exc).values()]
    for linked in (exc.__cause__, exc.__context__):
        if linked is not None:
            parts += [str(linked), repr(linked)]
    return "\n".join(parts)


# --- repr ---------------------------------------------------------------------------------------


def test_repr_of_chat_and_provider(srv: FakeServer) -> None:
    srv.enqueue(answer())
    chat = hf(srv.base_url, api_headers={"X-Extra": HEADER_SECRET})
    chat.chat("hi")
    provider = chat.get_provider()
    shown = "\n".join(
        [
            repr(chat),
            str(chat),
            repr(provider),
            str(provider),
            repr(provider.transport),
            repr(provider.credentials),
            repr(chat.get_turns()),
        ]
    )
    assert_hidden(shown, KEY, HEADER_SECRET)
    assert srv.requests[0].headers["authorization"] == f"Bearer {KEY}"  # it was really sent


def test_repr_with_env_and_dict_credentials(
    srv: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reprs hide a key read from the environment or sent as a dict header.

    The key lives only in the environment or inside a function, where no repr
    can reach it, until a server quotes it back: here it does, in a stream's
    error event (kept as the partial turn's reason) and in the raw JSON of an
    answer. Only redaction keeps it out of what these reprs show.
    """
    monkeypatch.setenv("HUGGINGFACE_API_KEY", KEY)
    quoted = json.dumps({"error": {"message": f"bad key {KEY} for this model"}})
    srv.enqueue(
        Reply.sse(
            [
                sse_data({"choices": [{"index": 0, "delta": {"content": "some text"}}]}),
                f"event: error\ndata: {quoted}\n\n",
            ]
        ),
        Reply.json({**json.loads(answer().body), "id": f"req-{KEY}"}),
    )
    from_env = chat_huggingface(model="org/m", base_url=srv.base_url, echo="none")
    with pytest.raises(EllmerError):
        from_env.chat("hi", echo="output")
    as_dict = chat_openai_compatible(
        srv.base_url, model="m", credentials=lambda: {"X-Tenant": KEY}, echo="none"
    )
    as_dict.chat("hi")
    # the key was really sent, and really quoted back
    assert srv.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert srv.requests[1].headers["x-tenant"] == KEY
    assert getattr(from_env.get_turns()[-1], "reason", "")  # the partial turn quotes the server
    shown = "\n".join(
        repr(x)
        for x in (
            from_env,
            from_env.get_provider(),
            from_env.get_turns(),
            [getattr(t, "json", None) for t in from_env.get_turns()],
            as_dict,
            as_dict.get_provider(),
            as_dict.get_turns(),
            [getattr(t, "json", None) for t in as_dict.get_turns()],
        )
    )
    assert "[REDACTED]" in shown
    assert_hidden(shown)


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize("echo", ["none", "output"])
def test_401_answer(srv: FakeServer, echo: str, capsys: pytest.CaptureFixture[str]) -> None:
    srv.enqueue(Reply.json({"error": "Invalid credentials in Authorization header"}, status=401))
    chat = hf(srv.base_url, echo=echo)
    with pytest.raises(AuthenticationError) as info:
        chat.chat("hi")
    assert info.value.status == 401
    assert_hidden(error_texts(info.value))
    assert_hidden(capsys.readouterr().out)


@pytest.mark.parametrize("echo", ["none", "output"])
def test_a_server_that_quotes_the_key_back(srv: FakeServer, echo: str) -> None:
    srv.enqueue(
        Reply.json(
            {
                "error": {
                    "message": f"Incorrect API key provided: {KEY}. Header was 'Bearer {KEY}'."
                }
            },
            status=401,
        )
    )
    chat = hf(srv.base_url, echo=echo)
    with pytest.raises(AuthenticationError) as info:
        chat.chat("hi")
    assert_hidden(error_texts(info.value))
    assert "Incorrect API key provided: " in str(info.value)  # the rest of the message is kept
    assert info.value.server_message is not None
    assert info.value.server_message.startswith("Incorrect API key provided: ")


def test_a_dict_credential_quoted_back(srv: FakeServer) -> None:
    srv.enqueue(Reply.raw(403, f"key {KEY} is not allowed here"))
    chat = chat_openai_compatible(
        srv.base_url, model="m", credentials=lambda: {"X-Api-Key": KEY}, echo="none"
    )
    with pytest.raises(AuthenticationError) as info:
        chat.chat("hi")
    assert_hidden(error_texts(info.value))
    message = str(info.value)
    assert message.startswith("OpenAI-compatible: HTTP 403: key ")
    assert "is not allowed here." in message


def test_a_limitation_error_quoting_the_key(srv: FakeServer) -> None:
    srv.enqueue(Reply.json({"error": f"System role not supported (token {KEY})"}, status=422))
    chat = hf(srv.base_url, system_prompt="sys")
    with pytest.raises(ModelLimitationError) as info:
        chat.chat("hi")
    assert_hidden(error_texts(info.value))


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (Reply.json({"error": f"upstream said {KEY}"}, status=500), ServerError),
        (Reply.raw(400, f"<html><title>Bad {KEY}</title></html>", "text/html"), BadRequestError),
    ],
)
def test_other_error_answers(srv: FakeServer, reply: Reply, error: type[EllmerError]) -> None:
    srv.enqueue(reply)
    with pytest.raises(error) as info:
        hf(srv.base_url).chat("hi")
    assert_hidden(error_texts(info.value))


def test_short_values_are_not_redacted(srv: FakeServer) -> None:
    srv.enqueue(Reply.json({"error": "bad key abc"}, status=401))
    chat = hf(srv.base_url, credentials=lambda: "abc")
    with pytest.raises(AuthenticationError) as info:
        chat.chat("hi")
    # a three-letter "key" is not a real one: the message stays readable
    assert "bad key abc" in str(info.value)


@pytest.mark.parametrize("echo", ["none", "output"])
def test_connection_refused(echo: str) -> None:
    with FakeServer() as dead:
        url = dead.base_url
    chat = hf(url, echo=echo)
    with pytest.raises(TransportError) as info:
        chat.chat("hi")
    assert "could not connect" in str(info.value)
    assert_hidden(error_texts(info.value))


@pytest.mark.parametrize("echo", ["none", "output"])
def test_timeout(srv: FakeServer, echo: str) -> None:
    srv.enqueue(Reply.hang(5))
    chat = hf(srv.base_url, echo=echo, timeout_s=0.2)
    with pytest.raises(RequestTimeoutError) as info:
        chat.chat("hi")
    assert "within 0.2 s" in str(info.value)
    assert_hidden(error_texts(info.value))


def test_missing_credentials_error_shows_no_other_secret(srv: FakeServer) -> None:
    chat = hf(srv.base_url, credentials=None, api_headers={"X-Extra": HEADER_SECRET})
    with pytest.raises(EllmerError) as info:
        chat.chat("hi")
    assert_hidden(error_texts(info.value), HEADER_SECRET)


# --- echo output, logs, records -------------------------------------------------------------------


def test_echo_output(srv: FakeServer, capsys: pytest.CaptureFixture[str]) -> None:
    srv.enqueue(streamed("streamed answer"))
    chat = hf(srv.base_url, echo="all", system_prompt="sys", api_headers={"X-Extra": HEADER_SECRET})
    chat.chat("hello")
    out = capsys.readouterr()
    assert out.out == "> hello\nstreamed answer\n"
    assert_hidden(out.out + out.err, KEY, HEADER_SECRET)


def test_logs_at_debug_level(srv: FakeServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    srv.enqueue(answer(), streamed("x"), Reply.json({"error": "nope"}, status=401))
    chat = hf(srv.base_url, api_headers={"X-Extra": HEADER_SECRET})
    chat.chat("one")
    chat.chat("two", echo="output")
    with pytest.raises(AuthenticationError):
        chat.chat("three")
    assert caplog.records  # urllib3 did log the requests
    assert_hidden(caplog.text, KEY, HEADER_SECRET)


def test_contents_record(srv: FakeServer) -> None:
    srv.enqueue(answer("one"), streamed("two"))
    chat = hf(srv.base_url, system_prompt="sys", api_headers={"X-Extra": HEADER_SECRET})
    chat.chat("first")
    chat.chat("second", echo="output")
    record = json.dumps(contents_record(chat))
    assert "first" in record and "two" in record  # the conversation is there
    assert_hidden(record, KEY, HEADER_SECRET)
    assert "Bearer" not in record
