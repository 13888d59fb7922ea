"""``chat_lmstudio()`` and ``models_lmstudio()`` (R: ``R/provider-lmstudio.R``), on a FakeServer.

The fake plays LM Studio's local server: chat completions at
``/v1/chat/completions`` (thinking in ``reasoning_content``, as LM Studio
sends it) and the model list at ``/v1/models`` in LM Studio's OpenAI-shaped
answer (``id``, ``object``, ``owned_by``).
"""

from __future__ import annotations

import inspect
import socket
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

import ellmer_py
from ellmer_py import (
    AuthenticationError,
    ConfigurationError,
    ContentThinking,
    MalformedResponseError,
    chat,
    chat_lmstudio,
    get_provider_spec,
    models_lmstudio,
    params,
)
from ellmer_py._registry import reload_plugins
from ellmer_py.conformance.fake_server import FakeServer, Reply, sse_data
from ellmer_py.providers.lmstudio import LMStudioModel

MODEL = "qwen/qwen3-4b-2507"
KEY = "lmstudio-proxy-token-0123456789"

#: What LM Studio 0.3.x answers on ``GET /v1/models`` with two models downloaded.
LMSTUDIO_MODELS = {
    "data": [
        {"id": MODEL, "object": "model", "owned_by": "organization_owner"},
        {
            "id": "text-embedding-nomic-embed-text-v1.5",
            "object": "model",
            "owned_by": "organization_owner",
        },
    ],
    "object": "list",
}


def completion(text: str = "ok", **message: Any) -> dict[str, Any]:
    """A chat-completions answer as LM Studio writes it."""
    return {
        "id": "chatcmpl-4nq8x2k3v0d9p1l7",
        "object": "chat.completion",
        "created": 1754580000,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "logprobs": None,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": text, **message},
            }
        ],
        "usage": {"prompt_tokens": 20, "completion_tokens": 3, "total_tokens": 23},
        "stats": {},
        "system_fingerprint": MODEL,
    }


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("LMSTUDIO_API_KEY", "LMSTUDIO_BASE_URL", "ELLMER_PY_PLUGINS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ELLMER_MAX_TRIES", "1")
    monkeypatch.setenv("ELLMER_TIMEOUT_S", "5")
    reload_plugins()
    yield
    reload_plugins()


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer(default=Reply.json(completion())) as server:
        yield server
    assert not server.errors, server.errors


@pytest.fixture
def closed_url() -> str:
    """A loopback URL where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# -- the constructor: R's arguments, registration ----------------------------------------


def test_signature_follows_r() -> None:
    parameters = inspect.signature(chat_lmstudio).parameters.values()
    positional = [p.name for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional == [
        "system_prompt",
        "base_url",
        "model",
        "params",
        "api_args",
        "echo",
        "credentials",
        "api_headers",
    ]
    assert "api_key" not in inspect.signature(chat_lmstudio).parameters  # none in R either
    assert list(inspect.signature(models_lmstudio).parameters)[:2] == ["base_url", "credentials"]


def test_registered_with_rs_settings() -> None:
    spec = get_provider_spec("lmstudio")
    assert spec.chat_function is chat_lmstudio is ellmer_py.chat_lmstudio
    assert spec.models_function is models_lmstudio is ellmer_py.models_lmstudio
    assert spec.protocol == "openai-chat"
    assert spec.default_base_url == "http://localhost:1234/v1"
    assert spec.default_model is None
    assert tuple(spec.credential_env) == ()  # no key needed
    assert "R: ``chat_lmstudio()``" in (chat_lmstudio.__doc__ or "")
    assert "R: ``models_lmstudio()``" in (models_lmstudio.__doc__ or "")


# -- chatting ---------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/"], ids=["root", "slash", "v1", "v1/"])
def test_chat_goes_to_v1_chat_completions_without_a_key(srv: FakeServer, suffix: str) -> None:
    c = chat_lmstudio("Be terse.", srv.url + suffix, MODEL, echo="none")
    assert c.chat("What is 1 + 1?") == "ok"
    (request,) = srv.requests
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert "authorization" not in request.headers
    assert request.json["model"] == MODEL
    assert request.json["messages"] == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "What is 1 + 1?"},
    ]
    turn = c.get_turns()[-1]
    assert (turn.tokens.input, turn.tokens.output) == (20, 3)


def test_base_url_and_key_from_the_environment(
    srv: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LMSTUDIO_BASE_URL", srv.url)
    c = chat_lmstudio(model=MODEL, echo="none")
    assert c.get_provider().base_url == f"{srv.url}/v1"
    c.chat("one")
    monkeypatch.setenv("LMSTUDIO_API_KEY", KEY)  # read at request time
    c.chat("two")
    first, second = srv.requests
    assert "authorization" not in first.headers
    assert second.headers["authorization"] == f"Bearer {KEY}"


def test_the_default_server_is_localhost_1234() -> None:
    c = chat_lmstudio(model=MODEL, echo="none")  # nothing is sent when the chat is made
    assert c.get_provider().base_url == "http://localhost:1234/v1"


def test_credentials_go_as_a_bearer_token_or_headers(srv: FakeServer) -> None:
    chat_lmstudio(base_url=srv.url, model=MODEL, credentials=lambda: KEY, echo="none").chat("a")
    chat_lmstudio(
        base_url=srv.url, model=MODEL, credentials=lambda: {"X-Proxy": "tok"}, echo="none"
    ).chat("b")
    first, second = srv.requests
    assert first.headers["authorization"] == f"Bearer {KEY}"
    assert second.headers["x-proxy"] == "tok" and "authorization" not in second.headers


def test_streaming_keeps_the_reasoning_content(srv: FakeServer) -> None:
    srv.enqueue(
        Reply.sse(
            [
                sse_data({"choices": [{"index": 0, "delta": {"reasoning_content": "Add them."}}]}),
                sse_data({"choices": [{"index": 0, "delta": {"content": "2"}}]}),
                sse_data(
                    {
                        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 20, "completion_tokens": 6},
                    }
                ),
                sse_data("[DONE]"),
            ]
        )
    )
    c = chat_lmstudio(base_url=srv.url, model=MODEL, echo="none")
    assert "".join(c.stream("What is 1 + 1?")) == "2"
    assert srv.requests[0].json["stream"] is True
    turn = c.get_turns()[-1]
    thinking = turn.contents[0]
    assert isinstance(thinking, ContentThinking)
    assert thinking.thinking == "Add them."
    c.chat("And 2 + 2?")
    sent = srv.requests[1].json["messages"][1]
    assert sent == {"role": "assistant", "content": "2"}  # thinking not sent back (as R)


def test_params_follow_rs_mapping(srv: FakeServer) -> None:
    with pytest.warns(UserWarning, match=r"Ignoring unsupported parameters: 'log_probs'"):
        c = chat_lmstudio(
            base_url=srv.url,
            model=MODEL,
            params=params(
                temperature=0.1,
                max_tokens=9,
                top_k=40,
                seed=1014,
                stop_sequences=["x"],
                log_probs=True,
            ),
            echo="none",
        )
    c.chat("hi")
    body = srv.requests[0].json
    assert body["max_tokens"] == 9 and body["top_k"] == 40 and body["seed"] == 1014
    assert body["stop"] == ["x"] and body["temperature"] == 0.1
    assert "max_completion_tokens" not in body and "logprobs" not in body


def test_reachable_by_name_and_lists_its_models(srv: FakeServer) -> None:
    c = chat(f"lmstudio/{MODEL}", base_url=srv.url, echo="none")
    assert c.get_model() == MODEL
    srv.enqueue(Reply.json(LMSTUDIO_MODELS))
    assert [m.id for m in c.list_models()] == [MODEL, "text-embedding-nomic-embed-text-v1.5"]
    (request,) = srv.requests
    assert (request.method, request.path) == ("GET", "/v1/models")


# -- bad input ----------------------------------------------------------------------------------


def test_a_missing_model_lists_the_local_models(srv: FakeServer) -> None:
    srv.enqueue(Reply.json(LMSTUDIO_MODELS))
    with pytest.raises(ConfigurationError) as info:
        chat_lmstudio(base_url=srv.url, credentials=lambda: KEY)
    message = str(info.value)
    assert message.startswith("chat_lmstudio() needs model=")
    assert f"Available models: {MODEL!r}, 'text-embedding-nomic-embed-text-v1.5'" in (message)
    assert f"model={MODEL!r}" in message
    (request,) = srv.requests
    assert (request.method, request.path) == ("GET", "/v1/models")
    assert request.headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("model", [None, "", " "], ids=["none", "empty", "blank"])
def test_no_models_at_all_says_to_download_one(srv: FakeServer, model: str | None) -> None:
    srv.enqueue(Reply.json({"data": [], "object": "list"}))
    with pytest.raises(ConfigurationError, match=r"lists no models\. Download one"):
        chat_lmstudio(base_url=srv.url, model=model)


def test_a_missing_model_without_a_server_says_to_start_it(closed_url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        chat_lmstudio(base_url=closed_url)
    message = str(info.value)
    assert "needs model=" in message
    assert f"GET {closed_url}/v1/models) could not be read" in message
    assert "lms server start" in message and "LMSTUDIO_BASE_URL" in message


def test_a_model_that_is_not_a_string_is_refused(srv: FakeServer) -> None:
    with pytest.raises(ConfigurationError, match=r"chat_lmstudio\(model=\) must be a string"):
        chat_lmstudio(base_url=srv.url, model=["a"])  # type: ignore[arg-type]
    assert srv.requests == []


def test_api_key_is_not_an_argument(srv: FakeServer) -> None:
    with pytest.raises(TypeError, match="api_key"):
        chat_lmstudio(base_url=srv.url, model=MODEL, api_key="secret")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="api_key"):
        models_lmstudio(srv.url, api_key="secret")  # type: ignore[call-arg]
    assert srv.requests == []


def test_bad_credentials_are_refused_before_any_request(srv: FakeServer) -> None:
    with pytest.raises(ConfigurationError, match=r"credentials=.*must be a function"):
        chat_lmstudio(base_url=srv.url, model=MODEL, credentials=KEY)  # type: ignore[arg-type]
    assert srv.requests == []


# -- models_lmstudio() ---------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "/v1", "/v1/"])
def test_models_lmstudio_reads_the_ids_in_lm_studios_order(srv: FakeServer, suffix: str) -> None:
    srv.enqueue(Reply.json(LMSTUDIO_MODELS))
    models = models_lmstudio(srv.url + suffix, api_headers={"X-Team": "a"})
    assert models == [
        LMStudioModel(id=MODEL),
        LMStudioModel(id="text-embedding-nomic-embed-text-v1.5"),
    ]
    (request,) = srv.requests
    assert (request.method, request.path, request.body) == ("GET", "/v1/models", b"")
    assert "authorization" not in request.headers
    assert request.headers["x-team"] == "a"


def test_models_lmstudio_base_url_and_key_from_the_environment(
    srv: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LMSTUDIO_BASE_URL", srv.url + "/v1")
    monkeypatch.setenv("LMSTUDIO_API_KEY", KEY)
    srv.enqueue(Reply.json(LMSTUDIO_MODELS))
    assert len(models_lmstudio()) == 2
    (request,) = srv.requests
    assert request.path == "/v1/models"
    assert request.headers["authorization"] == f"Bearer {KEY}"


def test_models_lmstudio_errors(srv: FakeServer) -> None:
    srv.enqueue(Reply.json({"error": "Unauthorized"}, status=401))
    with pytest.raises(AuthenticationError, match="Unauthorized") as info:
        models_lmstudio(srv.url, credentials=lambda: KEY)
    assert KEY not in str(info.value)
    srv.enqueue(Reply.json({"models": []}))
    with pytest.raises(MalformedResponseError, match=r"no 'data' array.*LM Studio server"):
        models_lmstudio(srv.url)
    srv.enqueue(Reply.json({"data": [{"object": "model"}, {"id": "a"}, 3]}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert models_lmstudio(srv.url) == [LMStudioModel(id="a")]
