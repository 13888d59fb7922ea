"""Tests for ``ellmer_py._params``: ``params()`` and ``standardise_params()``."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ellmer_py._errors import ConfigurationError
from ellmer_py._params import STANDARD_PARAMS, Params, params, standardise_params

# The OpenAI chat-completions mapping described in DESIGN.md (wire -> standard).
OPENAI_WIRE = {
    "temperature": "temperature",
    "top_p": "top_p",
    "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty",
    "seed": "seed",
    "max_completion_tokens": "max_tokens",
    "logprobs": "log_probs",
    "stop": "stop_sequences",
    "reasoning_effort": "reasoning_effort",
}


# --- params() ------------------------------------------------------------------


def test_no_arguments_gives_empty_params() -> None:
    p = params()
    assert p == Params({}, {})
    assert dict(p.standard) == {}
    assert dict(p.extra_args) == {}


def test_only_set_values_are_kept() -> None:
    p = params(temperature=0.2, seed=42)
    assert dict(p.standard) == {"temperature": 0.2, "seed": 42}
    assert dict(p.extra_args) == {}


def test_every_standard_param() -> None:
    p = params(
        temperature=1,
        top_p=0.9,
        top_k=40,
        frequency_penalty=-0.5,
        presence_penalty=1.5,
        seed=0,
        max_tokens=100,
        log_probs=False,
        stop_sequences=["END", "STOP"],
        reasoning_effort="low",
        reasoning_tokens=0,
    )
    assert dict(p.standard) == {
        "temperature": 1,
        "top_p": 0.9,
        "top_k": 40,
        "frequency_penalty": -0.5,
        "presence_penalty": 1.5,
        "seed": 0,
        "max_tokens": 100,
        "log_probs": False,
        "stop_sequences": ["END", "STOP"],
        "reasoning_effort": "low",
        "reasoning_tokens": 0,
    }
    assert set(p.standard) == set(STANDARD_PARAMS)


def test_falsy_values_are_kept() -> None:
    p = params(temperature=0, seed=0, log_probs=False, stop_sequences=[], top_k=0)
    assert dict(p.standard) == {
        "temperature": 0,
        "seed": 0,
        "log_probs": False,
        "stop_sequences": [],
        "top_k": 0,
    }


def test_explicit_none_is_unset() -> None:
    assert dict(params(temperature=None, seed=None).standard) == {}


def test_positional_order_matches_r() -> None:
    p = params(0.1, 0.2, 3, 0.4, 0.5, 6, 7, True, ["x"], "high", 11)
    assert dict(p.standard) == {
        "temperature": 0.1,
        "top_p": 0.2,
        "top_k": 3,
        "frequency_penalty": 0.4,
        "presence_penalty": 0.5,
        "seed": 6,
        "max_tokens": 7,
        "log_probs": True,
        "stop_sequences": ["x"],
        "reasoning_effort": "high",
        "reasoning_tokens": 11,
    }


def test_stop_sequences_string_becomes_a_list() -> None:
    assert dict(params(stop_sequences="END").standard) == {"stop_sequences": ["END"]}


def test_stop_sequences_tuple_becomes_a_list() -> None:
    seqs = ("a", "b")
    assert params(stop_sequences=seqs).standard["stop_sequences"] == ["a", "b"]


def test_stop_sequences_list_is_copied() -> None:
    seqs = ["a"]
    p = params(stop_sequences=seqs)
    seqs.append("b")
    assert p.standard["stop_sequences"] == ["a"]


def test_extra_kwargs_pass_through() -> None:
    p = params(temperature=0.5, logit_bias={"50256": -100}, user="u1", n=None)
    assert dict(p.standard) == {"temperature": 0.5}
    assert dict(p.extra_args) == {"logit_bias": {"50256": -100}, "user": "u1", "n": None}


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"temperature": "hot"}, "temperature"),
        ({"temperature": -0.1}, "temperature"),
        ({"temperature": True}, "temperature"),
        ({"top_p": -1}, "top_p"),
        ({"top_p": [0.5]}, "top_p"),
        ({"top_k": 1.5}, "top_k"),
        ({"top_k": -1}, "top_k"),
        ({"top_k": "10"}, "top_k"),
        ({"frequency_penalty": "0"}, "frequency_penalty"),
        ({"presence_penalty": False}, "presence_penalty"),
        ({"seed": 1.0}, "seed"),
        ({"seed": "42"}, "seed"),
        ({"seed": True}, "seed"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": -5}, "max_tokens"),
        ({"max_tokens": 10.0}, "max_tokens"),
        ({"log_probs": 1}, "log_probs"),
        ({"log_probs": "yes"}, "log_probs"),
        ({"stop_sequences": ["a", 1]}, "stop_sequences"),
        ({"stop_sequences": [None]}, "stop_sequences"),
        ({"stop_sequences": b"END"}, "stop_sequences"),
        ({"stop_sequences": 5}, "stop_sequences"),
        ({"reasoning_effort": 3}, "reasoning_effort"),
        ({"reasoning_tokens": -1}, "reasoning_tokens"),
        ({"reasoning_tokens": 2.5}, "reasoning_tokens"),
    ],
)
def test_bad_values_raise_configuration_error(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        params(**kwargs)
    assert f"params({name}=...)" in str(info.value)


def test_configuration_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"params\(max_tokens=\.\.\.\) must be at least 1"):
        params(max_tokens=0)


def test_params_is_frozen() -> None:
    p = params(seed=1)
    with pytest.raises(AttributeError):
        p.standard = {}  # type: ignore[misc]


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "temperature": st.floats(min_value=0, max_value=2),
            "top_p": st.floats(min_value=0, max_value=1),
            "top_k": st.integers(min_value=0, max_value=1000),
            "seed": st.integers(),
            "max_tokens": st.integers(min_value=1, max_value=10**6),
            "log_probs": st.booleans(),
            "reasoning_effort": st.sampled_from(["low", "medium", "high"]),
        },
    )
)
def test_standard_holds_exactly_what_was_given(kwargs: dict[str, Any]) -> None:
    assert dict(params(**kwargs).standard) == kwargs


# --- standardise_params() --------------------------------------------------------


def test_standardise_none_is_empty() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert standardise_params(None, OPENAI_WIRE) == {}


def test_standardise_maps_wire_names() -> None:
    p = params(temperature=0.3, max_tokens=50, log_probs=True, stop_sequences="END", seed=7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        body = standardise_params(p, OPENAI_WIRE)
    assert body == {
        "temperature": 0.3,
        "max_completion_tokens": 50,
        "logprobs": True,
        "stop": ["END"],
        "seed": 7,
    }


def test_standardise_huggingface_style_max_tokens() -> None:
    wire = {**OPENAI_WIRE, "max_tokens": "max_tokens"}
    del wire["max_completion_tokens"]
    assert standardise_params(params(max_tokens=9), wire) == {"max_tokens": 9}


def test_standardise_no_warning_when_all_supported(recwarn: pytest.WarningsRecorder) -> None:
    standardise_params(params(temperature=1, top_p=0.5), OPENAI_WIRE)
    assert len(recwarn) == 0


def test_standardise_one_warning_lists_every_unsupported_name() -> None:
    p = params(temperature=0.1, top_k=5, reasoning_tokens=100, seed=1)
    with pytest.warns(UserWarning) as record:
        body = standardise_params(p, OPENAI_WIRE)
    assert len(record) == 1
    message = str(record[0].message)
    assert message == "Ignoring unsupported parameters: 'top_k', 'reasoning_tokens'"
    assert body == {"temperature": 0.1, "seed": 1}


def test_standardise_warning_points_at_the_caller() -> None:
    # stacklevel=3: the warning belongs to whoever called the provider code
    # that called standardise_params, not to _params.py.
    def provider_code() -> dict[str, Any]:
        return standardise_params(params(top_k=1), {})

    with pytest.warns(UserWarning) as record:
        provider_code()
    assert len(record) == 1
    assert record[0].filename == __file__


def test_standardise_extra_args_pass_through() -> None:
    p = params(temperature=0.1, top_k=3, logit_bias={"1": 2}, top_k_custom=4)
    with pytest.warns(UserWarning, match="'top_k'") as record:
        body = standardise_params(p, OPENAI_WIRE)
    assert len(record) == 1
    assert "top_k_custom" not in str(record[0].message)
    assert body == {"temperature": 0.1, "logit_bias": {"1": 2}, "top_k_custom": 4}


def test_standardise_extra_args_override_mapped_values() -> None:
    p = params(max_tokens=10, max_completion_tokens=20)
    assert standardise_params(p, OPENAI_WIRE) == {"max_completion_tokens": 20}


def test_standardise_does_not_mutate_params() -> None:
    p = params(temperature=0.1, logit_bias={"1": 2})
    body = standardise_params(p, OPENAI_WIRE)
    body["extra"] = 1
    assert dict(p.standard) == {"temperature": 0.1}
    assert dict(p.extra_args) == {"logit_bias": {"1": 2}}


@given(st.sets(st.sampled_from(STANDARD_PARAMS)), st.sets(st.sampled_from(STANDARD_PARAMS)))
def test_standardise_property(given_names: set[str], supported: set[str]) -> None:
    values = {
        "temperature": 0.5,
        "top_p": 0.5,
        "top_k": 5,
        "frequency_penalty": 0.0,
        "presence_penalty": 0.0,
        "seed": 1,
        "max_tokens": 10,
        "log_probs": True,
        "stop_sequences": ["x"],
        "reasoning_effort": "low",
        "reasoning_tokens": 10,
    }
    p = params(**{name: values[name] for name in given_names})
    wire = {"wire_" + name: name for name in supported}
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        body = standardise_params(p, wire)
    unsupported = [n for n in STANDARD_PARAMS if n in given_names and n not in supported]
    if unsupported:
        assert len(record) == 1
        assert issubclass(record[0].category, UserWarning)
        for name in unsupported:
            assert repr(name) in str(record[0].message)
    else:
        assert record == []
    assert body == {"wire_" + n: values[n] for n in given_names & supported}
