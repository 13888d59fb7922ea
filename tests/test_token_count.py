"""``Chat.token_count()`` (R: ``$token_count()``) on the APIs that count tokens.

Each counting endpoint is played by a loopback :class:`FakeServer`; the
bodies are compared with what R's ellmer sent in its own recordings
(``../shared/fixtures/native/*/ellmer/*count-tokens.json``) and the answers
are the recorded ones.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ellmer_py import (
    BadRequestError,
    ConfigurationError,
    chat_anthropic,
    chat_google_gemini,
    chat_google_vertex,
    chat_openai,
    chat_openai_compatible,
    tool,
    type_object,
    type_string,
)
from ellmer_py.conformance.fake_server import FakeServer, Reply

NATIVE = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "native"
KEY = "sk-count-secret-0123456789"


def recorded(path: str, suffix: str) -> list[dict[str, Any]]:
    """The interactions of a recording whose URL ends with ``suffix``."""
    doc = json.loads((NATIVE / path).read_text(encoding="utf-8"))
    return [i for i in doc["interactions"] if i["request"]["url"].endswith(suffix)]


def answer_of(interaction: dict[str, Any]) -> Reply:
    return Reply.json(json.loads(interaction["response"]["body"]))


def weather(city: str) -> str:
    """Get weather for a city."""
    return "sunny"


# -- Anthropic: messages/count_tokens ---------------------------------------------------


def test_anthropic_counts_the_new_message_as_r_does() -> None:
    calls = recorded("anthropic/ellmer/anthropic-count-tokens.json", "/count_tokens")
    with FakeServer() as srv:
        srv.enqueue(answer_of(calls[0]), answer_of(calls[1]))
        made = chat_anthropic(base_url=srv.base_url, credentials=lambda: KEY, echo="none")
        assert made.token_count("What's the current date?") == 12
        made.set_system_prompt("Answer succinctly")
        # with no answer yet, "complete" adds the system prompt (and tools)
        assert made.token_count("What's the current date?", include="complete") == 20
        new, complete = srv.requests
    assert new.path == "/v1/messages/count_tokens"
    assert new.json == calls[0]["request"]["body"]
    assert complete.json == calls[1]["request"]["body"]
    assert new.headers["anthropic-version"] == "2023-06-01"
    assert new.headers["x-api-key"] == KEY
    assert made.get_turns() == []  # counting records nothing


def test_anthropic_counts_a_structured_type_with_rs_forced_tool() -> None:
    (call,) = [
        c
        for c in recorded("anthropic/ellmer/anthropic-count-tokens.json", "/count_tokens")
        if "tools" in c["request"]["body"]
    ]
    article = type_object(
        title=type_string("Content title"), author=type_string("Name of the author")
    )
    with FakeServer() as srv:
        srv.enqueue(answer_of(call))
        made = chat_anthropic(
            base_url=srv.base_url, model="claude-3-5-haiku", credentials=lambda: KEY, echo="none"
        )
        assert made.token_count("Apples are tasty. By Hadley Wickham.", type=article) == 669
        body = srv.requests[0].json
    sent = call["request"]["body"]
    assert body["tool_choice"] == sent["tool_choice"]
    assert [t["name"] for t in body["tools"]] == [t["name"] for t in sent["tools"]]


# -- Gemini and Vertex: models/{model}:countTokens -------------------------------------


def test_gemini_wraps_the_request_as_r_does() -> None:
    calls = recorded("google_gemini/ellmer/google-count-tokens.json", ":countTokens")
    with FakeServer() as srv:
        srv.enqueue(answer_of(calls[0]), Reply.json({"totalTokens": 11}))
        made = chat_google_gemini(base_url=srv.base_url, credentials=lambda: KEY, echo="none")
        assert made.token_count("What's the current date?") == 8
        article = type_object(
            title=type_string("Content title"), author=type_string("Name of the author")
        )
        assert made.token_count("Apples are tasty. By Hadley Wickham.", type=article) == 11
        plain, structured = srv.requests
    assert plain.path == "/v1/models/gemini-3.5-flash:countTokens"
    assert plain.headers["x-goog-api-key"] == KEY
    body = plain.json["generateContentRequest"]
    r_body = calls[0]["request"]["body"]["generateContentRequest"]
    assert body["model"] == r_body["model"] == "models/gemini-3.5-flash"
    assert body["contents"] == r_body["contents"]
    # R sends the empty system instruction's parts as one object; a list is the same field
    assert body["systemInstruction"] == {"parts": [{"text": ""}]}
    config = structured.json["generateContentRequest"]["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert set(config["responseSchema"]["properties"]) == {"title", "author"}


def test_vertex_sends_the_count_request_unwrapped() -> None:
    with FakeServer() as srv:
        srv.enqueue(Reply.json({"totalTokens": 5}))
        made = chat_google_vertex(
            "global", "proj", base_url=srv.base_url + "/", credentials=lambda: "tok", echo="none"
        )
        assert made.token_count("hi") == 5
        (request,) = srv.requests
    assert request.path == "/v1/models/gemini-3.5-flash:countTokens"
    assert "generateContentRequest" not in request.json
    assert request.json["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]


# -- OpenAI Responses: responses/input_tokens -----------------------------------------


def test_openai_counts_with_tools_when_complete() -> None:
    calls = recorded(
        "openai/chatlas/test_provider_openai/"
        "test_openai_token_count_uses_endpoint_and_counts_tools.json",
        "/input_tokens",
    )
    with FakeServer() as srv:
        srv.enqueue(answer_of(calls[0]), answer_of(calls[1]))
        made = chat_openai(
            base_url=srv.base_url, model="gpt-5.4", credentials=lambda: KEY, echo="none"
        )
        assert made.token_count("What is the weather?") == 11
        made.register_tool(tool(weather, arguments={"city": type_string()}))
        assert made.token_count("What is the weather?", include="complete") == 47
        new, complete = srv.requests
    assert new.path == "/v1/responses/input_tokens"
    assert new.headers["authorization"] == f"Bearer {KEY}"
    expected = calls[0]["request"]["body"]
    for item in expected["input"]:
        item.setdefault("type", "message")  # optional for OpenAI, needed by llama-server
    assert new.json == expected
    assert "tools" not in new.json  # "new" counts the message alone, as R
    assert complete.json["tools"][0]["name"] == "weather"
    assert complete.json["tools"][0]["strict"] is True


def test_complete_after_an_answer_adds_the_last_answers_tokens() -> None:
    reply = {
        "id": "resp_1",
        "object": "response",
        "status": "completed",
        "output": [
            {
                "type": "message",
                "id": "msg_1",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "hello", "annotations": []}],
            }
        ],
        "usage": {
            "input_tokens": 30,
            "input_tokens_details": {"cached_tokens": 10},
            "output_tokens": 5,
        },
    }
    with FakeServer() as srv:
        srv.enqueue(Reply.json(reply), Reply.json({"input_tokens": 7}))
        made = chat_openai(base_url=srv.base_url, credentials=lambda: KEY, echo="none")
        made.chat("hi")
        # new 7 + last input (30 - 10 cached) + output 5 + cached 10
        assert made.token_count("and then?", include="complete") == 7 + 20 + 5 + 10
        assert len(srv.requests) == 2


# -- what cannot be counted -------------------------------------------------------------


def test_a_provider_without_a_counting_endpoint_says_so() -> None:
    made = chat_openai_compatible("http://127.0.0.1:9/v1", model="m", credentials=lambda: KEY)
    with pytest.raises(NotImplementedError, match="doesn't support token counting"):
        made.token_count("hi")


def test_a_count_refused_by_the_server_is_our_error_without_the_key() -> None:
    with FakeServer() as srv:
        srv.enqueue(
            Reply.json(
                {"error": {"type": "invalid_request_error", "message": f"bad key {KEY}"}},
                status=400,
            )
        )
        made = chat_anthropic(base_url=srv.base_url, credentials=lambda: KEY, echo="none")
        with pytest.raises(BadRequestError) as info:
            made.token_count("hi")
    assert KEY not in str(info.value)


@pytest.mark.parametrize("bad", [{"input_tokens": "12"}, {"input_tokens": -1}, {}, [1]])
def test_an_answer_without_a_count_is_a_clear_error(bad: Any) -> None:
    from ellmer_py import MalformedResponseError

    with FakeServer() as srv:
        srv.enqueue(Reply.json(bad))
        made = chat_anthropic(base_url=srv.base_url, credentials=lambda: KEY, echo="none")
        with pytest.raises(MalformedResponseError, match="input_tokens"):
            made.token_count("hi")


def test_include_must_be_new_or_complete() -> None:
    made = chat_anthropic(base_url="http://127.0.0.1:9/v1", credentials=lambda: KEY)
    with pytest.raises(ConfigurationError, match="'new' or 'complete'"):
        made.token_count("hi", include="all")  # type: ignore[arg-type]
