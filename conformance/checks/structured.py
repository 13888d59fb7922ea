"""Structured output: every ``type_*()`` and a dataclass, streamed and not."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from ellmer_py import (
    StructuredOutputError,
    type_array,
    type_boolean,
    type_enum,
    type_from_schema,
    type_integer,
    type_number,
    type_object,
    type_string,
)

from .._context import Context
from .._protocol import Answer, Usage
from ..fake_server import FakeServer, Reply
from ._common import _check, _extract, _last_request_json, _short
from .limitations import _usable_model


@dataclasses.dataclass
class ConformancePerson:
    """A person the conformance suite extracts.

    Args:
        name: The person's name.
        age: The age in years.
    """

    name: str
    age: int


@dataclasses.dataclass(frozen=True)
class _Case:
    """One type for chat_structured(): its JSON schema, an answer that fits, one that does not."""

    label: str
    type: Any
    schema: dict[str, Any]
    value: Any
    result: Any
    misfit: Any


_FROM_SCHEMA = {
    "type": "object",
    "properties": {"x": {"type": "number", "description": "A number."}},
    "required": ["x"],
    "additionalProperties": False,
}
_PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


def _structured_cases() -> list[_Case]:
    person = {
        **_PERSON,
        "description": "A person the conformance suite extracts.",
        "properties": {
            "name": {"type": "string", "description": "The person's name."},
            "age": {"type": "integer", "description": "The age in years."},
        },
    }
    ada = {"name": "Ada", "age": 36}
    return [
        _Case("type_boolean()", type_boolean(), {"type": "boolean"}, True, True, "yes"),
        _Case("type_integer()", type_integer(), {"type": "integer"}, 42, 42, 4.5),
        _Case("type_number()", type_number(), {"type": "number"}, 2.5, 2.5, "2.5"),
        _Case(
            "type_string('A word.')",
            type_string("A word."),
            {"type": "string", "description": "A word."},
            "ellmer",
            "ellmer",
            7,
        ),
        _Case(
            "type_enum(['red', 'green'])",
            type_enum(["red", "green"]),
            {"type": "string", "enum": ["red", "green"]},
            "green",
            "green",
            "blue",
        ),
        _Case(
            "type_array(type_integer())",
            type_array(type_integer()),
            {"type": "array", "items": {"type": "integer"}},
            [1, 2, 3],
            [1, 2, 3],
            [1, "two"],
        ),
        _Case(
            "type_object(name=type_string(), age=type_integer())",
            type_object(name=type_string(), age=type_integer()),
            _PERSON,
            ada,
            ada,
            {"name": "Ada"},
        ),
        _Case(
            "type_from_schema(...)",
            type_from_schema(json.dumps(_FROM_SCHEMA)),
            _FROM_SCHEMA,
            {"x": 1.5},
            {"x": 1.5},
            {"x": "no"},
        ),
        _Case(
            "a dataclass",
            ConformancePerson,
            person,
            ada,
            ConformancePerson("Ada", 36),
            {"name": "Ada", "age": "old"},
        ),
    ]


def _plain_schema(schema: Any) -> Any:
    """The schema without empty descriptions (ellmer sends ``"description": ""``)."""
    if isinstance(schema, Mapping):
        return {
            k: _plain_schema(v) for k, v in schema.items() if not (k == "description" and v == "")
        }
    if isinstance(schema, list):
        return [_plain_schema(v) for v in schema]
    return schema


def _wrapper(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"wrapper": schema},
        "required": ["wrapper"],
        "additionalProperties": False,
    }


def _answer_with(text: str, finish_reason: str = "stop") -> Answer:
    half = len(text) // 2
    return Answer(
        text_pieces=(text[:half], text[half:]),
        finish_reason=finish_reason,
        usage=Usage(input=9, output=4),
    )


def _structured_case(
    ctx: Context, srv: FakeServer, model: Mapping[str, Any], case: _Case, *, stream: bool
) -> None:
    fake = ctx.fake
    how = "streamed" if stream else "not streamed"
    label = f"chat_structured(type={case.label}) ({how})"
    wrapped = fake.needs_wrapper(case.schema)
    expected = _wrapper(case.schema) if wrapped else case.schema

    def data(value: Any) -> Any:
        return {"wrapper": value} if wrapped else value

    def reply(answer: Answer) -> Reply:
        return fake.stream(answer) if stream else fake.answer(answer)

    chat = ctx.make_chat(srv, **model)
    srv.enqueue(reply(_answer_with(json.dumps(data(case.value)))))
    before = len(srv.requests)
    try:
        got = _extract(chat, case.type, stream=stream)
    except Exception as exc:
        raise AssertionError(
            f"{label} raised {type(exc).__name__} for an answer that fits: {exc}"
        ) from None
    sent = fake.structured_schema(_last_request_json(srv, before))
    if sent is None:
        raise AssertionError(f"{label}: the request does not ask for structured output")
    assert _plain_schema(sent) == expected, (
        f"{label}: the request asks for the schema {_short(sent, 500)}, expected "
        f"{_short(expected, 500)} ({'wrapped in an object' if wrapped else 'not wrapped'})"
    )
    assert got == case.result and type(got) is type(case.result), (
        f"{label}: the answer {json.dumps(data(case.value))} gave {got!r}, expected "
        f"{case.result!r}" + (" (unwrapped)" if wrapped else "")
    )
    assert len(chat.get_turns()) == 2, f"{label}: expected 2 turns, got {chat.get_turns()}"

    chat = ctx.make_chat(srv, **model)
    srv.enqueue(reply(_answer_with(json.dumps(data(case.misfit)))))
    try:
        got = _extract(chat, case.type, stream=stream)
    except StructuredOutputError:
        pass
    except Exception as exc:
        raise AssertionError(
            f"{label}: an answer that does not fit raised {type(exc).__name__}, expected "
            f"StructuredOutputError: {exc}"
        ) from None
    else:
        raise AssertionError(
            f"{label}: the answer {json.dumps(data(case.misfit))} does not fit the type, but "
            f"gave {got!r} instead of raising StructuredOutputError"
        )
    assert len(chat.get_turns()) == 2, f"{label}: a rejected answer must still be recorded"


@_check
def check_structured(ctx: Context) -> None:
    """Structured output for every ``type_*()`` and a dataclass, streamed and not.

    The request asks for the type's JSON schema the way the protocol says
    (OpenAI: ``response_format`` ``json_schema``), wrapped in an object
    where the protocol wraps it (OpenAI: every non-object type) and
    unwrapped in the result; an answer that fits gives the value (a
    dataclass instance for a dataclass); one that does not fit, one that
    is not JSON, and one cut off (finish reason ``length``) raise
    StructuredOutputError, with the turns recorded. A model with a declared
    ``structured_output`` limitation refuses before any request.
    (R: ``$chat_structured()``, ``type_*()``.)
    """
    fake = ctx.fake
    with ctx.server() as srv:
        model = _usable_model(ctx, srv, "structured_output")
        if model is None:
            return
        cases = _structured_cases()
        for case in cases:
            for stream in (False, True):
                _structured_case(ctx, srv, model, case, stream=stream)
        person = cases[-1]
        text = json.dumps(person.value)
        for what, answer, needle in (
            (
                "a cut-off answer (finish reason length)",
                _answer_with(text[:12], "length"),
                "cut off",
            ),
            ("an answer that is not JSON", _answer_with("I would rather not say."), "not JSON"),
        ):
            for stream in (False, True):
                how = "streamed" if stream else "not streamed"
                chat = ctx.make_chat(srv, **model)
                srv.enqueue(fake.stream(answer) if stream else fake.answer(answer))
                try:
                    _extract(chat, person.type, stream=stream)
                except StructuredOutputError as exc:
                    assert needle in str(exc), (
                        f"{what} ({how}): the StructuredOutputError does not say {needle!r}: {exc}"
                    )
                except Exception as exc:
                    raise AssertionError(
                        f"{what} ({how}) raised {type(exc).__name__}, expected "
                        f"StructuredOutputError: {exc}"
                    ) from None
                else:
                    raise AssertionError(f"{what} ({how}) raised no StructuredOutputError")
                assert len(chat.get_turns()) == 2, f"{what} ({how}): the turns were not recorded"
