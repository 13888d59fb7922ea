"""The Bedrock Converse fake of the conformance suite and its SigV4 verifier.

The verifier (``conformance/_sigv4_check.py``, written apart from ellmer-py's
signer) is proven on the published SigV4 vectors: the Bedrock-shaped ones
generated with botocore, the botocore suite and the aws-c-auth suite. The
fake's answers are read back with ellmer-py's event-stream decoder and held
to the grammar real ConverseStream recordings follow; the request readers are
checked on request bodies recorded from pydantic-ai (boto3 Converse) and
R ellmer.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import http.client
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import given

from ellmer_py import get_provider_spec, list_providers
from ellmer_py._eventstream import EventMessage, EventStreamDecoder
from ellmer_py._registry import _REGISTRY
from ellmer_py.conformance import _sigv4_check as sigv4
from ellmer_py.conformance._context import Context
from ellmer_py.conformance._protocol import Answer, Media, ProtocolFake, ToolCall, Usage
from ellmer_py.conformance._strategies import answers, byte_cuts
from ellmer_py.conformance.bedrock import (
    EVENT_STREAM,
    FAKE,
    SIGNATURE,
    STREAM_EXCEPTIONS,
    STRUCTURED_TOOL,
    SignedResponder,
    Verdict,
    error_type,
    events,
    model_in_path,
    response,
    stop_reason,
    stream_bytes,
)
from ellmer_py.conformance.checks.signing import check_sigv4_signing
from ellmer_py.conformance.fake_server import FakeServer, RecordedRequest, Reply

NATIVE = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "native" / "aws_bedrock"
PYDANTIC = NATIVE / "pydantic-ai"
VECTORS = NATIVE / "vectors" / "sigv4"

Event = tuple[str, dict[str, Any]]
Pairs = list[tuple[str, str]]

FULL = Answer(
    text_pieces=("Hel", "lo ", "world"),
    thinking_pieces=("Let me ", "think."),
    tool_calls=(
        ToolCall("tooluse_a", "add", {"a": 1, "b": 2}, pieces=('{"a": 1', ', "b": 2}')),
        ToolCall("tooluse_b", "now", {}),
    ),
    finish_reason="tool_calls",
    usage=Usage(input=120, output=30, cached=100),
)


def _json(path: Path) -> dict[str, Any]:
    assert path.is_file(), f"missing fixture: {path} (the shared fixtures are always present)"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _bodies(name: str) -> list[Any]:
    return [i["request"]["body"] for i in _json(PYDANTIC / name)["interactions"]]


# -- SigV4 vectors ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Signed:
    """A signed request from a vector, with what verifying it needs."""

    name: str
    method: str
    target: str
    headers: Pairs
    body: bytes
    secrets: dict[str, str]
    service: str
    now: datetime
    canonical: str
    string_to_sign: str
    normalize: bool = True
    token_signed: bool = True

    def verify(self, **changes: Any) -> str | None:
        request = dataclasses.replace(self, **changes)
        return sigv4.verify(
            request.method,
            request.target,
            request.headers,
            request.body,
            request.secrets,
            service=request.service,
            now=request.now,
            normalize=request.normalize,
            require_signed_token=request.token_signed,
        )

    def header(self, name: str) -> str:
        return next(v for n, v in self.headers if n.lower() == name)

    def with_header(self, name: str, value: str | None) -> Pairs:
        """The headers with ``name`` set to ``value`` (dropped when None)."""
        out = [(n, v) for n, v in self.headers if n.lower() != name]
        return out if value is None else [*out, (name, value)]

    @property
    def signed_names(self) -> list[str]:
        auth = self.header("authorization")
        return auth.split("SignedHeaders=")[1].split(",")[0].split(";")


def _timestamp(context: dict[str, Any]) -> datetime:
    return datetime.strptime(context["timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=timezone.utc
    )


def _secrets(context: dict[str, Any]) -> dict[str, str]:
    credentials = context["credentials"]
    return {credentials["access_key_id"]: credentials["secret_access_key"]}


def _parse_http(text: str) -> tuple[str, str, Pairs, bytes]:
    head, _, body = text.partition("\n\n")
    first, *lines = head.split("\n")
    method, rest = first.split(" ", 1)
    target = rest.rsplit(" ", 1)[0]
    headers = [(n, v.strip()) for n, _, v in (line.partition(":") for line in lines if line)]
    return method, target, headers, body.encode("utf-8")


def _bedrock_vectors() -> list[Signed]:
    out = []
    for path in sorted((VECTORS / "bedrock-generated").glob("*.json")):
        data = _json(path)
        context, request = data["context"], data["request"]
        url = urlsplit(request["url"])
        target = url.path + (f"?{url.query}" if url.query else "")
        headers = [("Host", url.netloc), *data["signed_headers"].items()]
        out.append(
            Signed(
                f"bedrock-generated/{path.stem}",
                request["method"],
                target,
                headers,
                (request["body"] or "").encode("utf-8"),
                _secrets(context),
                context["service"],
                _timestamp(context),
                data["canonical_request"],
                data["string_to_sign"],
            )
        )
    return out


def _botocore_vectors() -> list[Signed]:
    out = []
    for path in sorted((VECTORS / "botocore").glob("*.json")):
        data = _json(path)
        context = data["context"]
        method, target, headers, body = _parse_http(data["signed_request"])
        out.append(
            Signed(
                f"botocore/{path.stem}",
                method,
                target,
                headers,
                body,
                _secrets(context),
                context["service"],
                _timestamp(context),
                data["canonical_request"],
                data["string_to_sign"],
                token_signed=path.stem != "post-sts-header-after",
            )
        )
    return out


def _aws_c_auth_vectors() -> list[Signed]:
    out = []
    for path in sorted((VECTORS / "aws-c-auth").glob("*.json")):
        data = _json(path)
        context = data["context"]
        method, target, headers, body = _parse_http(data["header_signed_request"])
        out.append(
            Signed(
                f"aws-c-auth/{path.stem}",
                method,
                target,
                headers,
                body,
                _secrets(context),
                context["service"],
                _timestamp(context),
                data["header_canonical_request"],
                data["header_string_to_sign"],
                normalize=context["normalize"],
                token_signed=not context.get("omit_session_token", False),
            )
        )
    return out


# Read unconditionally: a missing vector folder leaves the lists short, and
# test_there_are_vectors (and _session) then fail rather than skip.
BEDROCK = _bedrock_vectors()
HEADER_SIGNED = [*BEDROCK, *_botocore_vectors(), *_aws_c_auth_vectors()]
SESSION = next((v for v in BEDROCK if v.name.endswith("session-token")), None)


def _session() -> Signed:
    assert SESSION is not None, f"missing the bedrock-generated session-token vector in {VECTORS}"
    return SESSION


def test_there_are_vectors() -> None:
    assert len(BEDROCK) == 4
    assert len(HEADER_SIGNED) >= 4 + 24 + 25


@pytest.mark.parametrize("vector", HEADER_SIGNED, ids=lambda v: v.name)
def test_vector_verifies(vector: Signed) -> None:
    assert vector.verify() is None


@pytest.mark.parametrize("vector", HEADER_SIGNED, ids=lambda v: v.name)
def test_canonical_request_and_string_to_sign_are_the_vectors(vector: Signed) -> None:
    canonical = sigv4.canonical_request(
        vector.method,
        vector.target,
        vector.headers,
        vector.signed_names,
        vector.body,
        normalize=vector.normalize,
    )
    assert canonical == vector.canonical
    scope = vector.string_to_sign.split("\n")[2]
    amz_date = vector.header("x-amz-date")
    assert sigv4.string_to_sign(amz_date, scope, canonical) == vector.string_to_sign


def test_signing_key_and_signature_of_the_bedrock_vectors() -> None:
    for vector in BEDROCK:
        secret = next(iter(vector.secrets.values()))
        credential = vector.header("authorization").split("Credential=")[1].split(",")[0]
        _, day, region, service, _ = credential.split("/")
        key = sigv4.signing_key(secret, day, region, service)
        signature = hmac.new(key, vector.string_to_sign.encode(), hashlib.sha256).hexdigest()
        assert vector.header("authorization").endswith(f"Signature={signature}")


def _change_last(text: str) -> str:
    return text[:-1] + ("b" if text[-1] == "a" else "a")


def _changed_path(target: str) -> str:
    path, sep, query = target.partition("?")
    changed = path + "a" if path == "/" else _change_last(path)
    return changed + sep + query


def _mutations(vector: Signed) -> dict[str, dict[str, Any]]:
    body = vector.body + b"x" if not vector.body else vector.body[:-1] + b"\x00"
    header = next(n for n in vector.signed_names if n != "x-amz-date")
    date = vector.header("x-amz-date")
    second = date[:-2] + ("1" if date[-2] == "0" else "0") + "Z"
    return {
        "body": {"body": body},
        "path": {"target": _changed_path(vector.target)},
        "header": {"headers": vector.with_header(header, _change_last(vector.header(header)))},
        "date": {"headers": vector.with_header("x-amz-date", second)},
    }


@pytest.mark.parametrize("what", ["body", "path", "header", "date"])
@pytest.mark.parametrize(
    "vector",
    [v for v in HEADER_SIGNED if not v.name.startswith("aws-c-auth/")],
    ids=lambda v: v.name,
)
def test_a_one_byte_change_is_rejected(vector: Signed, what: str) -> None:
    reason = vector.verify(**_mutations(vector)[what])
    assert reason is not None, f"{vector.name}: a changed {what} was accepted"
    assert "does not match" in reason


def test_an_unsigned_session_token_is_rejected_unless_allowed() -> None:
    vector = next((v for v in HEADER_SIGNED if v.name == "botocore/post-sts-header-after"), None)
    assert vector is not None, f"missing botocore/post-sts-header-after in {VECTORS}"
    assert vector.verify() is None  # the suite's case: the token is added after signing
    reason = vector.verify(token_signed=True)
    assert reason is not None and "X-Amz-Security-Token" in reason


def test_the_bedrock_path_is_encoded_twice() -> None:
    path = "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse"
    assert sigv4.canonical_uri(path) == (
        "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%253A0/converse"
    )
    arn = "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Aapplication-inference-profile%2Fx/converse"
    assert "%252Fx/converse" in sigv4.canonical_uri(arn)
    assert sigv4.canonical_uri("/a/./b/../c//d/") == "/a/c/d/"
    assert sigv4.canonical_uri("/a/./b/../c//d/", normalize=False) == "/a/./b/../c//d/"
    assert sigv4.canonical_uri("") == "/"
    assert sigv4.canonical_query("b=2&a=%7E&a=1&c") == "a=1&a=~&b=2&c="
    assert sigv4.canonical_query("x=a+b c") == "x=a%2Bb%20c"


def test_the_session_token_vector_is_bedrock_shaped() -> None:
    vector = _session()
    assert vector.service == "bedrock"
    assert "x-amz-security-token" in vector.signed_names
    assert vector.verify() is None


@pytest.mark.parametrize(
    ("case", "error", "words"),
    [
        ("bedrock-runtime", "InvalidSignatureException", "service 'bedrock'"),
        ("region", "InvalidSignatureException", "region"),
        ("late", "InvalidSignatureException", "Signature expired"),
        ("early", "InvalidSignatureException", "Signature expired"),
        ("unknown key", "UnrecognizedClientException", "is not known"),
        ("wrong secret", "InvalidSignatureException", "does not match"),
        ("no authorization", "MissingAuthenticationTokenException", "no Authorization"),
        ("bearer", "IncompleteSignatureException", "not AWS4-HMAC-SHA256"),
        ("presigned", "IncompleteSignatureException", "presigned"),
        ("content hash", "InvalidSignatureException", "X-Amz-Content-SHA256"),
        ("token unsigned", "InvalidSignatureException", "not among the signed headers"),
        ("token dropped", "InvalidSignatureException", "'x-amz-security-token' is not in"),
        ("scope day", "InvalidSignatureException", "credential scope's date"),
        ("no signature", "IncompleteSignatureException", "exactly Credential"),
    ],
)
def test_rejections(case: str, error: str, words: str) -> None:
    vector = _session()
    auth = vector.header("authorization")
    kwargs: dict[str, Any] = {"service": "bedrock", "now": vector.now}
    headers, target, secrets = vector.headers, vector.target, vector.secrets
    if case == "bedrock-runtime":
        kwargs["service"] = "bedrock-runtime"
        words = "service 'bedrock', expected 'bedrock-runtime'"
    elif case == "region":
        kwargs["region"] = "us-west-2"
    elif case == "late":
        kwargs["now"] = vector.now + timedelta(minutes=5, seconds=1)
    elif case == "early":
        kwargs["now"] = vector.now - timedelta(minutes=6)
    elif case == "unknown key":
        secrets = {"AKIDOTHER": "x"}
    elif case == "wrong secret":
        secrets = {k: v + "x" for k, v in secrets.items()}
    elif case == "no authorization":
        headers = vector.with_header("authorization", None)
    elif case == "bearer":
        headers = vector.with_header("authorization", "Bearer bedrock-api-key")
    elif case == "presigned":
        target += "?X-Amz-Signature=abc"
    elif case == "content hash":
        headers = [*headers, ("X-Amz-Content-SHA256", hashlib.sha256(b"other").hexdigest())]
    elif case == "token unsigned":
        headers = vector.with_header("authorization", auth.replace(";x-amz-security-token", ""))
    elif case == "token dropped":
        headers = vector.with_header("x-amz-security-token", None)
    elif case == "scope day":
        headers = vector.with_header("authorization", auth.replace("/20260807/", "/20260806/"))
    elif case == "no signature":
        headers = vector.with_header("authorization", auth.split(", Signature=")[0])
    rejection = sigv4.check(vector.method, target, headers, vector.body, secrets, **kwargs)
    assert rejection is not None and rejection.error == error, rejection
    assert words in rejection.reason
    secret = next(iter(vector.secrets.values()))
    assert secret not in rejection.reason


def test_verify_returns_the_reason() -> None:
    vector = _session()
    reason = sigv4.verify(
        vector.method, vector.target, vector.headers, vector.body, {}, now=vector.now
    )
    assert reason is not None and "AKIDEXAMPLE" in reason
    assert vector.verify(now=vector.now + timedelta(minutes=4)) is None  # within the skew


# -- answers ----------------------------------------------------------------------------


def decode(data: bytes, chunks: list[bytes] | None = None) -> list[EventMessage]:
    decoder = EventStreamDecoder()
    out: list[EventMessage] = []
    for chunk in chunks if chunks is not None else [data]:
        out += decoder.feed(chunk)
    decoder.close()
    return out


def frames_of(messages: list[EventMessage]) -> list[Event]:
    """(event type, payload without the ``p`` padding) of each event frame."""
    out = []
    for message in messages:
        assert message.message_type == "event", message.headers
        assert message.content_type == "application/json", message.headers
        assert isinstance(message.event_type, str)
        payload = json.loads(message.payload)
        payload.pop("p", None)
        out.append((message.event_type, payload))
    return out


def check_grammar(stream: list[Event]) -> None:
    """ConverseStream's event order: start, blocks by index, messageStop, metadata."""
    names = [name for name, _ in stream]
    assert names[0] == "messageStart" and stream[0][1]["role"] == "assistant", names
    assert names[-2:] == ["messageStop", "metadata"], names
    assert isinstance(stream[-2][1]["stopReason"], str)
    assert isinstance(stream[-1][1]["usage"]["inputTokens"], int)
    assert isinstance(stream[-1][1]["usage"]["outputTokens"], int)
    open_index: int | None = None
    next_index = 0
    for name, data in stream[1:-2]:
        index = data["contentBlockIndex"]
        if name == "contentBlockStart":
            assert open_index is None and index == next_index, (name, data)
            assert len(data["start"]) == 1, data  # toolUse (ours), or a server tool's toolResult
            open_index = index
        elif name == "contentBlockDelta":
            if open_index is None:  # text and reasoning blocks open with their first delta
                assert index == next_index, (name, data)
                open_index = index
            assert index == open_index and len(data["delta"]) == 1, (name, data)
        elif name == "contentBlockStop":
            assert index == open_index, (name, data)
            open_index, next_index = None, next_index + 1
        else:
            raise AssertionError(f"unexpected event {name!r} between the blocks")
    assert open_index is None, "a block was never closed"


def accumulate(stream: list[Event]) -> dict[str, Any]:
    """The Converse response the events make, as R ellmer's stream_merge_chunks builds it."""
    message: dict[str, Any] = {}
    result: dict[str, Any] = {}
    for name, data in stream:
        if name == "messageStart":
            message = {"role": data["role"], "content": []}
        elif name == "contentBlockStart":
            message["content"].append({"toolUse": {**data["start"]["toolUse"], "input": ""}})
        elif name == "contentBlockDelta":
            content = message["content"]
            if data["contentBlockIndex"] == len(content):
                content.append({})
            block, delta = content[data["contentBlockIndex"]], data["delta"]
            if "text" in delta:
                block["text"] = block.get("text", "") + delta["text"]
            elif "toolUse" in delta:
                block["toolUse"]["input"] += delta["toolUse"]["input"]
            else:
                reasoning = block.setdefault("reasoningContent", {"reasoningText": {}})
                text = reasoning["reasoningText"]
                for key, value in delta["reasoningContent"].items():
                    text[key] = text.get(key, "") + value
        elif name == "contentBlockStop":
            block = message["content"][data["contentBlockIndex"]]
            if "toolUse" in block:
                block["toolUse"]["input"] = json.loads(block["toolUse"]["input"] or "{}")
        elif name == "messageStop":
            result = {"output": {"message": message}, "stopReason": data["stopReason"]}
        elif name == "metadata":
            result["usage"], result["metrics"] = data["usage"], data["metrics"]
    return result


def test_fake_provides_the_protocol() -> None:
    fake: ProtocolFake = FAKE
    assert fake.name == "bedrock-converse"
    for name in ProtocolFake.__dict__:
        if not name.startswith("_") and name != "name":
            assert callable(getattr(FAKE, name)), name
    assert FAKE.signing == "bedrock"
    assert FAKE.pdf_filenames is False
    assert FAKE.needs_wrapper({"type": "string"}) is False


def test_answer_is_a_converse_response() -> None:
    reply = FAKE.answer(FULL)
    assert reply.status == 200 and reply.mode == "length"
    assert ("Content-Type", "application/json") in reply.headers
    assert any(n.lower() == "x-amzn-requestid" for n, _ in reply.headers)
    doc = json.loads(reply.body)
    assert doc == response(FULL)
    assert doc == {
        "output": {
            "message": {
                "role": "assistant",
                "content": [
                    {
                        "reasoningContent": {
                            "reasoningText": {"text": "Let me think.", "signature": SIGNATURE}
                        }
                    },
                    {"text": "Hello world"},
                    {
                        "toolUse": {
                            "toolUseId": "tooluse_a",
                            "name": "add",
                            "input": {"a": 1, "b": 2},
                        }
                    },
                    {"toolUse": {"toolUseId": "tooluse_b", "name": "now", "input": {}}},
                ],
            }
        },
        "stopReason": "tool_use",
        "usage": {
            "inputTokens": 20,
            "outputTokens": 30,
            "totalTokens": 150,
            "cacheReadInputTokens": 100,
            "cacheWriteInputTokens": 0,
        },
        "metrics": {"latencyMs": 7},
    }


def test_answer_has_the_fields_of_a_recorded_response() -> None:
    interaction = _json(PYDANTIC / "test_bedrock_model_thinking_part_anthropic.json")[
        "interactions"
    ][0]
    recorded = json.loads(interaction["response"]["body"])
    doc = response(FULL)
    assert set(doc) == set(recorded)
    assert set(doc["usage"]) <= set(recorded["usage"])
    assert set(doc["output"]["message"]) == set(recorded["output"]["message"])
    shapes = {next(iter(block)): block for block in recorded["output"]["message"]["content"]}
    ours = doc["output"]["message"]["content"][0]["reasoningContent"]
    assert set(ours["reasoningText"]) == set(
        shapes["reasoningContent"]["reasoningContent"]["reasoningText"]
    )
    tool = json.loads(
        _json(PYDANTIC / "test_bedrock_model_structured_output.json")["interactions"][0][
            "response"
        ]["body"]
    )["output"]["message"]["content"][0]["toolUse"]
    assert set(doc["output"]["message"]["content"][2]["toolUse"]) == set(tool)


def test_total_tokens_add_up_as_bedrock_counts_them() -> None:
    for interaction in _json(PYDANTIC / "test_bedrock_cache_write_and_read.json")["interactions"]:
        usage = json.loads(interaction["response"]["body"])["usage"]
        parts = ("inputTokens", "outputTokens", "cacheReadInputTokens", "cacheWriteInputTokens")
        assert usage["totalTokens"] == sum(usage[k] for k in parts)
    usage = response(FULL)["usage"]
    assert usage["totalTokens"] == sum(
        usage[k]
        for k in ("inputTokens", "outputTokens", "cacheReadInputTokens", "cacheWriteInputTokens")
    )
    assert FAKE.expected_tokens(FULL.usage) == (20, 30, 100)
    assert FAKE.expected_tokens(Usage(input=5, output=2)) == (5, 2, 0)
    with pytest.raises(ValueError, match="cached tokens"):
        FAKE.expected_tokens(Usage(input=1, cached=2))


@pytest.mark.parametrize(
    ("finish", "calls", "expected"),
    [
        ("stop", False, "end_turn"),
        ("length", False, "max_tokens"),
        ("content_filter", False, "content_filtered"),
        ("tool_calls", True, "tool_use"),
        ("stop", True, "tool_use"),
        ("length", True, "max_tokens"),
        ("stop_sequence", False, "stop_sequence"),
        ("guardrail_intervened", False, "guardrail_intervened"),
        ("model_context_window_exceeded", False, "model_context_window_exceeded"),
    ],
)
def test_stop_reasons(finish: str, calls: bool, expected: str) -> None:
    tool_calls = (ToolCall("tooluse_x", "f", {}),) if calls else ()
    assert stop_reason(Answer(tool_calls=tool_calls, finish_reason=finish)) == expected


def test_unknown_finish_reason_is_refused() -> None:
    with pytest.raises(ValueError, match="no Bedrock stopReason"):
        response(Answer(finish_reason="eos"))


def test_stream_is_the_event_sequence() -> None:
    reply = FAKE.stream(FULL)
    assert reply.mode == "chunked" and ("Content-Type", EVENT_STREAM) in reply.headers
    stream = frames_of(decode(reply.body))
    assert stream == events(FULL)
    check_grammar(stream)
    names = [f"{n}:{next(iter(d['delta']))}" if n == "contentBlockDelta" else n for n, d in stream]
    assert names == [
        "messageStart",
        "contentBlockDelta:reasoningContent",
        "contentBlockDelta:reasoningContent",
        "contentBlockDelta:reasoningContent",
        "contentBlockStop",
        "contentBlockDelta:text",
        "contentBlockDelta:text",
        "contentBlockDelta:text",
        "contentBlockStop",
        "contentBlockStart",
        "contentBlockDelta:toolUse",
        "contentBlockDelta:toolUse",
        "contentBlockStop",
        "contentBlockStart",
        "contentBlockDelta:toolUse",
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
    reasoning = [d["delta"]["reasoningContent"] for n, d in stream[1:4]]
    assert reasoning == [{"text": "Let me "}, {"text": "think."}, {"signature": SIGNATURE}]
    assert stream[9][1] == {
        "contentBlockIndex": 2,
        "start": {"toolUse": {"toolUseId": "tooluse_a", "name": "add"}},
    }
    assert [d["delta"]["toolUse"]["input"] for _, d in stream[10:12]] == ['{"a": 1', ', "b": 2}']
    assert stream[14][1]["delta"] == {"toolUse": {"input": "{}"}}
    assert accumulate(stream) == response(FULL)


def test_frames_carry_padding_as_aws_sends_it() -> None:
    for message in decode(stream_bytes(FULL)):
        payload = json.loads(message.payload)
        assert isinstance(payload["p"], str) and payload["p"]
        assert (
            payload["p"]
            == "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[: len(payload["p"])]
        )
        assert list(message.headers) == [":event-type", ":content-type", ":message-type"]


def test_empty_answer_is_start_stop_metadata() -> None:
    stream = events(Answer())
    assert [n for n, _ in stream] == ["messageStart", "messageStop", "metadata"]
    check_grammar(stream)
    assert accumulate(stream) == response(Answer())


@given(answers, byte_cuts())
def test_any_answer_streams_to_the_same_response(answer: Answer, cuts: list[int]) -> None:
    reply = FAKE.stream(answer, cuts)
    assert reply.body == stream_bytes(answer)
    expected = {c for c in cuts if 0 < c < len(reply.body)}
    edges = {sum(len(c) for c in reply.chunks[:i]) for i in range(1, len(reply.chunks))}
    assert edges == expected
    stream = frames_of(decode(reply.body, list(reply.chunks)))
    check_grammar(stream)
    assert accumulate(stream) == response(answer)
    assert json.loads(FAKE.answer(answer).body) == response(answer)


def _recorded_streams() -> list[tuple[str, list[Event]]]:
    out = []
    for path in sorted(NATIVE.rglob("*.json")):
        if "vectors" in path.parts or "chatlas" in path.parts:
            continue  # chatlas' streams are InvokeModel, not ConverseStream
        for interaction in _json(path)["interactions"]:
            raw = interaction["response"].get("body_base64")
            if raw and "/converse-stream" in interaction["request"]["url"]:
                out.append((path.stem, frames_of(decode(base64.b64decode(raw)))))
    return out


def test_recorded_streams_follow_the_same_grammar() -> None:
    streams = _recorded_streams()
    assert streams, f"no recorded ConverseStream under {NATIVE}"
    for name, stream in streams:
        try:
            check_grammar(stream)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from None


def test_recorded_event_shapes_match() -> None:
    """Each event and delta has the members a real ConverseStream gives it."""
    real: dict[str, set[str]] = {}
    for _, stream in _recorded_streams():
        for name, data in stream:
            kind = f"{name}:{next(iter(data['delta']))}" if name == "contentBlockDelta" else name
            real.setdefault(kind, set(data))
            if name == "contentBlockStart" and "type" not in data["start"].get("toolUse", "type"):
                real["start.toolUse"] = set(data["start"]["toolUse"])
            if name == "contentBlockDelta" and "reasoningContent" in data["delta"]:
                real.setdefault("reasoning", set()).update(data["delta"]["reasoningContent"])
    assert real, f"no recorded ConverseStream under {NATIVE}"
    for name, data in events(FULL):
        kind = f"{name}:{next(iter(data['delta']))}" if name == "contentBlockDelta" else name
        if kind in real:
            assert set(data) == real[kind], kind
        if name == "contentBlockStart":
            assert set(data["start"]["toolUse"]) == real["start.toolUse"]
    # ReasoningContentBlockDelta is a union of text, signature and redactedContent
    ours = {
        k
        for n, d in events(FULL)
        if n == "contentBlockDelta"
        for k in d["delta"].get("reasoningContent", {})
    }
    assert ours == {"text", "signature"} and real["reasoning"] <= {
        "text",
        "signature",
        "redactedContent",
    }


def test_cut_stream_ends_after_the_last_text_delta() -> None:
    reply = FAKE.cut_stream(Answer(text_pieces=("Half ", "an answer")))
    assert reply.mode == "cut" and ("Content-Type", EVENT_STREAM) in reply.headers
    stream = frames_of(decode(reply.body))
    assert [n for n, _ in stream] == ["messageStart", "contentBlockDelta", "contentBlockDelta"]
    assert "".join(d["delta"]["text"] for _, d in stream[1:]) == "Half an answer"


def test_stalled_stream_pauses_after_the_first_text_delta() -> None:
    reply = FAKE.stalled_stream(Answer(text_pieces=("a", "b", "c")), 0.25)
    assert reply.mode == "chunked" and reply.interval == 0.25 and len(reply.chunks) == 2
    first = frames_of(decode(reply.chunks[0]))
    assert first[-1] == ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "a"}})
    assert frames_of(decode(reply.body)) == events(Answer(text_pieces=("a", "b", "c")))


def test_stream_error_ends_with_an_exception_frame() -> None:
    reply = FAKE.stream_error(Answer(text_pieces=("x", "y")), "modelStreamErrorException", "boom")
    assert reply.mode == "chunked"
    messages = decode(reply.body)
    assert [m.event_type for m in messages[:-1]] == [
        "messageStart",
        "contentBlockDelta",
        "contentBlockDelta",
    ]
    last = messages[-1]
    assert last.message_type == "exception" and last.exception_type == "modelStreamErrorException"
    assert last.content_type == "application/json" and json.loads(last.payload) == {
        "message": "boom"
    }
    assert "throttlingException" in STREAM_EXCEPTIONS
    with pytest.raises(ValueError, match="no exception"):
        FAKE.stream_error(Answer(), "ThrottlingException")


def test_malformed_answers() -> None:
    plain = FAKE.malformed(stream=False)
    assert plain.status == 200
    with pytest.raises(ValueError):
        json.loads(plain.body)
    streamed = FAKE.malformed(stream=True)
    messages = decode(streamed.body)  # the framing is sound
    assert [m.event_type for m in messages] == ["messageStart", "contentBlockDelta"]
    with pytest.raises(ValueError):
        json.loads(messages[1].payload)


@pytest.mark.parametrize(
    ("status", "name"),
    [
        (400, "ValidationException"),
        (403, "AccessDeniedException"),
        (404, "ResourceNotFoundException"),
        (429, "ThrottlingException"),
        (500, "InternalServerException"),
        (503, "ServiceUnavailableException"),
        (422, "ValidationException"),
        (502, "InternalServerException"),
    ],
)
def test_error_shape(status: int, name: str) -> None:
    assert error_type(status) == name
    reply = FAKE.error(status, f"conformance says {status}", {"Retry-After": "7"})
    assert reply.status == status
    assert json.loads(reply.body) == {"message": f"conformance says {status}"}
    headers = dict(reply.headers)
    assert headers["x-amzn-ErrorType"].split(":", 1)[0] == name
    assert headers["Retry-After"] == "7" and headers["Content-Type"] == "application/json"


def test_the_recorded_error_body_has_the_same_shape() -> None:
    recorded = _json(PYDANTIC / "test_bedrock_error.json")["interactions"][0]["response"]
    assert set(json.loads(recorded["body"])) == set(json.loads(FAKE.error(400, "x").body))


# -- reading request bodies -------------------------------------------------------------


def test_system_prompt() -> None:
    (body,) = _bodies("test_bedrock_model_instructions.json")
    assert FAKE.system_prompt(body) == "You are a helpful assistant."
    (body,) = _bodies("test_bedrock_error.json")
    assert body["system"] == [] and FAKE.system_prompt(body) is None
    (body,) = _bodies("test_bedrock_cache_point_adds_cache_control_claude-sonnet-4-5.json")
    assert FAKE.system_prompt(body).startswith("YOU MUST RESPONSE ONLY WITH SINGLE NUMBER")
    ellmer = _json(NATIVE / "ellmer" / "aws-bedrock-thinking.json")["interactions"][0]
    assert FAKE.system_prompt(ellmer["request"]["body"]) is None
    assert (
        FAKE.system_prompt({"system": [{"text": "a"}, {"cachePoint": {}}, {"text": "b"}]}) == "ab"
    )
    with pytest.raises(AssertionError, match="not text"):
        FAKE.system_prompt({"system": [{"image": {}}]})
    with pytest.raises(AssertionError, match="list"):
        FAKE.system_prompt({"system": "Be brief."})
    with pytest.raises(AssertionError, match="exactly one member"):
        FAKE.system_prompt({"system": [{"text": "a", "cachePoint": {}}]})


def test_user_text_skips_cache_points() -> None:
    (body,) = _bodies("test_bedrock_cache_point_adds_cache_control_claude-sonnet-4-5.json")
    text = FAKE.user_text(body)
    assert text.startswith("ONLY SINGLE NUMBER") and text.endswith("What is 2 + 3")
    ellmer = _json(NATIVE / "ellmer" / "aws-bedrock-thinking.json")["interactions"][0]
    assert FAKE.user_text(ellmer["request"]["body"]) == "Create a riddle for data scientists"


def test_media_reads_recorded_pdfs() -> None:
    (body,) = _bodies("test_bedrock_multiple_documents_in_history.json")
    media = FAKE.media(body)
    assert [m.kind for m in media] == ["pdf", "pdf"]
    assert all(m.value.startswith(b"%PDF-") and m.filename is None for m in media)
    assert FAKE.user_text(body).startswith("Here is a PDF document: ")


def test_media_refuses_truncated_base64() -> None:
    (body,) = _bodies("test_image_as_binary_content_input.json")
    with pytest.raises(AssertionError, match="not base64"):
        FAKE.media(body)


def test_media_reads_images_and_checks_the_api_rules() -> None:
    png = b"\x89PNG\r\n\x1a\n-conformance"
    pdf = b"%PDF-1.4\n%%EOF\n"
    b64 = base64.b64encode
    body = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"text": "Hello"},
                    {"image": {"format": "png", "source": {"bytes": b64(png).decode()}}},
                    {
                        "image": {
                            "format": "jpeg",
                            "source": {"s3Location": {"uri": "s3://b/k.jpg"}},
                        }
                    },
                    {
                        "document": {
                            "format": "pdf",
                            "name": "document-1",
                            "source": {"bytes": b64(pdf).decode()},
                        }
                    },
                    {"cachePoint": {"type": "default"}},
                ],
            }
        ]
    }
    assert FAKE.media(body) == [
        Media("image", png, mime="image/png"),
        Media("image_url", "s3://b/k.jpg"),
        Media("pdf", pdf),
    ]

    def user(block: dict[str, Any]) -> dict[str, Any]:
        return {"messages": [{"role": "user", "content": [block]}]}

    source = {"bytes": b64(pdf).decode()}
    for block, words in [
        ({"document": {"format": "pdf", "name": "conformance.pdf", "source": source}}, "name"),
        ({"document": {"format": "pdf", "source": source}}, "name"),
        ({"document": {"format": "txt", "name": "Document 1", "source": source}}, "PDF"),
        ({"image": {"format": "bmp", "source": source}}, "format"),
        ({"image": {"format": "png", "source": {"url": "https://x/y.png"}}}, "source"),
        ({"image": {"format": "png", "source": {"s3Location": {"uri": "https://x"}}}}, "s3://"),
        ({"video": {"format": "mp4", "source": source}}, "does not read"),
    ]:
        with pytest.raises(AssertionError, match=words):
            FAKE.media(user(block))


def test_tools_offered() -> None:
    (body, _) = _bodies("test_bedrock_model_iter_stream.json")
    offered = FAKE.tools_offered(body)
    assert sorted(offered) == ["get_capital", "get_temperature"]
    assert offered["get_capital"] == {
        "description": "Get the capital of a country.",
        "parameters": {
            "properties": {
                "country": {
                    "description": "The country name.",
                    "title": "Country",
                    "type": "string",
                }
            },
            "required": ["country"],
            "type": "object",
            "additionalProperties": False,
        },
    }
    assert FAKE.tools_offered({"messages": []}) == {}
    with pytest.raises(AssertionError, match="inputSchema"):
        FAKE.tools_offered(
            {"toolConfig": {"tools": [{"toolSpec": {"name": "f", "inputSchema": {}}}]}}
        )
    with pytest.raises(AssertionError, match="not a toolSpec"):
        FAKE.tools_offered({"toolConfig": {"tools": [{"name": "f"}]}})


def test_tool_calls_and_results_sent() -> None:
    (_, body) = _bodies("test_bedrock_model_iter_stream.json")
    assert FAKE.tool_calls_sent(body) == [
        ToolCall("tooluse_lAG_zP8QRHmSYOwZzzaCqA", "get_temperature", {"city": "Paris"})
    ]
    assert FAKE.tool_results_sent(body) == [("tooluse_lAG_zP8QRHmSYOwZzzaCqA", "30°C")]
    (_, second, _) = _bodies("test_bedrock_model_structured_output.json")
    assert FAKE.tool_results_sent(second) == [("tooluse_Mj06ft-ITJik1Otgpkc1uA", "30°C")]
    body = _bodies("test_bedrock_mistral_tool_return_image_accepted.json")[0]
    assert FAKE.tool_results_sent(body) == [("getphoto1", "Here it is:See file 241a70.")]
    assert FAKE.tool_calls_sent(body) == [ToolCall("getphoto1", "get_photo", {})]
    result = {"toolUseId": "t", "content": [{"json": {"a": 1}}, {"text": "!"}], "status": "error"}
    assert FAKE.tool_results_sent(
        {"messages": [{"role": "user", "content": [{"toolResult": result}]}]}
    ) == [("t", '{"a": 1}!')]
    with pytest.raises(AssertionError, match="status"):
        FAKE.tool_results_sent(
            {
                "messages": [
                    {"role": "user", "content": [{"toolResult": {**result, "status": "ok"}}]}
                ]
            }
        )


def _structured_body(schema: Any, *, choice: Any = None, key: str = "toolChoice") -> dict[str, Any]:
    tool = {
        "toolSpec": {
            "name": STRUCTURED_TOOL,
            "description": "Extract structured data",
            "inputSchema": {
                "json": {
                    "type": "object",
                    "properties": {"data": schema},
                    "required": ["data"],
                    "additionalProperties": False,
                }
            },
        }
    }
    config: dict[str, Any] = {"tools": [tool]}
    config[key] = {"tool": {"name": STRUCTURED_TOOL}} if choice is None else choice
    return {"messages": [{"role": "user", "content": [{"text": "Hi"}]}], "toolConfig": config}


def test_structured_schema_of_the_forced_tool() -> None:
    assert STRUCTURED_TOOL == "structured_tool_call__"  # R: provider-aws.R
    schema = {"type": "array", "items": {"type": "integer"}}
    body = _structured_body(schema)
    assert FAKE.structured_schema(body) == schema
    assert FAKE.uses_structured_tool(body)
    assert FAKE.tools_offered(body) == {}
    (body,) = _bodies("test_bedrock_model_instructions.json")
    assert FAKE.structured_schema(body) is None and not FAKE.uses_structured_tool(body)
    # pydantic-ai's own way (a final_result tool, toolChoice any) asks for no schema here
    first = _bodies("test_bedrock_model_structured_output.json")[0]
    assert FAKE.structured_schema(first) is None
    assert sorted(FAKE.tools_offered(first)) == ["final_result", "temperature"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (_structured_body({"type": "string"}, key="tool_choice"), "toolChoice"),
        (_structured_body({"type": "string"}, choice={"auto": {}}), "without forcing"),
        (_structured_body({"type": "string"}, choice={"tool": {}}), "without a name"),
        (_structured_body({"type": "string"}, choice={"required": {}}), "auto, any or tool"),
        (
            {"toolConfig": {"tools": [], "toolChoice": {"tool": {"name": STRUCTURED_TOOL}}}},
            "does not define",
        ),
        (
            {
                "toolConfig": {
                    "tools": [
                        {
                            "toolSpec": {
                                "name": STRUCTURED_TOOL,
                                "inputSchema": {"json": {"type": "object"}},
                            }
                        }
                    ],
                    "toolChoice": {"tool": {"name": STRUCTURED_TOOL}},
                }
            },
            "properties",
        ),
    ],
)
def test_structured_schema_refuses_other_shapes(body: Any, words: str) -> None:
    with pytest.raises(AssertionError, match=words):
        FAKE.structured_schema(body)


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
def test_structured_reply_calls_the_forced_tool(stream: bool) -> None:
    body = _structured_body({"type": "integer"})
    reply = FAKE.structured_reply("42", body, stream=stream)
    doc = accumulate(frames_of(decode(reply.body))) if stream else json.loads(reply.body)
    (block,) = doc["output"]["message"]["content"]
    assert block["toolUse"]["name"] == STRUCTURED_TOOL and block["toolUse"]["input"] == {"data": 42}
    assert doc["stopReason"] == "tool_use"
    plain = json.loads(FAKE.structured_reply("42", {"messages": []}, stream=False).body)
    assert plain["output"]["message"]["content"] == [{"text": "42"}]
    cut = json.loads(FAKE.structured_reply("4", body, stream=False, finish_reason="length").body)
    assert cut["stopReason"] == "max_tokens"
    assert cut["output"]["message"]["content"][0]["toolUse"]["input"] == '{"data": 4'
    responder = FAKE.structured_responder("7", stream=False)
    request = RecordedRequest("POST", "/model/m/converse", {}, json.dumps(body).encode())
    assert json.loads(responder(request).body)["output"]["message"]["content"][0]["toolUse"][
        "input"
    ] == {"data": 7}


def test_model_in_path() -> None:
    assert model_in_path("/v1/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse") == (
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
        "converse",
    )
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc"
    encoded = "arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fabc"
    assert model_in_path(f"/model/{encoded}/converse-stream?x=1") == (arn, "converse-stream")
    assert model_in_path(f"/model/{arn}/converse") is None


# -- checking signatures ------------------------------------------------------------------


def _vector_request(vector: Signed, **headers: str | None) -> RecordedRequest:
    pairs = dict((n.lower(), v) for n, v in vector.headers)
    for name, value in headers.items():
        key = name.replace("_", "-")
        if value is None:
            pairs.pop(key, None)
        else:
            pairs[key] = value
    return RecordedRequest(vector.method, vector.target, pairs, vector.body)


def test_signed_responder_answers_a_valid_signature() -> None:
    vector = _session()
    verdicts: list[Verdict] = []
    skew = datetime.now(timezone.utc) - vector.now + timedelta(days=1)
    responder = SignedResponder(
        FAKE.answer(Answer(text_pieces=("ok",))), vector.secrets, verdicts=verdicts, max_skew=skew
    )
    reply = responder(_vector_request(vector))
    assert reply.status == 200 and json.loads(reply.body)["output"]["message"]["content"] == [
        {"text": "ok"}
    ]
    (verdict,) = verdicts
    assert verdict.ok and verdict.scheme == "sigv4" and verdict.reason is None
    assert verdict.access_key_id == "AKIDEXAMPLE"
    assert verdict.signed_headers == ("content-type", "host", "x-amz-date", "x-amz-security-token")
    assert verdict.session_token == vector.header("x-amz-security-token")


def test_signed_responder_refuses_like_aws() -> None:
    vector = _session()
    skew = datetime.now(timezone.utc) - vector.now + timedelta(days=1)
    wrong = {k: v + "x" for k, v in vector.secrets.items()}
    responder = SignedResponder(FAKE.answer(Answer()), wrong, max_skew=skew)
    reply = responder(_vector_request(vector))
    assert reply.status == 403
    message = json.loads(reply.body)["message"]
    assert message.startswith("The request signature we calculated does not match")
    assert dict(reply.headers)["x-amzn-ErrorType"].startswith("InvalidSignatureException:")
    assert next(iter(wrong.values())) not in reply.body.decode()
    assert vector.header("x-amz-security-token") not in reply.body.decode()
    (verdict,) = responder.verdicts
    assert not verdict.ok and verdict.scheme == "sigv4" and "does not match" in str(verdict.reason)

    expired = SignedResponder(FAKE.answer(Answer()), vector.secrets)(_vector_request(vector))
    assert expired.status == 403
    assert json.loads(expired.body)["message"].startswith("Signature expired")

    unknown = SignedResponder(FAKE.answer(Answer()), {}, max_skew=skew)(_vector_request(vector))
    assert dict(unknown.headers)["x-amzn-ErrorType"].startswith("UnrecognizedClientException:")
    assert json.loads(unknown.body) == {
        "message": "The security token included in the request is invalid."
    }


def test_signed_responder_takes_bearer_keys_and_refuses_no_authorization() -> None:
    calls: list[RecordedRequest] = []

    def reply(request: RecordedRequest) -> Reply:
        calls.append(request)
        return FAKE.answer(Answer())

    verdicts: list[Verdict] = []
    responder = FAKE.signed(reply, {"AKID": "secret"}, verdicts=verdicts)
    bearer = RecordedRequest("POST", "/model/m/converse", {"authorization": "Bearer abc"}, b"{}")
    assert responder(bearer).status == 200 and calls == [bearer]
    missing = responder(RecordedRequest("POST", "/model/m/converse", {}, b"{}"))
    assert missing.status == 403
    assert dict(missing.headers)["x-amzn-ErrorType"].startswith(
        "MissingAuthenticationTokenException:"
    )
    other = responder(
        RecordedRequest("POST", "/model/m/converse", {"authorization": "Basic eDp5"}, b"{}")
    )
    assert other.status == 403
    assert [(v.scheme, v.ok) for v in verdicts] == [
        ("bearer", True),
        ("none", False),
        ("none", False),
    ]
    assert responder.verdicts is verdicts and len(calls) == 1


def _sign_now(
    method: str, host: str, target: str, body: bytes, key_id: str, secret: str, token: str
) -> dict[str, str]:
    """Sign with the verifier's own building blocks, at the current time."""
    now = datetime.now(timezone.utc)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    headers = {
        "Host": host,
        "Content-Type": "application/json",
        "X-Amz-Date": amz_date,
        "X-Amz-Security-Token": token,
    }
    names = sorted(h.lower() for h in headers)
    canonical = sigv4.canonical_request(method, target, headers, names, body)
    scope = f"{day}/us-east-1/bedrock/aws4_request"
    to_sign = sigv4.string_to_sign(amz_date, scope, canonical)
    key = sigv4.signing_key(secret, day, "us-east-1", "bedrock")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={key_id}/{scope}, SignedHeaders={';'.join(names)}, "
        f"Signature={signature}"
    )
    return headers


def test_signed_requests_verify_as_the_fake_server_records_them() -> None:
    keys = {"AKIDCONFORMANCE": "conformance-secret"}
    verdicts: list[Verdict] = []
    target = "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
    body = json.dumps({"messages": [{"role": "user", "content": [{"text": "Hi ünïcode"}]}]})
    with FakeServer() as srv:
        srv.default = FAKE.signed(FAKE.answer(Answer(text_pieces=("ok",))), keys, verdicts=verdicts)
        host = f"127.0.0.1:{srv.port}"
        for secret in ("conformance-secret", "wrong-secret"):
            headers = _sign_now(
                "POST", host, target, body.encode(), "AKIDCONFORMANCE", secret, "session-token"
            )
            connection = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
            try:
                connection.request("POST", target, body=body.encode(), headers=headers)
                status = connection.getresponse().status
            finally:
                connection.close()
            assert status == (200 if secret == "conformance-secret" else 403)
    assert [(v.scheme, v.ok, v.session_token) for v in verdicts] == [
        ("sigv4", True, "session-token"),
        ("sigv4", False, "session-token"),
    ]


# -- the signing check ---------------------------------------------------------------------


def test_the_signing_check_leaves_other_protocols_alone() -> None:
    name = next(
        (
            n
            for n in list_providers()
            if get_provider_spec(n).retired is None
            and getattr(_REGISTRY.protocols().get(get_provider_spec(n).protocol), "fake", None)
        ),
        None,
    )
    # the built-in providers (openai, anthropic, ...) have fakes: one is always registered
    assert name is not None, "no registered provider with a conformance fake"
    ctx = Context(get_provider_spec(name))
    assert not hasattr(ctx.fake, "signing")
    check_sigv4_signing(ctx)
    assert ctx.notes == []  # nothing to check, nothing to note: the others show PASS
