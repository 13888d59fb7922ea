"""The OpenAI Responses fake of the conformance suite, against the API's shapes.

Answers and streams are checked for the fields and the event grammar of the
Responses API (and against real recorded streams); the request readers are
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
from ellmer_py.conformance.openai_responses import (
    ENCRYPTED_CONTENT,
    FAKE,
    error_type,
    events,
    incomplete_reason,
    response,
    sse_bytes,
)

NATIVE = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "native" / "openai"
ELLMER = NATIVE / "ellmer"
GENAI = NATIVE / "genai" / "gpt-5.6-luna_thinking"
CHATLAS = NATIVE / "chatlas"

Event = tuple[str, dict[str, Any]]

FULL = Answer(
    text_pieces=("Hel", "lo ", "world"),
    thinking_pieces=("Let me ", "think."),
    tool_calls=(
        ToolCall("call_a", "add", {"a": 1, "b": 2}, pieces=('{"a": 1', ', "b": 2}')),
        ToolCall("call_b", "now", {}),
    ),
    finish_reason="tool_calls",
    usage=Usage(input=120, output=30, cached=100),
)

_ITEM_EVENTS = {
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.added",
    "response.content_part.done",
    "response.reasoning_summary_part.added",
    "response.reasoning_summary_part.done",
    "response.reasoning_summary_text.delta",
    "response.reasoning_summary_text.done",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
}
_ENDS = {"response.completed", "response.incomplete", "response.failed"}


def _recording(path: Path) -> dict[str, Any]:
    assert path.is_file(), f"missing recording: {path} (the shared fixtures are always present)"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _bodies(path: Path) -> list[Any]:
    return [i["request"]["body"] for i in _recording(path)["interactions"]]


def _responses(path: Path) -> list[str]:
    return [i["response"]["body"] for i in _recording(path)["interactions"]]


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
    """The Responses streaming grammar.

    created, in_progress, then output items opened and closed one at a time
    in output_index order (item events name the open item), then one final
    completed / incomplete / failed event; sequence numbers count from 0.
    Other events (web search progress, a ``keepalive``) may come between items.
    """
    assert [d["sequence_number"] for _, d in stream] == list(range(len(stream)))
    stream = [(n, d) for n, d in stream if n != "keepalive"]
    names = [name for name, _ in stream]
    assert names[:2] == ["response.created", "response.in_progress"], names
    assert names[-1] in _ENDS and not _ENDS & set(names[:-1]), names
    for _, data in stream[:2]:
        assert data["response"]["status"] == "in_progress" and data["response"]["output"] == []
    open_item: dict[str, Any] | None = None
    next_index = 0
    for name, data in stream[2:-1]:
        if name == "response.output_item.added":
            assert open_item is None and data["output_index"] == next_index, (name, data)
            open_item = data["item"]
        elif name == "response.output_item.done":
            assert open_item is not None and data["output_index"] == next_index, (name, data)
            assert data["item"]["id"] == open_item["id"] and data["item"]["type"]
            open_item, next_index = None, next_index + 1
        elif name in _ITEM_EVENTS:
            assert open_item is not None, (name, data)
            assert data["item_id"] == open_item["id"], (name, data)
            assert data["output_index"] == next_index, (name, data)
    assert open_item is None, "an output item was never closed"
    final = stream[-1][1]["response"]
    assert len(final["output"]) == next_index
    assert isinstance(final["usage"]["input_tokens"], int)
    assert isinstance(final["usage"]["output_tokens"], int)


def accumulate(stream: list[Event]) -> dict[str, Any]:
    """Build the final response from the deltas alone, as a stream decoder does.

    Every item rebuilt from its deltas must equal the one ``output_item.done``
    sends; the final event's usage and status complete the document.
    """
    result: dict[str, Any] = {}
    items: dict[str, dict[str, Any]] = {}
    for name, data in stream:
        if name == "response.created":
            result = json.loads(json.dumps(data["response"]))
        elif name == "response.output_item.added":
            item = json.loads(json.dumps(data["item"]))
            items[item["id"]] = item
            result["output"].append(item)
        elif name == "response.reasoning_summary_part.added":
            items[data["item_id"]]["summary"].append(dict(data["part"]))
        elif name == "response.reasoning_summary_text.delta":
            items[data["item_id"]]["summary"][data["summary_index"]]["text"] += data["delta"]
        elif name == "response.content_part.added":
            items[data["item_id"]]["content"].append(dict(data["part"]))
        elif name == "response.output_text.delta":
            items[data["item_id"]]["content"][data["content_index"]]["text"] += data["delta"]
        elif name == "response.function_call_arguments.delta":
            items[data["item_id"]]["arguments"] += data["delta"]
        elif name == "response.output_item.done":
            item = items[data["item"]["id"]]
            item["status"] = data["item"].get("status")
            if item["status"] is None:
                del item["status"]
            assert item == data["item"], (item, data["item"])
        elif name in _ENDS:
            final = data["response"]
            for field in ("status", "incomplete_details", "usage"):
                result[field] = final[field]
    return result


# -- answers and streams ------------------------------------------------------------


def test_fake_provides_the_protocol() -> None:
    fake: ProtocolFake = FAKE
    assert fake.name == "openai-responses"
    for name in ProtocolFake.__dict__:
        if not name.startswith("_") and name != "name":
            assert callable(getattr(FAKE, name)), name


def test_answer_is_a_response_object() -> None:
    reply = FAKE.answer(FULL)
    assert reply.status == 200 and ("x-request-id", "req_conformance") in reply.headers
    doc = json.loads(reply.body)
    assert doc == response(FULL)
    # the fields openai-python's Response requires
    for field in (
        "id",
        "created_at",
        "error",
        "incomplete_details",
        "instructions",
        "metadata",
        "model",
        "object",
        "output",
        "parallel_tool_calls",
        "temperature",
        "tool_choice",
        "tools",
        "top_p",
    ):
        assert field in doc, field
    assert doc["id"].startswith("resp_") and doc["object"] == "response"
    assert doc["status"] == "completed" and doc["incomplete_details"] is None
    assert doc["output"] == [
        {
            "id": "rs_conformance",
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": "Let me think."}],
            "encrypted_content": ENCRYPTED_CONTENT,
        },
        {
            "id": "msg_conformance",
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Hello world", "annotations": []}],
        },
        {
            "id": "fc_conformance_0",
            "type": "function_call",
            "status": "completed",
            "call_id": "call_a",
            "name": "add",
            "arguments": '{"a": 1, "b": 2}',
        },
        {
            "id": "fc_conformance_1",
            "type": "function_call",
            "status": "completed",
            "call_id": "call_b",
            "name": "now",
            "arguments": "{}",
        },
    ]
    assert doc["usage"] == {
        "input_tokens": 120,
        "input_tokens_details": {"cached_tokens": 100},
        "output_tokens": 30,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 150,
    }


def _recorded_items(*paths: Path) -> dict[str, set[str]]:
    shapes: dict[str, set[str]] = {}
    for path in paths:
        for body in _responses(path):
            for item in json.loads(body)["output"]:
                shapes[item["type"]] = set(item)
    return shapes


def test_answer_has_the_fields_of_a_recorded_response() -> None:
    recorded = json.loads(_responses(ELLMER / "openai-v2-tool.json")[0])
    doc = response(FULL)
    assert set(doc) <= set(recorded)
    assert set(doc["usage"]) <= set(recorded["usage"])
    assert set(doc["usage"]["input_tokens_details"]) <= set(
        recorded["usage"]["input_tokens_details"]
    )
    shapes = _recorded_items(ELLMER / "openai-v2-tool.json", GENAI / "GenSync-Text.json")
    reasoning = json.loads(_responses(GENAI / "GenSync-MaxTokens.json")[0])["output"][0]
    shapes["reasoning"] = set(reasoning)
    assert set(shapes) == {"function_call", "message", "reasoning"}
    for item in doc["output"]:
        assert set(item) <= shapes[item["type"]], item
    part = json.loads(_responses(GENAI / "GenSync-Text.json")[0])["output"][-1]["content"][0]
    assert set(doc["output"][1]["content"][0]) <= set(part)


def test_text_only_answer_has_one_message() -> None:
    doc = response(Answer(text_pieces=("Hi",), usage=Usage(input=5, output=1)))
    assert [item["type"] for item in doc["output"]] == ["message"]
    assert doc["output"][0]["content"][0]["text"] == "Hi"
    assert doc["status"] == "completed"
    assert response(Answer())["output"] == []


@pytest.mark.parametrize(
    ("finish", "status", "reason"),
    [
        ("stop", "completed", None),
        ("tool_calls", "completed", None),
        ("length", "incomplete", "max_output_tokens"),
        ("content_filter", "incomplete", "content_filter"),
        ("max_output_tokens", "incomplete", "max_output_tokens"),
    ],
)
def test_statuses(finish: str, status: str, reason: str | None) -> None:
    answer = Answer(text_pieces=("Hi",), finish_reason=finish)
    assert incomplete_reason(answer) == reason
    doc = response(answer)
    assert doc["status"] == status
    assert doc["incomplete_details"] == (None if reason is None else {"reason": reason})
    assert doc["output"][0]["status"] == status
    name, final = events(answer)[-1]
    assert name == ("response.completed" if status == "completed" else "response.incomplete")
    assert final["response"] == doc


def test_unknown_finish_reason_is_refused() -> None:
    with pytest.raises(ValueError, match="no Responses status"):
        response(Answer(finish_reason="eos"))


def test_stream_is_the_event_sequence() -> None:
    reply = FAKE.stream(FULL)
    assert reply.mode == "chunked" and ("Content-Type", "text/event-stream") in reply.headers
    assert ("x-request-id", "req_conformance") in reply.headers
    assert b"[DONE]" not in reply.body
    stream = parse_sse(reply.body)
    assert stream == events(FULL)
    check_grammar(stream)
    texts = [d["delta"] for n, d in stream if n == "response.output_text.delta"]
    assert texts == ["Hel", "lo ", "world"]
    thoughts = [d["delta"] for n, d in stream if n == "response.reasoning_summary_text.delta"]
    assert thoughts == ["Let me ", "think."]
    arguments = [
        (d["item_id"], d["delta"])
        for n, d in stream
        if n == "response.function_call_arguments.delta"
    ]
    assert arguments == [
        ("fc_conformance_0", '{"a": 1'),
        ("fc_conformance_0", ', "b": 2}'),
        ("fc_conformance_1", "{}"),
    ]
    added = [d["item"] for n, d in stream if n == "response.output_item.added"]
    assert added[2] == {
        "id": "fc_conformance_0",
        "type": "function_call",
        "status": "in_progress",
        "call_id": "call_a",
        "name": "add",
        "arguments": "",
    }
    assert stream[0][1]["response"]["usage"] is None
    assert stream[-1][1]["response"]["usage"]["output_tokens"] == 30
    assert accumulate(stream) == response(FULL)


def test_stream_event_order() -> None:
    assert [n for n, _ in events(FULL)] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]


def test_empty_answer_streams_the_bare_response() -> None:
    stream = events(Answer())
    assert [n for n, _ in stream] == [
        "response.created",
        "response.in_progress",
        "response.completed",
    ]
    check_grammar(stream)


@given(answers, byte_cuts())
def test_any_answer_streams_to_the_same_response(answer: Answer, cuts: list[int]) -> None:
    reply = FAKE.stream(answer, cuts)
    assert reply.body == sse_bytes(answer)
    expected = {c for c in cuts if 0 < c < len(reply.body)}
    edges = {sum(len(c) for c in reply.chunks[:i]) for i in range(1, len(reply.chunks))}
    assert edges == expected
    stream = parse_sse(reply.body)
    check_grammar(stream)
    assert accumulate(stream) == response(answer)
    assert json.loads(FAKE.answer(answer).body) == response(answer)


def test_recorded_streams_follow_the_same_grammar() -> None:
    checked = 0
    for path in sorted(NATIVE.rglob("*.json")):
        for interaction in _recording(path)["interactions"]:
            response_ = interaction["response"]
            if response_["status"] == 200 and "event-stream" in response_["headers"].get(
                "content-type", ""
            ):
                check_grammar(parse_sse(response_["body"]))
                checked += 1
    assert checked > 0, f"no recorded streams under {NATIVE}"


def _shapes(stream: list[Event]) -> dict[str, set[str]]:
    return {n: set(d) for n, d in stream}


def test_recorded_event_shapes_match() -> None:
    """Each event has the fields a real stream gives it (less the SDK's obfuscation)."""
    recorded: dict[str, set[str]] = {}
    for name in ("GenStream-Text.json", "GenStream-Tools-SquareRoot-1.json"):
        recorded |= _shapes(parse_sse(_responses(GENAI / name)[0]))
    pdf = (
        NATIVE / "genai" / "gpt-5.6-terra_thinking" / "GenStreamMultiModal-Document-pdf-Inline.json"
    )
    recorded |= _shapes(parse_sse(_responses(pdf)[0]))
    for name, data in events(FULL):
        assert name in recorded, name
        assert set(data) == recorded[name] - {"obfuscation"}, name


def test_raw_arguments_are_sent_verbatim() -> None:
    call = ToolCall("call_bad", "add", raw_arguments='{"a": 1, "b":', pieces=('{"a": 1', ', "b":'))
    answer = Answer(tool_calls=(call,), finish_reason="length")
    (item,) = response(answer)["output"]
    assert item["arguments"] == '{"a": 1, "b":' and item["status"] == "incomplete"
    deltas = [d["delta"] for n, d in events(answer) if n.endswith("arguments.delta")]
    assert deltas == ['{"a": 1', ', "b":']
    done = [d for n, d in events(answer) if n.endswith("arguments.done")]
    assert done[0]["arguments"] == '{"a": 1, "b":'


def test_usage_and_expected_tokens() -> None:
    assert FAKE.expected_tokens(Usage(input=120, output=30, cached=100)) == (20, 30, 100)
    assert FAKE.expected_tokens(Usage(input=9, output=4)) == (9, 4, 0)
    with pytest.raises(ValueError, match="cached"):
        response(Answer(usage=Usage(input=1, cached=2)))


def test_cut_stream_ends_after_the_text() -> None:
    answer = Answer(text_pieces=("Half ", "an answer"))
    reply = FAKE.cut_stream(answer)
    assert reply.mode == "cut"
    stream = parse_sse(reply.body)
    assert stream == events(answer)[: len(stream)]
    assert stream[-1][0] == "response.output_text.delta"
    assert stream[-1][1]["delta"] == "an answer"
    assert not any(n in _ENDS or n == "response.output_text.done" for n, _ in stream)


def test_stalled_stream_pauses_after_the_first_text() -> None:
    answer = Answer(text_pieces=("First piece. ", "Never seen."))
    reply = FAKE.stalled_stream(answer, 60.0)
    assert reply.interval == 60.0 and len(reply.chunks) == 2
    first = parse_sse(reply.chunks[0])
    assert first[-1][1]["delta"] == "First piece. "
    assert first + parse_sse(reply.chunks[1]) == events(answer)


def test_malformed() -> None:
    reply = FAKE.malformed(stream=False)
    assert reply.status == 200
    with pytest.raises(ValueError):
        json.loads(reply.body)
    streamed = FAKE.malformed(stream=True)
    blocks = streamed.body.decode().strip().split("\n\n")
    assert parse_sse(blocks[0])[0][0] == "response.created"
    with pytest.raises(ValueError):
        json.loads(blocks[-1].split("data: ", 1)[1])


@pytest.mark.parametrize(
    ("status", "kind", "code"),
    [
        (400, "invalid_request_error", None),
        (401, "invalid_request_error", "invalid_api_key"),
        (404, "invalid_request_error", "model_not_found"),
        (422, "invalid_request_error", None),
        (429, "requests", "rate_limit_exceeded"),
        (500, "server_error", None),
        (503, "server_error", None),
    ],
)
def test_errors(status: int, kind: str, code: str | None) -> None:
    assert error_type(status) == kind
    reply = FAKE.error(status, "conformance says no", {"Retry-After": "7"})
    assert reply.status == status
    assert json.loads(reply.body) == {
        "error": {"message": "conformance says no", "type": kind, "param": None, "code": code}
    }
    headers = dict(reply.headers)
    assert headers["x-request-id"] == "req_conformance" and headers["Retry-After"] == "7"


def test_error_matches_a_recorded_error() -> None:
    path = NATIVE / "genai" / "errors" / "bad_model" / "GenSync.json"
    response_ = _recording(path)["interactions"][0]["response"]
    recorded = json.loads(response_["body"])
    ours = json.loads(FAKE.error(response_["status"], "x").body)
    assert set(ours) == set(recorded) and set(ours["error"]) == set(recorded["error"])
    assert recorded["error"]["type"] == error_type(response_["status"])


# -- reading what R ellmer (and others) send ------------------------------------------


def test_reads_r_ellmer_tool_round_trip() -> None:
    first, second = _bodies(ELLMER / "chat-tools-callbacks.json")
    schema = {
        "type": "object",
        "description": "",
        "properties": {"user": {"type": "string", "description": "User's name"}},
        "required": ["user"],
        "additionalProperties": False,
    }
    for body in (first, second):
        assert FAKE.system_prompt(body) == "Be terse. Respond with only the answer."
        assert FAKE.user_text(body) == "What are Joe and Hadley's favorite colors?"
        assert FAKE.media(body) == []
        assert FAKE.structured_schema(body) is None
        assert FAKE.tools_offered(body) == {
            "user_favorite_color": {
                "description": "Find out a user's favorite color",
                "parameters": schema,
            }
        }
    assert FAKE.tool_calls_sent(first) == [] and FAKE.tool_results_sent(first) == []
    joe = "fc_0d61f408441d97cc016a6fcb0a9afc8195847a672a154bad2a"
    hadley = "fc_0d61f408441d97cc016a6fcb0a9b108195adebe6c647a4c037"
    assert FAKE.tool_calls_sent(second) == [
        ToolCall(joe, "user_favorite_color", {"user": "Joe"}),
        ToolCall(hadley, "user_favorite_color", {"user": "Hadley"}),
    ]
    assert FAKE.tool_results_sent(second) == [(joe, "blue"), (hadley, "red")]


def test_reads_r_ellmer_history() -> None:
    bodies = _bodies(ELLMER / "chat-tools-dangling.json")
    assert FAKE.system_prompt(bodies[0]) == "Be terse"
    assert FAKE.tool_calls_sent(bodies[0]) == [ToolCall("1", "get_date", [])]
    assert FAKE.tool_results_sent(bodies[0]) == [
        ("1", "Tool calling failed with error Chat ended before the tool could be invoked.")
    ]
    # assistant output_text is not user text
    assert FAKE.user_text(bodies[2]) == "What year is it today?try againtry again"
    assert FAKE.tools_offered(bodies[2])["get_date"]["parameters"]["properties"] == {}
    (plain,) = _bodies(ELLMER / "openai-v2-service-tier.json")
    assert FAKE.user_text(plain) == "Tell me a joke"
    assert FAKE.tools_offered(plain) == {}


def test_reads_r_ellmer_pdf() -> None:
    body = _bodies(ELLMER / "openai-v2-pdf.json")[0]
    (media,) = FAKE.media(body)
    assert media.kind == "pdf" and media.filename == "apples.pdf" and media.mime is None
    assert media.value.startswith(b"%PDF-1.3")
    assert FAKE.user_text(body) == "What's the title of this document?"


def test_reads_r_ellmer_tool_image() -> None:
    body = _bodies(ELLMER / "openai-v2-tool-image.json")[1]
    call = "fc_0281d1c8e547c53d016a6fd61417ac81939723853dc1d0bd8f"
    assert FAKE.tool_results_sent(body) == [(call, f'See <tool-content call-id="{call}"> below.')]
    assert FAKE.user_text(body) == (
        f'Draw a picture of a cute animal<tool-content call-id="{call}"></tool-content>'
    )
    # the recording's base64 was truncated, so it no longer decodes
    with pytest.raises(AssertionError, match="invalid base64"):
        FAKE.media(body)


def test_reads_structured_output() -> None:
    (body,) = _bodies(GENAI / "GenSync-JSONSchema.json")
    assert FAKE.structured_schema(body) == {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "properties": {"is_fruit": {"type": "boolean"}},
        "additionalProperties": False,
        "type": "object",
        "required": ["is_fruit"],
    }
    (chatlas,) = _bodies(CHATLAS / "test_chat" / "test_chat_structured.json")
    assert FAKE.structured_schema(chatlas)["required"] == ["name", "age"]
    assert FAKE.system_prompt(chatlas) is None
    (json_object,) = _bodies(GENAI / "GenSync-JSON.json")
    with pytest.raises(AssertionError, match="json_schema"):
        FAKE.structured_schema(json_object)
    assert FAKE.structured_schema({"text": {"format": {"type": "text"}}}) is None
    assert FAKE.structured_schema({"text": {"verbosity": "low"}}) is None


def test_reads_chatlas_tool_calls() -> None:
    bodies = _bodies(CHATLAS / "test_provider_openai" / "test_openai_tool_variations.json")
    assert FAKE.system_prompt(bodies[0]) == (
        "Always use a tool to help you answer. Reply with 'It is ____.'."
    )
    first, second = (
        "fc_00442bb7f639c555016a6bc6d8f6a88194b55ce4d351f06270",
        "fc_00442bb7f639c555016a6bc6d8f6b88194af5012355d2d4c6e",
    )
    assert FAKE.tool_calls_sent(bodies[7]) == [
        ToolCall(first, "favorite_color", {"_person": "Joe"}),
        ToolCall(second, "favorite_color", {"_person": "Hadley"}),
    ]
    assert FAKE.tool_results_sent(bodies[7]) == [(first, "sage green"), (second, "red")]
    # a typed assistant message in the history is not user text
    bodies = _bodies(CHATLAS / "test_chat" / "test_deepcopy_chat.json")
    assert FAKE.user_text(bodies[1]) == "HiBye"


def test_server_tools_are_not_offered_tools() -> None:
    (body,) = _bodies(GENAI / "GenSync-Tools-WebSearch.json")
    assert body["tools"] == [{"type": "web_search"}]
    assert FAKE.tools_offered(body) == {}
    (body,) = _bodies(GENAI / "GenSync-Tools-SquareRoot-1.json")
    assert list(FAKE.tools_offered(body)) == ["square_root"]


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
    assert media.kind == "pdf" and media.value.startswith(b"%PDF-")
    assert media.filename == "document.pdf"
    (pdf_url,) = _bodies(CHATLAS / "test_provider_openai" / "test_openai_pdf_url.json")
    assert FAKE.media(pdf_url) == [
        Media(
            "pdf_url", "https://raw.githubusercontent.com/posit-dev/chatlas/main/tests/apples.pdf"
        )
    ]


def test_reads_synthetic_bodies() -> None:
    png = b"\x89PNG\r\n\x1a\n"
    pdf = b"%PDF-1.4\n%%EOF\n"
    body = {
        "instructions": "Be brief.",
        "input": [
            {"role": "developer", "content": " Really."},
            {"role": "user", "content": "Hello"},
            {"type": "message", "role": "assistant", "content": "Ignored"},
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": " there"},
                    {
                        "type": "input_image",
                        "image_url": "data:image/png;base64," + base64.b64encode(png).decode(),
                        "detail": "auto",
                    },
                    {
                        "type": "input_file",
                        "filename": "conformance.pdf",
                        "file_data": "data:application/pdf;base64,"
                        + base64.b64encode(pdf).decode(),
                    },
                ],
            },
            {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "not json"},
            {
                "type": "function_call_output",
                "call_id": "call_1",
                "output": [
                    {"type": "input_text", "text": "4"},
                    {"type": "input_text", "text": "2"},
                ],
            },
        ],
    }
    assert FAKE.system_prompt(body) == "Be brief. Really."
    assert FAKE.user_text(body) == "Hello there"
    assert FAKE.media(body) == [
        Media("image", png, mime="image/png"),
        Media("pdf", pdf, filename="conformance.pdf"),
    ]
    assert FAKE.tool_calls_sent(body) == [ToolCall("call_1", "f", "not json")]
    assert FAKE.tool_results_sent(body) == [("call_1", "42")]
    assert FAKE.user_text({"input": "Just a string"}) == "Just a string"
    assert FAKE.system_prompt({"input": "Just a string"}) is None
    assert FAKE.system_prompt({"input": [{"role": "system", "content": "S"}]}) == "S"


def _user_part(part: dict[str, Any]) -> dict[str, Any]:
    return {"input": [{"role": "user", "content": [part]}]}


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (_user_part({"type": "input_audio"}), "unknown type"),
        (_user_part({"type": "image_url", "image_url": {"url": "https://x"}}), "unknown type"),
        (_user_part({"type": "input_image", "file_id": "file-1"}), "does not read"),
        (_user_part({"type": "input_file", "file_id": "file-1"}), "does not read"),
        (_user_part({"type": "input_image", "image_url": "data:image/png;base64,@"}), "base64"),
        (
            _user_part({"type": "input_file", "file_data": "data:text/plain;base64,aGk="}),
            "does not read",
        ),
    ],
)
def test_media_refuses_what_it_cannot_read(body: Any, match: str) -> None:
    with pytest.raises(AssertionError, match=match):
        FAKE.media(body)


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ({"response_format": {"type": "json_schema"}}, "chat-completions"),
        ({"text": {"format": {"type": "json_schema", "schema": {"type": "object"}}}}, "name"),
        ({"text": {"format": {"type": "json_object"}}}, "json_schema"),
    ],
)
def test_structured_schema_refuses_other_shapes(body: Any, match: str) -> None:
    with pytest.raises(AssertionError, match=match):
        FAKE.structured_schema(body)


def test_tools_in_the_chat_completions_shape_are_refused() -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {}}}
    with pytest.raises(AssertionError, match="chat-completions"):
        FAKE.tools_offered({"tools": [tool]})


def test_needs_wrapper() -> None:
    assert not FAKE.needs_wrapper({"type": "object", "properties": {}})
    assert FAKE.needs_wrapper({"type": "array", "items": {"type": "integer"}})
    assert FAKE.needs_wrapper({"type": "string"})
