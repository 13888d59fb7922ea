"""``chat_posit()`` and ``models_posit()`` (R: ``R/provider-posit.R``), on loopback FakeServers.

One fake plays Posit's gateway (Claude over the Messages API under
``/anthropic/v1``, other models over chat completions under ``/openai/v1``,
the model list at ``/models``), another login.posit.cloud, whose device
sign-in gives the bearer token the gateway sees. The cache folder is a
temporary ``XDG_CACHE_HOME``.
"""

from __future__ import annotations

import inspect
import json
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ellmer_py import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    _oauth_device,
    chat,
    chat_posit,
    get_provider_spec,
    has_credentials,
    models_posit,
)
from ellmer_py._tokens import _local_token_usage
from ellmer_py.conformance.fake_server import FakeServer, Reply
from ellmer_py.providers import posit as posit_module
from ellmer_py.providers.posit import (
    ACCOUNT_NOT_FOUND,
    PositModel,
    posit_error_message,
    price_of,
)

ACCESS = "posit-gateway-token-do-not-show-0123456789"
KEY = "posit-user-key-do-not-show-abcdef"
GEMMA = "google/gemma-4-26B-A4B-it"


def message(text: str = "ok", model: str = "claude-sonnet-5", **usage: int) -> dict[str, Any]:
    """A Messages API answer as the gateway passes it through."""
    return {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 10, "output_tokens": 2, **usage},
    }


def completion(text: str = "ok", model: str = GEMMA) -> dict[str, Any]:
    """A chat-completions answer."""
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 200},
    }


@pytest.fixture(autouse=True)
def settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("ELLMER_MAX_TRIES", "1")
    monkeypatch.setenv("ELLMER_TIMEOUT_S", "5")
    monkeypatch.delenv("ELLMER_PY_PLUGINS", raising=False)
    monkeypatch.setattr(_oauth_device, "_sleep", lambda s: None)
    with _local_token_usage():
        yield


@pytest.fixture
def login(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    """login.posit.cloud: every sign-in is approved at once with the token ACCESS."""
    with FakeServer() as server:
        monkeypatch.setattr(posit_module, "AUTH_URL", f"{server.url}/oauth/device/authorize")
        monkeypatch.setattr(posit_module, "TOKEN_URL", f"{server.url}/oauth/token")

        def answer(request: Any) -> Reply:
            if request.path.endswith("/authorize"):
                return Reply.json(
                    {
                        "device_code": "dev-code",
                        "user_code": "ABCD-EFGH",
                        "verification_uri": "https://login.posit.cloud/device",
                        "expires_in": 900,
                        "interval": 1,
                    }
                )
            return Reply.json({"access_token": ACCESS, "expires_in": 3600, "refresh_token": "r"})

        server.default = answer
        yield server
    assert not server.errors, server.errors


@pytest.fixture
def gateway() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server
    assert not server.errors, server.errors


def posit(gateway: FakeServer, **kwargs: Any) -> Any:
    return chat_posit(base_url=gateway.url, echo="none", **kwargs)


# -- the two routes ------------------------------------------------------------------------


def test_a_claude_model_speaks_messages_with_the_sign_in_token(
    gateway: FakeServer, login: FakeServer
) -> None:
    gateway.enqueue(Reply.json(message("hello")))
    chat_ = posit(gateway)
    assert chat_.get_model() == "claude-sonnet-5"
    assert chat_.get_provider().name == "Posit"
    assert login.requests == []  # nothing before the first request
    assert chat_.chat("Hi") == "hello"
    (request,) = gateway.requests
    assert (request.method, request.path) == ("POST", "/anthropic/v1/messages")
    assert request.headers["authorization"] == f"Bearer {ACCESS}"
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert request.json["model"] == "claude-sonnet-5"
    # cache="5m" by default: the last message is marked for prompt caching
    assert request.json["messages"][-1]["content"][-1]["cache_control"] == {
        "type": "ephemeral",
        "ttl": "5m",
    }
    assert [r.path for r in login.requests] == ["/oauth/device/authorize", "/oauth/token"]


def test_another_model_speaks_chat_completions(gateway: FakeServer, login: FakeServer) -> None:
    gateway.enqueue(Reply.json(completion("hi")))
    chat_ = posit(gateway, model=GEMMA, cache="none")
    assert chat_.chat("Hi") == "hi"
    (request,) = gateway.requests
    assert request.path == "/openai/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {ACCESS}"
    assert request.json["model"] == GEMMA


def test_a_second_chat_reuses_the_cached_sign_in(gateway: FakeServer, login: FakeServer) -> None:
    gateway.default = Reply.json(message())
    posit(gateway).chat("one")
    posit(gateway, model="claude-haiku-4-5").chat("two")
    assert len(login.requests) == 2  # one sign-in
    assert {r.headers["authorization"] for r in gateway.requests} == {f"Bearer {ACCESS}"}


def test_credentials_replace_the_sign_in(gateway: FakeServer, login: FakeServer) -> None:
    gateway.enqueue(Reply.json(message()), Reply.json(completion()))
    posit(gateway, credentials=lambda: KEY).chat("Hi")
    posit(gateway, model=GEMMA, credentials=lambda: {"X-Posit-Auth": KEY}).chat("Hi")
    assert gateway.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert gateway.requests[1].headers["x-posit-auth"] == KEY
    assert "authorization" not in gateway.requests[1].headers
    assert login.requests == []


def test_cache_choices(gateway: FakeServer, login: FakeServer) -> None:
    gateway.enqueue(Reply.json(message()))
    posit(gateway, cache="none").chat("Hi")
    assert "cache_control" not in str(gateway.requests[0].json)
    with pytest.raises(ConfigurationError, match='"5m", "1h" or "none"'):
        posit(gateway, cache="2h")
    with pytest.raises(ConfigurationError, match="base_url"):
        chat_posit(base_url="")


def test_the_signature_follows_r() -> None:
    parameters = inspect.signature(chat_posit).parameters.values()
    assert [p.name for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD] == [
        "system_prompt",
        "base_url",
        "credentials",
        "model",
        "params",
        "cache",
        "api_args",
        "api_headers",
        "echo",
    ]
    assert {p.name for p in parameters if p.kind is p.KEYWORD_ONLY} == {
        "system_prompt_fallback",
        "max_tries",
        "timeout_s",
    }
    defaults = inspect.signature(chat_posit).parameters
    assert defaults["base_url"].default == "https://gateway.posit.ai"
    assert defaults["cache"].default == "5m"
    spec = get_provider_spec("posit")
    assert spec.chat_function is chat_posit and spec.models_function is models_posit
    assert spec.default_model == "claude-sonnet-5"
    assert [p.name for p in inspect.signature(models_posit).parameters.values()][:2] == [
        "base_url",
        "credentials",
    ]


def test_chat_finds_it_by_name(gateway: FakeServer, login: FakeServer) -> None:
    gateway.enqueue(Reply.json(message()))
    chat_ = chat("posit/claude-haiku-4-5", base_url=gateway.url, echo="none")
    chat_.chat("Hi")
    assert gateway.requests[0].json["model"] == "claude-haiku-4-5"


def test_has_credentials_never_starts_a_sign_in(gateway: FakeServer, login: FakeServer) -> None:
    chat_ = posit(gateway)
    assert has_credentials(chat_) is False
    assert login.requests == []
    gateway.enqueue(Reply.json(message()))
    chat_.chat("Hi")
    assert has_credentials(chat_) is True


def test_a_pickled_chat_holds_no_token(gateway: FakeServer, login: FakeServer) -> None:
    gateway.default = Reply.json(message())
    chat_ = posit(gateway)
    chat_.chat("Hi")
    dumped = pickle.dumps(chat_)
    assert ACCESS.encode() not in dumped
    pickle.loads(dumped).chat("again")  # the copy reads the cached sign-in
    assert len(login.requests) == 2


# -- models ----------------------------------------------------------------------------------

MODELS = {
    "chat": [
        {"id": "claude-sonnet-5", "display_name": "Claude Sonnet 5", "provider": "anthropic"},
        {"id": GEMMA, "display_name": "Gemma 4 26B"},
        {"display_name": "no id"},
    ],
    "embedding": [{"id": "text-embedding", "display_name": "Embeddings"}],
}


def test_models_posit_lists_the_chat_models(gateway: FakeServer, login: FakeServer) -> None:
    gateway.enqueue(Reply.json(MODELS))
    rows = models_posit(base_url=gateway.url)
    assert rows == [
        PositModel(id="claude-sonnet-5", name="Claude Sonnet 5"),
        PositModel(id=GEMMA, name="Gemma 4 26B"),
    ]
    (request,) = gateway.requests
    assert (request.method, request.path) == ("GET", "/models")
    assert request.headers["authorization"] == f"Bearer {ACCESS}"


@pytest.mark.parametrize("model", ["claude-sonnet-5", GEMMA])
def test_a_chat_lists_models_from_the_gateway_root(
    gateway: FakeServer, login: FakeServer, model: str
) -> None:
    gateway.enqueue(Reply.json(MODELS))
    rows = posit(gateway, model=model, credentials=lambda: KEY).list_models()
    assert [r.id for r in rows] == ["claude-sonnet-5", GEMMA]
    assert gateway.requests[0].path == "/models"
    assert gateway.requests[0].headers["authorization"] == f"Bearer {KEY}"


# -- errors ------------------------------------------------------------------------------------


def test_the_gateways_own_error_and_an_upstream_error(
    gateway: FakeServer, login: FakeServer
) -> None:
    gateway.enqueue(
        Reply.json({"error": "Model not available on your plan"}, status=400),
        Reply.json(
            {"error": {"message": "max_tokens is too large", "type": "invalid_request_error"}},
            status=400,
        ),
    )
    with pytest.raises(BadRequestError, match="Model not available on your plan"):
        posit(gateway).chat("Hi")
    with pytest.raises(BadRequestError, match="max_tokens is too large"):
        posit(gateway, model=GEMMA).chat("Hi")


def test_an_error_never_shows_the_token(gateway: FakeServer, login: FakeServer) -> None:
    gateway.enqueue(Reply.json({"error": f"token Bearer {ACCESS} is not valid"}, status=401))
    with pytest.raises(AuthenticationError) as info:
        posit(gateway).chat("Hi")
    assert ACCESS not in str(info.value) and ACCESS not in repr(info.value)


ACCOUNT_BODY = {
    "error": "No Prism account for user 7f3e9a2c-internal-id",
    "error_type": "prism_account_not_found",
}


def test_posit_error_message_reads_the_gateways_bodies() -> None:
    assert posit_error_message(json.dumps(ACCOUNT_BODY).encode()) == ACCOUNT_NOT_FOUND
    assert "https://posit.ai/" in ACCOUNT_NOT_FOUND and "service agreement" in ACCOUNT_NOT_FOUND
    assert posit_error_message(b'{"error": "Rate limited"}') == "Rate limited"
    assert posit_error_message(b'{"error": {"message": "Overloaded", "type": "x"}}') == (
        "Overloaded"
    )
    assert posit_error_message(b"<html>502</html>") is None
    assert posit_error_message(b'{"detail": "x"}') is None


def test_an_unfinished_account_says_what_to_do(gateway: FakeServer, login: FakeServer) -> None:
    gateway.enqueue(Reply.json(ACCOUNT_BODY, status=403))
    with pytest.raises(AuthenticationError) as info:
        posit(gateway).chat("Hi")
    assert "finish setting up your Posit AI account" in str(info.value)
    assert "internal-id" not in str(info.value)
    gateway.enqueue(Reply.json(ACCOUNT_BODY, status=403))  # the model list says it too
    with pytest.raises(AuthenticationError, match="finish setting up your Posit AI account"):
        models_posit(base_url=gateway.url)


# -- prices ------------------------------------------------------------------------------------

#: The "Posit" rows of R's data-raw/prices.json (updated 2026-08-03): (input, output, cached).
R_ROWS = {
    "claude-sonnet-4-6": (3.3, 16.5, 0.33),
    "claude-opus-4-8": (5.5, 27.5, 0.55),
    "claude-haiku-4-5": (1.1, 5.5, 0.11),
    GEMMA: (0.3, 1.5, 0.03),
}


def test_a_claude_answer_is_priced_as_r_prices_it(gateway: FakeServer, login: FakeServer) -> None:
    usage = {
        "input_tokens": 1000,
        "output_tokens": 300,
        "cache_creation_input_tokens": 400,
        "cache_read_input_tokens": 2000,
    }
    gateway.enqueue(Reply.json({**message(model="claude-sonnet-4-6"), "usage": usage}))
    chat_ = posit(gateway, model="claude-sonnet-4-6")
    chat_.chat("Hi")
    i, o, c = R_ROWS["claude-sonnet-4-6"]
    # R: input counts the cache writes, which cost 1.25x input
    expected = ((1000 + 400 * 1.25) * i + 300 * o + 2000 * c) / 1e6
    assert chat_.get_cost() == pytest.approx(expected)


def test_the_served_model_is_priced(gateway: FakeServer, login: FakeServer) -> None:
    gateway.enqueue(Reply.json(message(model="claude-opus-4-8")))
    chat_ = posit(gateway)  # claude-sonnet-5 has no row in R's table
    chat_.chat("Hi")
    i, o, _ = R_ROWS["claude-opus-4-8"]
    assert chat_.get_cost() == pytest.approx((10 * i + 2 * o) / 1e6)


def test_other_answers_are_priced_and_unknown_models_are_not(
    gateway: FakeServer, login: FakeServer
) -> None:
    gateway.enqueue(Reply.json(completion()), Reply.json(message()))
    gemma = posit(gateway, model=GEMMA)
    gemma.chat("Hi")
    i, o, _ = R_ROWS[GEMMA]
    assert gemma.get_cost() == pytest.approx((1000 * i + 200 * o) / 1e6)
    unpriced = posit(gateway)
    unpriced.chat("Hi")
    assert unpriced.get_cost() is None


def test_the_price_table_is_rs() -> None:
    for model, (i, o, c) in R_ROWS.items():
        price = price_of(model)
        assert price is not None and (price.input, price.output, price.cached_input) == (i, o, c)
    assert price_of("claude-sonnet-5") is None
    assert price_of("claude-sonnet-4-6-20260101") is None  # matched exactly, as in R
