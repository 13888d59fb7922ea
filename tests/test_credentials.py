"""Tests of where keys come from (``ellmer_py._credentials``) and of ``api_key=`` rejection.

The Hugging Face chain is ``credentials=``, else ``HUGGINGFACE_API_KEY``, else
``HF_TOKEN``, else ``$HF_HOME/token`` (default ``~/.cache/huggingface/token``),
all read when a request goes out.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ellmer_py import (
    Chat,
    ConfigurationError,
    DeprecatedArgumentError,
    EllmerError,
    MissingCredentialsError,
    chat,
    chat_huggingface,
    chat_openai_compatible,
    list_providers,
)
from ellmer_py._registry import get_provider_spec
from ellmer_py.conformance.fake_server import FakeServer, Reply

CHAIN_VARS = ("HUGGINGFACE_API_KEY", "HF_TOKEN", "HF_HOME", "XDG_CACHE_HOME", "OPENAI_API_KEY")


def answer(text: str = "ok") -> Reply:
    """A minimal 200 chat-completions answer."""
    return Reply.json(
        {
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ]
        }
    )


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No ambient key anywhere; HF_HOME is an empty directory. Returns HF_HOME."""
    for name in CHAIN_VARS:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "hf-home"
    home.mkdir()
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HOME", str(tmp_path / "user-home"))
    monkeypatch.setenv("ELLMER_MAX_TRIES", "1")
    return home


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer(default=answer()) as server:
        yield server
    assert not server.errors, server.errors


def hf(srv: FakeServer, **kwargs: Any) -> Chat:
    """chat_huggingface against the fake server, quiet and quick."""
    return chat_huggingface(
        model="org/m", echo="none", base_url=srv.base_url, max_tries=1, timeout_s=5, **kwargs
    )


def auth(srv: FakeServer, index: int = -1) -> str | None:
    """The Authorization header of one recorded request."""
    return srv.requests[index].headers.get("authorization")


# --- the environment chain, read at request time --------------------------------------------


def test_huggingface_api_key_is_read_at_request_time(
    srv: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat = hf(srv)  # no key anywhere yet: constructing is fine
    monkeypatch.setenv("HUGGINGFACE_API_KEY", "hf_first")
    chat.chat("one")
    assert auth(srv) == "Bearer hf_first"
    monkeypatch.setenv("HUGGINGFACE_API_KEY", "hf_second")
    chat.chat("two")
    assert auth(srv) == "Bearer hf_second"
    assert [auth(srv, i) for i in range(2)] == ["Bearer hf_first", "Bearer hf_second"]


def test_huggingface_api_key_wins_over_hf_token_and_file(
    srv: FakeServer, monkeypatch: pytest.MonkeyPatch, clean_env: Path
) -> None:
    (clean_env / "token").write_text("hf_file\n")
    monkeypatch.setenv("HF_TOKEN", "hf_token_var")
    monkeypatch.setenv("HUGGINGFACE_API_KEY", "hf_api_key_var")
    hf(srv).chat("hi")
    assert auth(srv) == "Bearer hf_api_key_var"


def test_hf_token_is_second(
    srv: FakeServer, monkeypatch: pytest.MonkeyPatch, clean_env: Path
) -> None:
    (clean_env / "token").write_text("hf_file\n")
    monkeypatch.setenv("HF_TOKEN", "hf_token_var")
    chat = hf(srv)
    chat.chat("one")
    assert auth(srv) == "Bearer hf_token_var"
    monkeypatch.setenv("HUGGINGFACE_API_KEY", "hf_now_set")  # appears between two requests
    chat.chat("two")
    assert auth(srv) == "Bearer hf_now_set"


@pytest.mark.parametrize("blank", ["", "   ", "\n"])
def test_blank_variables_are_skipped(
    srv: FakeServer, monkeypatch: pytest.MonkeyPatch, clean_env: Path, blank: str
) -> None:
    monkeypatch.setenv("HUGGINGFACE_API_KEY", blank)
    monkeypatch.setenv("HF_TOKEN", "hf_token_var")
    hf(srv).chat("hi")
    assert auth(srv) == "Bearer hf_token_var"


def test_token_file_in_hf_home(
    srv: FakeServer, monkeypatch: pytest.MonkeyPatch, clean_env: Path
) -> None:
    chat = hf(srv)
    (clean_env / "token").write_text("  hf_from_file\n")
    chat.chat("one")
    assert auth(srv) == "Bearer hf_from_file"
    other = clean_env.parent / "other-home"
    other.mkdir()
    (other / "token").write_text("hf_other_file")
    monkeypatch.setenv("HF_HOME", str(other))  # HF_HOME is also read per request
    chat.chat("two")
    assert auth(srv) == "Bearer hf_other_file"


def test_default_token_file_under_home(
    srv: FakeServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("HF_HOME")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    home = tmp_path / "someone"
    token = home / ".cache" / "huggingface" / "token"
    token.parent.mkdir(parents=True)
    token.write_text("hf_default_location\n")
    monkeypatch.setenv("HOME", str(home))
    hf(srv).chat("hi")
    assert auth(srv) == "Bearer hf_default_location"


def test_token_file_under_xdg_cache_home(
    srv: FakeServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("HF_HOME")
    cache = tmp_path / "xdg"
    (cache / "huggingface").mkdir(parents=True)
    (cache / "huggingface" / "token").write_text("hf_xdg")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    hf(srv).chat("hi")
    assert auth(srv) == "Bearer hf_xdg"


def test_empty_token_file_counts_as_missing(srv: FakeServer, clean_env: Path) -> None:
    (clean_env / "token").write_text("\n")
    with pytest.raises(MissingCredentialsError):
        hf(srv).chat("hi")
    assert srv.requests == []


def test_missing_everywhere_names_all_three_places(srv: FakeServer, clean_env: Path) -> None:
    chat = hf(srv)
    with pytest.raises(MissingCredentialsError) as info:
        chat.chat("hi")
    message = str(info.value)
    assert "HUGGINGFACE_API_KEY" in message
    assert "HF_TOKEN" in message
    assert str(clean_env / "token") in message
    assert "credentials=" in message
    assert "https://huggingface.co/settings/tokens" in message
    assert "\n" not in message
    assert isinstance(info.value, ConfigurationError)
    assert isinstance(info.value, EllmerError)
    assert info.value.provider == "HuggingFace"
    assert srv.requests == []  # nothing was sent without a key
    assert chat.get_turns() == []


def test_missing_names_the_default_token_file(
    srv: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HF_HOME")
    with pytest.raises(MissingCredentialsError) as info:
        hf(srv).chat("hi")
    assert "~/.cache/huggingface/token" in str(info.value)


def test_missing_key_when_streaming(srv: FakeServer) -> None:
    chat = hf(srv)
    with pytest.raises(MissingCredentialsError):
        chat.chat("hi", echo="output")
    assert srv.requests == []
    assert chat.get_turns() == []


def test_openai_compatible_missing_key_names_openai_api_key(srv: FakeServer) -> None:
    chat = chat_openai_compatible(srv.base_url, model="m", echo="none")
    with pytest.raises(MissingCredentialsError) as info:
        chat.chat("hi")
    assert "OPENAI_API_KEY" in str(info.value)
    assert "credentials=" in str(info.value)
    assert srv.requests == []


# --- credentials= functions ---------------------------------------------------------------


def test_credentials_string_is_a_bearer_token(
    srv: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUGGINGFACE_API_KEY", "hf_env_should_not_be_used")
    hf(srv, credentials=lambda: "hf_from_function").chat("hi")
    assert auth(srv) == "Bearer hf_from_function"


def test_credentials_dict_is_sent_as_headers(srv: FakeServer) -> None:
    hf(srv, credentials=lambda: {"X-Api-Key": "k-123", "X-Org": "acme"}).chat("hi")
    headers = srv.requests[0].headers
    assert headers["x-api-key"] == "k-123"
    assert headers["x-org"] == "acme"
    assert "authorization" not in headers


def test_credentials_called_at_construction_and_per_request(srv: FakeServer) -> None:
    calls = itertools.count(1)
    seen: list[int] = []

    def rotating() -> str:
        n = next(calls)
        seen.append(n)
        return f"token-{n}"

    chat = hf(srv, credentials=rotating)
    assert seen == [1]  # checked once when the chat is made
    chat.chat("one")
    chat.chat("two", echo="output")
    chat.chat("three")
    assert seen == [1, 2, 3, 4]
    assert [auth(srv, i) for i in range(3)] == [
        "Bearer token-2",
        "Bearer token-3",
        "Bearer token-4",
    ]


def test_a_raising_credentials_function_fails_at_construction() -> None:
    class Boom(Exception):
        pass

    def broken() -> str:
        raise Boom("vault is sealed")

    with pytest.raises(Boom, match="vault is sealed"):
        chat_huggingface(credentials=broken, model="m", echo="none")


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (None, "NoneType"),
        (42, "int"),
        (["Bearer", "x"], "list"),
        ({"X-Key": 5}, "dict"),
        (b"bytes-key", "bytes"),
    ],
)
def test_bad_credentials_return_type(value: object, kind: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        chat_huggingface(credentials=lambda: value, model="m", echo="none")  # type: ignore[arg-type,return-value]
    message = str(info.value)
    assert message == (
        "chat_huggingface(credentials=...) must return a key (a string) or a dict of header "
        f"names to values, not {kind}."
    )


def test_empty_credentials_key() -> None:
    with pytest.raises(ConfigurationError, match="returned an empty key"):
        chat_huggingface(credentials=lambda: "", model="m", echo="none")


def test_bad_return_later_is_caught_before_sending(srv: FakeServer) -> None:
    values: list[object] = ["good", 3]
    chat = hf(srv, credentials=lambda: values.pop(0))
    with pytest.raises(ConfigurationError, match="not int"):
        chat.chat("hi")
    assert srv.requests == []
    assert chat.get_turns() == []


def test_credentials_must_be_callable_and_is_not_echoed() -> None:
    secret = "hf_do_not_print_me_123"
    with pytest.raises(ConfigurationError) as info:
        chat_huggingface(credentials=secret, model="m", echo="none")  # type: ignore[arg-type]
    assert "credentials=lambda: key" in str(info.value)
    assert secret not in str(info.value)
    assert secret not in repr(info.value)


# --- api_key= is rejected -----------------------------------------------------------------

#: Keys for the property tests: a marker that no message contains, then anything.
marked_keys = st.text(min_size=0, max_size=40).map(lambda s: "ZQXJ" + s)
any_keys = st.text(min_size=4, max_size=40)


def hf_with_key(key: str) -> Chat:
    """chat_huggingface given api_key= (and everything else valid)."""
    return chat_huggingface(api_key=key, model="m", echo="none")


def compatible_with_key(key: str) -> Chat:
    """chat_openai_compatible given api_key= (and everything else valid)."""
    return chat_openai_compatible("http://127.0.0.1:9/v1", api_key=key, model="m", echo="none")


CONSTRUCTORS: list[tuple[Callable[[str], Chat], str]] = [
    (hf_with_key, "HUGGINGFACE_API_KEY"),
    (compatible_with_key, "OPENAI_API_KEY"),
]


def rejection(make: Callable[[str], Chat], key: str) -> DeprecatedArgumentError:
    """The error a constructor raises for ``api_key=key``."""
    with pytest.raises(DeprecatedArgumentError) as info:
        make(key)
    return info.value


@pytest.mark.parametrize(("make", "env"), CONSTRUCTORS)
def test_api_key_rejected_with_a_helpful_message(make: Callable[[str], Chat], env: str) -> None:
    exc = rejection(make, "hf_SECRET_value")
    assert isinstance(exc, TypeError)
    assert isinstance(exc, EllmerError)
    message = str(exc)
    assert "api_key" in message
    assert "credentials=" in message
    assert env in message
    assert "hf_SECRET_value" not in message
    assert exc.__cause__ is None
    assert exc.__context__ is None


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=marked_keys)
@pytest.mark.parametrize(("make", "env"), CONSTRUCTORS)
def test_api_key_value_never_in_the_error(make: Callable[[str], Chat], env: str, key: str) -> None:
    exc = rejection(make, key)
    assert key not in str(exc)
    assert key not in repr(exc)
    assert key not in str(exc.args)
    assert "ZQXJ" not in str(exc)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=any_keys)
@pytest.mark.parametrize(("make", "env"), CONSTRUCTORS)
def test_api_key_message_does_not_depend_on_the_value(
    make: Callable[[str], Chat], env: str, key: str
) -> None:
    baseline = str(rejection(make, "baseline-key"))
    exc = rejection(make, key)
    assert str(exc) == baseline
    assert repr(exc) == repr(DeprecatedArgumentError(baseline))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=marked_keys)
def test_api_key_rejected_by_every_registered_provider(key: str) -> None:
    for name in list_providers():
        function = get_provider_spec(name).chat_function
        # R's chat_google_vertex() and chat_aws_bedrock() have no api_key: Python's own
        # TypeError names the argument, not its value
        expected = (
            DeprecatedArgumentError
            if "api_key" in inspect.signature(function).parameters
            else TypeError
        )
        with pytest.raises(expected) as info:
            function(api_key=key, model="m", base_url="http://127.0.0.1:9/v1", echo="none")
        assert key not in str(info.value)
        assert key not in repr(info.value)


def test_api_key_rejected_even_with_credentials_or_positionally() -> None:
    with pytest.raises(DeprecatedArgumentError):
        chat_huggingface(api_key="k-1234", credentials=lambda: "k", model="m", echo="none")
    with pytest.raises(DeprecatedArgumentError):
        chat_huggingface(None, None, "k-1234", model="m", echo="none")  # api_key is third, as in R
    with pytest.raises(DeprecatedArgumentError):
        chat_huggingface(api_key="", model="m", echo="none")


def test_api_key_rejected_before_other_argument_checks() -> None:
    # a missing model must not hide the more important problem: a key in code
    with pytest.raises(DeprecatedArgumentError):
        chat_openai_compatible("http://127.0.0.1:9/v1", api_key="sk-1234")
    with pytest.raises(DeprecatedArgumentError):
        chat_openai_compatible("", api_key="sk-1234", model="m")


def test_api_key_rejected_through_the_registry() -> None:
    with pytest.raises(DeprecatedArgumentError) as info:
        chat("huggingface/org/model", api_key="hf_registry_secret")
    assert "hf_registry_secret" not in str(info.value)
