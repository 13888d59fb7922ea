"""Structured output: ``ellmer_py._structured`` and ``Chat.chat_structured()``.

(R: ``chat_structured()``, ``extract_data()``.)

Requests go to a loopback FakeServer; the body must carry R ellmer's
``response_format`` (``json_schema`` named ``structured_data``, strict, and
non-object types wrapped in ``{"wrapper": ...}``). Recorded router answers
replay through the same code.
"""

from __future__ import annotations

import dataclasses
import enum
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypedDict

import attrs
import pytest

from ellmer_py import (
    AssistantTurn,
    BadRequestError,
    Chat,
    ConfigurationError,
    ContentJson,
    ContentText,
    ContentToolRequest,
    ContentToolResult,
    ServerError,
    StructuredOutputError,
    TypeObject,
    UserTurn,
    chat_huggingface,
    tool,
    type_array,
    type_boolean,
    type_enum,
    type_from_schema,
    type_integer,
    type_number,
    type_object,
    type_string,
)
from ellmer_py._structured import StructureError, extract, json_turn, spec_for, structure
from ellmer_py.conformance.fake_server import FakeServer, Reply, sse_data

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "hf-router"
KEY = "hf_test_key_0123456789"


class Mood(enum.Enum):
    HAPPY = "happy"
    SAD = "sad"


@dataclasses.dataclass
class Person:
    """A person."""

    name: str
    age: int
    mood: Mood = Mood.HAPPY
    nickname: str | None = None


@attrs.frozen
class Article:
    title: str
    author: str


class Summary(TypedDict):
    title: str
    words: int


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("HUGGINGFACE_API_KEY", "HF_TOKEN", "ELLMER_ECHO"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server
    assert not server.errors, server.errors


def hf(srv: FakeServer, **kwargs: Any) -> Chat:
    kwargs.setdefault("echo", "none")
    kwargs.setdefault("model", "org/model")
    return chat_huggingface(
        base_url=srv.base_url, credentials=lambda: KEY, max_tries=1, timeout_s=5, **kwargs
    )


def answer(content: str, finish: str = "stop") -> Reply:
    message = {"role": "assistant", "content": content}
    return Reply.json(
        {
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 8},
        }
    )


def streamed(*pieces: str, finish: str = "stop") -> Reply:
    items = [
        sse_data({"choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]})
        for p in pieces
    ]
    items.append(sse_data({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}))
    return Reply.sse([*items, sse_data("[DONE]")])


# -- the request -------------------------------------------------------------------------


def test_an_object_type_is_sent_as_rs_response_format(srv: FakeServer) -> None:
    chat = hf(srv)
    chat.register_tool(tool(lambda: 1, "Unused"))  # tools are not offered during extraction
    srv.enqueue(answer('{"name": "Ann", "age": 30}'))
    t = type_object("A person", name=type_string("Their name"), age=type_integer())
    assert chat.chat_structured("Ann is 30.", type=t) == {"name": "Ann", "age": 30}
    body = srv.requests[0].json
    assert body["stream"] is False and "tools" not in body
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {
            "name": "structured_data",
            "schema": {
                "type": "object",
                "description": "A person",
                "properties": {
                    "name": {"type": "string", "description": "Their name"},
                    "age": {"type": "integer", "description": ""},
                },
                "required": ["name", "age"],
                "additionalProperties": False,
            },
            "strict": True,
        },
    }
    user, assistant = chat.get_turns()
    assert user == UserTurn("Ann is 30.")
    assert assistant.contents == (ContentJson({"name": "Ann", "age": 30}),)
    # the JSON goes back as the assistant's text
    srv.enqueue(answer("ok"))
    chat.chat("thanks")
    assert srv.requests[1].json["messages"][1] == {
        "role": "assistant",
        "content": '{"name": "Ann", "age": 30}',
    }


@pytest.mark.parametrize(
    ("type_", "reply", "expected"),
    [
        (type_array(type_integer()), {"wrapper": [1, 2, 3]}, [1, 2, 3]),
        (type_boolean(), {"wrapper": True}, True),
        (type_enum(["red", "green"]), {"wrapper": "green"}, "green"),
        (type_number(), {"wrapper": 2.5}, 2.5),
        (list[str], {"wrapper": ["a", "b"]}, ["a", "b"]),
        (int, {"wrapper": 4}, 4),
        (Mood, {"wrapper": "sad"}, Mood.SAD),
    ],
)
def test_non_object_types_are_wrapped_and_unwrapped(
    srv: FakeServer, type_: Any, reply: Any, expected: Any
) -> None:
    chat = hf(srv)
    srv.enqueue(answer(json.dumps(reply)))
    assert chat.chat_structured("data", type=type_) == expected
    schema = srv.requests[0].json["response_format"]["json_schema"]["schema"]
    assert list(schema["properties"]) == ["wrapper"]
    assert schema["required"] == ["wrapper"] and schema["additionalProperties"] is False


def test_a_json_schema_type_is_sent_as_it_is(srv: FakeServer) -> None:
    schema = {
        "type": "object",
        "properties": {"is_fruit": {"type": "boolean"}},
        "required": ["is_fruit"],
        "additionalProperties": False,
    }
    chat = hf(srv)
    srv.enqueue(answer('{"is_fruit": true}'))
    assert chat.chat_structured("Is an apple a fruit?", type=type_from_schema(schema)) == {
        "is_fruit": True
    }
    assert srv.requests[0].json["response_format"]["json_schema"]["schema"] == schema


# -- Python types ------------------------------------------------------------------------------


def test_a_dataclass_comes_back_as_an_instance(srv: FakeServer) -> None:
    chat = hf(srv)
    srv.enqueue(answer('{"name": "Ann", "age": 30.0, "mood": null, "nickname": "A"}'))
    person = chat.chat_structured("Ann, 30", type=Person)
    assert person == Person("Ann", 30, Mood.HAPPY, "A")  # null means the default
    schema = srv.requests[0].json["response_format"]["json_schema"]["schema"]
    assert schema["description"] == "A person."
    assert schema["required"] == ["name", "age", "mood", "nickname"]
    assert schema["properties"]["mood"]["type"] == ["string", "null"]


def test_attrs_typeddict_and_lists_of_classes(srv: FakeServer) -> None:
    chat = hf(srv)
    srv.enqueue(
        answer('{"title": "Apples", "author": "Hadley"}'),
        answer('{"title": "Pears", "words": 12}'),
        answer('{"wrapper": [{"name": "A", "age": 1, "mood": "sad", "nickname": null}]}'),
    )
    assert chat.chat_structured("a", type=Article) == Article("Apples", "Hadley")
    assert chat.chat_structured("b", type=Summary) == {"title": "Pears", "words": 12}
    assert chat.chat_structured("c", type=list[Person]) == [Person("A", 1, Mood.SAD)]


def test_convert_false_gives_the_json(srv: FakeServer) -> None:
    chat = hf(srv)
    srv.enqueue(answer('{"wrapper": [{"name": "A", "age": 1, "mood": "sad", "nickname": null}]}'))
    assert chat.chat_structured("c", type=list[Person], convert=False) == [
        {"name": "A", "age": 1, "mood": "sad", "nickname": None}
    ]
    with pytest.raises(ConfigurationError, match="convert must be True or False"):
        chat.chat_structured("c", type=Person, convert="no")  # type: ignore[call-overload]


def test_convert_fixes_what_models_get_slightly_wrong(srv: FakeServer) -> None:
    """A scalar in a one-item list (ellmer #931), 3.0 for an integer, a missing optional key."""
    chat = hf(srv)
    t = type_object(n=type_integer(), name=type_string(), note=type_string(required=False))
    srv.enqueue(answer('{"n": [3.0], "name": ["x"]}'))
    assert chat.chat_structured("x", type=t) == {"n": 3, "name": "x", "note": None}
    srv.enqueue(answer('{"n": [3.0], "name": "x"}'))
    with pytest.raises(StructuredOutputError, match=r"\$\.n: expected integer, got array"):
        chat.chat_structured("x", type=t, convert=False)


def test_json_in_markdown_fences_is_accepted(srv: FakeServer) -> None:
    chat = hf(srv)
    srv.enqueue(answer('```json\n{"title": "T", "author": "A"}\n```'))
    assert chat.chat_structured("x", type=Article) == Article("T", "A")
    assert chat.last_turn().contents == (ContentJson({"title": "T", "author": "A"}),)  # type: ignore[union-attr]


# -- failures ----------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_a_cut_off_answer_raises_and_is_recorded(srv: FakeServer, stream: bool) -> None:
    chat = hf(srv, echo="none")
    out = io.StringIO()
    chat._echo_stream = out
    srv.enqueue(
        streamed('{"name": "A', finish="length") if stream else answer('{"name": "A', "length")
    )
    with pytest.raises(StructuredOutputError) as info:
        chat.chat_structured("x", type=Person, echo="output" if stream else "none")
    error = info.value
    assert str(error) == (
        "The structured answer was cut off because it hit the max_tokens limit, so it is not "
        "complete JSON. Raise max_tokens (params(max_tokens=...)) and ask again."
    )
    assert error.finish_reason == "max_tokens" and error.data == '{"name": "A'
    turn = chat.last_turn()
    assert isinstance(turn, AssistantTurn) and turn.contents == (ContentText('{"name": "A'),)
    assert out.getvalue() == ('{"name": "A\n' if stream else "")
    assert srv.requests[0].json["stream"] is stream


def test_an_answer_that_does_not_fit_lists_the_problems(srv: FakeServer) -> None:
    chat = hf(srv)
    srv.enqueue(answer('{"name": 5, "extra": true}'))
    with pytest.raises(StructuredOutputError) as info:
        chat.chat_structured("x", type=Person)
    # fields with defaults may be left out, as servers without strict mode do
    assert info.value.problems == [
        "$: missing required property 'age'",
        "$.name: expected string, got integer 5",
        "$: unexpected property 'extra'",
    ]
    assert str(info.value).startswith("The structured answer does not fit the type: $: missing")
    assert info.value.data == {"name": 5, "extra": True}
    assert chat.last_turn().contents == (ContentJson({"name": 5, "extra": True}),)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("content", "finish", "message"),
    [
        (
            "Sure! Ann is 30.",
            "stop",
            "Data extraction failed: the model's answer is not JSON: 'Sure! Ann is 30.'",
        ),
        ("", "stop", "Data extraction failed: the model's answer is empty."),
        ("{}", "content_filter", "filtered by the provider's content moderation policy"),
    ],
)
def test_answers_that_are_not_data(
    srv: FakeServer, content: str, finish: str, message: str
) -> None:
    chat = hf(srv)
    srv.enqueue(answer(content, finish))
    with pytest.raises(StructuredOutputError, match=message.replace("(", r"\(").replace("!", "!")):
        chat.chat_structured("x", type=Person)
    assert len(chat.get_turns()) == 2


def test_an_enum_answer_outside_the_enum(srv: FakeServer) -> None:
    chat = hf(srv)
    srv.enqueue(answer('{"wrapper": "angry"}'))
    with pytest.raises(StructuredOutputError) as info:
        chat.chat_structured("x", type=Mood)
    assert info.value.problems == ['$.wrapper: "angry" is not one of "happy", "sad"']


def test_conversion_errors_name_the_class() -> None:
    spec = attrs.evolve(spec_for(Person), sent=type_from_schema({}))  # a schema that lets all in
    turn = AssistantTurn([ContentJson({"name": "A", "age": "one"})])
    with pytest.raises(StructuredOutputError) as info:
        extract(spec, turn)
    assert str(info.value) == (
        "The structured answer could not be converted to Person: expected int, got str 'one' "
        "@ $.age"
    )


def test_bad_types_fail_before_any_request(srv: FakeServer) -> None:
    chat = hf(srv)
    with pytest.raises(ConfigurationError, match="cannot describe dict"):
        chat.chat_structured("x", type=dict[str, int])
    with pytest.raises(ConfigurationError, match="must be a type"):
        chat.chat_structured("x", type="person")
    assert srv.requests == [] and chat.get_turns() == []


# -- conversation details ----------------------------------------------------------------


def test_extracting_from_the_conversation_so_far(srv: FakeServer) -> None:
    chat = hf(srv)
    srv.enqueue(answer("Ann is thirty."), answer('{"name": "Ann", "age": 30}'))
    chat.chat("Tell me about Ann.")
    data = chat.chat_structured(type=type_object(name=type_string(), age=type_integer()))
    assert data == {"name": "Ann", "age": 30}
    assert srv.requests[1].json["messages"] == [
        {"role": "user", "content": "Tell me about Ann."},
        {"role": "assistant", "content": "Ann is thirty."},
    ]


def test_dangling_tool_requests_are_answered_first(srv: FakeServer) -> None:
    chat = hf(srv)
    chat.set_turns(
        [UserTurn("hi"), AssistantTurn([ContentToolRequest("c1", "lookup", {"q": "x"})])]
    )
    srv.enqueue(answer('{"wrapper": true}'))
    assert chat.chat_structured("ok?", type=type_boolean()) is True
    assert chat.get_turns()[2] == UserTurn(
        [ContentToolResult("c1", error="Chat ended before the tool could be invoked."), "ok?"]
    )


def test_echo_streams_the_json(srv: FakeServer) -> None:
    chat = hf(srv)
    out = io.StringIO()
    chat._echo_stream = out
    srv.enqueue(streamed('{"title": "T", ', '"author": "A"}'))
    assert chat.chat_structured("x", type=Article, echo="all") == Article("T", "A")
    assert out.getvalue() == '> x\n{"title": "T", "author": "A"}\n'
    assert srv.requests[0].json["stream"] is True
    assert chat.last_turn().contents == (ContentJson({"title": "T", "author": "A"}),)  # type: ignore[union-attr]


# -- the pure functions ------------------------------------------------------------------


def test_spec_for_wraps_only_what_is_not_an_object() -> None:
    assert not spec_for(type_object(a=type_string())).wrapped
    assert not spec_for(type_from_schema({"type": "object"})).wrapped
    assert not spec_for(Person).wrapped
    wrapped = spec_for(type_array(type_string()))
    assert wrapped.wrapped and wrapped.sent == TypeObject({"wrapper": type_array(type_string())})
    assert not spec_for(type_string(), wrap=lambda t: False).wrapped


def test_json_turn_keeps_thinking_and_tool_requests() -> None:
    from ellmer_py import ContentThinking

    turn = AssistantTurn([ContentThinking("hm"), ContentText("[1,"), ContentText(" 2]")])
    assert json_turn(turn).contents == (ContentThinking("hm"), ContentJson([1, 2]))
    not_json = AssistantTurn([ContentText("nope")])
    assert json_turn(not_json) is not_json


def test_extract_warns_about_several_json_answers() -> None:
    spec = spec_for(type_object(a=type_integer()))
    turn = AssistantTurn([ContentJson({"a": 1}), ContentJson({"a": 2})])
    with pytest.warns(UserWarning, match="Found 2 JSON answers, using the first"):
        assert extract(spec, turn) == {"a": 1}


def test_structure_errors_have_paths() -> None:
    assert structure({"name": "A", "age": 1}, Person) == Person("A", 1)
    with pytest.raises(StructureError) as info:
        structure({"name": "A", "age": "one", "mood": "meh"}, Person)
    assert str(info.value) == (
        "expected int, got str 'one' @ $.age; invalid value for type, expected Mood @ $.mood"
    )
    with pytest.raises(StructureError, match="extra fields found"):
        structure({"title": "t", "author": "a", "x": 1}, Article)


# -- the recorded router answers ---------------------------------------------------------


def recorded(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8"))["interactions"]  # type: ignore[no-any-return]


def test_recorded_chatlas_data_extraction(srv: FakeServer) -> None:
    interactions = recorded(FIXTURES / "chatlas" / "test_huggingface_data_extraction.json")
    article = type_object("Summary of the article", title=type_string(), author=type_string())
    person = type_object(name=type_string(), age=type_integer())
    expected = [
        {"title": "Apples are tasty", "author": "Hadley Wickham"},
        {"title": "Apples are tasty", "author": "Hadley Wickham"},
        {"name": "Eleanor Thompson", "age": 28},
    ]
    for interaction, t, want in zip(
        interactions[:3], [article, article, person], expected, strict=True
    ):
        chat = hf(srv, model="meta-llama/Llama-3.1-8B-Instruct")
        srv.reset()
        srv.enqueue(Reply.from_recording(interaction["response"]))
        content = interaction["request"]["body"]["messages"][-1]["content"]
        prompt = "".join(p["text"] for p in content) if isinstance(content, list) else content
        assert chat.chat_structured(prompt, type=t) == want
        sent = srv.requests[0].json["response_format"]
        recorded_format = interaction["request"]["body"]["response_format"]
        assert sent["type"] == recorded_format["type"] == "json_schema"
        assert sent["json_schema"]["name"] == recorded_format["json_schema"]["name"]
        assert (
            sent["json_schema"]["schema"]["required"]
            == recorded_format["json_schema"]["schema"]["required"]
        )
        turn = chat.last_turn()
        assert isinstance(turn, AssistantTurn) and turn.contents == (ContentJson(want),)
        assert (
            turn.tokens is not None
            and turn.tokens.output
            == json.loads(interaction["response"]["body"])["usage"]["completion_tokens"]
        )


@dataclasses.dataclass
class Outing:
    location: str
    activity: str
    animals_seen: int
    animals: list[str]


def test_recorded_tgi_response_format_answer(srv: FakeServer) -> None:
    """Old TGI: JSON with odd whitespace and finish_reason eos_token, which is not a cut-off."""
    (interaction,) = recorded(
        FIXTURES
        / "huggingface_hub"
        / "InferenceClientVCRTest.test_chat_completion_with_response_format.json"
    )
    chat = hf(srv, model="meta-llama/Meta-Llama-3-70B-Instruct")
    srv.enqueue(Reply.from_recording(interaction["response"]))
    outing = chat.chat_structured(
        "I saw a puppy a cat and a raccoon during my bike ride in the park", type=Outing
    )
    assert outing == Outing("park", "bike ride", 3, ["puppy", "cat", "raccoon"])
    assert chat.last_turn().finish_reason == "eos_token"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("path", "error", "message"),
    [
        (
            "Llama-3.1-8B-Instruct/GenSync-JSONSchema.json",
            BadRequestError,
            "structured outputs not support",
        ),
        (
            "Llama-3.1-8B-Instruct/GenStream-JSONSchema.json",
            BadRequestError,
            "structured outputs not support",
        ),
        (
            "Llama-3.3-70B-Instruct/GenSync-JSONSchema.json",
            BadRequestError,
            "structured outputs not support",
        ),
        (
            "Llama-3.3-70B-Instruct/GenStream-JSONSchema.json",
            BadRequestError,
            "structured outputs not support",
        ),
        (
            "Qwen3-Coder-480B-A35B-Instruct/GenSync-JSONSchema.json",
            ServerError,
            "Internal server error",
        ),
        (
            "Qwen3-Coder-480B-A35B-Instruct/GenStream-JSONSchema.json",
            ServerError,
            "Internal server error",
        ),
    ],
)
def test_recorded_json_schema_errors_are_typed(
    srv: FakeServer, path: str, error: type[Exception], message: str
) -> None:
    (interaction,) = recorded(FIXTURES / "genai" / path)
    chat = hf(srv)
    chat._echo_stream = io.StringIO()
    srv.enqueue(Reply.from_recording(interaction["response"]))
    is_fruit = type_from_schema(
        {
            "type": "object",
            "properties": {"is_fruit": {"type": "boolean"}},
            "required": ["is_fruit"],
            "additionalProperties": False,
        }
    )
    streamed = "GenStream" in path
    with pytest.raises(error, match=message):
        chat.chat_structured(
            "Is a banana a fruit?", type=is_fruit, echo="output" if streamed else "none"
        )
    assert srv.requests[0].json["stream"] is streamed
    assert chat.get_turns() == []
