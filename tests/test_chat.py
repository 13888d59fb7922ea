"""Tests of the conversation (``ellmer_py._chat``) and the two built-in constructors.

Every request goes to a real loopback server (``FakeServer``); the bodies and
headers it recorded are what the assertions check.
"""

from __future__ import annotations

import inspect
import logging
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from ellmer_py import (
    AssistantTurn,
    Chat,
    ConfigurationError,
    ContentText,
    ModelLimitationError,
    Provider,
    ServerError,
    SystemTurn,
    Tokens,
    UserTurn,
    chat_huggingface,
    chat_openai_compatible,
    params,
)
from ellmer_py.conformance.fake_server import FakeServer, RecordedRequest, Reply, sse_data
from ellmer_py.providers import huggingface as hf_module

KEY = "hf_test_key_0123456789"


def completion(text: str, *, prompt_tokens: int = 7, completion_tokens: int = 3) -> dict[str, Any]:
    """A minimal non-streamed chat-completions answer."""
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "whatever",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def answer(text: str, **kwargs: int) -> Reply:
    """A 200 JSON reply carrying ``text``."""
    return Reply.json(completion(text, **kwargs))


def streamed(*pieces: str) -> Reply:
    """A 200 SSE reply sending ``pieces`` as content deltas, then ``[DONE]``."""
    events = [
        sse_data({"choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]})
        for p in pieces
    ]
    events.append(sse_data({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    events.append(sse_data("[DONE]"))
    return Reply.sse(events)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """No ambient credentials, settings or echo mode leak into these tests."""
    for name in (
        "HUGGINGFACE_API_KEY",
        "HF_TOKEN",
        "OPENAI_API_KEY",
        "ELLMER_ECHO",
        "XDG_CACHE_HOME",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-home"))
    monkeypatch.setenv("ELLMER_MAX_TRIES", "1")
    monkeypatch.setenv("ELLMER_TIMEOUT_S", "5")


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server
    assert not server.errors, server.errors


def hf(srv: FakeServer, **kwargs: Any) -> Chat:
    """A chat_huggingface pointed at the fake server, with a fixed key."""
    kwargs.setdefault("credentials", lambda: KEY)
    kwargs.setdefault("echo", "none")
    kwargs.setdefault("model", "org/model")
    return chat_huggingface(base_url=srv.base_url, max_tries=1, timeout_s=5, **kwargs)


def messages(request: RecordedRequest) -> list[dict[str, Any]]:
    """The ``messages`` of a recorded chat request."""
    body = request.json
    assert isinstance(body, dict)
    return list(body["messages"])


# --- chat_huggingface: defaults and signature ----------------------------------


def test_huggingface_signature_matches_r() -> None:
    sig = inspect.signature(chat_huggingface)
    positional = [
        name
        for name, p in sig.parameters.items()
        if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    ]
    assert positional == [
        "system_prompt",
        "params",
        "api_key",
        "credentials",
        "model",
        "api_args",
        "echo",
        "api_headers",
    ]
    assert all(sig.parameters[name].default is None for name in positional)
    base_url = sig.parameters["base_url"]
    assert base_url.kind is inspect.Parameter.KEYWORD_ONLY
    assert base_url.default == "https://router.huggingface.co/v1"
    for name in ("max_tries", "timeout_s", "system_prompt_fallback"):
        assert sig.parameters[name].kind is inspect.Parameter.KEYWORD_ONLY


def test_huggingface_positional_arguments_land_in_r_order(srv: FakeServer) -> None:
    srv.enqueue(answer("ok"))
    chat = chat_huggingface(
        "Be terse.",  # system_prompt
        params(temperature=0.5),  # params
        None,  # api_key
        lambda: KEY,  # credentials
        "org/positional",  # model
        {"seed": 9},  # api_args
        "none",  # echo
        {"X-Extra": "1"},  # api_headers
        base_url=srv.base_url,
        max_tries=1,
    )
    assert chat.chat("hi") == "ok"
    request = srv.requests[0]
    assert request.json == {
        "model": "org/positional",
        "messages": [
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": "hi"},
        ],
        "temperature": 0.5,
        "seed": 9,
        "stream": False,
    }
    assert request.headers["x-extra"] == "1"
    assert request.headers["authorization"] == f"Bearer {KEY}"


def test_base_url_cannot_be_given_positionally() -> None:
    with pytest.raises(TypeError):
        chat_huggingface(None, None, None, lambda: KEY, "m", None, "none", None, "http://x")  # type: ignore[misc]


def test_huggingface_default_base_url_and_model(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.INFO, logger="ellmer_py")
    chat = chat_huggingface(credentials=lambda: KEY, echo="none")
    provider = chat.get_provider()
    assert provider.base_url == "https://router.huggingface.co/v1"
    assert provider.chat_url() == "https://router.huggingface.co/v1/chat/completions"
    assert chat.get_model() == "meta-llama/Llama-3.1-8B-Instruct"
    notes = [r for r in caplog.records if r.name.startswith("ellmer_py")]
    assert len(notes) == 1
    assert "meta-llama/Llama-3.1-8B-Instruct" in notes[0].getMessage()
    assert notes[0].levelno == logging.INFO
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err == ""


def test_no_note_when_the_model_is_given(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    chat_huggingface(credentials=lambda: KEY, model="org/model", echo="none")
    assert [r for r in caplog.records if r.name.startswith("ellmer_py")] == []


def test_default_model_is_sent(srv: FakeServer) -> None:
    srv.enqueue(answer("ok"))
    chat = chat_huggingface(
        credentials=lambda: KEY, echo="none", base_url=srv.base_url, max_tries=1
    )
    chat.chat("hi")
    assert (
        srv.requests[0].json["model"]
        == hf_module.DEFAULT_MODEL
        == "meta-llama/Llama-3.1-8B-Instruct"
    )
    assert srv.requests[0].method == "POST"
    assert srv.requests[0].path == "/v1/chat/completions"


def test_base_url_with_trailing_slash(srv: FakeServer) -> None:
    srv.enqueue(answer("ok"))
    chat = chat_huggingface(
        credentials=lambda: KEY, model="m", echo="none", base_url=srv.base_url + "/"
    )
    chat.chat("hi")
    assert srv.requests[0].path == "/v1/chat/completions"


# --- chat_openai_compatible ----------------------------------------------------


def test_openai_compatible_needs_base_url() -> None:
    with pytest.raises(ConfigurationError) as info:
        chat_openai_compatible("", model="m", credentials=lambda: KEY)
    assert "base_url" in str(info.value)
    assert "http://localhost:8080/v1" in str(info.value)
    with pytest.raises(TypeError):
        chat_openai_compatible(model="m")  # type: ignore[call-arg]


def test_openai_compatible_needs_model() -> None:
    with pytest.raises(ConfigurationError) as info:
        chat_openai_compatible("http://127.0.0.1:1/v1", credentials=lambda: KEY)
    assert "model=" in str(info.value)


def test_openai_compatible_chats(srv: FakeServer) -> None:
    srv.enqueue(answer("pong"))
    chat = chat_openai_compatible(
        srv.base_url,
        name="Local",
        model="local-model",
        credentials=lambda: "k1",
        echo="none",
        max_tries=1,
    )
    assert chat.chat("ping") == "pong"
    assert srv.requests[0].json == {
        "model": "local-model",
        "messages": [{"role": "user", "content": "ping"}],
        "stream": False,
    }
    assert srv.requests[0].headers["authorization"] == "Bearer k1"
    assert chat.get_provider().name == "Local"


def test_openai_compatible_reads_openai_api_key(
    srv: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    srv.enqueue(answer("ok"))
    chat = chat_openai_compatible(srv.base_url, model="m", echo="none", max_tries=1)
    chat.chat("hi")
    assert srv.requests[0].headers["authorization"] == "Bearer sk-from-env"


# --- params() on the wire ----------------------------------------------------------

ALL_PARAMS = {
    "temperature": 0.25,
    "top_p": 0.5,
    "top_k": 3,
    "frequency_penalty": 0.1,
    "presence_penalty": 0.2,
    "seed": 42,
    "max_tokens": 100,
    "log_probs": True,
    "stop_sequences": ["\n\n", "END"],
}


def test_huggingface_params_wire_names(srv: FakeServer) -> None:
    srv.enqueue(answer("ok"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        chat = hf(srv, params=params(**ALL_PARAMS))
    chat.chat("hi")
    body = srv.requests[0].json
    wire = {k: v for k, v in body.items() if k not in ("model", "messages", "stream")}
    assert wire == {
        "temperature": 0.25,
        "top_p": 0.5,
        "top_logprobs": 3,
        "frequency_penalty": 0.1,
        "presence_penalty": 0.2,
        "seed": 42,
        "max_tokens": 100,
        "logprobs": True,
        "stop": ["\n\n", "END"],
    }


def test_openai_compatible_params_wire_names(srv: FakeServer) -> None:
    srv.enqueue(answer("ok"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        chat = chat_openai_compatible(
            srv.base_url,
            model="m",
            credentials=lambda: KEY,
            params=params(**ALL_PARAMS),
            echo="none",
        )
    chat.chat("hi")
    body = srv.requests[0].json
    wire = {k: v for k, v in body.items() if k not in ("model", "messages", "stream")}
    assert wire == {
        "temperature": 0.25,
        "top_p": 0.5,
        "top_logprobs": 3,
        "frequency_penalty": 0.1,
        "presence_penalty": 0.2,
        "seed": 42,
        "max_completion_tokens": 100,
        "logprobs": True,
        "stop": ["\n\n", "END"],
    }


def test_extra_params_pass_through(srv: FakeServer) -> None:
    srv.enqueue(answer("ok"))
    chat = hf(srv, params=params(max_tokens=5, repetition_penalty=1.1))
    chat.chat("hi")
    body = srv.requests[0].json
    assert body["max_tokens"] == 5
    assert body["repetition_penalty"] == 1.1


def test_unsupported_params_warn_once_at_construction(srv: FakeServer) -> None:
    p = params(temperature=0.1, reasoning_effort="low", reasoning_tokens=100)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chat = hf(srv, params=p)
    assert [(w.category, str(w.message)) for w in caught] == [
        (UserWarning, "Ignoring unsupported parameters: 'reasoning_effort', 'reasoning_tokens'")
    ]
    srv.enqueue(answer("a"), answer("b"))
    with warnings.catch_warnings(record=True) as later:
        warnings.simplefilter("always")
        chat.chat("one")
        chat.set_model("org/other")
        chat.chat("two")
    assert later == []
    for request in srv.requests:
        assert request.json["temperature"] == 0.1
        assert "reasoning_effort" not in request.json
        assert "reasoning_tokens" not in request.json


# --- api_args and api_headers --------------------------------------------------------


def test_api_args_merge_into_every_request_body(srv: FakeServer) -> None:
    srv.enqueue(answer("a"), answer("b"))
    chat = hf(
        srv,
        params=params(stop_sequences=["a", "b"]),
        api_args={"stop": ["only"], "response_format": {"type": "json_object"}, "stream": None},
    )
    chat.chat("one")
    chat.chat("two")
    for request in srv.requests:
        body = request.json
        assert body["stop"] == ["only"]  # a list replaces, it is not merged
        assert body["response_format"] == {"type": "json_object"}
        assert "stream" not in body  # None deletes
    assert [m["content"] for m in messages(srv.requests[1])] == ["one", "a", "two"]


def test_api_args_nested_merge_and_delete_in_streamed_requests(
    srv: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    srv.enqueue(streamed("x"), streamed("y"))
    merged = hf(srv, api_args={"stream_options": {"extra": 1}}, echo="output")
    assert merged.chat("hi") == "x"
    assert srv.requests[0].json["stream_options"] == {"include_usage": True, "extra": 1}
    assert srv.requests[0].json["stream"] is True

    deleted = hf(srv, api_args={"stream_options": None}, echo="output")
    deleted.set_echo("none")
    assert deleted.chat("hi", echo="output") == "y"
    assert "stream_options" not in srv.requests[1].json
    assert srv.requests[1].json["stream"] is True
    assert capsys.readouterr().out == "x\ny\n"


def test_api_args_are_not_mutated(srv: FakeServer) -> None:
    srv.enqueue(answer("a"))
    api_args: dict[str, Any] = {"stream_options": {"extra": [1, 2]}, "seed": None}
    chat = hf(srv, api_args=api_args)
    api_args["seed"] = 5  # changing the caller's dict later does not reach the chat
    chat.chat("hi")
    assert api_args == {"stream_options": {"extra": [1, 2]}, "seed": 5}
    assert "seed" not in srv.requests[0].json


def test_api_headers_on_every_request(srv: FakeServer) -> None:
    srv.enqueue(answer("a"), streamed("b"))
    chat = hf(srv, api_headers={"X-Trace": "t-1", "X-Other": "o"})
    chat.chat("one")
    chat.chat("two", echo="output")
    for request in srv.requests:
        assert request.headers["x-trace"] == "t-1"
        assert request.headers["x-other"] == "o"
        assert request.headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("name", ["authorization", "Authorization", "AUTHORIZATION"])
def test_api_headers_cannot_switch_off_authentication(srv: FakeServer, name: str) -> None:
    srv.enqueue(answer("a"))
    chat = hf(srv, api_headers={name: "x"})
    chat.chat("hi")
    assert srv.requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_api_headers_cannot_override_a_dict_credential(srv: FakeServer) -> None:
    srv.enqueue(answer("a"))
    chat = hf(
        srv,
        credentials=lambda: {"X-Api-Key": "real"},
        api_headers={"x-api-key": "fake", "X-More": "1"},
    )
    chat.chat("hi")
    headers = srv.requests[0].headers
    assert headers["x-api-key"] == "real"
    assert headers["x-more"] == "1"
    assert "authorization" not in headers


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"api_args": ["not", "a", "dict"]}, "api_args must be a dict"),
        ({"api_headers": {"X-Number": 1}}, "api_headers must be a dict of strings"),
        ({"api_headers": [("X-A", "b")]}, "api_headers must be a dict of strings"),
        ({"model": ""}, "model must be a non-empty string"),
    ],
)
def test_bad_constructor_arguments(kwargs: dict[str, Any], fragment: str) -> None:
    kwargs.setdefault("model", "m")
    with pytest.raises(ConfigurationError, match=fragment):
        chat_huggingface(credentials=lambda: KEY, echo="none", **kwargs)


# --- the Chat API -----------------------------------------------------------------------


def test_chat_returns_text_and_records_both_turns(srv: FakeServer) -> None:
    srv.enqueue(answer("Hello, human.", prompt_tokens=11, completion_tokens=4))
    chat = hf(srv)
    assert chat.chat("Hello, model.") == "Hello, human."
    turns = chat.get_turns()
    assert [t.role for t in turns] == ["user", "assistant"]
    assert turns[0] == UserTurn("Hello, model.")
    assert turns[1] == AssistantTurn(
        "Hello, human.", tokens=Tokens(input=11, output=4), finish_reason="success"
    )
    assert turns[1].json == completion("Hello, human.", prompt_tokens=11, completion_tokens=4)
    assert turns[1].duration is not None and turns[1].duration >= 0


def test_history_is_sent_with_each_request(srv: FakeServer) -> None:
    srv.enqueue(answer("first answer"), answer("second answer"))
    chat = hf(srv, system_prompt="Be brief.")
    chat.chat("first question")
    chat.chat("second question")
    assert messages(srv.requests[1]) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "second question"},
    ]
    assert len(chat.get_turns()) == 4


def test_chat_takes_several_pieces(srv: FakeServer) -> None:
    srv.enqueue(answer("ok"))
    chat = hf(srv)
    chat.chat("one ", ContentText("two"))
    # two text parts, as R sends chat("a", "b")
    parts = [{"type": "text", "text": "one "}, {"type": "text", "text": "two"}]
    assert messages(srv.requests[0]) == [{"role": "user", "content": parts}]
    assert chat.get_turns()[0] == UserTurn(["one ", "two"])


@pytest.mark.parametrize("args", [(), (42,), (None,)])
def test_chat_rejects_bad_input_before_any_request(srv: FakeServer, args: tuple[Any, ...]) -> None:
    chat = hf(srv)
    with pytest.raises(ConfigurationError):
        chat.chat(*args)
    assert srv.requests == []
    assert chat.get_turns() == []


def test_failed_request_leaves_the_turns_unchanged(srv: FakeServer) -> None:
    srv.enqueue(answer("fine"), Reply.json({"error": "upstream exploded"}, status=500))
    chat = hf(srv)
    chat.chat("one")
    before = chat.get_turns()
    with pytest.raises(ServerError) as info:
        chat.chat("two")
    assert info.value.status == 500
    assert info.value.server_message == "upstream exploded"
    assert chat.get_turns() == before
    assert len(before) == 2


def test_set_turns_and_get_turns(srv: FakeServer) -> None:
    chat = hf(srv, system_prompt="old")
    history = [UserTurn("q"), AssistantTurn("a")]
    assert chat.set_turns(history) is chat
    assert chat.get_turns() == history
    assert chat.get_system_prompt() == "old"  # no SystemTurn: the prompt stays
    assert chat.get_turns(include_system_prompt=True) == [SystemTurn("old"), *history]
    # the chat keeps its own list
    got = chat.get_turns()
    got.append(UserTurn("x"))
    assert chat.get_turns() == history


def test_set_turns_with_a_leading_system_turn(srv: FakeServer) -> None:
    srv.enqueue(answer("ok"))
    chat = hf(srv, system_prompt="old")
    chat.set_turns([SystemTurn("new"), UserTurn("q"), AssistantTurn("a")])
    assert chat.get_system_prompt() == "new"
    assert chat.get_turns() == [UserTurn("q"), AssistantTurn("a")]
    chat.chat("next")
    assert messages(srv.requests[0]) == [
        {"role": "system", "content": "new"},
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a"},
        {"role": "user", "content": "next"},
    ]


def test_set_turns_rejects_bad_input(srv: FakeServer) -> None:
    chat = hf(srv)
    with pytest.raises(ConfigurationError, match="Turn objects"):
        chat.set_turns(["hello"])  # type: ignore[list-item]
    with pytest.raises(ConfigurationError, match="SystemTurn may only come first"):
        chat.set_turns([UserTurn("q"), SystemTurn("s")])
    assert chat.get_turns() == []


def test_last_turn(srv: FakeServer) -> None:
    chat = hf(srv)
    assert chat.last_turn() is None
    assert chat.last_turn("user") is None
    assert chat.last_turn("system") is None
    chat.set_turns([UserTurn("q1"), AssistantTurn("a1"), UserTurn("q2"), AssistantTurn("a2")])
    assert chat.last_turn() == AssistantTurn("a2")
    assert chat.last_turn("assistant") == AssistantTurn("a2")
    assert chat.last_turn("user") == UserTurn("q2")
    chat.set_system_prompt("sys")
    assert chat.last_turn("system") == SystemTurn("sys")
    with pytest.raises(ConfigurationError, match="role must be"):
        chat.last_turn("tool")  # type: ignore[arg-type]


def test_system_prompt_is_sent_first(srv: FakeServer) -> None:
    srv.enqueue(answer("a"), answer("b"), answer("c"))
    chat = hf(srv)
    assert chat.get_system_prompt() is None
    chat.chat("one")
    assert [m["role"] for m in messages(srv.requests[0])] == ["user"]
    assert chat.set_system_prompt("You are a pirate.") is chat
    assert chat.get_system_prompt() == "You are a pirate."
    chat.chat("two")
    assert messages(srv.requests[1])[0] == {"role": "system", "content": "You are a pirate."}
    assert [m["role"] for m in messages(srv.requests[1])] == ["system", "user", "assistant", "user"]
    chat.set_system_prompt(None)
    chat.chat("three")
    assert [m["role"] for m in messages(srv.requests[2])] == [
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    # the system prompt is never one of the recorded turns
    assert all(t.role != "system" for t in chat.get_turns())


def test_system_prompt_list_joins_with_blank_lines(srv: FakeServer) -> None:
    chat = hf(srv, system_prompt=["One.", "Two."])
    assert chat.get_system_prompt() == "One.\n\nTwo."
    chat.set_system_prompt("")
    assert chat.get_system_prompt() is None
    with pytest.raises(ConfigurationError, match="system_prompt must be a string"):
        chat.set_system_prompt(["ok", 3])  # type: ignore[list-item]


def test_get_and_set_model(srv: FakeServer) -> None:
    srv.enqueue(answer("a"), answer("b"))
    chat = hf(srv, model="org/first")
    chat.chat("one")
    assert chat.get_model() == "org/first"
    pool = chat.get_provider().transport
    assert chat.set_model("org/second") is chat
    assert chat.get_model() == "org/second"
    chat.chat("two")
    assert srv.requests[0].json["model"] == "org/first"
    assert srv.requests[1].json["model"] == "org/second"
    assert len(chat.get_turns()) == 4  # the conversation is kept
    assert chat.get_provider().transport is pool  # and the connection pool
    assert srv.requests[1].connection == srv.requests[0].connection


def test_get_provider(srv: FakeServer) -> None:
    chat = hf(srv, model="org/m")
    provider = chat.get_provider()
    assert isinstance(provider, Provider)
    assert provider.name == "HuggingFace"
    assert provider.model == "org/m"
    assert provider.base_url == srv.base_url


def test_get_tokens(srv: FakeServer) -> None:
    srv.enqueue(
        answer("a", prompt_tokens=10, completion_tokens=2),
        answer("b", prompt_tokens=20, completion_tokens=5),
    )
    chat = hf(srv)
    assert chat.get_tokens() == []
    chat.chat("one")
    chat.chat("two")
    assert chat.get_tokens() == [
        {"role": "assistant", "input": 10, "output": 2, "cached_input": 0, "cost": None},
        {"role": "assistant", "input": 20, "output": 5, "cached_input": 0, "cost": None},
    ]


def test_cached_tokens_are_counted_apart(srv: FakeServer) -> None:
    doc = completion("a", prompt_tokens=100, completion_tokens=5)
    doc["usage"]["prompt_tokens_details"] = {"cached_tokens": 60}
    srv.enqueue(Reply.json(doc))
    chat = hf(srv)
    chat.chat("one")
    assert chat.get_tokens() == [
        {"role": "assistant", "input": 40, "output": 5, "cached_input": 60, "cost": None}
    ]


def test_get_cost(srv: FakeServer) -> None:
    srv.enqueue(answer("a"))
    chat = hf(srv)
    assert chat.get_cost() is None
    chat.chat("one")
    assert chat.get_cost() is None  # the router does not say what it cost
    chat.set_turns(
        [UserTurn("q"), AssistantTurn("a", cost=0.25), UserTurn("q"), AssistantTurn("b", cost=0.5)]
    )
    assert chat.get_cost() == 0.75
    assert chat.get_cost("last") == 0.5
    chat.set_turns(
        [UserTurn("q"), AssistantTurn("a", cost=0.25), UserTurn("q"), AssistantTurn("b")]
    )
    assert chat.get_cost() == 0.25
    assert chat.get_cost("last") is None
    with pytest.raises(ConfigurationError, match="include must be"):
        chat.get_cost("first")  # type: ignore[arg-type]


def test_repr(srv: FakeServer) -> None:
    srv.enqueue(answer("a", prompt_tokens=10, completion_tokens=2))
    chat = hf(srv, model="org/m")
    assert repr(chat) == "<Chat HuggingFace/org/m turns=0 tokens=0/0>"
    chat.chat("hi")
    assert repr(chat) == "<Chat HuggingFace/org/m turns=2 tokens=10/2>"
    assert (
        repr(chat.get_provider())
        == f"<Provider HuggingFace model='org/m' base_url={srv.base_url!r}>"
    )


def test_chat_needs_a_provider() -> None:
    with pytest.raises(ConfigurationError, match="Chat needs a Provider"):
        Chat("huggingface")  # type: ignore[arg-type]


def test_bad_system_prompt_fallback() -> None:
    with pytest.raises(ConfigurationError, match="'error' or 'merge'"):
        chat_huggingface(credentials=lambda: KEY, model="m", system_prompt_fallback="drop")  # type: ignore[arg-type]


def test_set_model_to_a_limited_model_refuses_before_sending(srv: FakeServer) -> None:
    chat = hf(srv, model="org/m", system_prompt="sys")
    chat.set_model("google/gemma-2-2b-it")
    with pytest.raises(ModelLimitationError):
        chat.chat("hi")
    assert srv.requests == []


# --- echo -------------------------------------------------------------------------------


def test_echo_none_prints_nothing(srv: FakeServer, capsys: pytest.CaptureFixture[str]) -> None:
    srv.enqueue(answer("quiet"))
    chat = hf(srv, echo="none")
    assert chat.chat("hi") == "quiet"
    assert capsys.readouterr().out == ""
    assert srv.requests[0].json["stream"] is False


def test_echo_output_streams_the_answer(
    srv: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    srv.enqueue(streamed("Hel", "lo", "!"))
    chat = hf(srv, echo="output")
    assert chat.chat("hi") == "Hello!"
    assert capsys.readouterr().out == "Hello!\n"
    assert srv.requests[0].json["stream"] is True
    assert chat.get_turns() == [UserTurn("hi"), AssistantTurn("Hello!", finish_reason="success")]


def test_echo_all_shows_the_prompt_too(srv: FakeServer, capsys: pytest.CaptureFixture[str]) -> None:
    srv.enqueue(streamed("Yes."))
    chat = hf(srv, echo="all")
    chat.chat("Line one\nline two")
    assert capsys.readouterr().out == "> Line one\n> line two\nYes.\n"


def test_echo_per_call_and_from_env(
    srv: FakeServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    srv.enqueue(streamed("a"), answer("b"))
    chat = hf(srv, echo="none")
    chat.chat("one", echo=True)
    assert capsys.readouterr().out == "a\n"
    monkeypatch.setenv("ELLMER_ECHO", "output")
    from_env = hf(srv, echo=None)
    assert from_env.get_echo() == "output"
    monkeypatch.setenv("ELLMER_ECHO", "none")
    assert hf(srv, echo=None).get_echo() == "none"
    assert hf(srv, echo=False).get_echo() == "none"
    chat.chat("two", echo=False)
    assert capsys.readouterr().out == ""
    with pytest.raises(ConfigurationError, match="echo must be one of"):
        hf(srv, echo="loud")


def test_echo_text_is_rs_deprecated_spelling_of_output() -> None:
    from ellmer_py._echo import resolve_echo

    with pytest.warns(DeprecationWarning, match='echo="output"'):
        assert resolve_echo("text") == "output"
