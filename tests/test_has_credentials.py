"""Tests of ``has_credentials()`` (R: ``has_credentials()``).

Environment variables and token files are set and unset with monkeypatch;
chats point at a real loopback server, which must see no request. Keys are
never part of the answer (a bool) nor of anything printed, warned or logged.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ellmer_py import (
    Chat,
    ConfigurationError,
    Provider,
    ProviderSpec,
    chat_aws_bedrock,
    chat_openai,
    chat_openai_compatible,
    has_credentials,
    hookimpl,
)
from ellmer_py._registry import register_plugin, unregister_plugin
from ellmer_py.conformance.fake_server import FakeServer

KEY = "sk-test-secret-0123456789"
ENV_NAMES = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "HUGGINGFACE_API_KEY",
    "HF_TOKEN",
    "OLLAMA_API_KEY",
    "FAKE_CLOUD_KEY",
    "XDG_CACHE_HOME",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # no token file there


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server
    assert not server.errors, server.errors


# -- by name ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "env"),
    [
        ("openai", "OPENAI_API_KEY"),
        ("claude", "ANTHROPIC_API_KEY"),
        ("anthropic", "ANTHROPIC_API_KEY"),
    ],
)
def test_a_name_is_true_when_its_env_var_is_set(
    monkeypatch: pytest.MonkeyPatch, name: str, env: str
) -> None:
    assert has_credentials(name) is False
    monkeypatch.setenv(env, "   ")  # blank is unset
    assert has_credentials(name) is False
    monkeypatch.setenv(env, KEY)
    assert has_credentials(name) is True


def test_huggingface_finds_the_token_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    home = tmp_path / "hf-home"
    assert has_credentials("huggingface") is False
    home.mkdir()
    (home / "token").write_text(f"{KEY}\n")
    assert has_credentials("huggingface") is True
    (home / "token").write_text("\n")
    assert has_credentials("huggingface") is False
    monkeypatch.setenv("HF_TOKEN", KEY)
    assert has_credentials("huggingface") is True


def test_a_provider_that_needs_no_key() -> None:
    assert has_credentials("ollama") is True  # credential_env is empty


class FakeCloud:
    """Two providers: one needs no key; one needs FAKE_CLOUD_KEY and can't be made bare."""

    def __init__(self) -> None:
        self.made: list[dict[str, Any]] = []

    def refuse(self, **kwargs: Any) -> Chat:
        self.made.append(kwargs)
        raise ConfigurationError("chat_fake_cloud(): base_url= is required.")

    @hookimpl
    def ellmer_py_register_providers(self, register: Callable[[ProviderSpec], None]) -> None:
        register(ProviderSpec(name="fake_local", chat_function=self.refuse))
        register(
            ProviderSpec(
                name="fake_cloud",
                chat_function=self.refuse,
                credential_sources=("FAKE_CLOUD_KEY",),
                credential_env=("FAKE_CLOUD_KEY",),
            )
        )
        register(
            ProviderSpec(
                name="fake_gone",
                chat_function=self.refuse,
                credential_env=("FAKE_CLOUD_KEY",),
                retired="Fake Cloud closed in 2024.",
            )
        )


@pytest.fixture
def fake_cloud() -> Iterator[FakeCloud]:
    plugin = FakeCloud()
    register_plugin(plugin, name="fake-cloud")
    yield plugin
    unregister_plugin(plugin)


def test_registered_plugins(monkeypatch: pytest.MonkeyPatch, fake_cloud: FakeCloud) -> None:
    assert has_credentials("fake_local") is True  # it names no credential: no key needed
    assert fake_cloud.made == []  # known without making a chat
    assert has_credentials("fake_cloud") is False  # the chat can't be made: env only
    assert fake_cloud.made == [{"model": "has-credentials-probe"}]
    monkeypatch.setenv("FAKE_CLOUD_KEY", KEY)
    assert has_credentials("fake_cloud") is True
    assert has_credentials("fake_gone") is False  # retired


def test_an_unknown_name_is_an_error() -> None:
    with pytest.raises(ConfigurationError, match="No provider called 'nope' is registered"):
        has_credentials("nope")


@pytest.mark.parametrize("value", [None, 42, ["openai"]])
def test_other_arguments_are_an_error(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="has_credentials\\(\\) needs a provider name"):
        has_credentials(value)


# -- a chat or a provider -----------------------------------------------------------------


def test_a_chat_reading_the_environment(monkeypatch: pytest.MonkeyPatch, srv: FakeServer) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    chat = chat_openai(base_url=srv.base_url, model="m", echo="none")
    assert has_credentials(chat) is True
    assert has_credentials(chat.get_provider()) is True
    monkeypatch.delenv("OPENAI_API_KEY")  # read at each request, so at each question too
    assert has_credentials(chat) is False
    assert srv.requests == []


def test_a_chat_with_a_credentials_function_is_not_asked_again(srv: FakeServer) -> None:
    calls: list[int] = []

    def credentials() -> str:
        calls.append(1)
        return KEY

    chat = chat_openai_compatible(srv.base_url, model="m", credentials=credentials, echo="none")
    made = len(calls)  # checked once when the chat was made
    assert has_credentials(chat) is True
    assert len(calls) == made  # not called again: it may fetch a token
    assert srv.requests == []


def test_a_provider_without_credentials_needs_none() -> None:
    assert has_credentials(Provider(name="P", model="m", base_url="http://127.0.0.1:9")) is True


class Available:
    """Credentials that answer available() and must not be called for it."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer

    def available(self) -> bool:
        return self.answer

    def __call__(self) -> str:
        raise AssertionError("called: a token would have been fetched")


@pytest.mark.parametrize("answer", [True, False])
def test_credentials_may_answer_without_being_called(answer: bool) -> None:
    provider = Provider(
        name="P", model="m", base_url="http://127.0.0.1:9", credentials=Available(answer)
    )
    assert has_credentials(provider) is answer


def test_failing_default_credentials_are_false() -> None:
    def broken() -> str:
        raise KeyError("MY_KEY")  # os.environ["MY_KEY"] with MY_KEY unset

    provider = Provider(name="P", model="m", base_url="http://127.0.0.1:9", credentials=broken)
    assert has_credentials(provider) is False


def test_the_key_is_never_shown(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    (tmp_path / "hf-home").mkdir()
    (tmp_path / "hf-home" / "token").write_text(KEY)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        answers = [has_credentials(n) for n in ("openai", "huggingface", "ollama")]
    assert answers == [True, True, True]
    out, err = capsys.readouterr()
    shown = out + err + caplog.text + "".join(str(w.message) for w in caught)
    assert KEY not in shown


def test_aws_keys_in_the_environment_sign_requests(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, srv: FakeServer
) -> None:
    # No Bedrock API key: the SigV4 signer's chain finds IAM keys in the environment.
    for name in (
        "AWS_BEARER_TOKEN_BEDROCK",
        "AWS_BEARER_TOKEN",
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", KEY)
    assert has_credentials("aws_bedrock") is True
    chat = chat_aws_bedrock(base_url=srv.base_url, model="m", echo="none")
    assert chat.get_provider().credentials is None  # its credentials are the signer's
    assert has_credentials(chat) is True
    assert srv.requests == []


def test_the_request_signers_credentials_are_asked() -> None:
    from ellmer_py._aws_auth import SigV4Auth

    signer = SigV4Auth(Available(False), region="us-east-1", service="bedrock")
    provider = Provider(name="P", model="m", base_url="http://127.0.0.1:9", auth=signer)
    assert has_credentials(provider) is False
