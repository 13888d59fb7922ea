"""The OpenAI Responses protocol as pure code: requests built, answers and streams read.

No server here: ``OpenAIResponses.build_request()`` is inspected as a body,
``parse_response()`` and the stream decoder are fed documents and bytes.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ellmer_py import (
    AssistantTurn,
    ConfigurationError,
    ContentImageInline,
    ContentImageRemote,
    ContentJson,
    ContentPDF,
    ContentText,
    ContentThinking,
    ContentToolRequest,
    ContentToolRequestSearch,
    ContentToolResult,
    MalformedResponseError,
    StreamErrorEvent,
    SystemTurn,
    UserTurn,
    params,
    tool,
    type_integer,
    type_object,
    type_string,
)
from ellmer_py._protocols import StreamDecoder, WireProtocol
from ellmer_py._protocols.openai_responses import (
    OpenAIResponses,
    finish_reason,
    is_reasoning_model,
    tokens,
)

P = OpenAIResponses()
REASONING = {
    "id": "rs_1",
    "type": "reasoning",
    "summary": [
        {"type": "summary_text", "text": "Think "},
        {"type": "summary_text", "text": "more"},
    ],
    "encrypted_content": "gAAAA-secret",
}


def body(turns: list[Any], **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("model", "gpt-4.1")
    kwargs.setdefault("params", {})
    kwargs.setdefault("stream", False)
    return dict(P.build_request(turns, **kwargs).body)


def response(output: list[Any], **fields: Any) -> dict[str, Any]:
    doc = {
        "id": "resp_1",
        "object": "response",
        "status": "completed",
        "model": "gpt-4.1-2025-04-14",
        "output": output,
        "usage": {
            "input_tokens": 100,
            "input_tokens_details": {"cached_tokens": 40},
            "output_tokens": 7,
        },
        "service_tier": "default",
    }
    doc.update(fields)
    return doc


def message(text: str, **part: Any) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": [], **part}],
    }


def sse(*events: dict[str, Any]) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


def decode(data: bytes, step: int = 7) -> tuple[StreamDecoder, list[Any]]:
    decoder = P.open_stream()
    shown: list[Any] = []
    for i in range(0, len(data), step):
        shown.extend(decoder.feed(data[i : i + step]))
    shown.extend(decoder.close())
    return decoder, shown


# -- the seam ------------------------------------------------------------------------


def test_it_is_a_wire_protocol() -> None:
    assert isinstance(P, WireProtocol)
    assert isinstance(P.open_stream(), StreamDecoder)
    assert P.name == "openai-responses"


def test_the_request_is_post_responses_with_store_false_and_the_tier() -> None:
    request = P.build_request([UserTurn("Hi")], model="gpt-4.1", params={}, stream=True)
    assert (request.method, request.path, request.accept) == (
        "POST",
        "responses",
        "text/event-stream",
    )
    assert request.body == {
        "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]}
        ],
        "model": "gpt-4.1",
        "stream": True,
        "store": False,
        "service_tier": "auto",
    }
    flex = OpenAIResponses(service_tier="flex")
    assert flex.build_request([], model="m", params={}, stream=False).body["service_tier"] == "flex"


def test_an_unknown_service_tier_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="service_tier"):
        OpenAIResponses(service_tier="turbo")


# -- ellmer -> OpenAI ----------------------------------------------------------------


def test_turns_become_input_items_one_per_content() -> None:
    turns = [
        SystemTurn("Be terse"),
        UserTurn([ContentText("Look"), ContentImageRemote("https://x.test/a.png")]),
        AssistantTurn([ContentText("A cat"), ContentJson({"a": 1})]),
    ]
    assert body(turns)["input"] == [
        {
            "type": "message",
            "role": "system",
            "content": [{"type": "input_text", "text": "Be terse"}],
        },
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Look"}]},
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_image", "image_url": "https://x.test/a.png"}],
        },
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "A cat"}],
        },
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": '{"a":1}'}],
        },
    ]


def test_inline_images_and_pdfs_are_data_urls() -> None:
    turns = [UserTurn([ContentImageInline("image/png", b"\x89PNG"), ContentPDF(b"%PDF", "a.pdf")])]
    image, pdf = body(turns)["input"]
    assert image["content"] == [
        {"type": "input_image", "image_url": "data:image/png;base64,iVBORw=="}
    ]
    assert pdf["content"] == [
        {
            "type": "input_file",
            "filename": "a.pdf",
            "file_data": "data:application/pdf;base64,JVBERg==",
        }
    ]


def test_parallel_tool_calls_and_results_pair_by_call_id() -> None:
    turns = [
        UserTurn("Roll two dice"),
        AssistantTurn(
            [
                ContentToolRequest("call_1", "dice", {}),
                ContentToolRequest("call_2", "dice", {"n": 1}),
            ]
        ),
        UserTurn([ContentToolResult("call_1", 2), ContentToolResult("call_2", None, error="boom")]),
    ]
    assert body(turns)["input"][1:] == [
        {"type": "function_call", "call_id": "call_1", "name": "dice", "arguments": "{}"},
        {"type": "function_call", "call_id": "call_2", "name": "dice", "arguments": '{"n":1}'},
        {"type": "function_call_output", "call_id": "call_1", "output": "2"},
        {
            "type": "function_call_output",
            "call_id": "call_2",
            "output": "Tool calling failed with error boom",
        },
    ]


def test_an_image_tool_result_follows_as_tagged_user_content() -> None:
    image = ContentImageInline("image/jpeg", b"jpg")
    items = body([UserTurn([ContentToolResult("fc_1", image)])])["input"]
    tag = '<tool-content call-id="fc_1">'
    assert items[0] == {
        "type": "function_call_output",
        "call_id": "fc_1",
        "output": f"See {tag} below.",
    }
    assert items[1]["content"] == [{"type": "input_text", "text": tag}]
    assert items[2]["content"][0]["type"] == "input_image"
    assert items[3]["content"] == [{"type": "input_text", "text": "</tool-content>"}]


def test_reasoning_goes_back_whole_before_its_function_call() -> None:
    turn = AssistantTurn(
        [ContentThinking("Think more", extra=REASONING), ContentToolRequest("call_1", "f", {})]
    )
    items = body([UserTurn("Hi"), turn])["input"]
    assert items[1] == REASONING
    assert items[2]["type"] == "function_call"


def test_thinking_without_its_reasoning_item_is_not_sent() -> None:
    items = body([AssistantTurn([ContentThinking("hmm"), ContentText("ok")])])["input"]
    assert items == [
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ok"}]}
    ]


def test_web_search_calls_go_back_as_their_json() -> None:
    call = {"id": "ws_1", "type": "web_search_call", "status": "completed"}
    items = body([AssistantTurn([ContentToolRequestSearch("q", json=call)])])["input"]
    assert items == [call]


@pytest.mark.parametrize(
    ("model", "include"),
    [
        ("gpt-5.6-terra", ["reasoning.encrypted_content"]),
        ("o4-mini", ["reasoning.encrypted_content"]),
        ("gpt-4.1", None),
    ],
)
def test_encrypted_reasoning_is_asked_of_reasoning_models(model: str, include: Any) -> None:
    assert body([UserTurn("Hi")], model=model).get("include") == include
    assert is_reasoning_model(model) == (include is not None)


def test_params_are_mapped_as_r_maps_them() -> None:
    wire = P.encode_params(
        params(temperature=0.5, top_p=0.9, max_tokens=50, top_k=3, frequency_penalty=0.1)
    )
    assert wire == {
        "temperature": 0.5,
        "top_p": 0.9,
        "max_output_tokens": 50,
        "top_logprobs": 3,
        "frequency_penalty": 0.1,
    }


def test_log_probs_become_an_include_entry() -> None:
    wire = P.encode_params(params(log_probs=True))
    sent = body([UserTurn("Hi")], model="gpt-5", params=wire)
    assert sent["include"] == ["message.output_text.logprobs", "reasoning.encrypted_content"]
    assert "log_probs" not in sent


def test_reasoning_effort_asks_for_summaries() -> None:
    wire = P.encode_params(params(reasoning_effort="low"))
    sent = body([UserTurn("Hi")], params=wire)
    assert sent["reasoning"] == {"effort": "low", "summary": "auto"}
    assert "reasoning_effort" not in sent


def test_unsupported_params_warn_once_listing_them() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        P.encode_params(params(seed=1, presence_penalty=0.2, temperature=1))
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1
    assert "'seed'" in messages[0] and "'presence_penalty'" in messages[0]


def test_tools_are_strict_and_a_tool_without_arguments_has_properties() -> None:
    def now() -> str:
        """The time."""
        return "noon"

    def add(x: int, label: str | None = None) -> int:
        """Add."""
        return x

    sent = body([UserTurn("Hi")], tools=[tool(now), tool(add)])["tools"]
    assert sent[0]["type"] == "function" and sent[0]["strict"] is True
    assert sent[0]["parameters"]["properties"] == {}
    assert sent[0]["parameters"]["additionalProperties"] is False
    params_ = sent[1]["parameters"]
    assert params_["required"] == list(params_["properties"])


def test_structured_output_is_a_strict_text_format() -> None:
    kind = type_object(name=type_string(), age=type_integer(required=False))
    fmt = body([UserTurn("Hi")], type=kind)["text"]["format"]
    assert fmt["type"] == "json_schema" and fmt["strict"] is True
    assert fmt["name"] == "structured_data"
    assert fmt["schema"]["required"] == ["name", "age"]
    assert fmt["schema"]["properties"]["age"]["type"] == ["integer", "null"]
    assert P.needs_wrapper(type_string()) and not P.needs_wrapper(kind)


# -- OpenAI -> ellmer ----------------------------------------------------------------


def test_a_text_answer_with_tokens_minus_cached() -> None:
    turn = P.parse_response(response([message("Hello")]))
    assert turn.text == "Hello"
    assert turn.finish_reason == "success"
    assert (turn.tokens.input, turn.tokens.cached_input, turn.tokens.output) == (60, 40, 7)
    assert turn.json["id"] == "resp_1"


def test_function_calls_use_the_call_id() -> None:
    call = {
        "id": "fc_1",
        "type": "function_call",
        "call_id": "call_9",
        "name": "sqrt",
        "arguments": '{"x": 4}',
    }
    (request,) = P.parse_response(response([call])).contents
    assert request == ContentToolRequest("call_9", "sqrt", {"x": 4})


def test_reasoning_is_thinking_with_the_item_kept() -> None:
    thinking, text = P.parse_response(response([REASONING, message("4")])).contents
    assert thinking == ContentThinking("Think more", extra=REASONING)
    assert text == ContentText("4")


def test_web_search_and_citations_are_kept() -> None:
    search = {"id": "ws_1", "type": "web_search_call", "action": {"query": "pm canada"}}
    cite = {"type": "url_citation", "url": "https://x.test", "start_index": 0, "end_index": 4}
    turn = P.parse_response(response([search, message("Mark", annotations=[cite])]))
    found, text = turn.contents
    assert found == ContentToolRequestSearch("pm canada", json=search)
    assert text.extra == {"annotations": [cite]}


def test_a_refusal_is_text() -> None:
    refusal = {"id": "m", "type": "message", "content": [{"type": "refusal", "refusal": "No."}]}
    assert P.parse_response(response([refusal])).text == "No."


@pytest.mark.parametrize(
    ("doc", "finish"),
    [
        ({"status": "completed"}, "success"),
        (
            {"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}},
            "max_tokens",
        ),
        (
            {"status": "incomplete", "incomplete_details": {"reason": "content_filter"}},
            "content_filter",
        ),
        ({"status": "incomplete"}, "incomplete"),
        ({"status": "cancelled"}, "cancelled"),
        ({"status": 3}, None),
        ({}, None),
    ],
)
def test_finish_reasons(doc: dict[str, Any], finish: str | None) -> None:
    assert finish_reason(doc) == finish


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
    )
)
def test_any_json_in_any_field_never_crashes(value: Any) -> None:
    doc = response(
        [
            value,
            {"type": "message", "content": value},
            {"type": "function_call", "call_id": value, "name": value, "arguments": value},
            {"type": "reasoning", "summary": value},
        ],
        usage=value,
        status=value,
    )
    turn = P.parse_response(doc)
    assert isinstance(turn, AssistantTurn)
    assert tokens(value) is None or tokens(value).input >= 0


def test_error_documents_and_malformed_answers() -> None:
    failed = {
        "status": "failed",
        "error": {"code": "server_error", "message": "Oops"},
        "output": [],
    }
    with pytest.raises(StreamErrorEvent, match=r"Oops \(server_error\)"):
        P.parse_response(failed)
    with pytest.raises(MalformedResponseError):
        P.parse_response([1])
    with pytest.raises(MalformedResponseError):
        P.parse_response({"id": "x"})


# -- the stream ----------------------------------------------------------------------

CREATED = {
    "type": "response.created",
    "response": {"id": "resp_1", "status": "in_progress", "output": []},
}


def test_text_and_reasoning_deltas_are_shown_as_they_arrive() -> None:
    events = [
        CREATED,
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {"type": "reasoning", "id": "rs_1"},
        },
        {"type": "response.reasoning_summary_text.delta", "output_index": 0, "delta": "Think "},
        {"type": "response.reasoning_summary_text.delta", "output_index": 0, "delta": "more"},
        {"type": "response.output_item.done", "output_index": 0, "item": REASONING},
        {
            "type": "response.output_text.delta",
            "output_index": 1,
            "content_index": 0,
            "delta": "He",
        },
        {
            "type": "response.output_text.delta",
            "output_index": 1,
            "content_index": 0,
            "delta": "llo",
        },
        {"type": "response.output_item.done", "output_index": 1, "item": message("Hello")},
    ]
    decoder, shown = decode(sse(*events))
    assert shown == [
        ContentThinking("Think "),
        ContentThinking("more"),
        ContentText("He"),
        ContentText("llo"),
    ]
    assert not decoder.complete
    thinking, text = decoder.turn().contents
    assert thinking == ContentThinking("Think more", extra=REASONING)
    assert text == ContentText("Hello")
    assert decoder.turn().finish_reason is None


def test_streamed_function_call_arguments_are_assembled() -> None:
    item = {
        "type": "function_call",
        "id": "fc_1",
        "call_id": "call_1",
        "name": "sqrt",
        "arguments": "",
    }
    events = [
        CREATED,
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        {"type": "response.function_call_arguments.delta", "output_index": 0, "delta": '{"x"'},
        {"type": "response.function_call_arguments.delta", "output_index": 0, "delta": ": 4}"},
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": {**item, "arguments": '{"x": 4}'},
        },
        {
            "type": "response.completed",
            "response": {
                "id": "resp_1",
                "status": "completed",
                "usage": {"input_tokens": 5, "output_tokens": 2},
            },
        },
    ]
    decoder, shown = decode(sse(*events), step=3)
    assert shown == []
    assert decoder.complete and decoder.done
    turn = decoder.turn()
    assert turn.contents == (ContentToolRequest("call_1", "sqrt", {"x": 4}),)
    assert turn.finish_reason == "success"
    assert turn.tokens.input == 5


def test_the_completed_response_is_the_final_turn() -> None:
    final = response([message("Hello")])
    events = [
        CREATED,
        {
            "type": "response.output_text.delta",
            "output_index": 0,
            "content_index": 0,
            "delta": "Hel",
        },
        {"type": "response.completed", "response": final},
    ]
    decoder, _ = decode(sse(*events))
    turn = decoder.turn(duration=1.5)
    assert turn.text == "Hello" and turn.duration == 1.5
    assert turn.json["service_tier"] == "default"


def test_an_incomplete_stream_ends_with_max_tokens() -> None:
    cut = {
        "status": "incomplete",
        "incomplete_details": {"reason": "max_output_tokens"},
        "output": [],
    }
    events = [
        CREATED,
        {
            "type": "response.output_text.delta",
            "output_index": 0,
            "content_index": 0,
            "delta": "Hel",
        },
        {"type": "response.incomplete", "response": cut},
    ]
    decoder, _ = decode(sse(*events))
    assert decoder.done
    turn = decoder.turn()
    assert turn.text == "Hel" and turn.finish_reason == "max_tokens"


def test_a_cut_stream_keeps_what_arrived() -> None:
    decoder, _ = decode(
        sse(
            CREATED,
            {
                "type": "response.output_text.delta",
                "output_index": 0,
                "content_index": 0,
                "delta": "Hel",
            },
        )
    )
    assert not decoder.complete
    assert decoder.turn().text == "Hel"


@pytest.mark.parametrize(
    ("event", "pattern"),
    [
        (
            {
                "type": "response.failed",
                "response": {
                    "status": "failed",
                    "error": {"code": "server_error", "message": "Boom"},
                },
            },
            r"Boom \(server_error\)",
        ),
        (
            {"type": "error", "code": "rate_limit_exceeded", "message": "Slow down"},
            r"Slow down \(rate_limit_exceeded\)",
        ),
    ],
)
def test_failed_and_error_events_raise(event: dict[str, Any], pattern: str) -> None:
    with pytest.raises(StreamErrorEvent, match=pattern):
        decode(sse(CREATED, event))


def test_data_that_is_not_json_is_malformed() -> None:
    with pytest.raises(MalformedResponseError):
        decode(b"event: response.output_text.delta\ndata: {nope\n\n")
    deep = "[" * 100_000
    with pytest.raises(MalformedResponseError):
        decode(f"event: x\ndata: {deep}\n\n".encode())


# -- streams without output_index (llama-server) ------------------------------------


def test_events_without_output_index_are_keyed_by_item_id() -> None:
    """llama-server's events name only the item: two streamed calls stay apart."""

    def call(item_id: str, call_id: str, name: str) -> dict[str, Any]:
        return {"type": "function_call", "id": item_id, "call_id": call_id, "name": name}

    data = sse(
        {"type": "response.output_item.added", "item": call("fc_a", "call_a", "one")},
        {"type": "response.function_call_arguments.delta", "item_id": "fc_a", "delta": '{"x":'},
        {"type": "response.output_item.added", "item": call("fc_b", "call_b", "two")},
        {"type": "response.function_call_arguments.delta", "item_id": "fc_b", "delta": '{"y":2}'},
        {"type": "response.function_call_arguments.delta", "item_id": "fc_a", "delta": "1}"},
    )
    decoder, _ = decode(data, step=5)
    calls = [c for c in decoder.turn().contents if isinstance(c, ContentToolRequest)]
    assert [(c.id, c.name, c.arguments) for c in calls] == [
        ("call_a", "one", {"x": 1}),
        ("call_b", "two", {"y": 2}),
    ]


def test_raw_reasoning_text_is_thinking_streamed_and_whole() -> None:
    """``response.reasoning_text.delta`` and a reasoning item with content, no summary."""
    item = {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [],
        "content": [{"type": "reasoning_text", "text": "let me think"}],
    }
    data = sse(
        {"type": "response.reasoning_text.delta", "item_id": "rs_1", "delta": "let me "},
        {"type": "response.reasoning_text.delta", "item_id": "rs_1", "delta": "think"},
    )
    decoder, shown = decode(data)
    assert "".join(p.thinking for p in shown if isinstance(p, ContentThinking)) == "let me think"
    (thinking,) = decoder.turn().contents
    assert isinstance(thinking, ContentThinking) and thinking.thinking == "let me think"
    whole = P.parse_response(response([item, message("ok")]))
    assert isinstance(whole.contents[0], ContentThinking)
    assert whole.contents[0].thinking == "let me think"
