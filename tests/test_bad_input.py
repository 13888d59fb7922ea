"""A careless caller gets a clear ConfigurationError before any request (issue 9).

Each case names the argument (and, inside a nested value, the path to the
bad part) and says what to do instead; none raises a raw TypeError,
ValueError, UnicodeEncodeError or RecursionError, and none sends anything:
every test runs against a real loopback server and checks that it received
no request. Where it matters, both chat completions (``chat_huggingface``)
and Anthropic Messages (``chat_anthropic``) are checked.

Also here: a server that answers a system prompt with HTTP 500 "System role
not supported" (llama.cpp, llama-cpp-python) raises ModelLimitationError,
as the 400 and 422 shapes do, and ``system_prompt_fallback="merge"`` works
for it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
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
    UserTurn,
    chat_anthropic,
    chat_huggingface,
    contents_record,
    contents_replay,
    params,
    type_from_schema,
)
from ellmer_py.conformance import anthropic as anthropic_fake
from ellmer_py.conformance import openai_chat as openai_fake
from ellmer_py.conformance._protocol import Answer
from ellmer_py.conformance.fake_server import FakeServer, Reply

KEY = "test_key_0123456789"


def _hf(srv: FakeServer, **kwargs: Any) -> Chat:
    kwargs.setdefault("echo", "none")
    kwargs.setdefault("model", "org/model")
    return chat_huggingface(
        base_url=srv.base_url, credentials=lambda: KEY, max_tries=1, timeout_s=5, **kwargs
    )


def _claude(srv: FakeServer, **kwargs: Any) -> Chat:
    kwargs.setdefault("echo", "none")
    kwargs.setdefault("model", "claude-sonnet-5")
    return chat_anthropic(
        base_url=srv.base_url, credentials=lambda: KEY, max_tries=1, timeout_s=5, **kwargs
    )


MAKERS = {"huggingface": _hf, "anthropic": _claude}
FAKES = {"huggingface": openai_fake.FAKE, "anthropic": anthropic_fake.FAKE}


@pytest.fixture(params=list(MAKERS))
def which(request: pytest.FixtureRequest) -> str:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def make(which: str) -> Callable[..., Chat]:
    return MAKERS[which]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("HUGGINGFACE_API_KEY", "HF_TOKEN", "ANTHROPIC_API_KEY", "ELLMER_ECHO"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server
    assert not server.errors, server.errors


# -- params() -------------------------------------------------------------------------------

REAL = ["temperature", "top_p", "frequency_penalty", "presence_penalty"]
WHOLE = ["top_k", "seed", "max_tokens", "reasoning_tokens"]
NOT_FINITE = [math.nan, math.inf, -math.inf]


@pytest.mark.parametrize("value", NOT_FINITE, ids=repr)
@pytest.mark.parametrize("name", REAL + WHOLE)
def test_params_refuse_nan_and_infinity(name: str, value: float) -> None:
    with pytest.raises(ConfigurationError) as info:
        params(**{name: value})
    message = str(info.value)
    assert message.startswith(f"params({name}=...) must be a ")
    assert ("finite number" if name in REAL else "whole number") in message
    assert type(info.value) is ConfigurationError


@pytest.mark.parametrize(
    ("value", "where", "what"),
    [
        ({"x": math.nan}, "params(logit_bias=...)['x']", "nan, which JSON can't carry"),
        ([1, {"y": {2}}], "params(logit_bias=...)[1]['y']", "is a set, which JSON can't carry"),
        ({"x": "\ud800"}, "params(logit_bias=...)['x']", "lone surrogate"),
        (object(), "params(logit_bias=...)", "is a object"),
    ],
    ids=["nan", "set", "surrogate", "object"],
)
def test_extra_params_must_be_json(value: Any, where: str, what: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        params(logit_bias=value)
    assert str(info.value).startswith(where)
    assert what in str(info.value)


def test_params_as_a_dict_is_refused_with_the_fix(
    make: Callable[..., Chat], srv: FakeServer
) -> None:
    with pytest.raises(ConfigurationError) as info:
        make(srv, params={"temperature": 0.5, "seed": 1})
    message = str(info.value)
    assert "params= takes the result of params(), not a dict" in message
    assert "params=params(temperature=0.5, seed=1)" in message
    with pytest.raises(ConfigurationError, match="params= takes the result of params"):
        make(srv, params="hot")
    with pytest.raises(ConfigurationError, match="not a dict"):
        Provider(name="X", model="m", base_url=srv.base_url, params={"temperature": 0.5})  # type: ignore[arg-type]
    assert srv.requests == []


# -- api_args ------------------------------------------------------------------------------


def _deep(levels: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    cur = out
    for _ in range(levels):
        cur["a"] = {}
        cur = cur["a"]
    return out


def _cycle() -> dict[str, Any]:
    out: dict[str, Any] = {}
    out["self"] = out
    return out


@pytest.mark.parametrize(
    ("api_args", "expected"),
    [
        ({"x": {"y": {1, 2}}}, "api_args['x']['y'] is a set, which JSON can't carry; use a list."),
        ({"x": frozenset()}, "api_args['x'] is a frozenset, which JSON can't carry; use a list."),
        ({"x": [1, math.nan]}, "api_args['x'][1] is nan, which JSON can't carry"),
        ({"x": {"y": math.inf}}, "api_args['x']['y'] is inf, which JSON can't carry"),
        ({"x": b"raw"}, "api_args['x'] is a bytes, which JSON can't carry"),
        ({"x": {(1, 2): 3}}, "api_args['x'] has the key (1, 2); JSON object keys must be strings"),
        ({"x": "a\ud800b"}, "api_args['x'] has a lone surrogate"),
        (_cycle(), "api_args is nested more than 500 levels deep, or holds itself"),
    ],
    ids=["set", "frozenset", "nan", "inf", "bytes", "tuple-key", "surrogate", "cycle"],
)
def test_api_args_must_be_json_naming_the_field(
    make: Callable[..., Chat], srv: FakeServer, api_args: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        make(srv, api_args=api_args)
    assert expected in str(info.value)
    assert srv.requests == []


@pytest.mark.parametrize("levels", [600, 10_000])
def test_api_args_nested_too_deeply(
    make: Callable[..., Chat], srv: FakeServer, levels: int
) -> None:
    with pytest.raises(ConfigurationError, match="api_args is nested"):
        make(srv, api_args=_deep(levels))
    assert srv.requests == []


def test_json_api_args_still_go_out(make: Callable[..., Chat], which: str, srv: FakeServer) -> None:
    """Number keys become strings, as json.dumps has them; tuples are lists."""
    chat = make(srv, api_args={"logit_bias": {50256: -100}, "extra": (1, 2)})
    srv.enqueue(FAKES[which].answer(Answer(text_pieces=("ok",))))
    assert chat.chat("hi") == "ok"
    body = srv.requests[0].json
    assert body["logit_bias"] == {"50256": -100}
    assert body["extra"] == [1, 2]


# -- system_prompt ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (123, "system_prompt must be a string or a list of strings, not int."),
        (1.5, "system_prompt must be a string or a list of strings, not float."),
        (b"be terse", "system_prompt must be a string or a list of strings, not bytes."),
        ({"role": "system"}, "system_prompt must be a string or a list of strings, not dict."),
        (["ok", 2], "system_prompt must be a string or a list of strings; item 1 is int: 2."),
    ],
    ids=["int", "float", "bytes", "dict", "list-with-int"],
)
def test_system_prompt_of_the_wrong_type(
    make: Callable[..., Chat], srv: FakeServer, value: Any, expected: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        make(srv, system_prompt=value)
    assert str(info.value) == expected
    chat = make(srv, system_prompt="kept")
    with pytest.raises(ConfigurationError) as info:
        chat.set_system_prompt(value)
    assert str(info.value) == expected
    assert chat.get_system_prompt() == "kept"
    assert srv.requests == []


def test_system_prompt_that_is_fine(make: Callable[..., Chat], srv: FakeServer) -> None:
    chat = make(srv, system_prompt=("Be terse.", "Be kind."))
    assert chat.get_system_prompt() == "Be terse.\n\nBe kind."
    assert chat.set_system_prompt(None).get_system_prompt() is None
    assert chat.set_system_prompt([]).get_system_prompt() is None


def test_system_prompt_with_a_lone_surrogate(make: Callable[..., Chat], srv: FakeServer) -> None:
    with pytest.raises(ConfigurationError) as info:
        make(srv, system_prompt="Be \udc80 terse.")
    assert str(info.value).startswith(
        "The system prompt has a lone surrogate ('\\udc80' at position 3)"
    )
    with pytest.raises(ConfigurationError, match="The system prompt has a lone surrogate"):
        make(srv).set_turns([SystemTurn("\ud800"), UserTurn("hi")])
    assert srv.requests == []


# -- set_turns ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, 5, "hi", UserTurn("hi"), {"role": "user"}], ids=repr)
def test_set_turns_needs_a_list_of_turns(
    make: Callable[..., Chat], srv: FakeServer, value: Any
) -> None:
    chat = make(srv)
    before = [UserTurn("earlier"), AssistantTurn("answered")]
    chat.set_turns(before)
    with pytest.raises(ConfigurationError) as info:
        chat.set_turns(value)
    assert str(info.value).startswith(
        "set_turns() takes a list of Turn objects ([] clears them), not "
    )
    assert chat.get_turns() == before
    assert chat.set_turns([]).get_turns() == []


# -- a lone surrogate in a prompt ------------------------------------------------------------


@pytest.mark.parametrize("how", ["chat", "stream", "content", "structured"])
def test_a_lone_surrogate_in_a_prompt_is_refused_before_sending(
    make: Callable[..., Chat], srv: FakeServer, how: str
) -> None:
    chat = make(srv)
    before = [UserTurn("earlier"), AssistantTurn("answered")]
    chat.set_turns(before)
    with pytest.raises(ConfigurationError) as info:
        if how == "chat":
            chat.chat("\ud800")
        elif how == "stream":
            list(chat.stream("fine", "broken \udfff"))
        elif how == "content":
            chat.chat(ContentText("x\ud83d"))
        else:
            chat.chat_structured("fine", "\ud800", type=int)
    where = "argument 2" if how in ("stream", "structured") else "argument 1"
    assert str(info.value).startswith(f"chat()'s {where} has a lone surrogate")
    assert "decode the text with errors='replace'" in str(info.value)
    assert chat.get_turns() == before
    assert srv.requests == []


def test_a_real_emoji_is_fine(make: Callable[..., Chat], which: str, srv: FakeServer) -> None:
    srv.enqueue(FAKES[which].answer(Answer(text_pieces=("ok",))))
    assert make(srv).chat("\U0001f600 and \u00e9") == "ok"
    assert "\U0001f600 and \u00e9" in srv.requests[0].text


# -- chat_structured(type=int | str) -----------------------------------------------------------


def test_a_union_is_wrapped_for_strict_mode(srv: FakeServer) -> None:
    chat = _hf(srv)
    srv.enqueue(
        openai_fake.FAKE.answer(Answer(text_pieces=('{"wrapper": "abc"}',))),
        openai_fake.FAKE.answer(Answer(text_pieces=('{"wrapper": 5}',))),
    )
    assert chat.chat_structured("x", type=int | str) == "abc"
    assert chat.chat_structured("y", type=int | str) == 5
    schema = srv.requests[0].json["response_format"]["json_schema"]["schema"]
    assert schema["type"] == "object"
    assert schema["required"] == ["wrapper"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["wrapper"]["anyOf"] == [
        {"type": "integer", "description": ""},
        {"type": "string", "description": ""},
    ]


def test_an_object_schema_given_as_is_is_not_wrapped(srv: FakeServer) -> None:
    chat = _hf(srv)
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer"}},
        "required": ["n"],
        "additionalProperties": False,
    }
    srv.enqueue(openai_fake.FAKE.answer(Answer(text_pieces=('{"n": 3}',))))
    assert chat.chat_structured("x", type=type_from_schema(json.dumps(schema))) == {"n": 3}
    assert srv.requests[0].json["response_format"]["json_schema"]["schema"] == schema


@pytest.mark.parametrize("model", ["claude-sonnet-5", "claude-3-5-sonnet-latest"])
@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
def test_a_union_works_on_anthropic(srv: FakeServer, model: str, stream: bool) -> None:
    chat = _claude(srv, model=model)
    fake = anthropic_fake.FAKE
    wrapped = model == "claude-sonnet-5"  # output_config takes objects; the tool trick wraps
    srv.enqueue(fake.structured_responder('{"wrapper": 7}' if wrapped else "7", stream=stream))
    got = chat.chat_structured("x", type=int | str, echo="output" if stream else "none")
    assert got == 7
    schema = fake.structured_schema(srv.requests[0].json)
    if wrapped:
        assert schema["type"] == "object"
        assert list(schema["properties"]) == ["wrapper"]
    else:
        assert "anyOf" in schema


# -- contents_replay() ----------------------------------------------------------------------


@pytest.mark.parametrize("version", [True, False, 1.0, "2", None, [2]], ids=repr)
def test_replay_of_a_version_that_is_not_a_whole_number(version: Any) -> None:
    record = {"format": "ellmer-py", "version": version, "kind": "turns", "value": []}
    with pytest.raises(ConfigurationError) as info:
        contents_replay(record)
    assert str(info.value) == (
        f'This record has "version" {version!r}; this ellmer-py reads versions 1, 2.'
    )


def test_replay_of_json_nested_10000_deep() -> None:
    text = '{"format": "ellmer-py", "version": 2, "kind": "turns", "value": ' + (
        "[" * 10_000 + "]" * 10_000 + "}"
    )
    with pytest.raises(ConfigurationError, match="nested too deeply"):
        contents_replay(text)


@pytest.mark.parametrize("where", ["text", "contents", "value"])
def test_replay_of_a_record_nested_10000_deep(where: str) -> None:
    deep = _deep(10_000)
    turn: dict[str, Any] = {"role": "user", "contents": [{"kind": "text", "text": "hi"}]}
    if where == "text":
        turn["contents"][0]["text"] = deep
    elif where == "contents":
        turn["contents"] = deep
    record: dict[str, Any] = {"format": "ellmer-py", "version": 2, "kind": "turn", "value": turn}
    if where == "value":
        record["kind"], record["value"] = "turns", deep
    with pytest.raises(ConfigurationError) as info:
        contents_replay(record)
    assert str(info.value).startswith("contents_replay() could not read the record: ")
    assert len(str(info.value)) < 500


def test_replay_of_a_kind_that_is_not_text() -> None:
    record = {"format": "ellmer-py", "version": 2, "kind": ["turns"], "value": []}
    with pytest.raises(ConfigurationError, match=r"Unknown record kind \['turns'\]"):
        contents_replay(record)


def test_replay_still_reads_what_record_wrote() -> None:
    turns = [UserTurn("hi"), AssistantTurn("hello")]
    assert contents_replay(json.dumps(contents_record(turns))) == turns


# -- ELLMER_ECHO -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["loud", "yes", "1"])
def test_ellmer_echo_that_is_not_a_mode(
    make: Callable[..., Chat], srv: FakeServer, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("ELLMER_ECHO", value)
    with pytest.raises(ConfigurationError) as info:
        make(srv, echo=None)
    assert str(info.value) == (
        f"The environment variable ELLMER_ECHO is {value!r}; set it to one of 'none', "
        "'output', 'all', or unset it (or pass echo= to the chat)."
    )
    chat = make(srv, echo="none")  # an explicit echo does not read it
    with pytest.raises(ConfigurationError, match="ELLMER_ECHO"):
        chat.set_echo(None)
    assert srv.requests == []


def test_ellmer_echo_that_is_a_mode(
    make: Callable[..., Chat], srv: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ELLMER_ECHO", " All ")
    assert make(srv, echo=None).get_echo() == "all"


# -- HTTP 500 "System role not supported" ------------------------------------------------------

#: llama-cpp-python's answer when the chat template raises (llama_cpp/server/errors.py).
LLAMA_CPP_PYTHON = {
    "error": {
        "message": "System role not supported",
        "type": "internal_server_error",
        "param": None,
        "code": None,
    }
}
#: llama.cpp's llama-server, when the Jinja template raises.
LLAMA_SERVER = {
    "error": {
        "code": 500,
        "message": "Jinja Exception: System role not supported",
        "type": "server_error",
    }
}


def _refusal(which: str, body: dict[str, Any]) -> Reply:
    if which == "anthropic":
        return anthropic_fake.FAKE.error(500, body["error"]["message"])
    return Reply.json(body, status=500)


def _said(which: str, body: dict[str, Any]) -> str:
    said = str(body["error"]["message"])
    return f"{said} [api_error]" if which == "anthropic" else said  # Anthropic's error type


BODIES = [LLAMA_CPP_PYTHON, LLAMA_SERVER]
BODY_IDS = ["llama-cpp-python", "llama-server"]


@pytest.mark.parametrize("body", BODIES, ids=BODY_IDS)
@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
def test_a_500_system_role_error_is_a_model_limitation(
    make: Callable[..., Chat], which: str, srv: FakeServer, body: dict[str, Any], stream: bool
) -> None:
    srv.enqueue(_refusal(which, body))
    chat = make(
        srv,
        model="org/gemma-like" if which == "huggingface" else "claude-x",
        system_prompt="Be terse.",
    )
    with pytest.raises(ModelLimitationError) as info:
        chat.chat("hello", echo="output" if stream else "none")
    exc = info.value
    assert exc.feature == "system_prompt"
    assert exc.status == 500
    assert exc.server_message == _said(which, body)
    assert exc.provider == chat.get_provider().name
    assert "does not support a system prompt" in str(exc)
    assert "system_prompt_fallback='merge'" in str(exc)
    assert len(srv.requests) == 1
    assert chat.get_turns() == []


@pytest.mark.parametrize("body", BODIES, ids=BODY_IDS)
def test_a_500_without_a_system_prompt_is_a_server_error(
    make: Callable[..., Chat], which: str, srv: FakeServer, body: dict[str, Any]
) -> None:
    srv.enqueue(_refusal(which, body))
    with pytest.raises(ServerError) as info:
        make(srv).chat("hello")
    assert not isinstance(info.value, ModelLimitationError)
    assert info.value.status == 500


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
def test_merge_fallback_after_a_500(
    make: Callable[..., Chat], which: str, srv: FakeServer, stream: bool
) -> None:
    fake = FAKES[which]
    ok = Answer(text_pieces=("merged answer",))
    srv.enqueue(_refusal(which, LLAMA_CPP_PYTHON), fake.stream(ok) if stream else fake.answer(ok))
    chat = make(srv, system_prompt="Be terse.", system_prompt_fallback="merge")
    assert chat.chat("hello", echo="output" if stream else "none") == "merged answer"
    first, second = srv.requests
    assert fake.system_prompt(first.json) == "Be terse."
    assert fake.system_prompt(second.json) is None
    assert fake.user_text(second.json) == "Be terse.\n\nhello"
    assert [t.text for t in chat.get_turns()] == ["hello", "merged answer"]


def test_a_500_is_retried_before_it_is_read(srv: FakeServer) -> None:
    """500 is retried by the transport (it may be passing); the last answer is then read."""
    srv.enqueue(
        _refusal("huggingface", LLAMA_CPP_PYTHON), _refusal("huggingface", LLAMA_CPP_PYTHON)
    )
    chat = chat_huggingface(
        model="org/m",
        base_url=srv.base_url,
        credentials=lambda: KEY,
        max_tries=2,
        timeout_s=5,
        echo="none",
        system_prompt="Be terse.",
    )
    with pytest.raises(ModelLimitationError):
        chat.chat("hello")
    assert len(srv.requests) == 2
