"""The OpenAI chat-completions wire protocol, as pure functions (no server).

Turns + params -> request body; a response document or stream chunks -> an
AssistantTurn, as R ellmer's ProviderOpenAICompatible does it.
"""

from __future__ import annotations

import base64
import itertools
import json
import warnings
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ellmer_py import (
    AssistantTurn,
    ContentImageInline,
    ContentImageRemote,
    ContentJson,
    ContentPDF,
    ContentText,
    ContentThinking,
    ContentToolRequest,
    ContentToolResult,
    MalformedResponseError,
    StreamErrorEvent,
    SystemTurn,
    Tokens,
    UserTurn,
    params,
)
from ellmer_py._protocols.openai_chat import PARAM_NAMES, OpenAIChat
from ellmer_py._sse import ServerSentEvent

PROTOCOL = OpenAIChat()
MODEL = "meta-llama/Llama-3.1-8B-Instruct"


def body(*turns: Any, stream: bool = False, protocol: OpenAIChat = PROTOCOL, **wire: Any) -> Any:
    """The request body for these turns."""
    return protocol.chat_body(list(turns), model=MODEL, wire_params=wire, stream=stream)


def messages(*turns: Any, protocol: OpenAIChat = PROTOCOL) -> Any:
    """Only the messages of the request body."""
    return body(*turns, protocol=protocol)["messages"]


def chunk(
    delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any
) -> dict[str, Any]:
    """One chat.completion.chunk with a single choice."""
    choice: dict[str, Any] = {"index": 0, "delta": delta or {}, "finish_reason": finish}
    return {"object": "chat.completion.chunk", "choices": [choice], **extra}


class StreamState:
    """The protocol's stream decoder fed decoded chunks (SSE framing is tested elsewhere)."""

    def __init__(self) -> None:
        self.decoder = PROTOCOL.open_stream()

    def add(self, doc: dict[str, Any]) -> str | None:
        out: list[Any] = []
        self.decoder.add(doc, out)
        return "".join(c.text for c in out if isinstance(c, ContentText)) or None

    def add_contents(self, doc: dict[str, Any]) -> list[Any] | None:
        out: list[Any] = []
        self.decoder.add(doc, out)
        return out or None

    def turn(self, duration: float | None = None) -> AssistantTurn:
        return self.decoder.turn(duration)


def streamed(*chunks: dict[str, Any]) -> tuple[list[str | None], AssistantTurn]:
    """Feed the chunks to a fresh decoder: the text each added, and the turn."""
    state = StreamState()
    returned = [state.add(c) for c in chunks]
    return returned, state.turn()


def response(message: dict[str, Any], finish: str | None = "stop", **extra: Any) -> dict[str, Any]:
    """A non-streamed chat.completion document."""
    choice = {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}
    return {"object": "chat.completion", "choices": [choice], **extra}


# -- chat_body ---------------------------------------------------------------------------


def test_body_for_system_and_user_turns() -> None:
    assert body(SystemTurn("Be terse."), UserTurn("What is 1 + 1?")) == {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": "What is 1 + 1?"},
        ],
        "stream": False,
    }


def test_one_text_is_a_plain_string_and_several_are_parts_as_r_sends_them() -> None:
    assert messages(UserTurn(["Hello"])) == [{"role": "user", "content": "Hello"}]
    assert messages(UserTurn(["Hello, ", "world"])) == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "Hello, "}, {"type": "text", "text": "world"}],
        }
    ]


def test_streamed_body_asks_for_usage() -> None:
    got = body(UserTurn("Hi"), stream=True)
    assert got["stream"] is True
    assert got["stream_options"] == {"include_usage": True}


def test_stream_usage_can_be_switched_off() -> None:
    got = body(UserTurn("Hi"), stream=True, protocol=OpenAIChat(stream_usage=False))
    assert got["stream"] is True
    assert "stream_options" not in got


def test_non_streamed_body_has_no_stream_options() -> None:
    assert "stream_options" not in body(UserTurn("Hi"), stream=False)


def test_wire_params_go_into_the_body() -> None:
    got = body(UserTurn("Hi"), temperature=0.5, max_completion_tokens=10)
    assert got["temperature"] == 0.5
    assert got["max_completion_tokens"] == 10
    assert got["model"] == MODEL


def test_assistant_text_turn() -> None:
    got = messages(UserTurn("Hi"), AssistantTurn("Hello!"), UserTurn("Bye"))
    assert got == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Bye"},
    ]


def test_assistant_tool_requests_become_tool_calls() -> None:
    turn = AssistantTurn(
        [
            ContentToolRequest("call_1", "square_root", {"number": 4}),
            ContentToolRequest("call_2", "echo", '{"raw": true}'),
        ]
    )
    assert messages(turn) == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "square_root", "arguments": '{"number": 4}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "echo", "arguments": '{"raw": true}'},
                },
            ],
        }
    ]


def test_assistant_text_with_tool_request() -> None:
    turn = AssistantTurn(["Let me compute.", ContentToolRequest("c", "f", {})])
    (message,) = messages(turn)
    assert message["content"] == "Let me compute."
    assert message["tool_calls"][0]["function"] == {"name": "f", "arguments": "{}"}


def test_assistant_json_content_is_sent_as_text() -> None:
    (message,) = messages(AssistantTurn([ContentJson({"a": 1})]))
    assert message == {"role": "assistant", "content": '{"a": 1}'}


def test_thinking_is_dropped_unless_preserved() -> None:
    turn = AssistantTurn([ContentThinking("Hmm. "), ContentThinking("Yes."), ContentText("4")])
    assert messages(turn) == [{"role": "assistant", "content": "4"}]
    kept = messages(turn, protocol=OpenAIChat(preserve_thinking=True))
    assert kept == [{"role": "assistant", "content": "4", "reasoning": "Hmm. Yes."}]


def test_empty_assistant_turn_is_left_out() -> None:
    assert messages(UserTurn("Hi"), AssistantTurn([]), UserTurn("Again")) == [
        {"role": "user", "content": "Hi"},
        {"role": "user", "content": "Again"},
    ]


def test_tool_results_become_tool_messages_before_the_user_message() -> None:
    turn = UserTurn(
        [
            ContentToolResult("call_1", value={"root": 2}),
            ContentToolResult("call_2", value="plain"),
            ContentToolResult("call_3", error="division by zero"),
            ContentText("And now?"),
        ]
    )
    assert messages(turn) == [
        {"role": "tool", "content": '{"root": 2}', "tool_call_id": "call_1"},
        {"role": "tool", "content": "plain", "tool_call_id": "call_2"},
        {
            "role": "tool",
            "content": "Tool calling failed with error division by zero",
            "tool_call_id": "call_3",
        },
        {"role": "user", "content": "And now?"},
    ]


def test_tool_results_alone_send_no_user_message() -> None:
    got = messages(UserTurn([ContentToolResult("call_1", value=4)]))
    assert got == [{"role": "tool", "content": "4", "tool_call_id": "call_1"}]


def test_remote_image_part() -> None:
    turn = UserTurn(["What is this?", ContentImageRemote("https://x.test/cat.jpg", detail="low")])
    assert messages(turn) == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {
                    "type": "image_url",
                    "image_url": {"url": "https://x.test/cat.jpg", "detail": "low"},
                },
            ],
        }
    ]


def test_inline_image_part_is_a_data_url() -> None:
    data = b"\x89PNG\r\n\x1a\n\x00binary"
    (message,) = messages(UserTurn([ContentImageInline("image/png", data)]))
    url = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    assert message["content"] == [{"type": "image_url", "image_url": {"url": url}}]


def test_pdf_part_is_a_file_with_a_data_url() -> None:
    data = b"%PDF-1.4 tiny"
    (message,) = messages(UserTurn(["Summarise", ContentPDF(data, filename="paper.pdf")]))
    assert message["content"][1] == {
        "type": "file",
        "file": {
            "filename": "paper.pdf",
            "file_data": "data:application/pdf;base64," + base64.b64encode(data).decode("ascii"),
        },
    }


def test_json_part_in_a_user_turn_is_text() -> None:
    (message,) = messages(UserTurn(["Data:", ContentJson([1, 2])]))
    assert message["content"] == [
        {"type": "text", "text": "Data:"},
        {"type": "text", "text": "[1, 2]"},
    ]


def test_thinking_cannot_be_sent_by_the_user() -> None:
    with pytest.raises(TypeError, match="ContentThinking"):
        messages(UserTurn([ContentThinking("secret")]))


# -- params mapping ----------------------------------------------------------------------


def test_params_map_to_ellmers_wire_names() -> None:
    p = params(
        temperature=0.2,
        top_p=0.9,
        top_k=5,
        frequency_penalty=0.1,
        presence_penalty=0.3,
        seed=42,
        max_tokens=100,
        log_probs=True,
        stop_sequences=["END"],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        wire = PROTOCOL.wire_params(p)
    assert wire == {
        "temperature": 0.2,
        "top_p": 0.9,
        "top_logprobs": 5,
        "frequency_penalty": 0.1,
        "presence_penalty": 0.3,
        "seed": 42,
        "max_completion_tokens": 100,
        "logprobs": True,
        "stop": ["END"],
    }


def test_unsupported_params_warn_once_listing_them() -> None:
    with pytest.warns(UserWarning) as record:
        wire = PROTOCOL.wire_params(
            params(temperature=1, reasoning_effort="low", reasoning_tokens=5)
        )
    assert len(record) == 1
    assert str(record[0].message) == (
        "Ignoring unsupported parameters: 'reasoning_effort', 'reasoning_tokens'"
    )
    assert wire == {"temperature": 1}


def test_extra_params_pass_through() -> None:
    assert PROTOCOL.wire_params(params(seed=1, response_format={"type": "json_object"})) == {
        "seed": 1,
        "response_format": {"type": "json_object"},
    }


def test_no_params_no_fields() -> None:
    assert PROTOCOL.wire_params(None) == {}


def test_hugging_face_sends_max_tokens() -> None:
    from ellmer_py.providers.huggingface import HF_PARAM_NAMES

    hf = OpenAIChat(HF_PARAM_NAMES)
    assert hf.wire_params(params(max_tokens=20)) == {"max_tokens": 20}
    assert PARAM_NAMES["max_completion_tokens"] == "max_tokens"


# -- turn_from_response ------------------------------------------------------------------


def test_plain_answer() -> None:
    doc = response(
        {"content": "2"}, usage={"prompt_tokens": 51, "completion_tokens": 2, "total_tokens": 53}
    )
    turn = PROTOCOL.turn_from_response(doc, duration=0.25)
    assert turn == AssistantTurn(
        [ContentText("2")], tokens=Tokens(51, 2, 0), finish_reason="success"
    )
    assert turn.json is doc
    assert turn.duration == 0.25


def test_cached_tokens_are_not_counted_as_input() -> None:
    usage = {
        "prompt_tokens": 100,
        "completion_tokens": 7,
        "prompt_tokens_details": {"cached_tokens": 60},
    }
    turn = PROTOCOL.turn_from_response(response({"content": "x"}, usage=usage))
    assert turn.tokens == Tokens(input=40, output=7, cached_input=60)


def test_null_token_details_count_as_zero_cached() -> None:
    usage = {"prompt_tokens": 43, "completion_tokens": 3, "prompt_tokens_details": None}
    turn = PROTOCOL.turn_from_response(response({"content": "x"}, usage=usage))
    assert turn.tokens == Tokens(43, 3, 0)


def test_no_usage_no_tokens() -> None:
    assert PROTOCOL.turn_from_response(response({"content": "x"})).tokens is None


def test_tool_calls_with_json_text_arguments() -> None:
    doc = response(
        {
            "content": None,
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_arjp",
                    "type": "function",
                    "function": {"arguments": '{"number": 132413}', "name": "square_root"},
                }
            ],
        },
        finish="tool_calls",
    )
    turn = PROTOCOL.turn_from_response(doc)
    assert turn.contents == (ContentToolRequest("call_arjp", "square_root", {"number": 132413}),)
    assert turn.finish_reason == "tool_use"
    assert turn.text == ""


def test_old_tgi_tool_call_arguments_object_and_integer_id() -> None:
    doc = response(
        {
            "tool_calls": [
                {
                    "id": 0,
                    "type": "function",
                    "function": {
                        "description": None,
                        "name": "get_current_weather",
                        "arguments": {"format": "fahrenheit", "location": "San Francisco, CA"},
                    },
                }
            ]
        },
        finish="eos_token",
    )
    turn = PROTOCOL.turn_from_response(doc)
    assert turn.contents == (
        ContentToolRequest(
            "0", "get_current_weather", {"format": "fahrenheit", "location": "San Francisco, CA"}
        ),
    )
    assert turn.finish_reason == "eos_token"


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [("", {}), ("  ", {}), (None, {}), ("{}", {}), ("[1]", [1]), ("{not json", "{not json")],
    ids=["empty", "blank", "null", "empty-object", "array", "invalid-kept-as-text"],
)
def test_tool_call_argument_edge_cases(raw: Any, parsed: Any) -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": raw}}
    turn = PROTOCOL.turn_from_response(response({"tool_calls": [call]}))
    assert turn.contents == (ContentToolRequest("c", "f", parsed),)


def test_tool_calls_without_ids_get_positional_ids() -> None:
    calls = [{"function": {"name": "a", "arguments": "{}"}}, {"id": "", "function": {"name": "b"}}]
    turn = PROTOCOL.turn_from_response(response({"tool_calls": calls}))
    assert [(c.id, c.name) for c in turn.contents if isinstance(c, ContentToolRequest)] == [
        ("call_0", "a"),
        ("call_1", "b"),
    ]


def test_empty_content_with_tool_calls_gives_no_text_content() -> None:
    call = {"id": "c", "function": {"name": "f", "arguments": "{}"}}
    turn = PROTOCOL.turn_from_response(response({"content": "", "tool_calls": [call]}))
    assert turn.contents == (ContentToolRequest("c", "f", {}),)


def test_content_as_a_list_of_parts() -> None:
    parts = [{"type": "text", "text": "Hello"}, {"type": "text", "text": ", world"}, {"type": "x"}]
    assert PROTOCOL.turn_from_response(response({"content": parts})).text == "Hello, world"


@pytest.mark.parametrize("field", ["reasoning", "reasoning_content"])
def test_reasoning_becomes_thinking_first(field: str) -> None:
    turn = PROTOCOL.turn_from_response(response({"content": "4", field: "2 + 2 = 4"}))
    assert turn.contents == (ContentThinking("2 + 2 = 4"), ContentText("4"))
    assert turn.text == "4"


def test_null_reasoning_and_empty_tool_calls_are_ignored() -> None:
    doc = response({"content": "Hi", "reasoning": None, "tool_calls": []})
    assert PROTOCOL.turn_from_response(doc).contents == (ContentText("Hi"),)


@pytest.mark.parametrize(
    "doc",
    [{"object": "chat.completion"}, {"choices": []}, {"choices": "nope"}, {"choices": [3]}],
    ids=["no-choices", "empty-choices", "choices-not-a-list", "choice-not-an-object"],
)
def test_answer_without_a_choice_is_malformed(doc: Any) -> None:
    with pytest.raises(MalformedResponseError):
        PROTOCOL.turn_from_response(doc)


def test_answer_that_is_not_an_object_is_malformed() -> None:
    with pytest.raises(MalformedResponseError, match="list"):
        PROTOCOL.turn_from_response([1, 2])


def test_error_object_in_a_200_answer_raises_with_its_message() -> None:
    with pytest.raises(StreamErrorEvent) as info:
        PROTOCOL.turn_from_response({"error": {"message": "Model is overloaded", "code": 503}})
    assert info.value.server_message == "Model is overloaded"


# -- finish reasons ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "ellmer"),
    [
        ("stop", "success"),
        ("tool_calls", "tool_use"),
        ("length", "max_tokens"),
        ("content_filter", "content_filter"),
        ("eos_token", "eos_token"),
        ("function_call", "function_call"),
        (None, None),
    ],
)
def test_finish_reasons_map_as_ellmer_does(wire: str | None, ellmer: str | None) -> None:
    assert (
        PROTOCOL.turn_from_response(response({"content": "x"}, finish=wire)).finish_reason == ellmer
    )
    _, turn = streamed(chunk({"content": "x"}), chunk(finish=wire))
    assert turn.finish_reason == ellmer


# -- StreamState -------------------------------------------------------------------------


def test_text_deltas_are_joined_and_returned_as_they_come() -> None:
    returned, turn = streamed(
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Deep"}),
        chunk({"content": " learning"}),
        chunk({}),
        chunk({"content": None}),
        chunk(finish="stop"),
    )
    assert returned == [None, "Deep", " learning", None, None, None]
    assert turn == AssistantTurn([ContentText("Deep learning")], finish_reason="success")


def test_chunks_without_choices_are_fine() -> None:
    returned, turn = streamed(
        {"choices": []},
        {"object": "chat.completion.chunk"},
        chunk({"content": "Hi"}),
        {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 1}},
        {"choices": [{"index": 0, "delta": None, "finish_reason": None}]},
    )
    assert returned == [None, None, "Hi", None, None]
    assert turn.text == "Hi"
    assert turn.tokens == Tokens(5, 1, 0)


@pytest.mark.parametrize("field", ["reasoning", "reasoning_content"])
def test_reasoning_deltas_become_one_thinking(field: str) -> None:
    returned, turn = streamed(
        chunk({field: "Two plus "}),
        chunk({field: "two.", "content": None}),
        chunk({field: None, "content": "4"}),
    )
    assert returned == [None, None, "4"]  # thinking is not shown as text
    assert turn.contents == (ContentThinking("Two plus two."), ContentText("4"))


def test_tool_call_deltas_merge_by_index_with_the_id_on_the_first_only() -> None:
    _, turn = streamed(
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_a",
                        "type": "function",
                        "function": {"name": "square_root", "arguments": ""},
                    }
                ]
            }
        ),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"num'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'ber": 4}'}}]}),
        chunk(finish="tool_calls"),
    )
    assert turn.contents == (ContentToolRequest("call_a", "square_root", {"number": 4}),)
    assert turn.finish_reason == "tool_use"


def test_parallel_tool_calls_interleaved_by_index() -> None:
    _, turn = streamed(
        chunk(
            {"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": ""}}]}
        ),
        chunk(
            {"tool_calls": [{"index": 1, "id": "b", "function": {"name": "g", "arguments": ""}}]}
        ),
        chunk({"tool_calls": [{"index": 1, "function": {"arguments": '{"y": 2}'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"x": 1}'}}]}),
    )
    assert turn.contents == (
        ContentToolRequest("a", "f", {"x": 1}),
        ContentToolRequest("b", "g", {"y": 2}),
    )


def test_tool_call_deltas_without_any_id() -> None:
    _, turn = streamed(
        chunk({"tool_calls": [{"index": 0, "function": {"name": "f", "arguments": '{"a"'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}),
        chunk({"tool_calls": [{"index": 1, "function": {"name": "g", "arguments": "{}"}}]}),
    )
    assert turn.contents == (
        ContentToolRequest("call_0", "f", {"a": 1}),
        ContentToolRequest("call_1", "g", {}),
    )


def test_tool_call_deltas_without_an_index_use_their_position() -> None:
    _, turn = streamed(
        chunk(
            {
                "tool_calls": [
                    {"id": "a", "function": {"name": "f", "arguments": "{}"}},
                    {"id": "b", "function": {"name": "g", "arguments": "{}"}},
                ]
            }
        )
    )
    assert [c.id for c in turn.contents if isinstance(c, ContentToolRequest)] == ["a", "b"]


def test_a_new_id_at_the_same_index_starts_a_new_call() -> None:
    """Together sends every whole call at index -1; each id is its own call."""
    _, turn = streamed(
        chunk(
            {
                "tool_calls": [
                    {"index": -1, "id": "c1", "function": {"name": "f", "arguments": "{}"}}
                ]
            }
        ),
        chunk(
            {
                "tool_calls": [
                    {"index": -1, "id": "c2", "function": {"name": "g", "arguments": '{"z": 0}'}}
                ]
            }
        ),
    )
    assert turn.contents == (
        ContentToolRequest("c1", "f", {}),
        ContentToolRequest("c2", "g", {"z": 0}),
    )


def test_repeated_id_and_name_on_every_delta_are_one_call() -> None:
    delta = {"index": 0, "id": "c", "type": "function"}
    _, turn = streamed(
        chunk({"tool_calls": [{**delta, "function": {"name": "f", "arguments": '{"a": '}}]}),
        chunk({"tool_calls": [{**delta, "function": {"name": "f", "arguments": "1}"}}]}),
    )
    assert turn.contents == (ContentToolRequest("c", "f", {"a": 1}),)


def test_streamed_tool_arguments_as_an_object_old_tgi() -> None:
    call = {"index": 0, "id": 0, "function": {"name": "weather", "arguments": {"city": "Paris"}}}
    _, turn = streamed(chunk({"tool_calls": [call]}))
    assert turn.contents == (ContentToolRequest("0", "weather", {"city": "Paris"}),)


def test_integer_id_zero_is_kept_when_streamed() -> None:
    """TGI's integer id 0 is falsy; it must still be the id, as when not streamed."""
    call = {"index": 0, "id": 0, "function": {"name": "f", "arguments": "{}"}}
    _, streamed_turn = streamed(chunk({"tool_calls": [call]}))
    plain_turn = PROTOCOL.turn_from_response(response({"tool_calls": [call]}, finish=None))
    assert streamed_turn.contents == plain_turn.contents == (ContentToolRequest("0", "f", {}),)


def test_text_and_tool_calls_together() -> None:
    _, turn = streamed(
        chunk({"content": "Calling."}),
        chunk(
            {"tool_calls": [{"index": 0, "id": "c", "function": {"name": "f", "arguments": "{}"}}]}
        ),
    )
    assert turn.contents == (ContentText("Calling."), ContentToolRequest("c", "f", {}))


def test_usage_on_every_chunk_keeps_the_last() -> None:
    usages = [
        {"prompt_tokens": 46, "completion_tokens": n, "total_tokens": 46 + n} for n in range(4)
    ]
    _, turn = streamed(*(chunk({"content": "x"}, usage=u) for u in usages))
    assert turn.tokens == Tokens(46, 3, 0)


def test_usage_only_on_the_last_chunk() -> None:
    _, turn = streamed(
        chunk({"content": "a"}, usage=None),
        chunk({"content": "b"}, usage=None),
        chunk(finish="length", usage={"prompt_tokens": 46, "completion_tokens": 20}),
    )
    assert turn.tokens == Tokens(46, 20, 0)
    assert turn.finish_reason == "max_tokens"


def test_null_usage_after_usage_does_not_erase_it() -> None:
    _, turn = streamed(
        chunk(finish="stop", usage={"prompt_tokens": 9, "completion_tokens": 1}),
        {"choices": [], "usage": None},
    )
    assert turn.tokens == Tokens(9, 1, 0)


def test_no_usage_anywhere_means_no_tokens() -> None:
    _, turn = streamed(chunk({"content": "x"}), chunk(finish="stop"))
    assert turn.tokens is None


def test_turn_keeps_the_last_chunk_as_json() -> None:
    last = chunk(finish="stop")
    state = StreamState()
    state.add(chunk({"content": "x"}))
    state.add(last)
    assert state.turn(duration=1.5).json is last
    assert state.turn(duration=1.5).duration == 1.5


def test_empty_stream_gives_an_empty_turn() -> None:
    assert StreamState().turn() == AssistantTurn([])


# -- streaming == non-streaming -------------------------------------------------------------


@given(
    pieces=st.lists(st.text(max_size=8), max_size=8),
    thinking=st.lists(st.text(min_size=1, max_size=5), max_size=3),
    args=st.dictionaries(st.text(max_size=4), st.integers(), max_size=3),
    splits=st.lists(st.integers(min_value=0, max_value=40), max_size=4),
    finish=st.sampled_from(["stop", "length", "tool_calls", None]),
    usage=st.none() | st.tuples(st.integers(0, 500), st.integers(0, 500), st.integers(0, 50)),
    with_call=st.booleans(),
)
def test_a_stream_gives_the_turn_its_whole_answer_gives(
    pieces: list[str],
    thinking: list[str],
    args: dict[str, int],
    splits: list[int],
    finish: str | None,
    usage: tuple[int, int, int] | None,
    with_call: bool,
) -> None:
    """However an answer is cut into deltas, the turn equals the non-streamed one."""
    usage_doc = None
    if usage is not None:
        prompt, completion, cached = usage
        usage_doc = {
            "prompt_tokens": prompt + cached,
            "completion_tokens": completion,
            "prompt_tokens_details": {"cached_tokens": cached},
        }
    text = "".join(pieces)
    arguments = json.dumps(args)
    cuts = sorted({min(s, len(arguments)) for s in splits} | {0, len(arguments)})
    fragments = [arguments[a:b] for a, b in itertools.pairwise(cuts)]
    message: dict[str, Any] = {"content": text}
    if thinking:
        message["reasoning"] = "".join(thinking)
    chunks = [chunk({"reasoning": t}) for t in thinking] + [chunk({"content": p}) for p in pieces]
    if with_call:
        message["tool_calls"] = [
            {"id": "call_x", "function": {"name": "f", "arguments": arguments}}
        ]
        chunks.append(
            chunk({"tool_calls": [{"index": 0, "id": "call_x", "function": {"name": "f"}}]})
        )
        chunks += [
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": f}}]}) for f in fragments
        ]
    chunks.append(chunk(finish=finish, usage=usage_doc))
    returned, turn = streamed(*chunks)
    assert "".join(r for r in returned if r) == text
    assert turn == PROTOCOL.turn_from_response(response(message, finish=finish, usage=usage_doc))


# -- parse_event --------------------------------------------------------------------------


def test_done_ends_the_stream() -> None:
    assert PROTOCOL.parse_event(ServerSentEvent("[DONE]")) is None


def test_a_chunk_is_decoded() -> None:
    assert PROTOCOL.parse_event(ServerSentEvent('{"choices": []}')) == {"choices": []}


def test_data_that_is_not_json_is_malformed() -> None:
    with pytest.raises(MalformedResponseError, match="not JSON"):
        PROTOCOL.parse_event(ServerSentEvent("{oops"))


def test_json_that_is_not_an_object_is_malformed() -> None:
    with pytest.raises(MalformedResponseError, match="not an object"):
        PROTOCOL.parse_event(ServerSentEvent("[1, 2]"))


def test_an_error_object_in_the_stream_raises() -> None:
    event = ServerSentEvent('{"error": {"message": "Input validation error", "type": "x"}}')
    with pytest.raises(StreamErrorEvent) as info:
        PROTOCOL.parse_event(event)
    assert info.value.server_message == "Input validation error"


def test_an_error_string_in_the_stream_raises() -> None:
    with pytest.raises(StreamErrorEvent) as info:
        PROTOCOL.parse_event(ServerSentEvent('{"error": "Model too busy"}'))
    assert info.value.server_message == "Model too busy"


def test_an_error_event_with_text_raises() -> None:
    with pytest.raises(StreamErrorEvent) as info:
        PROTOCOL.parse_event(ServerSentEvent("upstream went away", event="error"))
    assert info.value.server_message == "upstream went away"


def test_an_error_event_with_json_raises() -> None:
    with pytest.raises(StreamErrorEvent) as info:
        PROTOCOL.parse_event(ServerSentEvent('{"detail": "boom"}', event="error"))
    assert info.value.server_message == '{"detail": "boom"}'


@pytest.mark.parametrize("empty", [None, "", {}])
def test_a_chunk_with_an_empty_error_field_is_a_chunk(empty: Any) -> None:
    doc = {"usage": {"prompt_tokens": 1, "completion_tokens": 1}, "error": empty}
    assert PROTOCOL.parse_event(ServerSentEvent(json.dumps(doc))) == doc
    assert PROTOCOL.turn_from_response({**doc, **response({"content": "ok"})}).text == "ok"


def test_a_chunk_with_choices_and_an_error_field_is_a_chunk() -> None:
    doc = {"choices": [], "error": None}
    assert PROTOCOL.parse_event(ServerSentEvent(json.dumps(doc))) == doc


# -- tools, structured output and thinking ------------------------------------------------


def test_tools_go_in_the_body_as_strict_functions() -> None:
    from ellmer_py import tool, type_integer, type_string

    def lookup(query: str, limit: int = 5) -> str:
        """Search the notes."""
        return query

    explicit = tool(
        lookup, "Look up", arguments={"query": type_string("What"), "limit": type_integer()}
    )
    out = PROTOCOL.chat_body(
        [UserTurn("hi")], model=MODEL, wire_params={}, stream=False, tools=[tool(lookup), explicit]
    )
    assert out["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "description": "Search the notes.",
                "strict": True,
                "parameters": {
                    "type": "object",
                    "description": "",
                    "properties": {
                        "query": {"type": "string", "description": ""},
                        "limit": {"type": ["integer", "null"], "description": ""},
                    },
                    "required": ["query", "limit"],
                    "additionalProperties": False,
                },
            },
        },
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "description": "Look up",
                "strict": True,
                "parameters": {
                    "type": "object",
                    "description": "",
                    "properties": {
                        "query": {"type": "string", "description": "What"},
                        "limit": {"type": "integer", "description": ""},
                    },
                    "required": ["query", "limit"],
                    "additionalProperties": False,
                },
            },
        },
    ]
    assert "tools" not in body(UserTurn("hi"))  # no tools, no field


def test_a_type_asks_for_a_json_schema_response_format() -> None:
    from ellmer_py import type_boolean, type_object

    out = PROTOCOL.chat_body(
        [UserTurn("hi")],
        model=MODEL,
        wire_params={},
        stream=True,
        type=type_object(ok=type_boolean()),
    )
    assert out["response_format"] == {
        "type": "json_schema",
        "json_schema": {
            "name": "structured_data",
            "schema": {
                "type": "object",
                "description": "",
                "properties": {"ok": {"type": "boolean", "description": ""}},
                "required": ["ok"],
                "additionalProperties": False,
            },
            "strict": True,
        },
    }
    assert PROTOCOL.needs_wrapper(type_boolean())
    assert not PROTOCOL.needs_wrapper(type_object(ok=type_boolean()))


def test_preserved_thinking_can_use_reasoning_content() -> None:
    turn = AssistantTurn([ContentThinking("Hmm."), ContentText("4")])
    protocol = OpenAIChat(preserve_thinking=True, reasoning_field="reasoning_content")
    assert messages(turn, protocol=protocol) == [
        {"role": "assistant", "content": "4", "reasoning_content": "Hmm."}
    ]


def test_add_contents_gives_thinking_and_text_pieces() -> None:
    state = StreamState()
    assert state.add_contents(chunk({"role": "assistant"})) is None
    assert state.add_contents(chunk({"reasoning_content": "Let me think."})) == [
        ContentThinking("Let me think.")
    ]
    both = chunk({"reasoning": "Done.", "content": "Four."})
    assert state.add_contents(both) == [ContentThinking("Done."), ContentText("Four.")]
    tool_delta = {"tool_calls": [{"index": 0, "id": "c", "function": {"name": "f"}}]}
    assert state.add_contents(chunk(tool_delta, "tool_calls")) is None
    assert state.turn().contents == (
        ContentThinking("Let me think.Done."),
        ContentText("Four."),
        ContentToolRequest("c", "f", {}),
    )
