"""The Anthropic Messages fake of the conformance suite, against the API's shapes.

Answers and streams are checked for the fields and the event grammar of the
Messages API (and against real recorded streams); the request readers are
checked on request bodies recorded from R ellmer, chatlas and genai.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given

from ellmer_py.conformance._protocol import Answer, Media, ProtocolFake, ToolCall, Usage
from ellmer_py.conformance._strategies import answers, byte_cuts
from ellmer_py.conformance.anthropic import (
    FAKE,
    SIGNATURE,
    STRUCTURED_TOOL,
    error_type,
    events,
    message,
    sse_bytes,
    stop_reason,
)
from ellmer_py.conformance.fake_server import RecordedRequest, Reply

NATIVE = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "native" / "anthropic"
ELLMER = NATIVE / "ellmer"
GENAI = NATIVE / "genai" / "claude-sonnet-5"
CHATLAS = NATIVE / "chatlas" / "test_provider_anthropic"

Event = tuple[str, dict[str, Any]]

FULL = Answer(
    text_pieces=("Hel", "lo ", "world"),
    thinking_pieces=("Let me ", "think."),
    tool_calls=(
        ToolCall("toolu_a", "add", {"a": 1, "b": 2}, pieces=('{"a": 1', ', "b": 2}')),
        ToolCall("toolu_b", "now", {}),
    ),
    finish_reason="tool_calls",
    usage=Usage(input=120, output=30, cached=100),
)


def _recording(path: Path) -> dict[str, Any]:
    assert path.is_file(), f"missing recording: {path} (the shared fixtures are always present)"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _bodies(path: Path) -> list[Any]:
    return [i["request"]["body"] for i in _recording(path)["interactions"]]


def parse_sse(data: bytes | str) -> list[Event]:
    """``event:`` / ``data:`` blocks -> (event name, parsed data); names must match types."""
    text = data.decode() if isinstance(data, bytes) else data
    out: list[Event] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        assert set(fields) == {"event", "data"}, block
        payload = json.loads(fields["data"])
        assert payload["type"] == fields["event"], block
        out.append((fields["event"], payload))
    return out


def check_grammar(stream: list[Event]) -> None:
    """The Messages streaming grammar: start, blocks opened/closed in index order, delta, stop."""
    names = [name for name, _ in stream]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"], names
    start = stream[0][1]["message"]
    assert start["content"] == [] and start["stop_reason"] is None and start["role"] == "assistant"
    assert isinstance(start["usage"]["input_tokens"], int)
    open_index: int | None = None
    next_index = 0
    for name, data in stream[1:-2]:
        if name == "ping":
            continue
        if name == "content_block_start":
            assert open_index is None and data["index"] == next_index, (name, data)
            assert data["content_block"]["type"], data
            open_index = next_index
        elif name in ("content_block_delta", "content_block_stop"):
            assert data["index"] == open_index, (name, data)
            if name == "content_block_stop":
                open_index, next_index = None, next_index + 1
        else:
            raise AssertionError(f"unexpected event {name!r} between the blocks")
    assert open_index is None, "a block was never closed"
    tail = stream[-2][1]
    assert isinstance(tail["delta"]["stop_reason"], str)
    assert isinstance(tail["usage"]["output_tokens"], int)


def accumulate(stream: list[Event]) -> dict[str, Any]:
    """Build the final message from the events, as R ellmer's stream_merge_chunks does."""
    result: dict[str, Any] = {}
    for name, data in stream:
        if name == "message_start":
            result = json.loads(json.dumps(data["message"]))
        elif name == "content_block_start":
            result["content"].append(dict(data["content_block"]))
        elif name == "content_block_delta":
            block, delta = result["content"][data["index"]], data["delta"]
            if delta["type"] == "input_json_delta":
                block["partial"] = block.get("partial", "") + delta["partial_json"]
            else:
                field = delta["type"].removesuffix("_delta")
                block[field] = block.get(field, "") + delta[field]
        elif name == "message_delta":
            result["stop_reason"] = data["delta"]["stop_reason"]
            result["stop_sequence"] = data["delta"]["stop_sequence"]
            result["usage"] = {**result["usage"], **data["usage"]}
    for block in result["content"]:
        if "partial" in block:
            block["input"] = json.loads(block.pop("partial") or "{}")
    return result


# -- answers and streams ------------------------------------------------------------


def test_fake_provides_the_protocol() -> None:
    fake: ProtocolFake = FAKE
    assert fake.name == "anthropic-messages"
    for name in ProtocolFake.__dict__:
        if not name.startswith("_") and name != "name":
            assert callable(getattr(FAKE, name)), name


def test_answer_is_a_message_object() -> None:
    reply = FAKE.answer(FULL)
    assert reply.status == 200 and ("request-id", "req_conformance") in reply.headers
    doc = json.loads(reply.body)
    assert doc == message(FULL)
    for field in ("id", "type", "role", "model", "content", "stop_reason", "stop_sequence"):
        assert field in doc
    assert doc["id"].startswith("msg_") and doc["type"] == "message"
    assert doc["role"] == "assistant" and doc["stop_sequence"] is None
    assert doc["content"] == [
        {"type": "thinking", "thinking": "Let me think.", "signature": SIGNATURE},
        {"type": "text", "text": "Hello world"},
        {"type": "tool_use", "id": "toolu_a", "name": "add", "input": {"a": 1, "b": 2}},
        {"type": "tool_use", "id": "toolu_b", "name": "now", "input": {}},
    ]
    assert doc["stop_reason"] == "tool_use"
    assert doc["usage"] == {
        "input_tokens": 20,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 100,
        "output_tokens": 30,
    }


def test_answer_has_the_fields_of_a_recorded_message() -> None:
    interaction = _recording(ELLMER / "anthropic-whitespace.json")["interactions"][0]
    recorded = json.loads(interaction["response"]["body"])
    doc = message(FULL)
    assert set(doc) <= set(recorded)
    assert set(doc["usage"]) <= set(recorded["usage"])
    shapes = {block["type"]: set(block) for block in recorded["content"]}
    for block in doc["content"]:
        if block["type"] in shapes:
            assert set(block) == shapes[block["type"]], block


def test_text_only_answer_has_one_text_block() -> None:
    doc = message(Answer(text_pieces=("Hi",), usage=Usage(input=5, output=1)))
    assert doc["content"] == [{"type": "text", "text": "Hi"}]
    assert doc["stop_reason"] == "end_turn"


@pytest.mark.parametrize(
    ("finish", "calls", "expected"),
    [
        ("stop", False, "end_turn"),
        ("length", False, "max_tokens"),
        ("content_filter", False, "refusal"),
        ("tool_calls", True, "tool_use"),
        ("stop", True, "tool_use"),
        ("length", True, "max_tokens"),
        ("stop_sequence", False, "stop_sequence"),
        ("pause_turn", False, "pause_turn"),
    ],
)
def test_stop_reasons(finish: str, calls: bool, expected: str) -> None:
    tool_calls = (ToolCall("toolu_x", "f", {}),) if calls else ()
    assert stop_reason(Answer(tool_calls=tool_calls, finish_reason=finish)) == expected


def test_unknown_finish_reason_is_refused() -> None:
    with pytest.raises(ValueError, match="no Anthropic stop_reason"):
        message(Answer(finish_reason="eos"))


def test_stream_is_the_event_sequence() -> None:
    reply = FAKE.stream(FULL)
    assert reply.mode == "chunked" and ("Content-Type", "text/event-stream") in reply.headers
    stream = parse_sse(reply.body)
    assert stream == events(FULL)
    check_grammar(stream)
    blocks = [d["content_block"] for n, d in stream if n == "content_block_start"]
    assert blocks == [
        {"type": "thinking", "thinking": "", "signature": ""},
        {"type": "text", "text": ""},
        {"type": "tool_use", "id": "toolu_a", "name": "add", "input": {}},
        {"type": "tool_use", "id": "toolu_b", "name": "now", "input": {}},
    ]
    texts = [
        d["delta"]["text"] for n, d in stream if n == "content_block_delta" and d["index"] == 1
    ]
    assert texts == ["Hel", "lo ", "world"]
    json_pieces = [
        d["delta"]["partial_json"]
        for n, d in stream
        if n == "content_block_delta" and d["index"] == 2
    ]
    assert json_pieces == ["", '{"a": 1', ', "b": 2}']
    assert stream[0][1]["message"]["usage"]["input_tokens"] == 20
    assert stream[-2][1]["usage"]["output_tokens"] == 30
    assert accumulate(stream) == message(FULL)


def test_stream_event_order() -> None:
    names = [d["delta"]["type"] if n == "content_block_delta" else n for n, d in events(FULL)]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        "thinking_delta",
        "thinking_delta",
        "signature_delta",
        "content_block_stop",
        "content_block_start",
        "text_delta",
        "text_delta",
        "text_delta",
        "content_block_stop",
        "content_block_start",
        "input_json_delta",
        "input_json_delta",
        "input_json_delta",
        "content_block_stop",
        "content_block_start",
        "input_json_delta",
        "input_json_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


def test_empty_answer_still_pings() -> None:
    stream = events(Answer())
    assert [n for n, _ in stream] == ["message_start", "ping", "message_delta", "message_stop"]
    check_grammar(stream)


@given(answers, byte_cuts())
def test_any_answer_streams_to_the_same_message(answer: Answer, cuts: list[int]) -> None:
    reply = FAKE.stream(answer, cuts)
    assert reply.body == sse_bytes(answer)
    expected = {c for c in cuts if 0 < c < len(reply.body)}
    edges = {sum(len(c) for c in reply.chunks[:i]) for i in range(1, len(reply.chunks))}
    assert edges == expected
    stream = parse_sse(reply.body)
    check_grammar(stream)
    assert accumulate(stream) == message(answer)


def test_recorded_streams_follow_the_same_grammar() -> None:
    checked = 0
    for path in sorted(NATIVE.rglob("*.json")):
        for interaction in _recording(path)["interactions"]:
            response = interaction["response"]
            if response["status"] == 200 and "event-stream" in response["headers"].get(
                "content-type", ""
            ):
                check_grammar(parse_sse(response["body"]))
                checked += 1
    assert checked > 0, f"no recorded streams under {NATIVE}"


def _block_starts(stream: list[Event]) -> dict[str, Any]:
    return {
        d["content_block"]["type"]: d["content_block"]
        for n, d in stream
        if n == "content_block_start"
    }


def test_recorded_block_shapes_match() -> None:
    """Block starts and delta fields as a real thinking + text stream has them."""
    recorded = parse_sse(
        _recording(NATIVE / "genai" / "claude-opus-5_thinking" / "GenStream-Stop.json")[
            "interactions"
        ][0]["response"]["body"]
    )
    real = _block_starts(recorded)
    ours = _block_starts(events(FULL))
    assert ours["thinking"] == real["thinking"] and ours["text"] == real["text"]
    real_deltas = {
        d["delta"]["type"]: set(d["delta"]) for n, d in recorded if n == "content_block_delta"
    }
    for name, data in events(FULL):
        if name == "content_block_delta" and data["delta"]["type"] in real_deltas:
            assert set(data["delta"]) == real_deltas[data["delta"]["type"]]


def test_raw_arguments() -> None:
    call = ToolCall("toolu_bad", "add", raw_arguments='{"a": 1, "b":', pieces=('{"a": 1', ', "b":'))
    answer = Answer(tool_calls=(call,), finish_reason="tool_calls")
    # not streamed: the only way to carry text that is not JSON is a string input
    assert message(answer)["content"] == [
        {"type": "tool_use", "id": "toolu_bad", "name": "add", "input": '{"a": 1, "b":'}
    ]
    deltas = [d["delta"]["partial_json"] for n, d in events(answer) if n == "content_block_delta"]
    assert deltas == ["", '{"a": 1', ', "b":']
    good = ToolCall("toolu_ok", "add", raw_arguments='{"a": 1}')
    assert message(Answer(tool_calls=(good,)))["content"][0]["input"] == {"a": 1}


def test_usage_and_expected_tokens() -> None:
    assert FAKE.expected_tokens(Usage(input=120, output=30, cached=100)) == (20, 30, 100)
    assert FAKE.expected_tokens(Usage(input=9, output=4)) == (9, 4, 0)
    start = events(Answer(usage=Usage(input=9, output=4)))[0][1]["message"]["usage"]
    assert start["input_tokens"] == 9 and start["output_tokens"] == 1
    with pytest.raises(ValueError, match="cached"):
        message(Answer(usage=Usage(input=1, cached=2)))


def test_cut_stream_ends_after_the_text() -> None:
    answer = Answer(text_pieces=("Half ", "an answer"))
    reply = FAKE.cut_stream(answer)
    assert reply.mode == "cut"
    stream = parse_sse(reply.body)
    assert stream == events(answer)[: len(stream)]
    assert stream[-1][1]["delta"] == {"type": "text_delta", "text": "an answer"}
    assert not any(n in ("content_block_stop", "message_delta") for n, _ in stream)


def test_stalled_stream_pauses_after_the_first_text() -> None:
    answer = Answer(text_pieces=("First piece. ", "Never seen."))
    reply = FAKE.stalled_stream(answer, 60.0)
    assert reply.interval == 60.0 and len(reply.chunks) == 2
    first = parse_sse(reply.chunks[0])
    assert first[-1][1]["delta"] == {"type": "text_delta", "text": "First piece. "}
    assert first + parse_sse(reply.chunks[1]) == events(answer)


def test_malformed() -> None:
    reply = FAKE.malformed(stream=False)
    assert reply.status == 200
    with pytest.raises(ValueError):
        json.loads(reply.body)
    streamed = FAKE.malformed(stream=True)
    blocks = streamed.body.decode().strip().split("\n\n")
    assert parse_sse(blocks[0])[0][0] == "message_start"
    with pytest.raises(ValueError):
        json.loads(blocks[-1].split("data: ", 1)[1])


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (402, "billing_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (413, "request_too_large"),
        (422, "invalid_request_error"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (502, "api_error"),
        (503, "api_error"),
        (504, "timeout_error"),
        (529, "overloaded_error"),
    ],
)
def test_errors(status: int, kind: str) -> None:
    assert error_type(status) == kind
    reply = FAKE.error(status, "conformance says no", {"Retry-After": "7"})
    assert reply.status == status
    assert json.loads(reply.body) == {
        "type": "error",
        "error": {"type": kind, "message": "conformance says no"},
        "request_id": "req_conformance",
    }
    headers = dict(reply.headers)
    assert headers["request-id"] == "req_conformance" and headers["Retry-After"] == "7"


def test_error_matches_a_recorded_error() -> None:
    response = _recording(GENAI / "GenSync-JSON.json")["interactions"][0]["response"]
    recorded = json.loads(response["body"])
    ours = json.loads(FAKE.error(400, "x").body)
    assert set(ours) == set(recorded) and set(ours["error"]) == set(recorded["error"])
    assert recorded["error"]["type"] == error_type(response["status"])


# -- reading what R ellmer (and others) send ------------------------------------------


def test_reads_r_ellmer_basic_request() -> None:
    (body,) = _bodies(ELLMER / "anthropic-basic.json")
    assert FAKE.system_prompt(body) == "Be as terse as possible; no punctuation"
    assert FAKE.user_text(body) == "What is 1 + 1?"
    assert FAKE.media(body) == []
    assert FAKE.tools_offered(body) == {}
    assert FAKE.tool_calls_sent(body) == []
    assert FAKE.tool_results_sent(body) == []
    assert FAKE.structured_schema(body) is None


def test_reads_r_ellmer_history_without_system_prompt() -> None:
    bodies = _bodies(ELLMER / "anthropic-whitespace.json")
    assert FAKE.system_prompt(bodies[1]) is None
    assert FAKE.user_text(bodies[1]) == (
        "Respond to this question with only two blank linesWhat's 1+1? Just give me the number"
    )


def test_reads_r_ellmer_structured_tool_trick() -> None:
    bodies = _bodies(ELLMER / "anthropic-structured-data.json")
    expected = {
        "type": "object",
        "description": "Summary of the article. Preserve existing case.",
        "properties": {
            "title": {"type": "string", "description": "Content title"},
            "author": {"type": "string", "description": "Name of the author"},
        },
        "required": ["title", "author"],
        "additionalProperties": False,
    }
    for body in bodies:
        assert FAKE.uses_structured_tool(body)
        assert FAKE.structured_schema(body) == expected
        assert FAKE.tools_offered(body) == {}  # the forced tool is not a user tool
    assert FAKE.user_text(bodies[1]).count("Apples are tasty") == 2
    # the count_tokens request asks the same way
    count = _bodies(ELLMER / "anthropic-count-tokens.json")[-1]
    assert FAKE.structured_schema(count)["properties"]["author"]["type"] == "string"
    assert FAKE.system_prompt(_bodies(ELLMER / "anthropic-count-tokens.json")[1]) == (
        "Answer succinctly"
    )


def test_reads_output_config_format() -> None:
    (body,) = _bodies(GENAI / "GenSync-JSON.json")
    assert FAKE.structured_schema(body) == {"type": "object"}
    assert not FAKE.uses_structured_tool(body)
    assert FAKE.structured_schema({"output_config": {"effort": "high"}}) is None


def test_reads_tools_calls_and_results() -> None:
    bodies = _bodies(CHATLAS / "test_anthropic_tool_variations.json")
    assert FAKE.tools_offered(bodies[5]) == {
        "weather_forecast": {
            "description": "Gets the weather forecast for a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
                "additionalProperties": False,
            },
        },
        "equipment": {
            "description": "Gets the equipment needed for a weather condition",
            "parameters": {
                "type": "object",
                "properties": {"weather": {"type": "string"}},
                "required": ["weather"],
                "additionalProperties": False,
            },
        },
    }
    assert FAKE.tool_calls_sent(bodies[7]) == [
        ToolCall("toolu_019xdmr9EbyJfDv3F6VZfFzz", "weather_forecast", {"city": "New York"}),
        ToolCall("toolu_013W54PbkKXoiTzk9zVu2hhx", "equipment", {"weather": "rainy"}),
    ]
    assert FAKE.tool_results_sent(bodies[7]) == [
        ("toolu_019xdmr9EbyJfDv3F6VZfFzz", "rainy"),
        ("toolu_013W54PbkKXoiTzk9zVu2hhx", "umbrella"),
    ]
    assert FAKE.system_prompt(bodies[0]) == (
        "Always use a tool to help you answer. Reply with 'It is ____.'."
    )
    # a tool_result whose content is a list of text blocks
    (body,) = _bodies(GENAI / "GenSync-Tools-SquareRoot-2.json")
    assert FAKE.tool_results_sent(body) == [("toolu_012RuLjaiBytD1Q3dpd67dGV", "363.89")]
    assert FAKE.tool_calls_sent(body) == [
        ToolCall("toolu_012RuLjaiBytD1Q3dpd67dGV", "square_root", {"number": 132413})
    ]


def test_server_tools_are_not_offered_tools() -> None:
    (body,) = _bodies(GENAI / "GenSync-Tools-WebSearch.json")
    assert body["tools"][0]["type"] == "web_search_20250305"
    assert FAKE.tools_offered(body) == {}


def test_reads_images_and_pdfs() -> None:
    (jpg,) = _bodies(GENAI / "GenSyncMultiModal-Image-jpg-Inline.json")
    (media,) = FAKE.media(jpg)
    assert media.kind == "image" and media.mime == "image/jpeg"
    assert media.value.startswith(b"\xff\xd8\xff")
    assert FAKE.user_text(jpg) == "What fruit is it? Reply with only one word."
    (url,) = _bodies(GENAI / "GenSyncMultiModal-Image-jpg-URL.json")
    assert FAKE.media(url) == [
        Media(
            "image_url",
            "https://raw.githubusercontent.com/maruel/genai/refs/heads/main/scoreboard/testdata/image.jpg",
        )
    ]
    (pdf,) = _bodies(GENAI / "GenSyncMultiModal-Document-pdf-Inline.json")
    (media,) = FAKE.media(pdf)
    assert media.kind == "pdf" and media.value.startswith(b"%PDF-") and media.filename is None
    (pdf_url,) = _bodies(GENAI / "GenSyncMultiModal-Document-pdf-URL.json")
    assert [m.kind for m in FAKE.media(pdf_url)] == ["pdf_url"]


def test_reads_synthetic_bodies() -> None:
    png = b"\x89PNG\r\n\x1a\n"
    pdf = b"%PDF-1.4\n%%EOF\n"
    body = {
        "system": "Be brief.",
        "messages": [
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": [{"type": "text", "text": "Ignored"}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": " there"},
                    {
                        "type": "image",
                        "source": {
                            "type": "base64",
                            "media_type": "image/png",
                            "data": base64.b64encode(png).decode(),
                        },
                    },
                    {
                        "type": "document",
                        "title": "conformance.pdf",
                        "source": {
                            "type": "base64",
                            "media_type": "application/pdf",
                            "data": base64.b64encode(pdf).decode(),
                        },
                    },
                    {"type": "tool_result", "tool_use_id": "toolu_1"},
                ],
            },
        ],
    }
    assert FAKE.system_prompt(body) == "Be brief."
    assert FAKE.user_text(body) == "Hello there"
    assert FAKE.media(body) == [
        Media("image", png, mime="image/png"),
        Media("pdf", pdf, filename="conformance.pdf"),
    ]
    assert FAKE.tool_results_sent(body) == [("toolu_1", "")]
    assert FAKE.system_prompt({"messages": []}) is None
    two = [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}]
    assert FAKE.system_prompt({"system": two}) == "AB"


def _user_block(block: dict[str, Any]) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": [block]}]}


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (_user_block({"type": "audio"}), "unknown type"),
        (_user_block({"type": "image", "source": {"type": "file", "file_id": "f"}}), "not read"),
        (
            _user_block(
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": "@"},
                }
            ),
            "invalid data",
        ),
    ],
)
def test_media_refuses_what_it_cannot_read(body: Any, match: str) -> None:
    with pytest.raises(AssertionError, match=match):
        FAKE.media(body)


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ({"output_format": {"type": "json_schema", "schema": {}}}, "deprecated"),
        ({"output_config": {"format": {"type": "json_object"}}}, "json_schema"),
        ({"tool_choice": {"type": "tool", "name": STRUCTURED_TOOL}}, "does not define"),
        (
            {"tools": [{"name": STRUCTURED_TOOL, "input_schema": {"type": "object"}}]},
            "without forcing",
        ),
        (
            {
                "tools": [{"name": STRUCTURED_TOOL, "input_schema": {"type": "object"}}],
                "tool_choice": {"type": "tool", "name": STRUCTURED_TOOL},
            },
            "data",
        ),
    ],
)
def test_structured_schema_refuses_other_shapes(body: Any, match: str) -> None:
    with pytest.raises(AssertionError, match=match):
        FAKE.structured_schema(body)


def test_needs_wrapper() -> None:
    assert not FAKE.needs_wrapper({"type": "object", "properties": {}})
    assert FAKE.needs_wrapper({"type": "array", "items": {"type": "integer"}})
    assert FAKE.needs_wrapper({"type": "string"})


# -- structured output by the tool trick ---------------------------------------------------


def _tool_trick_body() -> dict[str, Any]:
    return _bodies(ELLMER / "anthropic-structured-data.json")[0]  # type: ignore[no-any-return]


def _tool_input(reply: Reply, stream: bool) -> Any:
    if not stream:
        (block,) = json.loads(reply.body)["content"]
        assert block["type"] == "tool_use" and block["name"] == STRUCTURED_TOOL
        return block["input"]
    result = parse_sse(reply.body)
    pieces = [d["delta"]["partial_json"] for n, d in result if n == "content_block_delta"]
    return "".join(pieces)


@pytest.mark.parametrize("stream", [False, True])
def test_structured_reply_by_the_tool_trick(stream: bool) -> None:
    value = {"title": "Apples are tasty", "author": "Hadley Wickham"}
    reply = FAKE.structured_reply(json.dumps(value), _tool_trick_body(), stream=stream)
    got = _tool_input(reply, stream)
    assert (json.loads(got) if stream else got) == {"data": value}
    doc = accumulate(parse_sse(reply.body)) if stream else json.loads(reply.body)
    assert doc["stop_reason"] == "tool_use"
    assert doc["content"][0]["input"] == {"data": value}


@pytest.mark.parametrize("stream", [False, True])
def test_structured_reply_that_is_not_json(stream: bool) -> None:
    body = _tool_trick_body()
    got = _tool_input(FAKE.structured_reply("I would rather not say.", body, stream=stream), stream)
    assert got == '{"data": I would rather not say.}'
    cut = FAKE.structured_reply('{"title": "Ap', body, stream=stream, finish_reason="length")
    assert _tool_input(cut, stream) == '{"data": {"title": "Ap'
    doc = json.loads(cut.body) if not stream else parse_sse(cut.body)[-2][1]["delta"]
    assert doc["stop_reason"] == "max_tokens"


@pytest.mark.parametrize("stream", [False, True])
def test_structured_reply_as_text_otherwise(stream: bool) -> None:
    (body,) = _bodies(GENAI / "GenSync-JSON.json")
    reply = FAKE.structured_reply('{"is_fruit": true}', body, stream=stream)
    doc = accumulate(parse_sse(reply.body)) if stream else json.loads(reply.body)
    assert doc["content"] == [{"type": "text", "text": '{"is_fruit": true}'}]
    assert doc["stop_reason"] == "end_turn"


def test_structured_responder_reads_the_request() -> None:
    respond = FAKE.structured_responder('{"a": 1}', stream=False)
    body = json.dumps(_tool_trick_body()).encode()
    reply = respond(RecordedRequest("POST", "/v1/messages", {}, body))
    assert json.loads(reply.body)["content"][0]["input"] == {"data": {"a": 1}}
    plain = respond(RecordedRequest("POST", "/v1/messages", {}, b'{"messages": []}'))
    assert json.loads(plain.body)["content"] == [{"type": "text", "text": '{"a": 1}'}]
