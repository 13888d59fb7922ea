"""What llama-server itself serves, checked with raw HTTP requests.

These pin down the server's behaviour the provider tests rely on: the
endpoints, how it checks the key, and that the model is deterministic.
"""

from __future__ import annotations

from typing import Any

import pytest
from _llama_server import LlamaServer

pytestmark = pytest.mark.live

CHAT = "/v1/chat/completions"
PROMPT = [{"role": "user", "content": "Hello there"}]


def _chat(server: LlamaServer, **extra: Any) -> Any:
    """POST a 16-token greedy chat completion; return the JSON answer."""
    body = {"model": server.model, "messages": PROMPT, "max_tokens": 16, "temperature": 0}
    resp = server.request("POST", CHAT, {**body, **extra})
    assert resp.status == 200, resp.body
    return resp.json()


def test_health_is_public(llama_server: LlamaServer) -> None:
    """``/health`` needs no key."""
    assert llama_server.request("GET", "/health", auth=False).status == 200


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"Authorization": "Bearer {key}"}, 200),
        ({"Authorization": "{key}"}, 200),  # the "Bearer " prefix is optional
        ({"x-api-key": "{key}"}, 200),  # Anthropic's header
        ({"x-api-key": "wrong"}, 401),
        # Authorization wins: x-api-key is read only when Authorization is absent
        ({"Authorization": "Bearer wrong", "x-api-key": "{key}"}, 401),
        ({"Authorization": "Bearer {key}", "x-api-key": "wrong"}, 200),
    ],
)
@pytest.mark.parametrize("path", ["/v1/models", CHAT, "/v1/messages", "/v1/responses"])
def test_api_key_check(
    llama_server: LlamaServer, path: str, headers: dict[str, str], status: int
) -> None:
    """Every API path takes the key as a Bearer token or as ``x-api-key``."""
    sent = {k: v.format(key=llama_server.api_key) for k, v in headers.items()}
    if path == "/v1/models":
        resp = llama_server.request("GET", path, headers=sent, auth=False)
    elif path == "/v1/responses":
        body = {"model": "m", "input": "Hi", "max_output_tokens": 4, "temperature": 0}
        resp = llama_server.request("POST", path, body, headers=sent, auth=False)
    else:
        body = {"model": "m", "messages": PROMPT, "max_tokens": 4, "temperature": 0}
        resp = llama_server.request("POST", path, body, headers=sent, auth=False)
    assert resp.status == status, resp.body
    if status == 401:
        assert resp.json()["error"]["type"] == "authentication_error"


def test_chat_completions_deterministic(llama_server: LlamaServer) -> None:
    """Greedy decoding gives the same 16 printable ASCII tokens every time."""
    first = _chat(llama_server)
    second = _chat(llama_server, seed=7)
    text = first["choices"][0]["message"]["content"]
    assert text == second["choices"][0]["message"]["content"]
    assert text and text.isascii() and text.isprintable()
    assert first["choices"][0]["finish_reason"] == "length"
    assert first["usage"]["completion_tokens"] == 16


def test_chat_completions_stream(llama_server: LlamaServer) -> None:
    """Streaming sends the same text in pieces, and usage when asked."""
    body = {
        "model": llama_server.model,
        "messages": PROMPT,
        "max_tokens": 16,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    resp = llama_server.request("POST", CHAT, body)
    assert resp.status == 200
    assert resp.headers.get("Content-Type", "").startswith("text/event-stream")
    chunks = [data for _, data in resp.sse()]
    text = "".join(
        c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices")
    )
    assert text == _chat(llama_server)["choices"][0]["message"]["content"]
    assert chunks[-1]["usage"]["completion_tokens"] == 16


def test_system_prompt_changes_the_answer(llama_server: LlamaServer) -> None:
    """The model sees the system message: the answer differs with it."""
    plain = _chat(llama_server)["choices"][0]["message"]["content"]
    messages = [{"role": "system", "content": "You are a pirate."}, *PROMPT]
    with_system = _chat(llama_server, messages=messages)
    assert with_system["choices"][0]["message"]["content"] != plain


def test_no_system_template_rejects_system(no_system_server: LlamaServer) -> None:
    """A template that raises on a system message: 400 with the template's message."""
    messages = [{"role": "system", "content": "Be terse."}, *PROMPT]
    body = {"model": "m", "messages": messages, "max_tokens": 4, "temperature": 0}
    resp = no_system_server.request("POST", CHAT, body)
    assert resp.status == 400, resp.body
    error = resp.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert "System role not supported" in error["message"]
    ok = no_system_server.request("POST", CHAT, {**body, "messages": PROMPT})
    assert ok.status == 200, ok.body


def test_template_without_system_role_is_merged(merging_server: LlamaServer) -> None:
    """When the template fails llama-server's probe, it merges the system prompt itself."""
    system = [{"role": "system", "content": "You are a pirate."}]
    with_system = _chat(merging_server, messages=[*system, *PROMPT])
    plain = _chat(merging_server)
    assert (
        with_system["choices"][0]["message"]["content"] != plain["choices"][0]["message"]["content"]
    )


def test_responses_endpoint(llama_server: LlamaServer) -> None:
    """``/v1/responses`` (OpenAI Responses) answers with output_text."""
    body = {
        "model": llama_server.model,
        "input": "Hello there",
        "max_output_tokens": 16,
        "temperature": 0,
    }
    resp = llama_server.request("POST", "/v1/responses", body)
    assert resp.status == 200, resp.body
    doc = resp.json()
    assert doc["object"] == "response"
    message = next(item for item in doc["output"] if item["type"] == "message")
    assert message["content"][0]["type"] == "output_text"
    assert message["content"][0]["text"]
