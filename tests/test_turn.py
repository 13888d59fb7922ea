"""Turns: frozen slotted messages with a role, tuples of contents and accounting."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from ellmer_py import (
    AssistantPartialTurn,
    AssistantTurn,
    ContentImageInline,
    ContentJson,
    ContentText,
    ContentThinking,
    SystemTurn,
    Tokens,
    Turn,
    UserTurn,
)

TURN_CLASSES = [UserTurn, SystemTurn, AssistantTurn, AssistantPartialTurn]


@pytest.mark.parametrize("cls", [*TURN_CLASSES, Tokens], ids=lambda c: c.__name__)
def test_turns_are_frozen_slotted_attrs_classes(cls: type[Any]) -> None:
    value = cls()
    assert attrs.has(cls)
    assert "__slots__" in cls.__dict__
    assert not hasattr(value, "__dict__")
    field = attrs.fields(cls)[0].name
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(value, field, ())
    with pytest.raises((AttributeError, TypeError)):
        value.not_a_field = 1


@pytest.mark.parametrize(
    ("cls", "role"),
    [
        (UserTurn, "user"),
        (SystemTurn, "system"),
        (AssistantTurn, "assistant"),
        (AssistantPartialTurn, "assistant"),
    ],
)
def test_role_per_class(cls: type[Turn], role: str) -> None:
    assert cls.role == role
    assert cls("x").role == role
    assert isinstance(cls("x"), Turn)


def test_partial_turn_is_an_assistant_turn_with_a_reason() -> None:
    turn = AssistantPartialTurn("Once upon", finish_reason=None, reason="connection cut")
    assert isinstance(turn, AssistantTurn)
    assert turn.reason == "connection cut"
    assert turn.text == "Once upon"
    assert AssistantPartialTurn().reason == ""


def test_contents_become_a_tuple() -> None:
    image = ContentImageInline("image/png", b"\x00")
    assert UserTurn([ContentText("a"), image]).contents == (ContentText("a"), image)
    assert UserTurn(c for c in ["a", "b"]).contents == (ContentText("a"), ContentText("b"))
    assert UserTurn(("a",)).contents == (ContentText("a"),)
    assert UserTurn().contents == ()
    assert type(UserTurn(["a"]).contents) is tuple


def test_a_string_or_a_single_content_is_one_content() -> None:
    assert UserTurn("hello").contents == (ContentText("hello"),)
    assert UserTurn(ContentJson([1])).contents == (ContentJson([1]),)
    assert UserTurn(["a", ContentJson(1), "b"]).contents == (
        ContentText("a"),
        ContentJson(1),
        ContentText("b"),
    )


def test_a_non_content_item_is_a_clear_type_error() -> None:
    with pytest.raises(TypeError) as info:
        UserTurn(["fine", 42])
    assert str(info.value) == "A turn's contents must be strings or Content objects, not int."


@pytest.mark.parametrize(
    ("value", "name"), [(42, "int"), (None, "NoneType"), (b"hi", "bytes"), ({"a": 1}, "dict")]
)
def test_contents_that_are_not_a_sequence_are_a_clear_type_error(value: Any, name: str) -> None:
    with pytest.raises(TypeError) as info:
        UserTurn(value)
    assert str(info.value) == (
        f"A turn's contents must be a string, a Content, or a sequence of those, not {name}."
    )


def test_text_joins_the_text_contents_only() -> None:
    turn = AssistantTurn(["Hello", ContentThinking("hmm"), ContentJson({"a": 1}), ", world"])
    assert turn.text == "Hello, world"
    assert str(turn) == "Hello, world"
    assert UserTurn().text == ""
    assert UserTurn([ContentJson(1)]).text == ""


def _answer(**changes: Any) -> AssistantTurn:
    """An assistant turn with every field set; ``changes`` override some."""
    fields: dict[str, Any] = {
        "contents": ["Hi"],
        "tokens": Tokens(10, 2, 1),
        "cost": 0.5,
        "finish_reason": "stop",
        "duration": 1.25,
        "json": {"id": "chatcmpl-1"},
    }
    return AssistantTurn(**{**fields, **changes})


def test_assistant_equality_ignores_json_and_duration() -> None:
    assert _answer() == _answer(json={"id": "other"}, duration=99.0)
    assert _answer() == _answer(json=None, duration=None)


@pytest.mark.parametrize(
    "changes",
    [
        {"tokens": Tokens(10, 3, 1)},
        {"tokens": None},
        {"finish_reason": "length"},
        {"contents": ["Hi!"]},
        {"contents": ["Hi", ContentJson(1)]},
        {"cost": 0.25},
    ],
    ids=lambda c: next(iter(c)),
)
def test_assistant_equality_sees_tokens_finish_reason_contents_cost(
    changes: dict[str, Any],
) -> None:
    assert _answer() != _answer(**changes)


def test_partial_and_complete_turns_are_never_equal() -> None:
    assert AssistantPartialTurn("x") != AssistantTurn("x")
    assert AssistantPartialTurn("x", reason="a") != AssistantPartialTurn("x", reason="b")
    assert UserTurn("x") != SystemTurn("x")


def test_repr_does_not_dump_inline_bytes_or_raw_json() -> None:
    payload = bytes(range(256)) * 100
    turn = AssistantTurn(
        [ContentImageInline("image/png", payload)], json={"raw": "x" * 10_000}, duration=0.5
    )
    assert repr(turn) == (
        "AssistantTurn(contents=(ContentImageInline(type='image/png', data=<25600 bytes>),), "
        "tokens=None, cost=None, finish_reason=None, duration=0.5)"
    )
    user = UserTurn(["look", ContentImageInline("image/jpeg", payload)])
    assert repr(user) == (
        "UserTurn(contents=(ContentText(text='look'), "
        "ContentImageInline(type='image/jpeg', data=<25600 bytes>)))"
    )


def test_tokens_add_field_by_field() -> None:
    assert Tokens(1, 2, 3) + Tokens(10, 20, 30) == Tokens(11, 22, 33)
    assert Tokens() == Tokens(0, 0, 0)
