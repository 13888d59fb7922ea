"""``chat_aws_bedrock()`` answers priced as R prices them, against a loopback :class:`FakeServer`.

R's ``get_token_cost()`` looks the chat's model id up, exactly, in the
"AWS/Bedrock" rows of its price table (data-raw/prices.json, updated
2026-08-03): a cross-region inference profile ("us.", "eu.", "global.", ...)
has its own row and price, and one without a row is not priced from its
base model. The prices written here are copied from R's rows, not read
from the plugin, so a wrong table or a lookup that is not wired in fails.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ellmer_py import AwsCredentials, Chat, chat_aws_bedrock, models_aws_bedrock, token_usage
from ellmer_py._tokens import _local_token_usage
from ellmer_py.conformance.fake_server import FakeServer, Reply
from ellmer_py.plugin import Price
from ellmer_py.providers.aws_bedrock import BedrockModel
from ellmer_py.providers.aws_bedrock_prices import PRICES, price_of

#: Rows of R's table: model id -> (input, output, cached input), dollars per million tokens.
R_ROWS: dict[str, tuple[float, float, float | None]] = {
    "us.anthropic.claude-sonnet-5": (2.2, 11.0, 0.22),  # R's default model
    "anthropic.claude-sonnet-5": (2.0, 10.0, 0.2),
    "global.anthropic.claude-sonnet-5": (2.0, 10.0, 0.2),
    "anthropic.claude-sonnet-4-6": (3.0, 15.0, 0.3),
    "us.anthropic.claude-sonnet-4-6": (3.3, 16.5, 0.33),
    "eu.anthropic.claude-sonnet-4-6": (3.3, 16.5, 0.33),
    "au.anthropic.claude-sonnet-4-6": (3.3, 16.5, 0.33),
    "jp.anthropic.claude-sonnet-4-6": (3.3, 16.5, 0.33),
    "global.anthropic.claude-sonnet-4-6": (3.0, 15.0, 0.3),
    "apac.anthropic.claude-3-5-sonnet-20241022-v2:0": (3.0, 15.0, 0.3),
    "us-gov.anthropic.claude-sonnet-4-5-20250929-v1:0": (3.6, 18.0, 0.36),
    # a profile row that is not its base model's price: R's row wins
    "eu.anthropic.claude-3-5-haiku-20241022-v1:0": (0.25, 1.25, 0.025),
    "anthropic.claude-3-5-haiku-20241022-v1:0": (0.8, 4.0, 0.08),
    "amazon.nova-pro-v1:0": (0.8, 3.2, None),
    "eu.amazon.nova-lite-v1:0": (0.078, 0.312, None),
    "us.amazon.nova-premier-v1:0": (2.5, 12.5, None),
    "apac.amazon.nova-2-lite-v1:0": (0.33, 2.75, 0.0825),
    "meta.llama3-3-70b-instruct-v1:0": (0.72, 0.72, None),
    "us.deepseek.r1-v1:0": (1.35, 5.4, None),
    "openai.gpt-oss-120b-1:0": (0.15, 0.6, None),
    "mistral.mistral-large-2407-v1:0": (3.0, 9.0, None),
    "xai.grok-4.3": (1.25, 2.5, 0.2),
}
KEY_ID, SECRET = "AKIDTESTBEDROCK", "bedrock-secret-do-not-show-0123"


@pytest.fixture(autouse=True)
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No AWS setting of the machine leaks in; a fresh usage log."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.delenv("ELLMER_ECHO", raising=False)
    with _local_token_usage():
        yield


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server
    assert not server.errors, server.errors


def keys() -> AwsCredentials:
    return AwsCredentials(KEY_ID, SECRET)


def converse(input: int, output: int, cache_read: int = 0) -> dict[str, Any]:
    usage: dict[str, Any] = {"inputTokens": input, "outputTokens": output}
    if cache_read:
        usage["cacheReadInputTokens"] = cache_read
    usage["totalTokens"] = input + output + cache_read
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": "hello there"}]}},
        "stopReason": "end_turn",
        "usage": usage,
        "metrics": {"latencyMs": 100},
    }


def bedrock(srv: FakeServer, model: str | None = None) -> Chat:
    return chat_aws_bedrock(
        base_url=srv.url, model=model, credentials=keys, echo="none", max_tries=1
    )


def r_cost(model: str, input: int, output: int, cached: int = 0) -> float:
    """R's get_token_cost(): tokens times the row's prices."""
    i, o, c = R_ROWS[model]
    assert cached == 0 or c is not None
    return (input * i + output * o + cached * (c or 0.0)) / 1e6


def test_rs_default_model_is_priced_by_its_inference_profile_row(srv: FakeServer) -> None:
    srv.enqueue(Reply.json(converse(1_000, 200, cache_read=300)))
    chat = bedrock(srv)
    assert chat.get_model() == "us.anthropic.claude-sonnet-5"
    assert chat.chat("hi") == "hello there"
    expected = r_cost("us.anthropic.claude-sonnet-5", 1_000, 200, cached=300)
    assert chat.get_cost() == pytest.approx(expected, rel=1e-12)
    assert chat.get_tokens()[0]["cost"] == pytest.approx(expected, rel=1e-12)
    (row,) = token_usage()
    assert (row["provider"], row["model"]) == ("AWS/Bedrock", "us.anthropic.claude-sonnet-5")
    assert row["cost"] == pytest.approx(expected, rel=1e-12)
    (request,) = srv.requests
    assert request.path == "/model/us.anthropic.claude-sonnet-5/converse"


@pytest.mark.parametrize("model", list(R_ROWS))
def test_each_model_and_profile_is_priced_from_its_own_row(srv: FakeServer, model: str) -> None:
    srv.enqueue(Reply.json(converse(5_000, 1_000)), Reply.json(converse(20, 3)))
    chat = bedrock(srv, model)
    chat.chat("one")
    chat.chat("two")
    first, second = r_cost(model, 5_000, 1_000), r_cost(model, 20, 3)
    assert chat.get_cost("last") == pytest.approx(second, rel=1e-12)
    assert chat.get_cost() == pytest.approx(first + second, rel=1e-12)


@pytest.mark.parametrize(
    "model",
    [
        # an inference profile without a row of its own: R does not fall back to the base model
        "apac.anthropic.claude-sonnet-5",
        "us.anthropic.claude-3-5-sonnet-20241022-v2:0:200k",
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-5",
        "anthropic.claude-sonnet-5-v1:0",
        "US.anthropic.claude-sonnet-5",
        "amazon.nova-canvas-v1:0",
        # R's row has no input price: R's cost is NA
        "us.twelvelabs.pegasus-1-2-v1:0",
    ],
)
def test_a_model_r_cannot_price_stays_unpriced(srv: FakeServer, model: str) -> None:
    srv.enqueue(Reply.json(converse(1_000, 100)))
    chat = bedrock(srv, model)
    assert chat.chat("hi") == "hello there"
    assert chat.get_cost() is None
    assert chat.get_tokens()[0]["cost"] is None
    assert chat.get_tokens()[0]["input"] == 1_000
    (row,) = token_usage()
    assert row["cost"] is None


def test_price_of_gives_rs_rows() -> None:
    for model, (i, o, c) in R_ROWS.items():
        assert price_of(model) == Price(i, o, c)


@pytest.mark.parametrize(
    "model",
    [
        "amazon.titan-embed-text-v2:0",  # embeddings: no chat through Converse
        "cohere.embed-v4:0",
        "openai.gpt-5.5",  # served on Bedrock's Responses endpoint, not Converse
        "us-east-1/deepseek.v3.2",  # litellm's region alias: no Bedrock model id
        "invoke/anthropic.claude-3-5-sonnet-20240620-v1:0",
        "anthropic.claude-haiku-4-5@20251001",
    ],
)
def test_rows_for_no_converse_text_model_are_left_out(model: str) -> None:
    assert model not in PRICES
    assert price_of(model) is None


def test_the_table_holds_only_usable_rows() -> None:
    assert len(PRICES) > 200
    for model, (i, o, c) in PRICES.items():
        assert "/" not in model and "@" not in model and "embed" not in model, model
        assert i >= 0 and o > 0 and (c is None or c >= 0), model


def test_models_aws_bedrock_rows_carry_rs_prices() -> None:
    page = {
        "modelSummaries": [
            {"modelId": "anthropic.claude-sonnet-4-6", "modelName": "S", "providerName": "An"},
            {"modelId": "amazon.nova-pro-v1:0", "modelName": "N", "providerName": "Am"},
            {"modelId": "amazon.titan-embed-text-v2:0", "modelName": "E", "providerName": "Am"},
        ]
    }
    with FakeServer() as srv:
        srv.enqueue(Reply.json(page))
        models = models_aws_bedrock(base_url=srv.url, credentials=keys)
    assert models == [
        BedrockModel("amazon.nova-pro-v1:0", "N", "Am", 0.8, 3.2, None),
        BedrockModel("amazon.titan-embed-text-v2:0", "E", "Am"),
        BedrockModel("anthropic.claude-sonnet-4-6", "S", "An", 3.0, 15.0, 0.3),
    ]
