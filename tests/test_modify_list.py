"""Tests for ``ellmer_py._modify_list.modify_list`` (R: ``modifyList``)."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from strategies import json_dicts, json_keys, json_values

from ellmer_py._modify_list import modify_list


def reference(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """An independent statement of the rules, written from the docs."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict):
            old = out.get(key)
            out[key] = reference(old if isinstance(old, dict) else {}, value)
        else:
            out[key] = copy.deepcopy(value)
    return out


# --- worked examples (R's ?modifyList, and the api_args use) -------------------


def test_r_docs_example() -> None:
    # R: foo <- list(a = 1, b = list(c = "a", d = FALSE))
    foo = {"a": 1, "b": {"c": "a", "d": False}}
    # R: bar <- modifyList(foo, list(e = 2, b = list(d = TRUE)))
    bar = modify_list(foo, {"e": 2, "b": {"d": True}})
    assert bar == {"a": 1, "b": {"c": "a", "d": True}, "e": 2}
    # R: modifyList(bar, list(b = list(d = NULL)))  -> b$d removed
    assert modify_list(bar, {"b": {"d": None}}) == {"a": 1, "b": {"c": "a"}, "e": 2}
    # R: modifyList(bar, list(a = NULL, e = NULL))  -> a and e removed
    assert modify_list(bar, {"a": None, "e": None}) == {"b": {"c": "a", "d": True}}
    assert foo == {"a": 1, "b": {"c": "a", "d": False}}


def test_api_args_example() -> None:
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.5,
    }
    api_args = {
        "temperature": None,
        "stream_options": {"include_usage": False, "extra": 1},
        "messages": [],
        "provider": {"order": ["a", "b"]},
    }
    assert modify_list(body, api_args) == {
        "model": "m",
        "messages": [],
        "stream": True,
        "stream_options": {"include_usage": False, "extra": 1},
        "provider": {"order": ["a", "b"]},
    }


def test_lists_replace_rather_than_merge() -> None:
    assert modify_list({"stop": ["a", "b"]}, {"stop": ["c"]}) == {"stop": ["c"]}
    assert modify_list({"x": [{"a": 1}]}, {"x": [{"b": 2}]}) == {"x": [{"b": 2}]}


def test_dict_replaces_scalar_and_scalar_replaces_dict() -> None:
    assert modify_list({"a": 1}, {"a": {"b": 2}}) == {"a": {"b": 2}}
    assert modify_list({"a": [1]}, {"a": {"b": 2}}) == {"a": {"b": 2}}
    assert modify_list({"a": {"b": 2}}, {"a": 1}) == {"a": 1}
    assert modify_list({"a": {"b": 2}}, {"a": [1]}) == {"a": [1]}


def test_nested_none_over_a_scalar_leaves_an_empty_dict() -> None:
    assert modify_list({"a": 1}, {"a": {"b": None}}) == {"a": {}}
    assert modify_list({}, {"a": {"b": None, "c": 3}}) == {"a": {"c": 3}}


def test_empty_nested_update_keeps_the_old_dict() -> None:
    assert modify_list({"a": {"b": 1}}, {"a": {}}) == {"a": {"b": 1}}
    assert modify_list({"a": 1}, {"a": {}}) == {"a": {}}


def test_falsy_values_replace() -> None:
    base = {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}
    update = {"a": 0, "b": False, "c": "", "d": [], "e": 0.0}
    assert modify_list(base, update) == update


def test_none_for_a_missing_key_is_harmless() -> None:
    assert modify_list({"a": 1}, {"zz": None}) == {"a": 1}


def test_none_inside_a_list_is_kept() -> None:
    assert modify_list({"a": 1}, {"a": [None, {"b": None}]}) == {"a": [None, {"b": None}]}


def test_none_update_is_identity() -> None:
    base = {"a": {"b": 1}}
    out = modify_list(base, None)
    assert out == base
    assert out is not base


def test_result_does_not_alias_update_dicts() -> None:
    update = {"a": {"b": {"c": 1}}}
    out = modify_list({}, update)
    out["a"]["b"]["c"] = 2
    out["a"]["new"] = 3
    assert update == {"a": {"b": {"c": 1}}}


def test_key_order_base_first_then_new_keys() -> None:
    out = modify_list({"b": 1, "a": 2}, {"c": 3, "a": 4})
    assert list(out) == ["b", "a", "c"]


# --- laws ------------------------------------------------------------------------


@given(json_dicts)
def test_empty_update_is_identity(base: dict[str, Any]) -> None:
    out = modify_list(base, {})
    assert out == base
    assert out is not base


@given(json_dicts, json_dicts)
def test_matches_the_reference(base: dict[str, Any], update: dict[str, Any]) -> None:
    assert modify_list(base, update) == reference(base, update)


@given(json_dicts, json_dicts)
def test_idempotent(base: dict[str, Any], update: dict[str, Any]) -> None:
    once = modify_list(base, update)
    assert modify_list(once, update) == once


@given(json_dicts, json_dicts)
def test_inputs_are_not_mutated(base: dict[str, Any], update: dict[str, Any]) -> None:
    base_before = copy.deepcopy(base)
    update_before = copy.deepcopy(update)
    out = modify_list(base, update)
    assert base == base_before
    assert update == update_before
    assert out is not base
    assert out is not update


@given(json_dicts, json_dicts)
def test_keys_after_merge(base: dict[str, Any], update: dict[str, Any]) -> None:
    out = modify_list(base, update)
    deleted = {k for k, v in update.items() if v is None}
    assert set(out) == (set(base) | set(update)) - deleted


@given(json_dicts, json_keys)
def test_none_deletes_a_top_level_key(base: dict[str, Any], key: str) -> None:
    out = modify_list(base, {key: None})
    assert key not in out
    assert out == {k: v for k, v in base.items() if k != key}


@given(json_dicts, json_keys, json_keys)
def test_none_deletes_a_nested_key(base: dict[str, Any], outer: str, inner: str) -> None:
    out = modify_list(base, {outer: {inner: None}})
    old = base.get(outer)
    expected_inner = {k: v for k, v in old.items() if k != inner} if isinstance(old, dict) else {}
    assert out[outer] == expected_inner
    assert {k: v for k, v in out.items() if k != outer} == {
        k: v for k, v in base.items() if k != outer
    }


@given(json_dicts, json_keys, json_dicts, json_dicts)
def test_nested_dicts_merge(
    base: dict[str, Any], key: str, old: dict[str, Any], new: dict[str, Any]
) -> None:
    out = modify_list({**base, key: old}, {key: new})
    assert out[key] == modify_list(old, new)


@given(
    json_dicts,
    json_keys,
    json_values.filter(lambda v: v is not None and not isinstance(v, dict)),
)
def test_everything_but_dicts_and_none_replaces(base: dict[str, Any], key: str, value: Any) -> None:
    out = modify_list(base, {key: value})
    assert out[key] == value


@given(json_dicts, st.lists(json_dicts, max_size=3))
def test_sequential_updates_match_the_reference(
    base: dict[str, Any], updates: list[dict[str, Any]]
) -> None:
    out, ref = base, base
    for update in updates:
        out = modify_list(out, update)
        ref = reference(ref, update)
    assert out == ref
