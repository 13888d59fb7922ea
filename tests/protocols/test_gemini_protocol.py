"""The Gemini protocol, pure: request bodies, answers, streams and bad input."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ellmer_py import (
    AssistantTurn,
    ContentImageInline,
    ContentImageRemote,
    ContentPDF,
    ContentText,
    ContentThinking,
    ContentToolRequest,
    ContentToolResult,
    SystemTurn,
    UserTurn,
    params,
    tool,
    type_array,
    type_integer,
    type_object,
    type_string,
)
from ellmer_py._errors import ConfigurationError, MalformedResponseError, StreamErrorEvent
from ellmer_py._protocols.gemini import GeminiProtocol, finish_reason, tokens
from ellmer_py._turn import Tokens
from ellmer_py.providers.google import google_tool_web_fetch, google_tool_web_search

P = GeminiProtocol()


def build(turns: list[Any], **kwargs: Any) -> Any:
    kwargs.setdefault("stream", False)
    kwargs.setdefault("params", {})
    return P.build_request(turns, model=kwargs.pop("model", "gemini-2.5-flash"), **kwargs)


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def test_paths_and_query() -> None:
    plain = build([UserTurn("hi")])
    assert plain.path == "models/gemini-2.5-flash:generateContent"
    assert dict(plain.query) == {}
    streamed = build([UserTurn("hi")], stream=True, model="tuned/x y")
    assert streamed.path == "models/tuned%2Fx%20y:streamGenerateContent"
    assert dict(streamed.query) == {"alt": "sse"}
    assert streamed.accept == "text/event-stream"
    assert "key" not in streamed.query


def test_body_roles_system_and_params() -> None:
    turns = [
        SystemTurn("Be terse."),
        UserTurn("hi"),
        AssistantTurn([ContentText("hello")]),
        UserTurn("again"),
    ]
    wire = P.encode_params(
        params(temperature=0.5, max_tokens=10, stop_sequences=["x"], reasoning_tokens=64)
    )
    body = build(turns, params=wire).body
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    assert body["systemInstruction"] == {"parts": [{"text": "Be terse."}]}
    config = body["generationConfig"]
    assert config["temperature"] == 0.5
    assert config["maxOutputTokens"] == 10
    assert config["stopSequences"] == ["x"]
    assert config["thinkingConfig"] == {"thinkingBudget": 64, "includeThoughts": True}
    assert "thinkingBudget" not in config


def test_effort_is_thinking_level() -> None:
    body = build([UserTurn("hi")], params=P.encode_params(params(reasoning_effort="low"))).body
    assert body["generationConfig"]["thinkingConfig"] == {
        "thinkingLevel": "low",
        "includeThoughts": True,
    }


def test_structured_output_in_geminis_subset() -> None:
    person = type_object(name=type_string("Name."), tags=type_array(type_integer()))
    config = build([UserTurn("hi")], type=person).body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    schema = config["responseSchema"]
    assert "additionalProperties" not in json.dumps(schema)
    assert schema["properties"]["name"] == {"type": "string", "description": "Name."}
    assert schema["required"] == ["name", "tags"]
    with pytest.raises(ConfigurationError, match="additional_properties"):
        build([UserTurn("hi")], type=type_object(a=type_string(), _additional_properties=True))
    assert P.needs_wrapper(type_string()) is False


def test_tools_and_builtins() -> None:
    tools = [tool(add, "Add two numbers.", arguments={"a": type_integer(), "b": type_integer()})]
    body = build([UserTurn("hi")], tools=tools).body
    (decl,) = body["tools"][0]["functionDeclarations"]
    assert decl["name"] == "add" and decl["parameters"]["required"] == ["a", "b"]
    assert "toolConfig" not in body
    mixed = build(
        [UserTurn("hi")], tools=[*tools, google_tool_web_search(), google_tool_web_fetch()]
    ).body
    assert mixed["tools"][1:] == [{"google_search": {}}, {"url_context": {}}]
    assert mixed["toolConfig"] == {"includeServerSideToolInvocations": True}
    assert (
        "toolConfig"
        not in GeminiProtocol(vertex=True)
        .build_request(
            [UserTurn("hi")],
            model="m",
            params={},
            tools=[*tools, google_tool_web_search()],
            stream=False,
        )
        .body
    )


def test_media_parts() -> None:
    body = build(
        [
            UserTurn(
                [
                    ContentText("look"),
                    ContentImageInline("image/png", b"\x89PNG"),
                    ContentPDF(b"%PDF"),
                    ContentImageRemote("https://example.com/a.png"),
                ]
            )
        ]
    ).body
    parts = body["contents"][0]["parts"]
    assert parts[1] == {"inlineData": {"mimeType": "image/png", "data": "iVBORw=="}}
    assert parts[2]["inlineData"]["mimeType"] == "application/pdf"
    assert parts[3] == {"fileData": {"fileUri": "https://example.com/a.png"}}


def test_tool_calls_by_id_and_signatures_go_back() -> None:
    sig = {"thoughtSignature": "c2ln"}
    turns = [
        UserTurn("hi"),
        AssistantTurn(
            [
                ContentText("", extra=sig),
                ContentThinking("hmm", extra=sig),
                ContentToolRequest("call-1", "add", {"a": 1, "b": 2}, extra=sig),
                ContentToolRequest("call-2", "add", {"a": 3, "b": 4}),
                ContentToolRequest("add", "add", {}),
            ]
        ),
        UserTurn(
            [
                ContentToolResult("call-1", 3),
                ContentToolResult("call-2", 7),
                ContentToolResult("add", None, error="boom"),
            ]
        ),
    ]
    body = build(turns).body
    model = body["contents"][1]["parts"]
    assert model[0] == {"text": "", "thoughtSignature": "c2ln"}
    assert model[1] == {"thought": True, "text": "hmm", "thoughtSignature": "c2ln"}
    assert model[2] == {
        "functionCall": {"name": "add", "args": {"a": 1, "b": 2}, "id": "call-1"},
        "thoughtSignature": "c2ln",
    }
    assert model[4] == {"functionCall": {"name": "add", "args": {}}}
    results = [p["functionResponse"] for p in body["contents"][2]["parts"]]
    assert results[0] == {"name": "add", "response": {"value": "3"}, "id": "call-1"}
    assert results[1]["id"] == "call-2"
    assert results[2] == {
        "name": "add",
        "response": {"value": "Tool calling failed with error boom"},
    }


ANSWER = {
    "candidates": [
        {
            "content": {
                "role": "model",
                "parts": [
                    {"text": "plan", "thought": True},
                    {"text": "Hi"},
                    {"text": " there", "thoughtSignature": "c2ln"},
                    {"functionCall": {"name": "add", "args": {"a": 1}}, "thoughtSignature": "dA=="},
                    {"functionCall": {"id": "x2", "name": "add", "args": {"a": 2}}},
                ],
            },
            "finishReason": "STOP",
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 10,
        "cachedContentTokenCount": 4,
        "candidatesTokenCount": 3,
        "thoughtsTokenCount": 2,
        "totalTokenCount": 15,
    },
}


def test_parse_response() -> None:
    turn = P.parse_response(ANSWER)
    assert turn.contents == (
        ContentThinking("plan"),
        ContentText("Hi there", extra={"thoughtSignature": "c2ln"}),
        ContentToolRequest("add", "add", {"a": 1}, extra={"thoughtSignature": "dA=="}),
        ContentToolRequest("x2", "add", {"a": 2}),
    )
    assert turn.tokens == Tokens(input=6, output=5, cached_input=4)
    assert turn.finish_reason == "success"


def sse(docs: list[dict[str, Any]]) -> bytes:
    return b"".join(b"data: " + json.dumps(d).encode() + b"\r\n\r\n" for d in docs)


def chunk(parts: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"candidates": [{"content": {"role": "model", "parts": parts}, **extra}]}


STREAM = [
    chunk([{"text": "th", "thought": True}]),
    chunk([{"text": "ink", "thought": True}]),
    chunk([{"text": "Hel"}], usageMetadata={"promptTokenCount": 5, "totalTokenCount": 5}),
    chunk([{"text": "lo"}]),
    {
        **chunk([{"text": "", "thoughtSignature": "c2ln"}], finishReason="MAX_TOKENS"),
        "usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 9},
    },
]


@given(cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=8))
@settings(max_examples=50, deadline=None)
def test_stream_split_anywhere(cuts: list[int]) -> None:
    data = sse(STREAM)
    points = sorted({c for c in cuts if 0 < c < len(data)})
    decoder = P.open_stream()
    shown = []
    for a, b in zip([0, *points], [*points, len(data)], strict=True):
        shown += decoder.feed(data[a:b])
    shown += decoder.close()
    assert "".join(c.text for c in shown if isinstance(c, ContentText)) == "Hello"
    assert "".join(c.thinking for c in shown if isinstance(c, ContentThinking)) == "think"
    turn = decoder.turn()
    assert turn.contents == (
        ContentThinking("think"),
        ContentText("Hello", extra={"thoughtSignature": "c2ln"}),
    )
    assert turn.finish_reason == "max_tokens"
    assert turn.tokens == Tokens(input=5, output=4, cached_input=0)
    assert decoder.complete


def test_finish_reasons_and_tokens() -> None:
    for reason in ("SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII"):
        assert finish_reason(reason) == "content_filter"
    assert finish_reason("OTHER") == "OTHER"
    assert finish_reason(3) is None
    assert tokens({"promptTokenCount": "x", "totalTokenCount": True}) == Tokens(0, 0, 0)
    assert tokens(None) is None


def test_blocked_prompt_names_the_reason() -> None:
    doc = {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": {}}
    with pytest.raises(StreamErrorEvent, match="PROHIBITED_CONTENT"):
        P.parse_response(doc)
    decoder = P.open_stream()
    with pytest.raises(StreamErrorEvent, match="PROHIBITED_CONTENT"):
        decoder.feed(sse([doc]))


def test_errors_and_bad_json() -> None:
    with pytest.raises(StreamErrorEvent, match="INVALID_ARGUMENT"):
        P.parse_response({"error": {"code": 400, "message": "no", "status": "INVALID_ARGUMENT"}})
    with pytest.raises(MalformedResponseError):
        P.parse_response([1])
    with pytest.raises(MalformedResponseError):
        P.open_stream().feed(b"data: {nope\n\n")


keys = st.sampled_from(
    [
        "candidates",
        "content",
        "parts",
        "text",
        "thought",
        "functionCall",
        "name",
        "args",
        "id",
        "thoughtSignature",
        "finishReason",
        "usageMetadata",
        "promptTokenCount",
        "inlineData",
        "mimeType",
        "data",
        "promptFeedback",
        "blockReason",
        "error",
    ]
)
shaped = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=20,
)


@given(doc=shaped)
@settings(max_examples=300, deadline=None)
def test_wrong_types_never_crash(doc: Any) -> None:
    for run in (
        lambda: P.parse_response(doc),
        lambda: P.open_stream().feed(sse([doc]) if isinstance(doc, dict) else b"data: 1\n\n"),
    ):
        with contextlib.suppress(MalformedResponseError, StreamErrorEvent):
            run()
