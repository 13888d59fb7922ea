"""``chat_vllm()`` and ``models_vllm()`` (R: ``R/provider-vllm.R``) against a loopback FakeServer.

The fake speaks vLLM's OpenAI-compatible API: chat completions at
``/v1/chat/completions`` and the model list at ``/v1/models`` in the shape a
``vllm serve`` answers (OpenAI's list, plus vLLM's ``root``, ``parent``,
``max_model_len`` and ``permission``; a LoRA adapter has its base model as
``parent``).
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
    Chat,
    ConfigurationError,
    DeprecatedArgumentError,
    MalformedResponseError,
    MissingCredentialsError,
    chat,
    chat_vllm,
    get_provider_spec,
    models_vllm,
    params,
    tool,
)
from ellmer_py._registry import reload_plugins
from ellmer_py.conformance.fake_server import FakeServer, Reply, sse_data
from ellmer_py.providers.vllm import VllmModel

KEY = "vllm-test-key-0123456789"
MODEL = "meta-llama/Llama-3.1-8B-Instruct"


def _permission(created: int) -> dict[str, Any]:
    return {
        "id": "modelperm-5d0e9c1c8b4a4a7f9f2b1d3c4e5f6a7b",
        "object": "model_permission",
        "created": created,
        "allow_create_engine": False,
        "allow_sampling": True,
        "allow_logprobs": True,
        "allow_search_indices": False,
        "allow_view": True,
        "allow_fine_tuning": False,
        "organization": "*",
        "group": None,
        "is_blocking": False,
    }


#: What ``vllm serve meta-llama/Llama-3.1-8B-Instruct --enable-lora --lora-modules sql-lora=...``
#: answers on ``GET /v1/models``.
VLLM_MODELS = {
    "object": "list",
    "data": [
        {
            "id": MODEL,
            "object": "model",
            "created": 1754579580,
            "owned_by": "vllm",
            "root": MODEL,
            "parent": None,
            "max_model_len": 131072,
            "permission": [_permission(1754579580)],
        },
        {
            "id": "sql-lora",
            "object": "model",
            "created": 1754579580,
            "owned_by": "vllm",
            "root": "/models/llama-3.1-sql-lora",
            "parent": MODEL,
            "max_model_len": None,
            "permission": [_permission(1754579580)],
        },
    ],
}


def completion(text: str = "ok") -> dict[str, Any]:
    """A chat-completions answer as vLLM writes it."""
    return {
        "id": "chatcmpl-b2f3c0a6a1e94f4c",
        "object": "chat.completion",
        "created": 1754579600,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "tool_calls": []},
                "logprobs": None,
                "finish_reason": "stop",
                "stop_reason": None,
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 2, "total_tokens": 14},
    }


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("VLLM_API_KEY", raising=False)
    monkeypatch.delenv("ELLMER_PY_PLUGINS", raising=False)
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
    parameters = inspect.signature(chat_vllm).parameters.values()
    positional = [p.name for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional == [
        "base_url",
        "system_prompt",
        "model",
        "params",
        "api_args",
        "api_key",
        "credentials",
        "echo",
        "api_headers",
    ]
    assert inspect.signature(chat_vllm).parameters["base_url"].default is inspect.Parameter.empty
    assert list(inspect.signature(models_vllm).parameters)[:3] == [
        "base_url",
        "api_key",
        "credentials",
    ]


def test_registered_with_rs_settings() -> None:
    spec = get_provider_spec("vllm")
    assert spec.chat_function is chat_vllm is ellmer_py.chat_vllm
    assert spec.models_function is models_vllm is ellmer_py.models_vllm
    assert spec.protocol == "openai-chat"
    assert spec.default_base_url is None and spec.default_model is None
    assert tuple(spec.credential_env) == ("VLLM_API_KEY",)
    assert "R: ``chat_vllm()``" in (chat_vllm.__doc__ or "")
    assert "R: ``models_vllm()``" in (models_vllm.__doc__ or "")


# -- chatting ---------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/"], ids=["root", "slash", "v1", "v1/"])
def test_chat_goes_to_v1_chat_completions_with_the_key(srv: FakeServer, suffix: str) -> None:
    c = chat_vllm(srv.url + suffix, model=MODEL, credentials=lambda: KEY, echo="none")
    assert c.chat("What is 1 + 1?") == "ok"
    (request,) = srv.requests
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.json["model"] == MODEL
    assert request.json["messages"] == [{"role": "user", "content": "What is 1 + 1?"}]
    assert request.json["stream"] is False
    turn = c.get_turns()[-1]
    assert (turn.tokens.input, turn.tokens.output) == (12, 2)


def test_the_key_comes_from_vllm_api_key_at_request_time(
    srv: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = chat_vllm(srv.url, model=MODEL, echo="none")  # no key yet: fine until a request
    monkeypatch.setenv("VLLM_API_KEY", "first")
    c.chat("one")
    monkeypatch.setenv("VLLM_API_KEY", "second")
    c.chat("two")
    assert [r.headers["authorization"] for r in srv.requests] == ["Bearer first", "Bearer second"]
    monkeypatch.delenv("VLLM_API_KEY")
    with pytest.raises(MissingCredentialsError, match="VLLM_API_KEY") as info:
        c.chat("three")
    assert "credentials=" in str(info.value)
    assert len(srv.requests) == 2  # nothing sent without a key


def test_streaming(srv: FakeServer) -> None:
    srv.enqueue(
        Reply.sse(
            [
                sse_data(
                    {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
                ),
                sse_data({"choices": [{"index": 0, "delta": {"content": "2"}}]}),
                sse_data({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
                sse_data({"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 1}}),
                sse_data("[DONE]"),
            ]
        )
    )
    c = chat_vllm(srv.url, model=MODEL, credentials=lambda: KEY, echo="none")
    assert "".join(c.stream("What is 1 + 1?")) == "2"
    (request,) = srv.requests
    assert request.json["stream"] is True
    assert request.json["stream_options"] == {"include_usage": True}
    assert c.get_turns()[-1].tokens.output == 1


def test_params_map_as_for_openai(srv: FakeServer) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c = chat_vllm(
            srv.url,
            model=MODEL,
            params=params(temperature=0.2, max_tokens=9, seed=1014, top_k=3, log_probs=True),
            credentials=lambda: KEY,
            echo="none",
        )
    c.chat("hi")
    body = srv.requests[0].json
    assert body["temperature"] == 0.2
    assert body["max_completion_tokens"] == 9
    assert body["seed"] == 1014
    assert body["top_logprobs"] == 3 and body["logprobs"] is True
    assert "max_tokens" not in body and "top_k" not in body


def test_tools_are_sent_without_strict(srv: FakeServer) -> None:
    def add(x: int, y: int) -> int:
        """Add two numbers."""
        return x + y

    c = chat_vllm(srv.url, model=MODEL, credentials=lambda: KEY, echo="none")
    c.register_tool(tool(add))
    c.chat("What is 1 + 1?")
    (definition,) = srv.requests[0].json["tools"]
    assert definition["type"] == "function"
    function = definition["function"]
    assert function["name"] == "add" and function["description"] == "Add two numbers."
    assert "strict" not in function
    assert function["parameters"]["type"] == "object"
    assert function["parameters"]["required"] == ["x", "y"]


def test_reachable_by_name_and_lists_its_models(srv: FakeServer) -> None:
    c = chat(f"vllm/{MODEL}", base_url=srv.url, credentials=lambda: KEY, echo="none")
    assert c.get_model() == MODEL
    srv.enqueue(Reply.json(VLLM_MODELS))
    assert [m.id for m in c.list_models()] == [MODEL, "sql-lora"]
    (request,) = srv.requests
    assert (request.method, request.path) == ("GET", "/v1/models")
    assert request.headers["authorization"] == f"Bearer {KEY}"


# -- bad input ----------------------------------------------------------------------------------


def test_a_missing_model_lists_what_the_server_serves(srv: FakeServer) -> None:
    srv.enqueue(Reply.json(VLLM_MODELS))
    with pytest.raises(ConfigurationError) as info:
        chat_vllm(srv.url, credentials=lambda: KEY, api_headers={"X-Team": "a"})
    message = str(info.value)
    assert message.startswith("chat_vllm() needs model=")
    assert f"Available models: {MODEL!r}, 'sql-lora'" in message
    assert f"model={MODEL!r}" in message
    (request,) = srv.requests  # one look-up, with the chat's key and headers
    assert (request.method, request.path) == ("GET", "/v1/models")
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["x-team"] == "a"


@pytest.mark.parametrize("model", [None, "", "  "], ids=["none", "empty", "blank"])
def test_a_blank_model_is_missing_too(srv: FakeServer, model: str | None) -> None:
    srv.enqueue(Reply.json({"object": "list", "data": []}))
    with pytest.raises(ConfigurationError, match="lists no models"):
        chat_vllm(srv.url, model=model, credentials=lambda: KEY)


def test_a_missing_model_without_a_server_says_both(closed_url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        chat_vllm(closed_url, credentials=lambda: KEY, max_tries=3)
    message = str(info.value)
    assert "needs model=" in message
    assert f"GET {closed_url}/v1/models" in message and "could not be read" in message
    assert KEY not in message


def test_a_missing_model_without_a_key_names_the_variable(srv: FakeServer) -> None:
    with pytest.raises(ConfigurationError) as info:
        chat_vllm(srv.url)
    assert "needs model=" in str(info.value) and "VLLM_API_KEY" in str(info.value)
    assert srv.requests == []


def test_a_model_that_is_not_a_string_is_refused(srv: FakeServer) -> None:
    with pytest.raises(ConfigurationError, match=r"chat_vllm\(model=\) must be a string"):
        chat_vllm(srv.url, model=3, credentials=lambda: KEY)  # type: ignore[arg-type]
    assert srv.requests == []


@pytest.mark.parametrize("base_url", [None, "", "   "])
def test_base_url_is_required(base_url: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"chat_vllm\(\) needs base_url=.*localhost:8000"):
        chat_vllm(base_url, model=MODEL)
    with pytest.raises(ConfigurationError, match=r"models_vllm\(\) needs base_url="):
        models_vllm(base_url)
    with pytest.raises(TypeError, match="base_url"):
        chat_vllm(model=MODEL)  # type: ignore[call-arg]


def test_api_key_is_refused_without_showing_it(srv: FakeServer) -> None:
    secret = "sk-do-not-print-4242"
    for call in (
        lambda: chat_vllm(srv.url, None, MODEL, None, None, secret),  # R's position
        lambda: chat_vllm(srv.url, model=MODEL, api_key=secret),
        lambda: chat_vllm(srv.url, api_key=secret),  # before the model look-up
        lambda: models_vllm(srv.url, secret),
    ):
        with pytest.raises(DeprecatedArgumentError) as info:
            call()
        assert "VLLM_API_KEY" in str(info.value) and "credentials=" in str(info.value)
        assert secret not in str(info.value)
    assert srv.requests == []


# -- models_vllm() -------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "/v1", "/v1/"])
def test_models_vllm_reads_the_ids_in_the_servers_order(
    srv: FakeServer, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    monkeypatch.setenv("VLLM_API_KEY", KEY)
    srv.enqueue(Reply.json(VLLM_MODELS))
    models = models_vllm(srv.url + suffix, api_headers={"X-Team": "a"})
    assert models == [VllmModel(id=MODEL), VllmModel(id="sql-lora")]
    (request,) = srv.requests
    assert (request.method, request.path, request.body) == ("GET", "/v1/models", b"")
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["x-team"] == "a"


def test_models_vllm_skips_rows_without_an_id(srv: FakeServer) -> None:
    srv.enqueue(Reply.json({"data": [{"object": "model"}, "junk", {"id": "a"}, {"id": 7}]}))
    assert models_vllm(srv.url, credentials=lambda: KEY) == [VllmModel(id="a")]


def test_models_vllm_credentials_may_return_headers(
    srv: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VLLM_API_KEY", "from-the-environment")
    srv.enqueue(Reply.json(VLLM_MODELS))
    models_vllm(srv.url, credentials=lambda: {"X-Gateway-Token": "tok"})
    (request,) = srv.requests
    assert request.headers["x-gateway-token"] == "tok"
    assert "authorization" not in request.headers


def test_models_vllm_without_a_key_sends_nothing(srv: FakeServer) -> None:
    with pytest.raises(MissingCredentialsError, match="VLLM_API_KEY"):
        models_vllm(srv.url)
    assert srv.requests == []


def test_models_vllm_errors(srv: FakeServer) -> None:
    srv.enqueue(Reply.json({"error": {"message": "Unauthorized"}}, status=401))
    with pytest.raises(AuthenticationError, match="Unauthorized") as info:
        models_vllm(srv.url, credentials=lambda: KEY)
    assert KEY not in str(info.value)
    srv.enqueue(Reply.json({"object": "list"}))
    with pytest.raises(MalformedResponseError, match=r"no 'data' array.*vLLM server"):
        models_vllm(srv.url, credentials=lambda: KEY)


def test_a_chat_pickles_with_its_protocol(srv: FakeServer) -> None:
    import pickle

    c = chat_vllm(srv.url, model=MODEL, echo="none")
    again: Chat = pickle.loads(pickle.dumps(c))
    assert again.get_model() == MODEL
    protocol = again.get_provider().protocol
    assert type(protocol).__name__ == "OpenAIChat" and protocol.strict_tools is False
