"""pydantic models as structured-output types and tool arguments (ellmer_py._pydantic).

A model goes wherever a dataclass goes: ``chat_structured(type=Model)``
sends its schema (references inlined, OpenAI strict) and returns a model
instance validated by pydantic; ``list[Model]``, a model inside a dataclass
or a TypedDict, ``parallel_chat_structured()`` and tool arguments work the
same way. pydantic stays optional: ellmer-py never imports it itself.
Requests go to the loopback FakeServer of tests/test_structured.py.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Annotated, Any, Literal, TypedDict

import pytest
from pydantic import BaseModel, ConfigDict, Field, field_validator
from test_structured import answer, clean_env, hf  # noqa: F401
from test_tools import call, calls_answer, messages, text_answer

from ellmer_py import (
    ConfigurationError,
    StructuredOutputError,
    parallel_chat_structured,
    tool,
    type_array,
    type_from_schema,
)
from ellmer_py._protocols._schema import strict_schema
from ellmer_py._pydantic import is_pydantic_model
from ellmer_py._structured import StructureError, structure
from ellmer_py.conformance.fake_server import FakeServer, RecordedRequest, Reply


class Mood(enum.Enum):
    """How they feel."""

    HAPPY = "happy"
    SAD = "sad"


class Address(BaseModel):
    """Where someone lives."""

    city: str
    postcode: str | None = None


class Person(BaseModel):
    """A person."""

    name: str = Field(description="Their full name")
    age: int
    mood: Mood = Mood.HAPPY
    home: Address = Field(description="Their home")
    pets: list[str] = []
    nickname: str | None
    kind: Literal["human", "robot"] = "human"


class Loud(BaseModel):
    word: str

    @field_validator("word")
    @classmethod
    def shouting(cls, value: str) -> str:
        if value != value.upper():
            raise ValueError("must be in capitals")
        return value


class Aliased(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    first_name: str = Field(alias="firstName")


class Node(BaseModel):
    value: int
    children: list[Node] = []


@dataclasses.dataclass
class Household:
    owner: Person
    addresses: list[Address]


class Registry(TypedDict):
    count: int
    main: Address


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server
    assert not server.errors, server.errors


def sent_schema(request: RecordedRequest) -> dict[str, Any]:
    schema: dict[str, Any] = request.json["response_format"]["json_schema"]["schema"]
    return schema


def keys_anywhere(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value).union(*(keys_anywhere(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(keys_anywhere(v) for v in value))
    return set()


ANN = {
    "name": "Ann Lee",
    "age": 30,
    "mood": "sad",
    "home": {"city": "Oslo", "postcode": None},
    "pets": None,
    "nickname": None,
    "kind": None,
}


# -- pydantic stays optional ---------------------------------------------------------------


def test_ellmer_py_never_imports_pydantic_itself() -> None:
    """A dataclass round trip, a tool and as_type() leave pydantic unimported."""
    code = textwrap.dedent(
        """
        import dataclasses, sys
        import ellmer_py
        from ellmer_py import chat_huggingface, tool, type_array
        from ellmer_py.conformance.fake_server import FakeServer, Reply

        @dataclasses.dataclass
        class P:
            name: str

        def f(p: P, n: int) -> str:
            return p.name * n

        tool(f, "Repeat")
        type_array(P)
        reply = {"choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": '{"name": "A"}'}}]}
        with FakeServer() as srv:
            srv.enqueue(Reply.json(reply))
            chat = chat_huggingface(base_url=srv.base_url, credentials=lambda: "k",
                                    model="m", echo="none", max_tries=1)
            assert chat.chat_structured("x", type=P) == P("A")
        loaded = sorted(m for m in sys.modules if m.split(".")[0] == "pydantic")
        assert not loaded, loaded
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_what_is_a_model() -> None:
    assert is_pydantic_model(Person) and is_pydantic_model(BaseModel)
    assert not is_pydantic_model(Person(**{**ANN, "pets": [], "kind": "human"}))
    assert not is_pydantic_model(Household) and not is_pydantic_model(list[Person])
    assert not is_pydantic_model(dict)


# -- chat_structured() -------------------------------------------------------------------


def test_a_model_is_sent_as_a_strict_schema_and_comes_back_as_an_instance(
    srv: FakeServer,
) -> None:
    chat = hf(srv)
    srv.enqueue(answer(json.dumps(ANN)))
    person = chat.chat_structured("Ann Lee, 30, sad, lives in Oslo", type=Person)
    assert isinstance(person, Person)
    assert person == Person(
        name="Ann Lee",
        age=30,
        mood=Mood.SAD,
        home=Address(city="Oslo"),
        pets=[],  # null means "the default", as for dataclasses
        nickname=None,
        kind="human",
    )
    schema = sent_schema(srv.requests[0])
    assert srv.requests[0].json["response_format"]["json_schema"]["strict"] is True
    assert schema["description"] == "A person."
    assert schema["required"] == ["name", "age", "mood", "home", "pets", "nickname", "kind"]
    assert schema["additionalProperties"] is False
    props = schema["properties"]
    assert props["name"] == {"type": "string", "description": "Their full name"}
    assert props["age"] == {"type": "integer", "description": ""}
    assert props["mood"] == {
        "type": ["string", "null"],
        "description": "How they feel.",
        "enum": ["happy", "sad", None],
    }
    assert props["home"]["description"] == "Their home"  # the field's, not the docstring
    assert props["home"]["required"] == ["city", "postcode"]
    assert props["home"]["properties"]["postcode"]["type"] == ["string", "null"]
    assert props["home"]["additionalProperties"] is False
    assert props["pets"]["type"] == ["array", "null"]
    assert props["nickname"]["type"] == ["string", "null"]
    assert props["kind"]["enum"] == ["human", "robot", None]
    assert not keys_anywhere(schema) & {"$ref", "$defs", "title", "default"}


def test_convert_false_gives_the_json(srv: FakeServer) -> None:
    chat = hf(srv)
    srv.enqueue(answer(json.dumps(ANN)))
    assert chat.chat_structured("Ann", type=Person, convert=False) == ANN


def test_what_pydantic_refuses_is_a_structured_output_error(srv: FakeServer) -> None:
    chat = hf(srv)
    srv.enqueue(answer('{"word": "quiet"}'))
    with pytest.raises(StructuredOutputError) as info:
        chat.chat_structured("Shout", type=Loud)
    message = str(info.value)
    assert "could not be converted to Loud" in message
    assert "word: Value error, must be in capitals" in message
    assert info.value.data == {"word": "quiet"}
    assert len(chat.get_turns()) == 2  # the turns are kept


def test_an_answer_missing_a_field_lists_the_problem(srv: FakeServer) -> None:
    chat = hf(srv)
    srv.enqueue(answer('{"name": "Ann"}'))
    with pytest.raises(StructuredOutputError, match="does not fit the type") as info:
        chat.chat_structured("Ann", type=Person)
    assert any("age" in p for p in info.value.problems)
    assert len(chat.get_turns()) == 2


def test_aliases_are_the_keys(srv: FakeServer) -> None:
    chat = hf(srv)
    srv.enqueue(answer('{"firstName": "Ann"}'))
    assert chat.chat_structured("Ann", type=Aliased) == Aliased(first_name="Ann")
    assert list(sent_schema(srv.requests[0])["properties"]) == ["firstName"]


def test_lists_of_models_and_models_in_dataclasses_and_typeddicts(srv: FakeServer) -> None:
    chat = hf(srv)
    home = {"city": "Oslo", "postcode": "0150"}
    srv.enqueue(
        answer(json.dumps({"wrapper": [home, {"city": "Rome", "postcode": None}]})),
        answer(json.dumps({"owner": ANN, "addresses": [home]})),
        answer(json.dumps({"count": 1, "main": home})),
    )
    assert chat.chat_structured("a", type=list[Address]) == [
        Address(city="Oslo", postcode="0150"),
        Address(city="Rome"),
    ]
    household = chat.chat_structured("b", type=Household)
    assert isinstance(household.owner, Person) and household.owner.home == Address(city="Oslo")
    assert household.addresses == [Address(city="Oslo", postcode="0150")]
    registry = chat.chat_structured("c", type=Registry)
    assert registry == {"count": 1, "main": Address(city="Oslo", postcode="0150")}
    wrapped = sent_schema(srv.requests[0])["properties"]["wrapper"]
    assert wrapped["items"]["description"] == "Where someone lives."
    owner = sent_schema(srv.requests[1])["properties"]["owner"]
    assert owner["properties"]["home"]["additionalProperties"] is False


def test_a_union_of_models_is_described_and_validated() -> None:
    class Cat(BaseModel):
        meows: bool

    class Dog(BaseModel):
        barks: bool

    class Pet(BaseModel):
        animal: Cat | Dog

    schema = strict_schema(type_array(Pet))
    members = schema["items"]["properties"]["animal"]["anyOf"]
    assert [list(m["properties"]) for m in members] == [["meows"], ["barks"]]
    assert not keys_anywhere(schema) & {"$ref", "$defs"}
    assert structure({"animal": {"barks": True}}, Pet) == Pet(animal=Dog(barks=True))


def test_a_recursive_model_is_refused_before_any_request(srv: FakeServer) -> None:
    chat = hf(srv)
    with pytest.raises(ConfigurationError, match="Node refers to itself"):
        chat.chat_structured("tree", type=Node)
    assert srv.requests == []


def test_structure_errors_name_the_model() -> None:
    with pytest.raises(StructureError, match=r"Address refused it: city: Field required @ \$\[1\]"):
        structure([{"city": "Oslo"}, {}], list[Address])


def test_parallel_chat_structured_with_a_model(srv: FakeServer) -> None:
    def reply(request: RecordedRequest) -> Reply:
        name = request.json["messages"][-1]["content"]
        return answer(json.dumps({"city": name, "postcode": None}))

    srv.default = reply
    result = parallel_chat_structured(hf(srv), ["Oslo", "Rome"], Address)
    assert result == [Address(city="Oslo"), Address(city="Rome")]
    assert all(sent_schema(r)["required"] == ["city", "postcode"] for r in srv.requests)


def test_pydantic_v1_style_models() -> None:
    from pydantic import v1

    class Old(v1.BaseModel):
        """An old model."""

        a: int
        b: str | None = None
        inner: list[OldInner]

    class OldInner(v1.BaseModel):
        x: int

    Old.update_forward_refs(OldInner=OldInner)
    assert is_pydantic_model(Old)
    schema = strict_schema(type_array(Old).items)
    assert schema["description"] == "An old model."
    assert schema["required"] == ["a", "b", "inner"]
    assert schema["properties"]["b"]["type"] == ["string", "null"]
    assert schema["properties"]["inner"]["items"]["required"] == ["x"]
    got = structure({"a": 1, "b": None, "inner": [{"x": 2}]}, Old)
    assert isinstance(got, Old) and got.inner == [OldInner(x=2)]
    with pytest.raises(StructureError, match="Old refused it: a:"):
        structure({"a": "no", "inner": []}, Old)


# -- type_from_schema() ------------------------------------------------------------------


def test_type_from_schema_takes_a_model(srv: FakeServer) -> None:
    t = type_from_schema(Address)
    assert t.json["required"] == ["city"]
    assert t.json["properties"]["postcode"] == {"type": "string", "description": ""}
    chat = hf(srv)
    srv.enqueue(answer('{"city": "Oslo"}'))
    assert chat.chat_structured("Oslo", type=t) == {"city": "Oslo"}
    with pytest.raises(ConfigurationError, match="not the class Household"):
        type_from_schema(Household)


# -- tools --------------------------------------------------------------------------------


def test_a_tool_argument_that_is_a_model(srv: FakeServer) -> None:
    received: list[Any] = []

    def register(
        person: Person,
        note: Annotated[str, Field(description="Why they are registered")] = "",
    ) -> Address:
        """Register a person; returns where to send their card."""
        received.append((person, note))
        return person.home

    chat = hf(srv)
    chat.register_tool(tool(register))
    arguments = json.dumps({"person": {**ANN, "pets": ["cat"], "kind": "robot"}, "note": "new"})
    srv.enqueue(calls_answer(call("c1", "register", arguments)), text_answer("Done."))
    assert chat.chat("Register Ann") == "Done."
    assert received == [
        (
            Person(
                name="Ann Lee",
                age=30,
                mood=Mood.SAD,
                home=Address(city="Oslo"),
                pets=["cat"],
                nickname=None,
                kind="robot",
            ),
            "new",
        )
    ]
    function = srv.requests[0].json["tools"][0]["function"]
    params = function["parameters"]
    assert params["properties"]["note"]["description"] == "Why they are registered"
    person = params["properties"]["person"]
    assert person["description"] == "A person."
    assert person["properties"]["home"]["properties"]["city"]["type"] == "string"
    assert not keys_anywhere(params) & {"$ref", "$defs"}
    # the model the tool returned goes back as its JSON
    assert messages(srv.requests[1])[-1]["content"] == '{"city": "Oslo", "postcode": null}'


def test_a_tool_argument_pydantic_refuses(srv: FakeServer) -> None:
    def shout(loud: Loud) -> str:
        return loud.word

    chat = hf(srv)
    chat.register_tool(tool(shout, "Shout"))
    srv.enqueue(
        calls_answer(call("c1", "shout", '{"loud": {"word": "hi"}}')), text_answer("Sorry.")
    )
    with pytest.warns(UserWarning):
        chat.chat("Shout hi")
    result = messages(srv.requests[1])[-1]["content"]
    assert "Invalid argument loud" in result and "must be in capitals" in result
