"""contents_record() / contents_replay(): a versioned, lossless, JSON-ready record."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import content_classes, contents, turn_lists, turns

from ellmer_py import (
    AssistantPartialTurn,
    AssistantTurn,
    ConfigurationError,
    Content,
    ContentImage,
    ContentImageInline,
    ContentImageRemote,
    ContentJson,
    ContentPDF,
    ContentText,
    ContentThinking,
    ContentToolRequest,
    ContentToolResult,
    SystemTurn,
    Tokens,
    Turn,
    UserTurn,
    contents_record,
    contents_replay,
)
from ellmer_py.providers.openai_compatible import chat_openai_compatible

HEADER = {"format": "ellmer-py", "version": 2}
CONTENT_KINDS = (
    "image_inline, image_remote, json, pdf, text, thinking, tool_request, tool_request_fetch, "
    "tool_request_search, tool_response_fetch, tool_response_search, tool_result"
)


def _accounting(turns: list[Turn]) -> list[tuple[Any, Any]]:
    """The (json, duration) of each assistant turn: the fields equality ignores."""
    return [(t.json, t.duration) if isinstance(t, AssistantTurn) else (None, None) for t in turns]


# --- round trips -------------------------------------------------------------


@given(turn_lists)
def test_round_trip_of_any_list_of_turns(value: list[Turn]) -> None:
    record = contents_record(value)
    replayed = contents_replay(record)
    assert replayed == value
    assert [type(t) for t in replayed] == [type(t) for t in value]
    assert _accounting(replayed) == _accounting(value)


@given(turn_lists)
def test_record_is_json_ready(value: list[Turn]) -> None:
    record = contents_record(value)
    text = json.dumps(record)
    assert json.loads(text) == record
    for source in (json.loads(text), text, text.encode()):
        replayed = contents_replay(source)
        assert replayed == value
        assert _accounting(replayed) == _accounting(value)


@given(turns)
def test_round_trip_of_one_turn(turn: Turn) -> None:
    record = contents_record(turn)
    assert record["kind"] == "turn"
    replayed = contents_replay(json.dumps(record))
    assert replayed == turn
    assert type(replayed) is type(turn)
    assert _accounting([replayed]) == _accounting([turn])


@given(contents)
def test_round_trip_of_one_content(content: Content) -> None:
    record = contents_record(content)
    assert record["kind"] == "content"
    replayed = contents_replay(json.dumps(record))
    assert replayed == content
    assert type(replayed) is type(content)


@pytest.mark.parametrize("cls", list(content_classes), ids=lambda c: c.__name__)
@given(data=st.data())
def test_round_trip_inside_a_turn_for_every_content_kind(
    cls: type[Content], data: st.DataObject
) -> None:
    """Every kind, drawn on purpose, inside every role (one_of alone may skip some)."""
    content = data.draw(content_classes[cls])
    for role in (UserTurn, SystemTurn, AssistantTurn, AssistantPartialTurn):
        turn = role(["before", content, "after"])
        assert contents_replay(json.dumps(contents_record([turn]))) == [turn]


def test_partial_turn_keeps_its_reason_and_accounting() -> None:
    turn = AssistantPartialTurn(
        "Once up", tokens=Tokens(5, 2, 0), cost=0.001, duration=0.25, json={"id": "x"}, reason="cut"
    )
    [replayed] = contents_replay(json.dumps(contents_record([turn])))
    assert type(replayed) is AssistantPartialTurn
    assert (replayed.reason, replayed.duration, replayed.json) == ("cut", 0.25, {"id": "x"})
    assert replayed.role == "assistant"


def test_empty_list_of_turns() -> None:
    assert contents_record([]) == {**HEADER, "kind": "turns", "value": []}
    assert contents_replay({**HEADER, "kind": "turns", "value": []}) == []


# --- the format itself -------------------------------------------------------


def test_record_format_is_versioned_and_pinned() -> None:
    turns = [
        UserTurn(["Describe", ContentImageInline("image/png", b"\x00\x01\xff")]),
        AssistantTurn(
            [ContentToolRequest("c1", "look", {"q": [1, 2]})],
            tokens=Tokens(12, 3, 4),
            cost=0.5,
            finish_reason="tool_calls",
            duration=1.5,
            json={"id": "r1"},
        ),
    ]
    assert contents_record(turns) == {
        "format": "ellmer-py",
        "version": 2,
        "kind": "turns",
        "value": [
            {
                "role": "user",
                "contents": [
                    {"kind": "text", "text": "Describe"},
                    {"kind": "image_inline", "type": "image/png", "data": "AAH/"},
                ],
            },
            {
                "role": "assistant",
                "contents": [
                    {"kind": "tool_request", "id": "c1", "name": "look", "arguments": {"q": [1, 2]}}
                ],
                "tokens": {"input": 12, "output": 3, "cached_input": 4},
                "cost": 0.5,
                "finish_reason": "tool_calls",
                "duration": 1.5,
                "json": {"id": "r1"},
            },
        ],
    }


@pytest.mark.parametrize(
    ("content", "value"),
    [
        (ContentText("t"), {"kind": "text", "text": "t"}),
        (ContentImageRemote("u", "low"), {"kind": "image_remote", "url": "u", "detail": "low"}),
        (ContentPDF(b"%PDF", "a.pdf"), {"kind": "pdf", "data": "JVBERg==", "filename": "a.pdf"}),
        (
            ContentToolResult("c1", error="boom"),
            {"kind": "tool_result", "id": "c1", "value": None, "error": "boom"},
        ),
        (
            ContentThinking("hm", {"sig": "s"}),
            {"kind": "thinking", "thinking": "hm", "extra": {"sig": "s"}},
        ),
        (ContentJson([1, "a"]), {"kind": "json", "value": [1, "a"]}),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Content) else "",
)
def test_single_content_record(content: Content, value: dict[str, Any]) -> None:
    assert contents_record(content) == {**HEADER, "kind": "content", "value": value}
    assert contents_replay({**HEADER, "kind": "content", "value": value}) == content


def test_single_turn_record() -> None:
    record = contents_record(SystemTurn("Be brief."))
    assert record == {
        **HEADER,
        "kind": "turn",
        "value": {"role": "system", "contents": [{"kind": "text", "text": "Be brief."}]},
    }


def test_a_tuple_of_turns_records_as_turns() -> None:
    value = (UserTurn("a"), AssistantTurn("b"))
    assert contents_replay(contents_record(value)) == list(value)


# --- a Chat ------------------------------------------------------------------


def test_chat_record_has_prompt_and_turns_but_no_secrets() -> None:
    chat = chat_openai_compatible(
        base_url="http://127.0.0.1:9/v1",
        model="m",
        credentials=lambda: "sk-SECRET",
        system_prompt="sys",
        api_headers={"X-Team-Token": "hdr-SECRET"},
        api_args={"user": "args-SECRET"},
        echo="none",
        max_tries=1,
        timeout_s=1,
    )
    history = [
        UserTurn("Hi"),
        AssistantTurn("Hello!", tokens=Tokens(3, 2, 0), finish_reason="stop"),
    ]
    chat.set_turns(history)
    record = contents_record(chat)
    assert record == {
        **HEADER,
        "kind": "turns",
        "value": [
            {"role": "system", "contents": [{"kind": "text", "text": "sys"}]},
            {"role": "user", "contents": [{"kind": "text", "text": "Hi"}]},
            {
                "role": "assistant",
                "contents": [{"kind": "text", "text": "Hello!"}],
                "tokens": {"input": 3, "output": 2, "cached_input": 0},
                "cost": None,
                "finish_reason": "stop",
                "duration": None,
                "json": None,
            },
        ],
    }
    text = json.dumps(record)
    for secret in ("SECRET", "127.0.0.1", "Authorization", "Bearer", "X-Team-Token"):
        assert secret not in text

    replayed = contents_replay(text)
    assert replayed == [SystemTurn("sys"), *history]
    fresh = chat_openai_compatible(
        base_url="http://127.0.0.1:9/v1", model="m", credentials=lambda: "k", echo="none"
    )
    fresh.set_turns(replayed)
    assert fresh.get_system_prompt() == "sys"
    assert fresh.get_turns() == history


def test_chat_without_system_prompt_records_only_turns() -> None:
    chat = chat_openai_compatible(
        base_url="http://127.0.0.1:9/v1", model="m", credentials=lambda: "k", echo="none"
    )
    chat.set_turns([UserTurn("Hi")])
    assert contents_replay(contents_record(chat)) == [UserTurn("Hi")]


# --- what cannot be recorded -------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (42, "contents_record() takes a Chat, a Turn, a Content or a list of Turns, not int."),
        ("hi", "contents_record() takes a Chat, a Turn, a Content or a list of Turns, not str."),
        (
            [UserTurn("a"), "b"],
            "contents_record() takes a Chat, a Turn, a Content or a list of Turns, not list.",
        ),
        (
            Turn("x"),
            "contents_record() cannot record a Turn; use one of: "
            "UserTurn, SystemTurn, AssistantTurn, AssistantPartialTurn.",
        ),
        (
            UserTurn([ContentImage()]),
            "contents_record() cannot record a ContentImage; use one of: ContentText, "
            "ContentImageRemote, ContentImageInline, ContentPDF, ContentToolRequest, "
            "ContentToolResult, ContentThinking, ContentJson, ContentToolRequestSearch, "
            "ContentToolResponseSearch, ContentToolRequestFetch, ContentToolResponseFetch.",
        ),
    ],
    ids=["int", "str", "mixed-list", "bare-Turn", "bare-ContentImage"],
)
def test_recording_something_else_is_a_configuration_error(value: Any, message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        contents_record(value)
    assert str(info.value) == message


# --- bad records -------------------------------------------------------------

READ = "contents_replay() could not read the record: "


def _record(kind: str, value: Any) -> dict[str, Any]:
    """A well-formed envelope around ``value``."""
    return {**HEADER, "kind": kind, "value": value}


def _user(*contents: Any) -> dict[str, Any]:
    """A recorded user turn with the given (recorded) contents."""
    return {"role": "user", "contents": list(contents)}


BAD_RECORDS: list[tuple[str, Any, str]] = [
    (
        "not-json",
        "{not json",
        "contents_replay() was given text that is not JSON: "
        "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
    ),
    (
        "not-an-object",
        [1, 2],
        "contents_replay() needs a record made by contents_record() (a JSON object), not list.",
    ),
    (
        "wrong-format",
        {"format": "chatlas", "version": 1, "kind": "turns", "value": []},
        "contents_replay() needs a record made by contents_record(): "
        "\"format\" is 'chatlas', not 'ellmer-py'.",
    ),
    (
        "no-format",
        {"version": 1, "kind": "turns", "value": []},
        "contents_replay() needs a record made by contents_record(): "
        "\"format\" is None, not 'ellmer-py'.",
    ),
    (
        "newer-version",
        {**_record("turns", []), "version": 3},
        "This record has version 3; this ellmer-py reads version 2. "
        "Upgrade ellmer-py to read newer records.",
    ),
    (
        "garbled-version",
        {**_record("turns", []), "version": "1"},
        "This record has \"version\" '1'; this ellmer-py reads versions 1, 2.",
    ),
    (
        "unknown-kind",
        _record("chat", []),
        "Unknown record kind 'chat' (known: content, turn, turns).",
    ),
    ("no-value", {**HEADER, "kind": "turns"}, READ + 'it has no "value".'),
    (
        "turns-not-a-list",
        _record("turns", "hi"),
        READ + "expected a list of turns, got str @ $.value",
    ),
    (
        "turn-not-an-object",
        _record("turns", ["hi"]),
        READ + "expected an object for a turn, got str @ $.value[0]",
    ),
    (
        "unknown-content-tag",
        _record("content", {"kind": "audio", "data": ""}),
        READ + f"unknown content kind 'audio' (known: {CONTENT_KINDS}) @ $.value",
    ),
    (
        "unknown-content-tag-nested",
        _record("turns", [_user({"kind": "text", "text": "a"}), _user({"kind": "video"})]),
        READ + f"unknown content kind 'video' (known: {CONTENT_KINDS}) @ $.value[1].contents[0]",
    ),
    (
        "missing-content-tag",
        _record("turns", [_user({"text": "a"})]),
        READ + f'missing the "kind" tag (known: {CONTENT_KINDS}) @ $.value[0].contents[0]',
    ),
    (
        "unknown-role",
        _record("turns", [{"role": "robot", "contents": []}]),
        READ + "unknown turn role 'robot' (known: assistant, assistant_partial, system, user) "
        "@ $.value[0]",
    ),
    (
        "missing-role",
        _record("turn", {"contents": []}),
        READ
        + 'missing the "role" tag (known: assistant, assistant_partial, system, user) @ $.value',
    ),
    (
        "missing-field",
        _record("turns", [_user({"kind": "tool_request", "id": "c1", "arguments": {}})]),
        READ + "required field missing @ $.value[0].contents[0].name",
    ),
    (
        "extra-field",
        _record("turns", [_user({"kind": "text", "text": "a", "lang": "en"})]),
        READ + "extra fields found (lang) @ $.value[0].contents[0]",
    ),
    (
        "extra-turn-field",
        _record("turn", {"role": "user", "contents": [], "tokens": None}),
        READ + "extra fields found (tokens) @ $.value",
    ),
    (
        "bad-base64",
        _record("turns", [_user({"kind": "image_inline", "type": "image/png", "data": "a$b="})]),
        READ + "not valid base64: 'a$b=' @ $.value[0].contents[0].data",
    ),
    (
        "bytes-not-text",
        _record("content", {"kind": "pdf", "data": 12, "filename": "x.pdf"}),
        READ + "expected base64 text for bytes, got int @ $.value.data",
    ),
    (
        "wrong-scalar-type",
        _record("content", {"kind": "text", "text": 5}),
        READ + "expected str, got int 5 @ $.value.text",
    ),
    (
        "contents-not-a-list",
        _record("turn", {"role": "user", "contents": "hello"}),
        READ + "expected a list of contents, got str @ $.value.contents",
    ),
    (
        "content-not-an-object",
        _record("turn", {"role": "user", "contents": ["hello"]}),
        READ + "expected an object for a content, got str @ $.value.contents[0]",
    ),
    (
        "tokens-not-an-object",
        _record("turn", {"role": "assistant", "contents": [], "tokens": [1, 2, 3]}),
        READ + "expected an object of token counts, got list @ $.value.tokens",
    ),
    (
        "token-count-not-int",
        _record("turn", {"role": "assistant", "contents": [], "tokens": {"input": "12"}}),
        READ + "expected int, got str '12' @ $.value.tokens.input",
    ),
    (
        "two-problems",
        _record("turns", [_user({"kind": "text"}), {"role": "nobody", "contents": []}]),
        READ + "required field missing @ $.value[0].contents[0].text; "
        "unknown turn role 'nobody' (known: assistant, assistant_partial, system, user) "
        "@ $.value[1]",
    ),
]


@pytest.mark.parametrize(
    ("record", "message"),
    [(record, message) for _, record, message in BAD_RECORDS],
    ids=[name for name, _, _ in BAD_RECORDS],
)
def test_bad_records_say_what_and_where(record: Any, message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        contents_replay(record)
    assert str(info.value) == message
    # No cattrs or json traceback chained under it.
    assert info.value.__cause__ is None
    assert info.value.__context__ is None or info.value.__suppress_context__


def test_a_cost_given_as_an_integer_is_a_float() -> None:
    turn = contents_replay(_record("turn", {"role": "assistant", "contents": [], "cost": 2}))
    assert turn == AssistantTurn(cost=2.0)
    assert type(turn.cost) is float


def test_optional_fields_may_be_left_out() -> None:
    turn = contents_replay(
        _record("turn", {"role": "assistant", "contents": [{"kind": "text", "text": "x"}]})
    )
    assert turn == AssistantTurn("x")
    assert (turn.tokens, turn.json, turn.duration) == (None, None, None)


# --- heavy modules load lazily -----------------------------------------------


def _loaded_after(code: str) -> list[str]:
    """Which of cattrs, urllib3, pluggy a fresh interpreter has loaded after ``code``."""
    script = (
        f"{code}\nimport sys\n"
        "print(','.join(m for m in ('cattrs', 'urllib3', 'pluggy') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=30
    )
    return [m for m in out.stdout.strip().split(",") if m]


def test_importing_ellmer_py_loads_no_heavy_module() -> None:
    assert _loaded_after("import ellmer_py") == []


def test_building_turns_loads_no_heavy_module() -> None:
    assert _loaded_after("import ellmer_py as e; e.AssistantTurn(e.UserTurn('x').contents)") == []


def test_the_first_record_loads_cattrs_only() -> None:
    code = "import ellmer_py as e; e.contents_replay(e.contents_record([e.UserTurn('x')]))"
    assert _loaded_after(code) == ["cattrs"]


def test_a_registry_look_up_loads_pluggy_but_not_urllib3() -> None:
    assert _loaded_after("import ellmer_py as e; e.list_providers()") == ["pluggy"]


def test_urllib3_loads_with_the_first_request() -> None:
    build = (
        "import ellmer_py as e\n"
        "chat = e.chat_openai_compatible(base_url='http://127.0.0.1:9/v1', model='m',"
        " credentials=lambda: 'k', echo='none', max_tries=1, timeout_s=1)\n"
    )
    assert "urllib3" not in _loaded_after(build)
    send = build + "try:\n    chat.chat('hi')\nexcept e.EllmerError:\n    pass\n"
    assert "urllib3" in _loaded_after(send)


def test_version_1_records_are_still_read() -> None:
    record = {
        "format": "ellmer-py",
        "version": 1,
        "kind": "turns",
        "value": [
            {"role": "user", "contents": [{"kind": "text", "text": "Hi"}]},
            {
                "role": "assistant",
                "contents": [
                    {"kind": "tool_request", "id": "c1", "name": "f", "arguments": {"x": 1}}
                ],
                "tokens": None,
                "cost": None,
                "finish_reason": None,
                "duration": None,
                "json": None,
            },
        ],
    }
    turns = contents_replay(record)
    assert turns == [
        UserTurn("Hi"),
        AssistantTurn((ContentToolRequest("c1", "f", {"x": 1}),)),
    ]


def test_extra_on_text_and_tool_requests_round_trips() -> None:
    turn = AssistantTurn(
        (
            ContentText("cited", extra={"citations": [{"url": "https://x"}]}),
            ContentToolRequest("c1", "f", {}, extra={"signature": "sig"}),
        )
    )
    record = contents_record(turn)
    assert record["value"]["contents"][0]["extra"] == {"citations": [{"url": "https://x"}]}
    assert contents_replay(record) == turn
