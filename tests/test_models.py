"""Tests of ``models_huggingface()``: the router's model list, replayed from a recording.

chatlas recorded ``GET https://router.huggingface.co/v1/models``; a loopback
``FakeServer`` serves it again. What each record must hold is read from the
raw recording here, independently of the parsing code under test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from ellmer_py import (
    AuthenticationError,
    DeprecatedArgumentError,
    MalformedResponseError,
    models_huggingface,
)
from ellmer_py._tokens import Price
from ellmer_py.conformance.fake_server import FakeServer, Reply
from ellmer_py.providers.huggingface import (
    HuggingFaceModel,
    HuggingFaceModelProvider,
    parse_models,
)

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "hf-router"
MODEL_LIST = FIXTURES / "chatlas" / "test_huggingface_model_list.json"
KEY = "hf_test_key_0123456789"


def recording() -> dict[str, Any]:
    (interaction,) = json.loads(MODEL_LIST.read_text(encoding="utf-8"))["interactions"]
    return interaction  # type: ignore[no-any-return]


LISTING = json.loads(recording()["response"]["body"])


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("HUGGINGFACE_API_KEY", "HF_TOKEN", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-home"))
    monkeypatch.setenv("ELLMER_MAX_TRIES", "1")
    monkeypatch.setenv("ELLMER_TIMEOUT_S", "5")


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server
    assert not server.errors, server.errors


def listed(srv: FakeServer, **kwargs: Any) -> list[HuggingFaceModel]:
    srv.enqueue(Reply.from_recording(recording()["response"]))
    kwargs.setdefault("max_tries", 1)
    return models_huggingface(base_url=srv.base_url, **kwargs)


def test_every_recorded_model_is_listed_newest_first(srv: FakeServer) -> None:
    models = listed(srv, credentials=lambda: KEY)
    assert len(LISTING["data"]) == 127
    expected_order = [
        m["id"] for m in sorted(LISTING["data"], key=lambda m: m["created"], reverse=True)
    ]
    assert [m.id for m in models] == expected_order
    (request,) = srv.requests
    assert (request.method, request.path) == ("GET", "/v1/models")
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.body == b""


def test_each_record_matches_the_recording(srv: FakeServer) -> None:
    by_id = {m.id: m for m in listed(srv)}
    for raw in LISTING["data"]:
        model = by_id[raw["id"]]
        assert model.created_at == datetime.fromtimestamp(raw["created"], tz=timezone.utc)
        assert model.owned_by == raw["owned_by"]
        assert model.input_modalities == tuple(raw["architecture"]["input_modalities"])
        assert model.output_modalities == tuple(raw["architecture"]["output_modalities"])
        assert [p.provider for p in model.providers] == [p["provider"] for p in raw["providers"]]
        for entry, raw_entry in zip(model.providers, raw["providers"], strict=True):
            pricing = raw_entry.get("pricing") or {}
            assert entry.status == raw_entry["status"]
            assert entry.context_length == raw_entry.get("context_length")
            assert entry.input_price == pricing.get("input")
            assert entry.output_price == pricing.get("output")
            assert entry.supports_tools == raw_entry.get("supports_tools")
            assert entry.supports_structured_output == raw_entry.get("supports_structured_output")
            assert entry.is_model_author == raw_entry["is_model_author"]


def test_the_default_model_in_detail(srv: FakeServer) -> None:
    (llama,) = [m for m in listed(srv) if m.id == "meta-llama/Llama-3.1-8B-Instruct"]
    assert llama.owned_by == "meta-llama"
    assert llama.created_at == datetime(2024, 7, 18, 8, 56, tzinfo=timezone.utc)
    assert [p.provider for p in llama.providers] == [
        "cerebras",
        "novita",
        "nebius",
        "hyperbolic",
        "nscale",
        "featherless-ai",
        "sambanova",
        "ovhcloud",
        "scaleway",
    ]
    assert llama.provider("NOVITA") == HuggingFaceModelProvider(
        provider="novita",
        status="live",
        context_length=16384,
        input_price=0.02,
        output_price=0.05,
        supports_tools=False,
        supports_structured_output=False,
        is_model_author=False,
    )
    cerebras = llama.provider("cerebras")
    assert cerebras is not None
    assert cerebras.context_length is None
    assert cerebras.price == Price(0.1, 0.1)
    featherless = llama.provider("featherless-ai")
    assert featherless is not None
    assert featherless.price is None
    assert featherless.supports_tools is None
    assert llama.provider("openai") is None
    assert [p.provider for p in llama.providers if p.supports_tools] == [
        "sambanova",
        "ovhcloud",
        "scaleway",
    ]


def test_no_key_needed(srv: FakeServer) -> None:
    """The list is public: without any key the request goes without Authorization."""
    models = listed(srv)
    assert len(models) == 127
    assert "authorization" not in srv.requests[0].headers


def test_the_key_comes_from_the_environment(
    srv: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_env_token_123456")
    listed(srv, api_headers={"X-Team": "a"})
    assert srv.requests[0].headers["authorization"] == "Bearer hf_env_token_123456"
    assert srv.requests[0].headers["x-team"] == "a"


def test_api_key_is_rejected() -> None:
    with pytest.raises(DeprecatedArgumentError) as info:
        models_huggingface(api_key="hf_secret_value_123")
    assert "hf_secret_value_123" not in str(info.value)


def test_http_errors_are_typed(srv: FakeServer) -> None:
    srv.enqueue(Reply.json({"error": "Invalid credentials in Authorization header"}, status=401))
    with pytest.raises(AuthenticationError) as info:
        models_huggingface(base_url=srv.base_url, credentials=lambda: KEY, max_tries=1)
    assert "Invalid credentials" in str(info.value)
    assert KEY not in str(info.value)


def test_a_listing_without_data_is_malformed(srv: FakeServer) -> None:
    srv.enqueue(Reply.json({"object": "list"}))
    with pytest.raises(MalformedResponseError, match="has no 'data' array"):
        models_huggingface(base_url=srv.base_url, max_tries=1)


def test_odd_entries_are_skipped_or_blanked() -> None:
    models = parse_models(
        {
            "data": [
                "not a model",
                {"object": "model"},  # no id
                {
                    "id": "a/b",
                    "created": "yesterday",
                    "providers": [
                        {"provider": "x", "pricing": {"input": "cheap", "output": True}},
                        {"status": "live"},  # no provider name
                        7,
                    ],
                    "architecture": None,
                },
            ]
        }
    )
    assert models == [
        HuggingFaceModel(id="a/b", providers=(HuggingFaceModelProvider(provider="x"),))
    ]
