"""Tests for ``ellmer_py._settings``: ELLMER_MAX_TRIES and ELLMER_TIMEOUT_S."""

from __future__ import annotations

import math

import pytest

from ellmer_py._errors import ConfigurationError
from ellmer_py._settings import DEFAULT_MAX_TRIES, DEFAULT_TIMEOUT_S, max_tries, timeout_s


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ELLMER_MAX_TRIES", raising=False)
    monkeypatch.delenv("ELLMER_TIMEOUT_S", raising=False)


def test_defaults_match_r() -> None:
    assert DEFAULT_MAX_TRIES == 3
    assert DEFAULT_TIMEOUT_S == 300.0
    assert max_tries() == 3
    assert timeout_s() == 300.0


@pytest.mark.parametrize("raw", ["", "   "])
def test_empty_env_means_default(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("ELLMER_MAX_TRIES", raw)
    monkeypatch.setenv("ELLMER_TIMEOUT_S", raw)
    assert max_tries() == 3
    assert timeout_s() == 300.0


@pytest.mark.parametrize(("raw", "expected"), [("1", 1), ("5", 5), (" 7 ", 7), ("2.0", 2)])
def test_max_tries_from_env(monkeypatch: pytest.MonkeyPatch, raw: str, expected: int) -> None:
    monkeypatch.setenv("ELLMER_MAX_TRIES", raw)
    value = max_tries()
    assert value == expected
    assert type(value) is int


@pytest.mark.parametrize(("raw", "expected"), [("10", 10.0), ("0.5", 0.5), ("1e3", 1000.0)])
def test_timeout_from_env(monkeypatch: pytest.MonkeyPatch, raw: str, expected: float) -> None:
    monkeypatch.setenv("ELLMER_TIMEOUT_S", raw)
    value = timeout_s()
    assert value == expected
    assert type(value) is float


def test_env_is_read_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELLMER_MAX_TRIES", "4")
    assert max_tries() == 4
    monkeypatch.setenv("ELLMER_MAX_TRIES", "6")
    assert max_tries() == 6
    monkeypatch.delenv("ELLMER_MAX_TRIES")
    assert max_tries() == 3


@pytest.mark.parametrize("raw", ["three", "0", "-1", "2.5", "nan", "inf", "1e400", "0x3"])
def test_bad_max_tries_env(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("ELLMER_MAX_TRIES", raw)
    with pytest.raises(ConfigurationError, match="ELLMER_MAX_TRIES") as info:
        max_tries()
    assert repr(raw) in str(info.value)


@pytest.mark.parametrize("raw", ["soon", "0", "-5", "nan", "inf", "-inf", "30s"])
def test_bad_timeout_env(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("ELLMER_TIMEOUT_S", raw)
    with pytest.raises(ConfigurationError, match="ELLMER_TIMEOUT_S") as info:
        timeout_s()
    assert repr(raw) in str(info.value)


def test_bad_env_error_is_a_value_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELLMER_TIMEOUT_S", "x")
    with pytest.raises(ValueError, match=r"ELLMER_TIMEOUT_S='x' is not a number"):
        timeout_s()


def test_each_variable_is_checked_on_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELLMER_MAX_TRIES", "bad")
    assert timeout_s() == 300.0
    monkeypatch.setenv("ELLMER_TIMEOUT_S", "bad")
    monkeypatch.setenv("ELLMER_MAX_TRIES", "2")
    assert max_tries() == 2


def test_keyword_wins_over_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELLMER_MAX_TRIES", "bad")
    monkeypatch.setenv("ELLMER_TIMEOUT_S", "bad")
    assert max_tries(5) == 5
    assert timeout_s(12) == 12.0
    assert type(timeout_s(12)) is float


@pytest.mark.parametrize("value", [0, -1, 2.5, True, "3"])
def test_bad_max_tries_keyword(value: object) -> None:
    with pytest.raises(ConfigurationError, match="max_tries"):
        max_tries(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [0, -1.0, math.nan, math.inf, True, "10"])
def test_bad_timeout_keyword(value: object) -> None:
    with pytest.raises(ConfigurationError, match="timeout_s"):
        timeout_s(value)  # type: ignore[arg-type]
