"""The Anthropic Messages protocol as pure code: requests built, answers and streams read.

No server here: ``AnthropicMessages.build_request()`` is inspected as a
body, ``parse_response()`` and the stream decoder are fed documents and
bytes (recorded ones from ``../shared/fixtures/native/anthropic/`` where
that proves more than a made-up one).
"""

from __future__ import annotations

import base64
import json
import warnings
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ellmer_py import (
    AssistantTurn,
    ConfigurationError,
    Content,
    ContentImageInline,
    ContentImageRemote,
    ContentJson,
    ContentPDF,
    ContentText,
    ContentThinking,
    ContentToolRequest,
    ContentToolRequestFetch,
    ContentToolRequestSearch,
    ContentToolResponseFetch,
    ContentToolResponseSearch,
    ContentToolResult,
    MalformedResponseError,
    StreamErrorEvent,
    SystemTurn,
    Turn,
    UserTurn,
    claude_tool_web_fetch,
    claude_tool_web_search,
    params,
    tool,
    type_array,
    type_integer,
    type_object,
    type_string,
)
from ellmer_py._protocols import StreamDecoder, WireProtocol, WireRequest
from ellmer_py._protocols.anthropic import (
    STRUCTURED_TOOL,
    AnthropicDecoder,
    AnthropicMessages,
    has_structured_output,
)
from ellmer_py._turn import Tokens
from ellmer_py._types import TypeObject

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "native" / "anthropic"
GENAI = FIXTURES / "genai"
EPHEMERAL_5M = {"type": "ephemeral", "ttl": "5m"}
SIGNATURE = "EqQBCkYIBxgCKkBsig=="


def build(
    turns: list[Turn],
    *,
    model: str = "claude-sonnet-5",
    protocol: AnthropicMessages | None = None,
    p: Any = None,
    **kwargs: Any,
) -> WireRequest:
    protocol = protocol or AnthropicMessages(cache="none")
    return protocol.build_request(
        turns, model=model, params=protocol.encode_params(p), stream=False, **kwargs
    )


def sent_blocks(content: Content, role: str = "user") -> list[dict[str, Any]]:
    """The blocks one content becomes, in a message of ``role`` (no cache points)."""
    turn: Turn = UserTurn([content]) if role == "user" else AssistantTurn([content])
    messages = build([UserTurn("Hi"), turn] if role == "assistant" else [turn]).body["messages"]
    last = messages[-1]
    return list(last["content"]) if last["role"] == role else []


def recorded_body(path: Path, n: int = 0) -> str:
    return str(json.loads(path.read_text(encoding="utf-8"))["interactions"][n]["response"]["body"])


def decode(chunks: list[bytes]) -> tuple[AssistantTurn, list[Content], AnthropicDecoder]:
    """Feed the chunks, close, and return the turn, the pieces shown and the decoder."""
    decoder = AnthropicMessages().open_stream()
    pieces: list[Content] = []
    for chunk in chunks:
        pieces += decoder.feed(chunk)
    pieces += decoder.close()
    return decoder.turn(), pieces, decoder


def sse(*events: dict[str, Any]) -> bytes:
    """Events as the API frames them: ``event: <type>`` then ``data: <json>``."""
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


def message_start(**usage: int) -> dict[str, Any]:
    return {
        "type": "message_start",
        "message": {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-5",
            "content": [],
            "stop_reason": None,
            "usage": usage,
        },
    }


def test_it_is_a_wire_protocol() -> None:
    protocol = AnthropicMessages()
    assert isinstance(protocol, WireProtocol)
    assert isinstance(protocol.open_stream(), StreamDecoder)
    assert protocol.name == "anthropic-messages"
    request = build([UserTurn("Hi")], protocol=protocol)
    assert (request.method, request.path, request.accept) == (
        "POST",
        "messages",
        "application/json",
    )
    assert request.headers == {"anthropic-version": "2023-06-01"}
    streamed = protocol.build_request(
        [UserTurn("Hi")], model="m", params=protocol.encode_params(None), stream=True
    )
    assert streamed.accept == "text/event-stream"
    assert streamed.body["stream"] is True


# -- ellmer -> Claude: every content kind ---------------------------------------------------------


def test_text() -> None:
    assert sent_blocks(ContentText("Hello")) == [{"type": "text", "text": "Hello"}]


@pytest.mark.parametrize("text", ["", " ", "\n\n", "\t \n"])
def test_whitespace_text_is_sent_as_empty_string_marker(text: str) -> None:
    """Claude rejects blank text blocks: R sends "[empty string]" instead."""
    for role in ("user", "assistant"):
        assert sent_blocks(ContentText(text), role) == [{"type": "text", "text": "[empty string]"}]


def test_image_by_url() -> None:
    image = ContentImageRemote("https://example.com/a.png", detail="high")
    assert sent_blocks(image) == [
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
    ]


def test_inline_image() -> None:
    data = b"\x89PNG\r\n\x1a\nrest"
    assert sent_blocks(ContentImageInline("image/png", data)) == [
        {
            "type": "image",
            "source": {
                "type": "base64",
                "media_type": "image/png",
                "data": base64.b64encode(data).decode(),
            },
        }
    ]


def test_pdf_document() -> None:
    data = b"%PDF-1.5 fake"
    (block,) = sent_blocks(ContentPDF(data, filename="report.pdf"))
    assert block.pop("title", "report.pdf") == "report.pdf"  # the file name, if sent at all
    assert block == {
        "type": "document",
        "source": {
            "type": "base64",
            "media_type": "application/pdf",
            "data": base64.b64encode(data).decode(),
        },
    }


def test_tool_use() -> None:
    request = ContentToolRequest("toolu_1", "square_root", {"number": 132413})
    assert sent_blocks(request, "assistant") == [
        {"type": "tool_use", "id": "toolu_1", "name": "square_root", "input": {"number": 132413}}
    ]


@pytest.mark.parametrize(("arguments", "sent"), [(None, {}), ("", {}), ({}, {})])
def test_tool_use_input_is_always_an_object(arguments: Any, sent: Any) -> None:
    (block,) = sent_blocks(ContentToolRequest("toolu_1", "now", arguments), "assistant")
    assert block["input"] == sent


def test_tool_results_ok_and_failed() -> None:
    ok = ContentToolResult("toolu_1", value={"root": 363.89})
    failed = ContentToolResult("toolu_2", error="division by zero")
    assert sent_blocks(ok) == [
        {
            "type": "tool_result",
            "tool_use_id": "toolu_1",
            "content": '{"root": 363.89}',
            "is_error": False,
        }
    ]
    assert sent_blocks(failed) == [
        {
            "type": "tool_result",
            "tool_use_id": "toolu_2",
            "content": "Tool calling failed with error division by zero",
            "is_error": True,
        }
    ]


def test_thinking_goes_back_with_its_signature() -> None:
    thinking = ContentThinking("Let me think.", extra={"signature": SIGNATURE})
    assert sent_blocks(thinking, "assistant") == [
        {"type": "thinking", "thinking": "Let me think.", "signature": SIGNATURE}
    ]


@pytest.mark.parametrize(
    "thinking",
    [
        ContentThinking("Unsigned thoughts"),
        ContentThinking("Unsigned thoughts", extra={"signature": ""}),
        ContentThinking("", extra={"signature": SIGNATURE}),  # R drops empty thinking
    ],
)
def test_thinking_without_signature_or_text_is_dropped(thinking: ContentThinking) -> None:
    turn = AssistantTurn([thinking, ContentText("Answer")])
    messages = build([UserTurn("Q"), turn, UserTurn("Next")]).body["messages"]
    assert messages[1] == {"role": "assistant", "content": [{"type": "text", "text": "Answer"}]}


def test_an_assistant_turn_of_dropped_thinking_only_is_left_out() -> None:
    turns: list[Turn] = [UserTurn("Q"), AssistantTurn([ContentThinking("x")]), UserTurn("Again")]
    messages = build(turns).body["messages"]
    assert messages == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "Q"}, {"type": "text", "text": "Again"}],
        }
    ]


def test_redacted_thinking_goes_back_untouched() -> None:
    redacted = ContentThinking("", extra={"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3p"})
    assert sent_blocks(redacted, "assistant") == [
        {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3p"}
    ]


def test_structured_answer_goes_back_as_compact_json_text() -> None:
    """R: ``jsonlite::toJSON(x, auto_unbox = TRUE)``: no spaces, UTF-8 kept."""
    answer = ContentJson({"title": "Pommes à croquer", "n": [1, 2]})
    assert sent_blocks(answer, "assistant") == [
        {"type": "text", "text": '{"title":"Pommes à croquer","n":[1,2]}'}
    ]


SEARCH_CALL = {
    "type": "server_tool_use",
    "id": "srvtoolu_1",
    "name": "web_search",
    "input": {"query": "prime minister of Canada"},
}
SEARCH_RESULT = {
    "type": "web_search_tool_result",
    "tool_use_id": "srvtoolu_1",
    "content": [
        {
            "type": "web_search_result",
            "title": "Prime Minister of Canada",
            "url": "https://example.ca/pm",
            "encrypted_content": "Es4mCioI",
            "page_age": None,
        }
    ],
}
FETCH_CALL = {
    "type": "server_tool_use",
    "id": "srvtoolu_2",
    "name": "web_fetch",
    "input": {"url": "https://perdu.com"},
}
FETCH_RESULT = {
    "type": "web_fetch_tool_result",
    "tool_use_id": "srvtoolu_2",
    "content": {
        "type": "web_fetch_result",
        "url": "https://perdu.com",
        "content": {"type": "document", "source": {"type": "text", "data": "Perdu ?"}},
    },
}


@pytest.mark.parametrize(
    "content",
    [
        ContentToolRequestSearch(query="prime minister of Canada", json=SEARCH_CALL),
        ContentToolResponseSearch(urls=["https://example.ca/pm"], json=SEARCH_RESULT),
        ContentToolRequestFetch(url="https://perdu.com", json=FETCH_CALL),
        ContentToolResponseFetch(url="https://perdu.com", json=FETCH_RESULT),
    ],
    ids=lambda c: type(c).__name__,
)
def test_server_tool_blocks_go_back_as_their_json(content: Content) -> None:
    assert sent_blocks(content, "assistant") == [content.json]  # type: ignore[attr-defined]


def test_content_claude_cannot_take_is_a_clear_error() -> None:
    @attrs.frozen
    class ContentAudio(Content):
        data: bytes = b""

    with pytest.raises(ConfigurationError, match="ContentAudio"):
        build([UserTurn([ContentAudio()])])


# -- messages, system prompt and cache points -----------------------------------------------------


def test_consecutive_turns_of_one_role_are_merged() -> None:
    turns: list[Turn] = [
        SystemTurn("Be terse."),
        UserTurn("a"),
        UserTurn("b"),
        AssistantTurn("c"),
        AssistantTurn("d"),
        UserTurn("e"),
    ]
    body = build(turns).body
    assert body["system"] == [{"type": "text", "text": "Be terse."}]
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "c"}, {"type": "text", "text": "d"}],
        },
        {"role": "user", "content": [{"type": "text", "text": "e"}]},
    ]


def cache_points(body: dict[str, Any]) -> list[tuple[str, Any]]:
    """Where ``cache_control`` sits: ("system", value) or (f"{message}.{block}", value)."""
    found = [("system", b["cache_control"]) for b in body.get("system", []) if "cache_control" in b]
    for i, message in enumerate(body["messages"]):
        for j, block in enumerate(message["content"]):
            if "cache_control" in block:
                found.append((f"{i}.{j}", block["cache_control"]))
    return found


CONVERSATION: list[Turn] = [
    SystemTurn("Be terse."),
    UserTurn(["Look:", ContentImageRemote("https://example.com/a.png")]),
    AssistantTurn("A cat."),
    UserTurn(["And this?", ContentText("Please.")]),
]


@pytest.mark.parametrize("ttl", ["5m", "1h"])
def test_cache_points_on_the_system_prompt_and_the_last_block(ttl: str) -> None:
    body = build(CONVERSATION, protocol=AnthropicMessages(cache=ttl)).body
    point = {"type": "ephemeral", "ttl": ttl}
    assert cache_points(body) == [("system", point), ("2.1", point)]


def test_no_cache_points_with_cache_none() -> None:
    body = build(CONVERSATION, protocol=AnthropicMessages(cache="none")).body
    assert cache_points(body) == []
    assert "cache_control" not in json.dumps(body)


def test_no_cache_point_on_a_thinking_block() -> None:
    """Claude refuses cache_control on thinking blocks."""
    turns: list[Turn] = [
        UserTurn("Q"),
        AssistantTurn([ContentThinking("Hmm.", extra={"signature": SIGNATURE})]),
    ]
    body = build(turns, protocol=AnthropicMessages(cache="5m")).body
    assert cache_points(body) == []


def test_the_cache_point_follows_the_last_turn() -> None:
    turns: list[Turn] = [UserTurn("Q"), AssistantTurn("A"), UserTurn("Again")]
    body = build(turns, protocol=AnthropicMessages()).body
    assert cache_points(body) == [("2.0", EPHEMERAL_5M)]


@pytest.mark.parametrize("cache", ["10m", "", None, "5M"])
def test_an_unknown_cache_is_refused(cache: Any) -> None:
    with pytest.raises(ConfigurationError, match="cache"):
        AnthropicMessages(cache=cache)


# -- params ---------------------------------------------------------------------------------------


def test_max_tokens_defaults_to_4096() -> None:
    protocol = AnthropicMessages()
    assert protocol.encode_params(None) == {"max_tokens": 4096}
    assert build([UserTurn("Hi")]).body["max_tokens"] == 4096


def test_standard_params_and_their_wire_names() -> None:
    p = params(temperature=0.5, top_p=0.9, top_k=40, max_tokens=100, stop_sequences=["END", "||"])
    body = build([UserTurn("Hi")], p=p).body
    assert {k: body[k] for k in ("temperature", "top_p", "top_k", "max_tokens")} == {
        "temperature": 0.5,
        "top_p": 0.9,
        "top_k": 40,
        "max_tokens": 100,
    }
    assert body["stop_sequences"] == ["END", "||"]
    assert "thinking" not in body
    assert "output_config" not in body


def test_a_single_stop_sequence_is_a_list() -> None:
    assert build([UserTurn("Hi")], p=params(stop_sequences="cool")).body["stop_sequences"] == [
        "cool"
    ]


def test_reasoning_tokens_enable_thinking_with_a_budget() -> None:
    body = build([UserTurn("Hi")], p=params(reasoning_tokens=2048, max_tokens=8000)).body
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert "budget_tokens" not in body
    assert "reasoning_tokens" not in body
    assert body["max_tokens"] == 8000


def test_reasoning_effort_is_adaptive_thinking_with_an_effort() -> None:
    body = build([UserTurn("Hi")], p=params(reasoning_effort="high")).body
    assert body["thinking"] == {"type": "adaptive"}
    assert body["output_config"] == {"effort": "high"}
    assert "reasoning_effort" not in body


def test_reasoning_effort_wins_over_reasoning_tokens() -> None:
    """R: ``reasoning_effort`` first, ``budget_tokens`` only without it (and then it warns)."""
    with pytest.warns(UserWarning, match="reasoning_tokens"):
        p = params(reasoning_effort="low", reasoning_tokens=1024)
        body = build([UserTurn("Hi")], p=p).body
    assert body["thinking"] == {"type": "adaptive"}
    assert body["output_config"] == {"effort": "low"}
    assert "budget_tokens" not in body


def test_reasoning_effort_and_structured_output_share_output_config() -> None:
    kind = type_object(answer=type_string())
    body = build([UserTurn("Hi")], p=params(reasoning_effort="medium"), type=kind).body
    assert body["output_config"]["effort"] == "medium"
    assert body["output_config"]["format"]["type"] == "json_schema"


def test_unsupported_params_warn_once_listing_them() -> None:
    p = params(seed=1, frequency_penalty=0.5, presence_penalty=0.1, log_probs=True, temperature=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wire = AnthropicMessages().encode_params(p)
    assert len(caught) == 1
    message = str(caught[0].message)
    for name in ("seed", "frequency_penalty", "presence_penalty", "log_probs"):
        assert name in message
    assert "temperature" not in message
    assert wire == {"temperature": 1, "max_tokens": 4096}


def test_extra_args_pass_through() -> None:
    body = build([UserTurn("Hi")], p=params(metadata={"user_id": "u1"})).body
    assert body["metadata"] == {"user_id": "u1"}


# -- headers and built-in tools -------------------------------------------------------------------


def test_beta_headers_are_joined() -> None:
    protocol = AnthropicMessages(beta_headers=("context-1m-2025-08-07", "files-api-2025-04-14"))
    assert build([UserTurn("Hi")], protocol=protocol).headers == {
        "anthropic-version": "2023-06-01",
        "anthropic-beta": "context-1m-2025-08-07,files-api-2025-04-14",
    }
    assert "anthropic-beta" not in build([UserTurn("Hi")]).headers


def test_web_fetch_adds_its_beta_header() -> None:
    fetch = claude_tool_web_fetch()
    request = build([UserTurn("Read https://perdu.com")], tools=[fetch])
    assert request.headers["anthropic-beta"] == "web-fetch-2025-09-10"
    assert request.body["tools"] == [
        {"name": "web_fetch", "type": "web_fetch_20250910", "citations": {"enabled": False}}
    ]
    joined = build(
        [UserTurn("Hi")], tools=[fetch], protocol=AnthropicMessages(beta_headers=("b1",))
    ).headers
    assert joined["anthropic-beta"] == "b1,web-fetch-2025-09-10"
    already = AnthropicMessages(beta_headers=("web-fetch-2025-09-10",))
    assert (
        build([UserTurn("Hi")], tools=[fetch], protocol=already).headers["anthropic-beta"]
        == "web-fetch-2025-09-10"
    )


def test_web_search_needs_no_beta_header() -> None:
    search = claude_tool_web_search(max_uses=2, allowed_domains=["example.com"])
    request = build([UserTurn("Hi")], tools=[search])
    assert "anthropic-beta" not in request.headers
    assert request.body["tools"] == [
        {
            "name": "web_search",
            "type": "web_search_20250305",
            "max_uses": 2,
            "allowed_domains": ["example.com"],
        }
    ]


def test_a_user_tool_definition() -> None:
    def square_root(number: float) -> float:
        """The square root of a number."""
        return float(number) ** 0.5

    body = build([UserTurn("Hi")], tools=[tool(square_root)]).body
    (definition,) = body["tools"]
    assert definition["name"] == "square_root"
    assert definition["description"] == "The square root of a number."
    schema = definition["input_schema"]
    assert schema["type"] == "object"
    assert schema["properties"]["number"]["type"] == "number"
    assert schema["required"] == ["number"]
    assert "tool_choice" not in body


# -- structured output ----------------------------------------------------------------------------

ARTICLE = type_object(
    "Summary of the article.",
    title=type_string("Content title"),
    author=type_string("Name of the author"),
)
ARTICLE_SCHEMA = {
    "type": "object",
    "description": "Summary of the article.",
    "properties": {
        "title": {"type": "string", "description": "Content title"},
        "author": {"type": "string", "description": "Name of the author"},
    },
    "required": ["title", "author"],
    "additionalProperties": False,
}

NEW_MODELS = [
    "claude-sonnet-4-5",
    "claude-sonnet-4-5-20250929",
    "claude-haiku-4-5-20251001",
    "claude-opus-4-8",
    "claude-opus-4-5-20251101",
    "claude-sonnet-5",
    "claude-opus-5",
    "claude-sonnet-5-1",
    "claude-fable-5",
]
OLD_MODELS = [
    "claude-sonnet-4-0",
    "claude-sonnet-4-20250514",
    "claude-opus-4-1-20250805",
    "claude-3-7-sonnet-20250219",
    "claude-3-5-sonnet-latest",
    "claude-3-5-haiku-20241022",
    "claude-3-haiku-20240307",
    "claude-3-opus-20240229",
    "claude-instant-1-2",
]


@pytest.mark.parametrize("model", NEW_MODELS)
def test_claude_4_5_and_later_take_output_config(model: str) -> None:
    assert has_structured_output(model)
    body = build([UserTurn("Apples are tasty")], model=model, type=ARTICLE).body
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": ARTICLE_SCHEMA}}
    assert "tools" not in body
    assert "tool_choice" not in body


@pytest.mark.parametrize("model", OLD_MODELS)
def test_older_models_get_the_forced_structured_tool(model: str) -> None:
    """R: the ``_structured_tool_call`` tool, forced, its input ``{"data": <type>}``."""
    assert not has_structured_output(model)
    body = build([UserTurn("Apples are tasty")], model=model, type=ARTICLE).body
    assert body["tools"] == [
        {
            "name": STRUCTURED_TOOL,
            "description": "Extract structured data",
            "input_schema": {
                "type": "object",
                "description": "",
                "properties": {"data": ARTICLE_SCHEMA},
                "required": ["data"],
                "additionalProperties": False,
            },
        }
    ]
    assert body["tool_choice"] == {"type": "tool", "name": STRUCTURED_TOOL}
    assert "output_config" not in body


def test_an_open_object_uses_the_tool_even_on_new_models() -> None:
    """R: ``type_has_additional_properties()``: output_config needs closed objects."""
    open_inner = TypeObject({"name": type_string()}, additional_properties=True)
    kind = type_object(people=type_array(open_inner))
    body = build([UserTurn("Hi")], model="claude-sonnet-5", type=kind).body
    assert body["tool_choice"] == {"type": "tool", "name": STRUCTURED_TOOL}
    assert "output_config" not in body


def test_needs_wrapper() -> None:
    """Only output_config wraps non-objects; the tool wraps everything in ``data`` itself."""
    protocol = AnthropicMessages()
    assert protocol.needs_wrapper(type_integer(), model="claude-sonnet-5")
    assert protocol.needs_wrapper(type_array(type_string()), model="claude-opus-4-8")
    assert not protocol.needs_wrapper(ARTICLE, model="claude-sonnet-5")
    assert not protocol.needs_wrapper(type_integer(), model="claude-sonnet-4-0")


TOOL_ANSWER = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-0",
    "content": [
        {
            "type": "tool_use",
            "id": "toolu_1",
            "name": STRUCTURED_TOOL,
            "input": {"data": {"title": "Apples are tasty", "author": "Hadley Wickham"}},
        }
    ],
    "stop_reason": "tool_use",
    "usage": {"input_tokens": 732, "output_tokens": 58},
}


def test_the_structured_tool_answer_is_json() -> None:
    turn = AnthropicMessages().parse_response(TOOL_ANSWER)
    assert turn.contents == (
        ContentJson({"title": "Apples are tasty", "author": "Hadley Wickham"}),
    )
    assert turn.finish_reason == "tool_use"


def test_the_structured_tool_answer_streamed_is_json() -> None:
    block = dict(TOOL_ANSWER["content"][0], input={})  # type: ignore[arg-type]
    text = json.dumps(TOOL_ANSWER["content"][0]["input"])  # type: ignore[index]
    body = sse(
        message_start(input_tokens=732, output_tokens=1),
        {"type": "content_block_start", "index": 0, "content_block": block},
        *(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": text[i : i + 9]},
            }
            for i in range(0, len(text), 9)
        ),
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use"},
            "usage": {"output_tokens": 58},
        },
        {"type": "message_stop"},
    )
    turn, _, _ = decode([body])
    assert turn == AnthropicMessages().parse_response(TOOL_ANSWER)


# -- Claude -> ellmer: answers --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "finish"),
    [
        ("end_turn", "success"),
        ("tool_use", "tool_use"),
        ("max_tokens", "max_tokens"),
        ("stop_sequence", "stop_sequence"),
        ("refusal", "content_filter"),
        ("model_context_window_exceeded", "context_window"),
        ("pause_turn", "pause_turn"),  # unknown reasons are kept as they are
        (None, None),
    ],
)
def test_finish_reasons(reason: str | None, finish: str | None) -> None:
    doc = {"type": "message", "content": [{"type": "text", "text": "x"}], "stop_reason": reason}
    assert AnthropicMessages().parse_response(doc).finish_reason == finish
    body = sse(
        message_start(input_tokens=1),
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": "x"}},
        {"type": "message_delta", "delta": {"stop_reason": reason}, "usage": {"output_tokens": 1}},
        {"type": "message_stop"},
    )
    assert decode([body])[0].finish_reason == finish


def test_tokens_count_cache_writes_as_input_and_reads_as_cached() -> None:
    usage = {
        "input_tokens": 10,
        "cache_creation_input_tokens": 5,
        "cache_read_input_tokens": 3,
        "output_tokens": 7,
    }
    doc = {"type": "message", "content": [], "stop_reason": "end_turn", "usage": usage}
    assert AnthropicMessages().parse_response(doc).tokens == Tokens(15, 7, 3)
    doc["usage"] = {"input_tokens": 2, "output_tokens": 1, "cache_creation_input_tokens": None}
    assert AnthropicMessages().parse_response(doc).tokens == Tokens(2, 1, 0)


def test_streamed_usage_is_message_start_merged_with_message_delta() -> None:
    body = sse(
        message_start(
            input_tokens=10,
            cache_creation_input_tokens=5,
            cache_read_input_tokens=3,
            output_tokens=1,
        ),
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 20},
        },
        {"type": "message_stop"},
    )
    assert decode([body])[0].tokens == Tokens(15, 20, 3)
    # cumulative counts in message_delta (server tools) replace message_start's; nulls do not
    body = body.replace(
        b'{"output_tokens": 20}',
        b'{"input_tokens": 40, "cache_read_input_tokens": null, "output_tokens": 20}',
    )
    assert decode([body])[0].tokens == Tokens(45, 20, 3)


def test_thinking_text_and_signature() -> None:
    doc = {
        "type": "message",
        "content": [
            {"type": "thinking", "thinking": "Two and two.", "signature": SIGNATURE},
            {"type": "redacted_thinking", "data": "EmwKAhgB"},
            {"type": "text", "text": "4", "citations": None},
        ],
        "stop_reason": "end_turn",
    }
    turn = AnthropicMessages().parse_response(doc)
    assert turn.contents == (
        ContentThinking("Two and two.", extra={"signature": SIGNATURE}),
        ContentThinking("", extra={"type": "redacted_thinking", "data": "EmwKAhgB"}),
        ContentText("4"),
    )
    # and back: exactly the blocks that came
    messages = build([UserTurn("2+2?"), turn]).body["messages"]
    assert messages[1]["content"] == [
        {"type": "thinking", "thinking": "Two and two.", "signature": SIGNATURE},
        {"type": "redacted_thinking", "data": "EmwKAhgB"},
        {"type": "text", "text": "4"},
    ]


def test_citations_are_kept_in_extra() -> None:
    citation = {
        "type": "char_location",
        "cited_text": "Quackiland",
        "document_index": 0,
        "start_char_index": 0,
        "end_char_index": 10,
    }
    doc = {
        "type": "message",
        "content": [{"type": "text", "text": "Quackiland", "citations": [citation]}],
        "stop_reason": "end_turn",
    }
    turn = AnthropicMessages().parse_response(doc)
    assert turn.contents == (ContentText("Quackiland", extra={"citations": [citation]}),)


def test_server_tools_become_search_and_fetch_contents() -> None:
    doc = {
        "type": "message",
        "content": [SEARCH_CALL, SEARCH_RESULT, FETCH_CALL, FETCH_RESULT],
        "stop_reason": "end_turn",
    }
    assert AnthropicMessages().parse_response(doc).contents == (
        ContentToolRequestSearch(query="prime minister of Canada", json=SEARCH_CALL),
        ContentToolResponseSearch(urls=["https://example.ca/pm"], json=SEARCH_RESULT),
        ContentToolRequestFetch(url="https://perdu.com", json=FETCH_CALL),
        ContentToolResponseFetch(url="https://perdu.com", json=FETCH_RESULT),
    )


def test_failed_server_tool_results() -> None:
    search_error = {
        "type": "web_search_tool_result",
        "tool_use_id": "srvtoolu_1",
        "content": {"type": "web_search_tool_result_error", "error_code": "max_uses_exceeded"},
    }
    fetch_error = {
        "type": "web_fetch_tool_result",
        "tool_use_id": "srvtoolu_2",
        "content": {"type": "web_fetch_tool_error", "error_code": "url_not_accessible"},
    }
    doc = {"type": "message", "content": [search_error, fetch_error], "stop_reason": "end_turn"}
    assert AnthropicMessages().parse_response(doc).contents == (
        ContentToolResponseSearch(urls=[], json=search_error),
        ContentToolResponseFetch(url="failed", json=fetch_error),
    )


def test_error_documents_and_malformed_answers() -> None:
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    with pytest.raises(StreamErrorEvent, match="Overloaded"):
        AnthropicMessages().parse_response(error)
    with pytest.raises(MalformedResponseError):
        AnthropicMessages().parse_response(["not", "a", "message"])
    with pytest.raises(MalformedResponseError, match="content"):
        AnthropicMessages().parse_response({"type": "message"})


JSON_ANSWERS = sorted(
    p
    for p in GENAI.rglob("GenSync*.json")
    if json.loads(p.read_text(encoding="utf-8"))["interactions"][0]["response"]["status"] == 200
)


def _as_sent(block: dict[str, Any]) -> dict[str, Any] | None:
    """A recorded answer block as it must go back to Claude."""
    kind = block["type"]
    if kind == "text":
        if not block["text"]:
            return None  # an empty text block is not kept
        return {
            "type": "text",
            "text": block["text"] if block["text"].strip() else "[empty string]",
        }
    if kind == "thinking":
        return dict(block) if block["thinking"] else None
    if kind == "tool_use":
        return {k: block[k] for k in ("type", "id", "name", "input")}
    return block


@pytest.mark.parametrize("path", JSON_ANSWERS, ids=lambda p: p.relative_to(GENAI).as_posix())
def test_recorded_answers_go_back_as_they_came(path: Path) -> None:
    """Every recorded answer, parsed, is sent back as its own blocks (the next request)."""
    doc = json.loads(recorded_body(path))
    turn = AnthropicMessages().parse_response(doc)
    messages = build([UserTurn("Question"), turn, UserTurn("Next")]).body["messages"]
    sent = [b for b in (_as_sent(b) for b in doc["content"]) if b is not None]
    if sent:
        assert messages[1] == {"role": "assistant", "content": sent}
    else:
        assert [m["role"] for m in messages] == ["user"]


# -- the stream decoder ---------------------------------------------------------------------------

EVERY_BYTE = [
    GENAI / "claude-sonnet-5_thinking" / "GenStream-Tools-ToolBias-USA.json",  # thinking, tool
    GENAI / "claude-opus-5_thinking" / "GenStream-Citations-text-markdown.json",  # citations
    GENAI / "claude-sonnet-5_thinking" / "GenStream-Tools-WebFetch.json",  # server tool, UTF-8
]


def _text_of(pieces: list[Content]) -> str:
    return "".join(p.text for p in pieces if isinstance(p, ContentText))


def _thinking_of(pieces: list[Content]) -> str:
    return "".join(p.thinking for p in pieces if isinstance(p, ContentThinking))


@pytest.mark.parametrize("path", EVERY_BYTE, ids=lambda p: p.relative_to(GENAI).as_posix())
def test_a_split_at_every_byte_gives_the_same_turn(path: Path) -> None:
    body = recorded_body(path).encode()
    whole, pieces, decoder = decode([body])
    assert decoder.done and decoder.complete
    assert _text_of(pieces) == whole.text
    thinking = [c for c in whole.contents if isinstance(c, ContentThinking)]
    assert _thinking_of(pieces) == "".join(c.thinking for c in thinking)
    for at in range(len(body) + 1):
        turn, split_pieces, _ = decode([body[:at], body[at:]])
        assert turn == whole, at
        assert _text_of(split_pieces) == whole.text, at


STREAMS = sorted(
    p
    for p in FIXTURES.rglob("*.json")
    if all(
        str(i["response"]["headers"].get("content-type", "")).startswith("text/event-stream")
        for i in json.loads(p.read_text(encoding="utf-8"))["interactions"]
    )
)


@given(data=st.data())
def test_any_chunking_of_any_recorded_stream_gives_the_same_turn(data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(STREAMS))
    body = recorded_body(path).encode()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(body)), max_size=40)))
    chunks = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    whole, _, _ = decode([body])
    turn, pieces, _ = decode(chunks)
    assert turn == whole
    assert _text_of(pieces) == whole.text


@pytest.mark.parametrize("path", EVERY_BYTE, ids=lambda p: p.relative_to(GENAI).as_posix())
def test_crlf_line_ends_give_the_same_turn(path: Path) -> None:
    body = recorded_body(path).encode()
    assert decode([body.replace(b"\n", b"\r\n")])[0] == decode([body])[0]


def test_a_stream_cut_mid_tool_arguments_keeps_them_as_text() -> None:
    body = recorded_body(GENAI / "claude-sonnet-5" / "GenStream-Tools-SquareRoot-1.json").encode()
    marker = b'"partial_json":"r\\": 13241"'
    assert marker in body
    cut = body[: body.index(b"\n\n", body.index(marker)) + 2]  # up to that event's end
    decoder = AnthropicMessages().open_stream()
    decoder.feed(cut)
    decoder.close()
    assert not decoder.done
    assert not decoder.complete
    (call,) = decoder.turn().contents
    assert isinstance(call, ContentToolRequest)
    assert call.name == "square_root"
    assert call.id.startswith("toolu_")
    assert call.arguments == '{"number": 13241'


def test_the_decoder_stops_reading_at_message_stop() -> None:
    body = recorded_body(GENAI / "claude-sonnet-5" / "GenStream-Stop.json").encode()
    whole, _, decoder = decode([body])
    assert decoder.done
    more = sse(
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "!"}}
    )
    assert decoder.feed(more) == []
    assert decoder.turn() == whole


def test_an_error_event_raises_and_keeps_what_arrived() -> None:
    body = sse(
        message_start(input_tokens=3, output_tokens=1),
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}},
        {"type": "ping"},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo"}},
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "!"}},
    )
    decoder = AnthropicMessages().open_stream()
    with pytest.raises(StreamErrorEvent) as info:
        decoder.feed(body)
    assert "Overloaded" in str(info.value)
    assert "Overloaded" in (info.value.server_message or "")
    assert decoder.turn().text == "Hello"
    assert not decoder.complete


def test_an_error_event_that_is_not_json() -> None:
    decoder = AnthropicMessages().open_stream()
    with pytest.raises(StreamErrorEvent, match="upstream connect error"):
        decoder.feed(b"event: error\ndata: upstream connect error\n\n")


def test_data_that_is_not_json_is_malformed() -> None:
    decoder = AnthropicMessages().open_stream()
    with pytest.raises(MalformedResponseError):
        decoder.feed(b"event: content_block_delta\ndata: {oops\n\n")


def test_a_last_event_without_its_blank_line_is_still_read() -> None:
    body = recorded_body(GENAI / "claude-sonnet-5" / "GenStream-Stop.json").encode().rstrip(b"\n")
    whole, _, _ = decode(
        [recorded_body(GENAI / "claude-sonnet-5" / "GenStream-Stop.json").encode()]
    )
    turn, _, decoder = decode([body + b"\n"])
    assert turn == whole
    assert decoder.done


def test_pieces_show_text_and_thinking_as_they_arrive() -> None:
    body = recorded_body(GENAI / "claude-sonnet-5_thinking" / "GenStream-Tools-ToolBias-USA.json")
    events = body.encode().split(b"\n\n")
    decoder = AnthropicMessages().open_stream()
    shown: list[Content] = []
    for event in events:
        shown += decoder.feed(event + b"\n\n")
    assert {type(p) for p in shown} == {ContentText, ContentThinking}
    assert all(p.extra is None for p in shown if isinstance(p, (ContentText, ContentThinking)))
    turn = decoder.turn()
    assert _text_of(shown) == turn.text
    assert [type(c) for c in turn.contents] == [ContentThinking, ContentText, ContentToolRequest]
