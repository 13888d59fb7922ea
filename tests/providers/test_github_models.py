"""``models_github()`` (R: ``R/provider-github.R``): defunct, as GitHub retired GitHub Models.

R's ``models_github()`` stops with ``lifecycle::deprecate_stop()``; ours
raises a ConfigurationError that says so and what to use instead, and sends
nothing, whatever it is given (even a loopback server that would answer).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import ellmer_py
from ellmer_py import (
    ConfigurationError,
    DeprecatedArgumentError,
    chat_github,
    get_provider_spec,
    models_github,
)
from ellmer_py._registry import reload_plugins
from ellmer_py.conformance.fake_server import FakeServer, Reply


@pytest.fixture(autouse=True)
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("ELLMER_PY_PLUGINS", raising=False)
    reload_plugins()
    yield
    reload_plugins()


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer(default=Reply.json({"data": [{"id": "openai/gpt-5"}]})) as server:
        yield server


def test_signature_follows_r() -> None:
    parameters = inspect.signature(models_github).parameters
    positional = [p.name for p in parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional == ["base_url", "api_key", "credentials"]
    assert parameters["base_url"].default == "https://models.github.ai/"
    # what Provider.list_models() passes to every registered models_function
    assert {"api_headers", "max_tries", "timeout_s"} <= set(parameters)


def test_registered_as_githubs_model_list() -> None:
    spec = get_provider_spec("github")
    assert spec.models_function is models_github is ellmer_py.models_github
    assert spec.retired is not None
    assert "R: ``models_github()``" in (models_github.__doc__ or "")


@pytest.mark.parametrize(
    "call",
    [
        lambda srv: models_github(),
        lambda srv: models_github(srv.url, credentials=lambda: "ghp_token_value"),
        lambda srv: models_github(
            base_url=srv.url, credentials=None, api_headers={}, max_tries=1, timeout_s=5
        ),
    ],
    ids=["bare", "with-arguments", "as-list-models-calls-it"],
)
def test_models_github_raises_a_clear_retired_error(
    srv: FakeServer, call: Callable[[FakeServer], Any]
) -> None:
    with pytest.raises(ConfigurationError) as info:
        call(srv)
    message = str(info.value)
    assert "GitHub Models was retired on 2026-07-30" in message
    assert "models_github() no longer works" in message
    assert "chat_huggingface()" in message and "chat_openai_compatible(" in message
    assert "ghp_token_value" not in message
    assert srv.requests == []


def test_models_github_rejects_api_key_and_still_says_it_is_retired(srv: FakeServer) -> None:
    for call in (
        lambda: models_github(api_key="ghp_secret_value"),
        lambda: models_github(srv.url, "ghp_secret_value"),  # R's position
    ):
        with pytest.raises(DeprecatedArgumentError) as info:
            call()
        assert "models_github(api_key=...)" in str(info.value)
        assert "retired" in str(info.value)
        assert "ghp_secret_value" not in str(info.value)
    assert srv.requests == []


def test_chat_github_still_names_itself() -> None:
    with pytest.raises(ConfigurationError, match=r"so chat_github\(\) no longer works"):
        chat_github()
