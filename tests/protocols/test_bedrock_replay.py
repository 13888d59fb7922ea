"""The Bedrock Converse protocol against real recordings (../shared/fixtures/native/aws_bedrock).

- ``ellmer/``: what R ellmer sends, compared with what we build;
- ``pydantic-ai/``: boto3 Converse and ConverseStream recordings; every 200
  answer is read (streams from their raw event-stream bytes, checked against
  the decoded ``frames`` the recording carries), and the requests that
  followed an answer are compared with what we send back.
"""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ellmer_py import (
    AssistantTurn,
    Content,
    ContentText,
    ContentThinking,
    ContentToolRequest,
    ContentToolResult,
    StreamErrorEvent,
    SystemTurn,
    Turn,
    UserTurn,
    params,
)
from ellmer_py._errors import BadRequestError
from ellmer_py._eventstream import encode_message
from ellmer_py._http_errors import error_from_response
from ellmer_py._protocols.bedrock import (
    BedrockConverse,
    BedrockDecoder,
    error_message,
    finish_reason,
    tokens,
)
from ellmer_py._turn import Tokens

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "native" / "aws_bedrock"
PYDANTIC = FIXTURES / "pydantic-ai"
CLAUDE_4 = "us.anthropic.claude-sonnet-4-20250514-v1:0"


def interactions(path: Path) -> list[dict[str, Any]]:
    return list(json.loads(path.read_text(encoding="utf-8"))["interactions"])


def _recorded(suffix: str, status: int | None = 200) -> list[tuple[Path, int]]:
    """(file, interaction) of every Bedrock runtime call to ``.../suffix`` with ``status``."""
    out = []
    for path in sorted(PYDANTIC.glob("*.json")):
        for n, it in enumerate(interactions(path)):
            url = urlparse(it["request"]["url"])
            if "bedrock-runtime" not in url.netloc or not url.path.endswith(suffix):
                continue
            code = it["response"]["status"]
            if (status is None and code >= 400) or code == status:
                out.append((path, n))
    return out


ANSWERS = _recorded("/converse")
STREAMS = _recorded("/converse-stream")
ERRORS = [*_recorded("/converse", None), *_recorded("/converse-stream", None)]


def _id(case: tuple[Path, int]) -> str:
    return f"{case[0].stem}[{case[1]}]"


def answer_doc(path: Path, n: int = 0) -> dict[str, Any]:
    return dict(json.loads(interactions(path)[n]["response"]["body"]))


def stream_body(path: Path, n: int = 0) -> bytes:
    return base64.b64decode(interactions(path)[n]["response"]["body_base64"])


def request_body(path: Path, n: int) -> dict[str, Any]:
    return dict(interactions(path)[n]["request"]["body"])


def decode(chunks: list[bytes]) -> tuple[AssistantTurn, list[Content], BedrockDecoder]:
    decoder = BedrockConverse().open_stream()
    pieces: list[Content] = []
    for chunk in chunks:
        pieces += decoder.feed(chunk)
    pieces += decoder.close()
    return decoder.turn(), pieces, decoder


def test_the_recordings_are_all_found() -> None:
    assert (len(ANSWERS), len(STREAMS), len(ERRORS)) == (53, 7, 2)


# -- what R ellmer sends -------------------------------------------------------------------------


def test_the_request_r_sends_for_thinking_and_its_answer() -> None:
    (it,) = interactions(FIXTURES / "ellmer" / "aws-bedrock-thinking.json")
    protocol = BedrockConverse()  # cache="auto": a Claude model gets a cache point, as in R
    model = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    wire = protocol.encode_params(params(temperature=1, reasoning_tokens=4000))
    request = protocol.build_request(
        [UserTurn("Create a riddle for data scientists")], model=model, params=wire, stream=False
    )
    assert request.body == it["request"]["body"]
    assert "%3A" in request.path  # vcr recorded the URL decoded
    assert it["request"]["url"].endswith("/" + unquote(request.path))
    turn = protocol.parse_response(json.loads(it["response"]["body"]))
    thinking, text = turn.contents
    assert isinstance(thinking, ContentThinking) and isinstance(text, ContentText)
    assert thinking.thinking.startswith("I'll create a riddle")
    assert thinking.extra is not None and thinking.extra["signature"].startswith("EpUJCkgI")
    assert text.text.startswith("# A Data Science Riddle")
    assert turn.tokens == Tokens(input=43, output=459, cached_input=0)
    assert turn.finish_reason == "success"


# -- every recorded answer -----------------------------------------------------------------------


def _expected(block: dict[str, Any]) -> Content | None:
    """A recorded content block as the turn must hold it."""
    if "text" in block:
        return ContentText(block["text"]) if block["text"] else None
    if "toolUse" in block:
        use = block["toolUse"]
        return ContentToolRequest(use["toolUseId"], use["name"], use["input"])
    reasoning = block["reasoningContent"]
    if "redactedContent" in reasoning:
        return ContentThinking("", extra={"redactedContent": reasoning["redactedContent"]})
    text = reasoning["reasoningText"]
    signature = text.get("signature")
    return ContentThinking(text["text"], extra={"signature": signature} if signature else None)


@pytest.mark.parametrize(("path", "n"), ANSWERS, ids=[_id(c) for c in ANSWERS])
def test_every_recorded_answer(path: Path, n: int) -> None:
    doc = answer_doc(path, n)
    turn = BedrockConverse().parse_response(doc)
    blocks = doc["output"]["message"]["content"]
    assert list(turn.contents) == [c for c in map(_expected, blocks) if c is not None]
    usage = doc["usage"]
    assert turn.tokens == Tokens(
        usage["inputTokens"] + usage.get("cacheWriteInputTokens", 0),
        usage["outputTokens"],
        usage.get("cacheReadInputTokens", 0),
    )
    assert turn.finish_reason == finish_reason(doc["stopReason"])
    assert turn.finish_reason in ("success", "tool_use", "max_tokens")
    assert turn.json == doc


def test_recorded_answers_in_detail() -> None:
    protocol = BedrockConverse()
    signed = protocol.parse_response(
        answer_doc(PYDANTIC / "test_bedrock_model_thinking_part_anthropic.json")
    )
    first, second = signed.contents
    assert isinstance(first, ContentThinking) and isinstance(second, ContentText)
    assert first.extra["signature"].startswith("Eu4CCkgI")
    kimi = protocol.parse_response(answer_doc(PYDANTIC / "test_bedrock_moonshotai_tool_call.json"))
    thinking, call = kimi.contents
    assert isinstance(thinking, ContentThinking) and thinking.extra is None
    assert call == ContentToolRequest(
        "functions.get_temperature:0", "get_temperature", {"city": "London"}
    )
    assert kimi.finish_reason == "tool_use"
    cached = protocol.parse_response(
        answer_doc(PYDANTIC / "test_bedrock_cache_messages_with_document_as_last_content.json", 1)
    )
    assert cached.tokens == Tokens(input=3 + 236, output=121, cached_input=1712)
    cut = protocol.parse_response(answer_doc(PYDANTIC / "test_bedrock_model_other_parameters.json"))
    assert cut.finish_reason == "max_tokens"


# -- every recorded stream -------------------------------------------------------------------------


def _frames(path: Path, n: int = 0) -> list[tuple[str, dict[str, Any]]]:
    """The recording's own decoded frames: (event type, payload)."""
    return [
        (f["headers"][":event-type"], json.loads(f["payload"]))
        for f in interactions(path)[n]["response"]["frames"]
    ]


def _deltas(frames: list[tuple[str, dict[str, Any]]], key: str, sub: str) -> list[Any]:
    return [
        p["delta"][key][sub]
        for e, p in frames
        if e == "contentBlockDelta" and key in p["delta"] and sub in p["delta"][key]
    ]


@pytest.mark.parametrize(("path", "n"), STREAMS, ids=[_id(c) for c in STREAMS])
def test_every_recorded_stream(path: Path, n: int) -> None:
    turn, pieces, decoder = decode([stream_body(path, n)])
    assert decoder.done and decoder.complete
    frames = _frames(path, n)
    text = "".join(
        p["delta"]["text"] for e, p in frames if e == "contentBlockDelta" and "text" in p["delta"]
    )
    assert turn.text == text
    assert "".join(p.text for p in pieces if isinstance(p, ContentText)) == text
    thinking = [c for c in turn.contents if isinstance(c, ContentThinking)]
    assert "".join(c.thinking for c in thinking) == "".join(
        _deltas(frames, "reasoningContent", "text")
    )
    assert "".join(p.thinking for p in pieces if isinstance(p, ContentThinking)) == "".join(
        c.thinking for c in thinking
    )
    redacted = [
        c.extra["redactedContent"] for c in thinking if c.extra and "redactedContent" in c.extra
    ]
    assert redacted == _deltas(frames, "reasoningContent", "redactedContent")
    starts = {
        p["contentBlockIndex"]: p["start"]["toolUse"]
        for e, p in frames
        if e == "contentBlockStart"
        and "toolUse" in p["start"]
        and p["start"]["toolUse"].get("type") != "server_tool_use"
    }
    calls = [c for c in turn.contents if isinstance(c, ContentToolRequest)]
    assert [(c.id, c.name) for c in calls] == [(s["toolUseId"], s["name"]) for s in starts.values()]
    for call, index in zip(calls, starts, strict=True):
        pieces_of = [
            p["delta"]["toolUse"]["input"]
            for e, p in frames
            if e == "contentBlockDelta" and p["contentBlockIndex"] == index
        ]
        assert call.arguments == json.loads("".join(pieces_of))
    stop = next(p for e, p in frames if e == "messageStop")
    metadata = next(p for e, p in frames if e == "metadata")
    assert turn.finish_reason == finish_reason(stop["stopReason"])
    assert turn.tokens == tokens(metadata["usage"])
    assert turn.json["usage"] == metadata["usage"] and "p" not in turn.json


def test_recorded_streams_in_detail() -> None:
    code, _, _ = decode(
        [stream_body(PYDANTIC / "test_bedrock_model_code_execution_tool_stream.json")]
    )
    # Nova's code interpreter ran on Bedrock's side: only the final tool call is ours
    assert code.contents == (
        ContentToolRequest("tooluse_ptgCcZ0uQu-UUMz0abqoWw", "final_result", {"result": 7006652.0}),
    )
    empty, _, _ = decode(
        [stream_body(PYDANTIC / "test_bedrock_model_stream_empty_text_delta.json")]
    )
    assert [type(c) for c in empty.contents] == [ContentThinking, ContentText]  # "" is no content
    redacted, _, _ = decode(
        [stream_body(PYDANTIC / "test_bedrock_model_thinking_part_redacted_stream.json")]
    )
    assert [c.thinking for c in redacted.contents if isinstance(c, ContentThinking)] == ["", ""]
    assert redacted.tokens == Tokens(92, 253, 0)


EVERY_BYTE = [
    (PYDANTIC / "test_bedrock_model_code_execution_tool_stream.json", 0),  # server tool, tool call
    (PYDANTIC / "test_bedrock_model_stream_empty_text_delta.json", 0),  # thinking, empty text
]


@pytest.mark.parametrize(("path", "n"), EVERY_BYTE, ids=[_id(c) for c in EVERY_BYTE])
def test_a_split_at_every_byte_gives_the_same_turn(path: Path, n: int) -> None:
    body = stream_body(path, n)
    whole, pieces, _ = decode([body])
    for at in range(len(body) + 1):
        turn, split_pieces, decoder = decode([body[:at], body[at:]])
        assert turn == whole, at
        assert turn.json == whole.json, at
        assert split_pieces == pieces, at
        assert decoder.done, at


@given(data=st.data())
def test_any_chunking_of_any_recorded_stream_gives_the_same_turn(data: st.DataObject) -> None:
    path, n = data.draw(st.sampled_from(STREAMS))
    body = stream_body(path, n)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(body)), max_size=40)))
    chunks = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    whole, pieces, _ = decode([body])
    turn, split_pieces, _ = decode(chunks)
    assert turn == whole
    assert split_pieces == pieces


def _frame_ends(body: bytes) -> list[int]:
    ends, at = [], 0
    while at < len(body):
        at += struct.unpack_from(">I", body, at)[0]
        ends.append(at)
    return ends


@pytest.mark.parametrize(
    "kind", ["throttlingException", "modelStreamErrorException", "internalServerException"]
)
def test_an_exception_in_a_recorded_stream_keeps_the_partial_turn(kind: str) -> None:
    body = stream_body(PYDANTIC / "test_bedrock_model_stream.json")
    cut = _frame_ends(body)[10]  # messageStart and nine text deltas
    error = encode_message(
        {
            ":message-type": "exception",
            ":exception-type": kind,
            ":content-type": "application/json",
        },
        b'{"message":"The system encountered an unexpected error during processing."}',
    )
    decoder = BedrockConverse().open_stream()
    shown = decoder.feed(body[:cut])
    with pytest.raises(StreamErrorEvent, match="unexpected error") as info:
        decoder.feed(error + body[cut:])
    assert kind in (info.value.server_message or "")
    turn = decoder.turn()
    assert turn.text == "".join(p.text for p in shown if isinstance(p, ContentText))
    assert turn.text.startswith("The capital of France") and len(turn.text) > 20
    assert not decoder.complete and turn.finish_reason is None


# -- what we send back ---------------------------------------------------------------------------


def _history(path: Path, model: str, first: Turn, answer: AssistantTurn, then: Turn) -> Any:
    """The next request after ``answer``, as we build it (no cache points: pydantic sent none)."""
    protocol = BedrockConverse(cache="none")
    system = request_body(path, 1).get("system") or []
    turns: list[Turn] = [SystemTurn(system[0]["text"])] if system else []
    turns += [first, answer, then]
    return protocol.build_request(turns, model=model, params={}, stream=False).body


@pytest.mark.parametrize(
    "name",
    ["test_bedrock_model_thinking_part_anthropic", "test_bedrock_model_thinking_part_redacted"],
)
def test_thinking_goes_back_exactly_as_it_came(name: str) -> None:
    path = PYDANTIC / f"{name}.json"
    recorded = request_body(path, 1)
    asked = recorded["messages"][0]["content"][0]["text"]
    then = recorded["messages"][2]["content"][0]["text"]
    answer = BedrockConverse().parse_response(answer_doc(path, 0))
    model = unquote(urlparse(interactions(path)[1]["request"]["url"]).path.split("/")[2])
    sent = _history(path, model, UserTurn(asked), answer, UserTurn(then))
    assert sent["messages"] == recorded["messages"]
    wire = BedrockConverse().encode_params(params(reasoning_tokens=1024))
    again = BedrockConverse(cache="none").build_request(
        [UserTurn(asked)], model=model, params=wire, stream=False
    )
    assert again.body["additionalModelRequestFields"] == recorded["additionalModelRequestFields"]


def test_a_streamed_tool_call_and_its_result_go_back_as_recorded() -> None:
    path = PYDANTIC / "test_bedrock_model_iter_stream.json"
    recorded = request_body(path, 1)
    answer, _, _ = decode([stream_body(path, 0)])
    (call,) = [c for c in answer.contents if isinstance(c, ContentToolRequest)]
    sent = _history(
        path,
        "us.amazon.nova-micro-v1:0",
        UserTurn(recorded["messages"][0]["content"][0]["text"]),
        answer,
        UserTurn([ContentToolResult(call.id, "30°C")]),
    )
    assert sent["messages"] == recorded["messages"]
    assert sent["system"] == recorded["system"]


def test_a_tool_call_and_its_result_go_back_as_recorded() -> None:
    path = PYDANTIC / "test_bedrock_model_structured_output.json"
    recorded = request_body(path, 1)
    answer = BedrockConverse().parse_response(answer_doc(path, 0))
    (call,) = answer.contents
    assert isinstance(call, ContentToolRequest)
    sent = _history(
        path,
        "us.amazon.nova-micro-v1:0",
        UserTurn(recorded["messages"][0]["content"][0]["text"]),
        answer,
        UserTurn([ContentToolResult(call.id, "30°C")]),
    )
    assert sent["messages"] == recorded["messages"]


@pytest.mark.parametrize(
    ("name", "model", "given"),
    [
        ("test_bedrock_top_k_nova_variant", "us.amazon.nova-micro-v1:0", {"top_k": 20}),
        (
            "test_bedrock_thinking_high_openai_variant",
            "openai.gpt-oss-120b-1:0",
            {"reasoning_effort": "high"},
        ),
        (
            "test_bedrock_thinking_true_openai_variant",
            "openai.gpt-oss-120b-1:0",
            {"reasoning_effort": "medium"},
        ),
        ("test_bedrock_model_thinking_part_anthropic", CLAUDE_4, {"reasoning_tokens": 1024}),
    ],
)
def test_model_fields_are_the_ones_bedrock_accepted(
    name: str, model: str, given: dict[str, Any]
) -> None:
    recorded = request_body(PYDANTIC / f"{name}.json", 0)
    protocol = BedrockConverse(cache="none")
    wire = protocol.encode_params(params(**given))
    sent = protocol.build_request([UserTurn("hi")], model=model, params=wire, stream=False)
    assert sent.body["additionalModelRequestFields"] == recorded["additionalModelRequestFields"]
    assert "inferenceConfig" not in sent.body


def test_cache_points_where_bedrock_accepted_them() -> None:
    """With cache "auto", Claude and Nova get points after the system prompt and the last text."""
    for name in ("claude-sonnet-4-5", "nova-lite"):
        path = PYDANTIC / f"test_bedrock_cache_point_adds_cache_control_{name}.json"
        recorded = request_body(path, 0)
        model = unquote(urlparse(interactions(path)[0]["request"]["url"]).path.split("/")[2])
        texts = [b["text"] for b in recorded["messages"][0]["content"] if "text" in b]
        sent = BedrockConverse().build_request(
            [SystemTurn(recorded["system"][0]["text"]), UserTurn("".join(texts))],
            model=model,
            params={},
            stream=False,
        )
        assert sent.body["system"] == recorded["system"]
        assert sent.body["messages"][0]["content"][-1] == {"cachePoint": {"type": "default"}}


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "n"), ERRORS, ids=[_id(c) for c in ERRORS])
def test_recorded_error_bodies(path: Path, n: int) -> None:
    response = interactions(path)[n]["response"]
    doc = json.loads(response["body"])
    assert error_message(doc) == "The provided model identifier is invalid."
    kind = "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/"
    assert error_message(doc, kind).endswith("[ValidationException]")
    with pytest.raises(StreamErrorEvent, match="model identifier is invalid"):
        BedrockConverse().parse_response(doc)
    error = error_from_response(
        "AWS/Bedrock", response["status"], response["headers"], response["body"].encode()
    )
    assert isinstance(error, BadRequestError)
    assert error.server_message == "The provided model identifier is invalid."
