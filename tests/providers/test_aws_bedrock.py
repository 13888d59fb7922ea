"""``chat_aws_bedrock()`` end to end: endpoints, credentials, SigV4 and recorded answers.

Every request goes to a loopback :class:`FakeServer`; signed requests are
checked there with the verifier of ellmer_py._sigv4 (proven on AWS's
published vectors). The recorded answers are the Bedrock recordings in
``../shared/fixtures/native/aws_bedrock/`` (binary event streams from
``body_base64``); what each must give is read from the recording's own
decoded ``frames`` and JSON, not from the protocol code under test.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from ellmer_py import (
    AuthenticationError,
    AwsCredentials,
    ConfigurationError,
    MissingCredentialsError,
    chat,
    chat_aws_bedrock,
    models_aws_bedrock,
)
from ellmer_py._sigv4 import verify
from ellmer_py.conformance.fake_server import FakeServer, RecordedRequest, Reply
from ellmer_py.providers.aws_bedrock import bedrock_endpoint

NATIVE = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "native" / "aws_bedrock"
ENDPOINTS = NATIVE / "vectors" / "endpoints" / "bedrock-runtime-endpoint-tests.json"
KEY_ID, SECRET, TOKEN = "AKIDTESTBEDROCK", "bedrock-secret-do-not-show-0123", "session-token-xyz"
CONVERSE = {
    "output": {"message": {"role": "assistant", "content": [{"text": "hello there"}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 12, "outputTokens": 3, "totalTokens": 15},
    "metrics": {"latencyMs": 100},
}


@pytest.fixture(autouse=True)
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No AWS setting of the machine leaks in; no instance metadata lookup."""
    import os

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    yield


def signature_problem(request: RecordedRequest) -> str | None:
    return verify(
        request.method,
        request.path,
        request.headers,
        request.body,
        lookup_secret={KEY_ID: SECRET}.get,
        service="bedrock",
        now=datetime.now(timezone.utc),
    )


def keys() -> AwsCredentials:
    return AwsCredentials(KEY_ID, SECRET, TOKEN)


# -- endpoints ------------------------------------------------------------------------


def endpoint_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads(ENDPOINTS.read_text(encoding="utf-8"))["testCases"]
    return cases


@pytest.mark.parametrize("case", endpoint_cases(), ids=lambda c: c["documentation"])
def test_endpoint_rules(case: dict[str, Any]) -> None:
    given = case.get("params", {})
    arguments = {
        "fips": given.get("UseFIPS", False),
        "dualstack": given.get("UseDualStack", False),
        "endpoint": given.get("Endpoint"),
    }
    if "error" in case["expect"]:
        with pytest.raises(ConfigurationError) as info:
            bedrock_endpoint(given.get("Region"), **arguments)
        assert str(info.value) == case["expect"]["error"]
    else:
        url = bedrock_endpoint(given.get("Region"), **arguments)
        assert url == case["expect"]["endpoint"]["url"]


def test_every_endpoint_vector_is_run() -> None:
    assert len(endpoint_cases()) >= 21


def test_the_base_url_comes_from_the_region_and_fips_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    made = chat_aws_bedrock(credentials=keys)
    assert made.get_provider().base_url == "https://bedrock-runtime.eu-west-3.amazonaws.com"
    assert made.get_model() == "us.anthropic.claude-sonnet-5"
    monkeypatch.setenv("AWS_USE_FIPS_ENDPOINT", "true")
    fips = chat_aws_bedrock(credentials=keys).get_provider().base_url
    assert fips == "https://bedrock-runtime-fips.eu-west-3.amazonaws.com"


def test_the_region_can_come_from_the_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_REGION")
    (tmp_path / "config").write_text("[profile work]\nregion = ap-south-1\n", encoding="utf-8")
    made = chat_aws_bedrock(profile="work", credentials=keys)
    assert made.get_provider().base_url == "https://bedrock-runtime.ap-south-1.amazonaws.com"


def test_no_region_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION")
    with pytest.raises(ConfigurationError, match="AWS_REGION"):
        chat_aws_bedrock(credentials=keys)


def test_cache_must_be_one_of_rs_choices() -> None:
    with pytest.raises(ConfigurationError, match="cache must be one of"):
        chat_aws_bedrock(cache="forever", credentials=keys)


# -- credentials -------------------------------------------------------------------------


def test_requests_are_signed_with_sigv4_and_the_model_id_double_encoded() -> None:
    with FakeServer() as srv:
        srv.enqueue(Reply.json(CONVERSE))
        made = chat_aws_bedrock(
            base_url=srv.url,
            model="anthropic.claude-3-5-sonnet-20240620-v1:0",
            credentials=keys,
            echo="none",
        )
        assert made.chat("hi") == "hello there"
        (request,) = srv.requests
    assert request.path == "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
    assert request.headers["authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={KEY_ID}/")
    assert "/us-east-1/bedrock/aws4_request" in request.headers["authorization"]
    assert request.headers["x-amz-security-token"] == TOKEN
    assert "x-amz-security-token" in request.headers["authorization"]
    assert signature_problem(request) is None
    tampered = RecordedRequest(request.method, request.path, request.headers, request.body + b" ")
    assert signature_problem(tampered) is not None  # the check can fail


def test_keys_from_the_environment_sign_and_are_read_at_request_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeServer() as srv:
        srv.enqueue(Reply.json(CONVERSE))
        made = chat_aws_bedrock(base_url=srv.url, echo="none")  # nothing set yet: fine
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
        made.chat("hi")
        (request,) = srv.requests
    assert signature_problem(request) is None
    assert "x-amz-security-token" not in request.headers


def test_a_bedrock_api_key_is_a_bearer_token_and_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "bedrock-api-key-1")
    with FakeServer() as srv:
        srv.enqueue(Reply.json(CONVERSE))
        chat_aws_bedrock(base_url=srv.url, echo="none").chat("hi")
        (request,) = srv.requests
    assert request.headers["authorization"] == "Bearer bedrock-api-key-1"
    assert "x-amz-date" not in request.headers


def test_without_credentials_the_error_lists_what_was_looked_for() -> None:
    made = chat_aws_bedrock(base_url="http://127.0.0.1:9", echo="none")
    with pytest.raises(MissingCredentialsError) as info:
        made.chat("hi")
    message = str(info.value)
    for name in ("AWS_BEARER_TOKEN_BEDROCK", "AWS_BEARER_TOKEN", "AWS_ACCESS_KEY_ID"):
        assert name in message
    assert made.get_turns() == []


def test_a_refused_signature_is_an_authentication_error_without_the_secret() -> None:
    body = {"message": "The request signature we calculated does not match the signature"}
    with FakeServer() as srv:
        srv.enqueue(
            Reply.json(body, status=403, headers={"x-amzn-errortype": "InvalidSignatureException"})
        )
        made = chat_aws_bedrock(base_url=srv.url, credentials=keys, echo="none")
        with pytest.raises(AuthenticationError) as info:
            made.chat("hi")
    assert "InvalidSignatureException" in str(info.value)
    assert SECRET not in str(info.value) and TOKEN not in str(info.value)


def test_throttling_is_retried() -> None:
    with FakeServer() as srv:
        srv.enqueue(
            Reply.json(
                {"message": "Too many requests"},
                status=429,
                headers={"x-amzn-errortype": "ThrottlingException", "retry-after": "0"},
            ),
            Reply.json(CONVERSE),
        )
        made = chat_aws_bedrock(base_url=srv.url, credentials=keys, echo="none", max_tries=2)
        assert made.chat("hi") == "hello there"
        requests = srv.requests
    assert len(requests) == 2
    assert all(signature_problem(r) is None for r in requests)


def test_chat_resolves_bedrock_and_aws_bedrock() -> None:
    with FakeServer() as srv:
        srv.enqueue(Reply.json(CONVERSE), Reply.json(CONVERSE))
        for name in ("bedrock", "aws_bedrock"):
            made = chat(f"{name}/amazon.nova-micro-v1:0", base_url=srv.url, credentials=keys)
            made.set_echo("none")
            assert made.chat("hi") == "hello there"
        assert [r.path for r in srv.requests] == ["/model/amazon.nova-micro-v1%3A0/converse"] * 2


def test_models_aws_bedrock_reads_foundation_models_signed() -> None:
    page = {
        "modelSummaries": [
            {"modelId": "b.model-v1:0", "modelName": "B", "providerName": "Bee"},
            {"modelId": "a.model-v1:0", "modelName": "A", "providerName": "Ay"},
        ]
    }
    with FakeServer() as srv:
        srv.enqueue(Reply.json(page))
        models = models_aws_bedrock(base_url=srv.url, credentials=keys)
        (request,) = srv.requests
    assert [(m.id, m.name, m.provider) for m in models] == [
        ("a.model-v1:0", "A", "Ay"),
        ("b.model-v1:0", "B", "Bee"),
    ]
    assert request.method == "GET" and request.path == "/foundation-models"
    assert signature_problem(request) is None


# -- recorded streams, through the whole stack ----------------------------------------


def streams() -> list[tuple[Path, int]]:
    found = []
    for path in sorted(NATIVE.rglob("*.json")):
        if "vectors" in path.parts:
            continue
        doc = json.loads(path.read_text(encoding="utf-8"))
        for n, i in enumerate(doc.get("interactions", [])):
            url = urlsplit(i["request"]["url"]).path
            if url.endswith("/converse-stream") and i["response"].get("status") == 200:
                found.append((path, n))
    return found


STREAMS = streams()


def test_the_recorded_streams_are_found() -> None:
    assert len(STREAMS) >= 7


@pytest.mark.parametrize(("path", "n"), STREAMS, ids=[f"{p.stem}-{n}" for p, n in STREAMS])
def test_recorded_stream_replays_through_chat(path: Path, n: int) -> None:
    interaction = json.loads(path.read_text(encoding="utf-8"))["interactions"][n]
    response = interaction["response"]
    frames = response["frames"]
    expected = "".join(
        delta["text"]
        for f in frames
        if f["headers"].get(":event-type") == "contentBlockDelta"
        for delta in [json.loads(f["payload"])["delta"]]
        if isinstance(delta.get("text"), str)
    )
    usage = [
        json.loads(f["payload"])["usage"]
        for f in frames
        if f["headers"].get(":event-type") == "metadata"
    ]
    model = unquote(urlsplit(interaction["request"]["url"]).path.split("/")[2])
    body = base64.b64decode(response["body_base64"])
    with FakeServer() as srv:
        srv.enqueue(Reply.raw(200, body, "application/vnd.amazon.eventstream"))
        made = chat_aws_bedrock(base_url=srv.url, model=model, credentials=keys, echo="none")
        pieces = list(made.stream("hi"))
        (request,) = srv.requests
    assert request.path.endswith("/converse-stream")
    assert request.headers["accept"] == "application/vnd.amazon.eventstream"
    assert signature_problem(request) is None
    assert "".join(pieces) == expected
    turn = made.get_turns()[-1]
    assert turn.text == expected
    if usage:
        assert turn.tokens is not None
        assert turn.tokens.output == usage[-1]["outputTokens"]
