"""``Provider.list_models()`` (R: ``models_list()``) and the helpers every ``models_*()`` shares.

A chat's provider lists its models with its plugin's ``models_<name>()``
(``ProviderSpec.models_function``), pointed at the chat's own base URL,
credentials and headers. Recorded model lists (chatlas' and the Hugging
Face router's) are served again by a loopback ``FakeServer``.
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from ellmer_py import (
    AwsCredentials,
    MalformedResponseError,
    MissingCredentialsError,
    Provider,
    chat_anthropic,
    chat_aws_bedrock,
    chat_google_gemini,
    chat_google_vertex,
    chat_huggingface,
    chat_openai,
    chat_perplexity,
    get_provider_spec,
    list_providers,
)
from ellmer_py._sigv4 import verify
from ellmer_py.conformance.fake_server import FakeServer, Reply
from ellmer_py.plugin import (
    list_model_rows,
    model_list_headers,
    model_rows,
    newest_first,
    price_columns,
    unix_time,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
NATIVE = SHARED / "native"
HF_LIST = SHARED / "hf-router" / "chatlas" / "test_huggingface_model_list.json"
OPENAI_LIST = NATIVE / "openai" / "chatlas" / "test_provider_openai"
OPENAI_LIST /= "test_openai_list_models.json"
ANTHROPIC_LIST = NATIVE / "anthropic" / "ellmer" / "anthropic-list-models.json"
GEMINI_LIST = (
    NATIVE / "google_gemini" / "chatlas" / "test_provider_google" / "test_google_list_models.json"
)
KEY = "sk-list-models-test-0123456789"
KEY_ID, SECRET = "AKIDTESTLISTMODELS", "list-models-secret-do-not-show-0123"


def interactions(path: Path) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["interactions"]
    return found


def body(interaction: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(interaction["response"]["body"])
    return doc


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "GOOGLE_API_KEY",
        "GEMINI_API_KEY",
        "HUGGINGFACE_API_KEY",
        "HF_TOKEN",
        "PERPLEXITY_API_KEY",
        "GOOGLE_CLOUD_LOCATION",
        "GOOGLE_CLOUD_PROJECT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-home"))
    monkeypatch.setenv("ELLMER_MAX_TRIES", "1")
    monkeypatch.setenv("ELLMER_TIMEOUT_S", "5")


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server
    assert not server.errors, server.errors


# -- Provider.list_models() -------------------------------------------------------------


def test_an_openai_compatible_chat_lists_the_router_models(srv: FakeServer) -> None:
    (recorded,) = interactions(HF_LIST)
    srv.enqueue(*[Reply.from_recording(recorded["response"])] * 2)
    chat = chat_huggingface(
        base_url=srv.base_url, credentials=lambda: KEY, api_headers={"X-Team": "a"}
    )
    models = chat.get_provider().list_models()
    assert chat.list_models() == models  # R's chat$get_provider() spelled on the chat too
    rows = body(recorded)["data"]
    newest = sorted(rows, key=lambda r: r["created"], reverse=True)
    assert [m.id for m in models] == [r["id"] for r in newest]
    request, _ = srv.requests
    assert (request.method, request.path) == ("GET", "/v1/models")
    assert request.headers["authorization"] == f"Bearer {KEY}"  # the chat's key
    assert request.headers["x-team"] == "a"  # and the chat's headers


def test_an_openai_chat_lists_models_with_prices(srv: FakeServer) -> None:
    (recorded,) = interactions(OPENAI_LIST)
    srv.enqueue(Reply.from_recording(recorded["response"]))
    provider = chat_openai(base_url=srv.base_url, credentials=lambda: KEY).get_provider()
    models = provider.list_models()
    rows = body(recorded)["data"]
    assert sorted(m.id for m in models) == sorted(r["id"] for r in rows)
    dates = [m.created_at for m in models]
    assert dates == sorted(dates, reverse=True)
    (gpt4o,) = [m for m in models if m.id == "gpt-4o"]
    assert (gpt4o.input_price, gpt4o.output_price, gpt4o.cached_input_price) == (2.5, 10.0, 1.25)
    assert srv.requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_an_anthropic_chat_lists_models(srv: FakeServer) -> None:
    (recorded,) = [i for i in interactions(ANTHROPIC_LIST) if i["request"]["method"] == "GET"]
    srv.enqueue(Reply.from_recording(recorded["response"]))
    provider = chat_anthropic(base_url=srv.base_url, credentials=lambda: KEY).get_provider()
    models = provider.list_models()
    rows = body(recorded)["data"]
    assert [(m.id, m.name) for m in models] == [(r["id"], r["display_name"]) for r in rows]
    (request,) = srv.requests
    assert request.path == "/v1/models?limit=1000"
    assert request.headers["x-api-key"] == KEY
    assert "authorization" not in request.headers


def test_a_gemini_chat_lists_models_over_two_recorded_pages(srv: FakeServer) -> None:
    first, second = interactions(GEMINI_LIST)
    srv.enqueue(Reply.from_recording(first["response"]), Reply.from_recording(second["response"]))
    provider = chat_google_gemini(base_url=srv.base_url, credentials=lambda: KEY).get_provider()
    models = provider.list_models()
    rows = body(first)["models"] + body(second)["models"]
    want = sorted(
        r["name"].removeprefix("models/")
        for r in rows
        if "generateContent" in r.get("supportedGenerationMethods", [])
    )
    assert [m.id for m in models] == want
    token = body(first)["nextPageToken"]
    assert [r.path.split("&")[0] for r in srv.requests] == ["/v1/models?pageSize=1000"] * 2
    assert srv.requests[1].path.endswith(f"&pageToken={token}")
    assert all(r.headers["x-goog-api-key"] == KEY for r in srv.requests)


def test_a_vertex_chat_lists_models_of_its_own_project(srv: FakeServer) -> None:
    """The project and location come from the chat's base URL, not from the environment."""
    srv.enqueue(
        Reply.json(
            {
                "publisherModels": [
                    {
                        "name": "publishers/google/models/gemini-2.5-pro",
                        "supportedActions": {"openGenerationAiStudio": {}},
                    },
                    {"name": "publishers/google/models/imagen-3", "supportedActions": {}},
                ]
            }
        )
    )
    root = f"{srv.url}/v1/projects/my-proj/locations/europe-west4/publishers/google/"
    chat = chat_google_vertex("europe-west4", "my-proj", base_url=root, credentials=lambda: KEY)
    models = chat.get_provider().list_models()
    assert [(m.id, m.input_price) for m in models] == [("gemini-2.5-pro", 1.25)]
    (request,) = srv.requests
    path = "/v1/projects/my-proj/locations/europe-west4/publishers/google/models?pageSize=1000"
    assert request.path == path
    assert request.headers["x-goog-user-project"] == "my-proj"
    assert request.headers["authorization"] == f"Bearer {KEY}"


def test_a_bedrock_chat_lists_models_signed_with_its_credentials(
    srv: FakeServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    srv.enqueue(
        Reply.json(
            {"modelSummaries": [{"modelId": "a.m-v1:0", "modelName": "A", "providerName": "Ay"}]}
        )
    )
    chat = chat_aws_bedrock(base_url=srv.url, credentials=lambda: AwsCredentials(KEY_ID, SECRET))
    models = chat.get_provider().list_models()
    assert [(m.id, m.name, m.provider) for m in models] == [("a.m-v1:0", "A", "Ay")]
    (request,) = srv.requests
    assert (request.method, request.path) == ("GET", "/foundation-models")
    problem = verify(
        request.method,
        request.path,
        request.headers,
        request.body,
        lookup_secret={KEY_ID: SECRET}.get,
        service="bedrock",
        now=datetime.now(timezone.utc),
    )
    assert problem is None


def test_a_provider_without_a_model_list_says_which_have_one() -> None:
    provider = chat_perplexity(credentials=lambda: KEY).get_provider()
    with pytest.raises(NotImplementedError) as info:
        provider.list_models()
    message = str(info.value)
    assert message.startswith("Perplexity doesn't support model listing")
    for name in ("anthropic", "google_gemini", "huggingface", "openai"):
        assert name in message
    assert "perplexity" not in message.split("list models:")[1]
    assert KEY not in message


def test_a_provider_not_built_by_a_plugin_cannot_list() -> None:
    provider = Provider(name="Bare", model="m", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(NotImplementedError, match="Bare doesn't support model listing"):
        provider.list_models()


def test_the_chat_key_is_still_required(srv: FakeServer) -> None:
    """A chat whose key is missing fails to list, naming the variable, before any request."""
    provider = chat_openai(base_url=srv.base_url).get_provider()
    with pytest.raises(MissingCredentialsError, match="OPENAI_API_KEY"):
        provider.list_models()
    assert srv.requests == []


def _built_in_specs() -> list[Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        names = list_providers()
    return [
        s
        for s in map(get_provider_spec, names)
        if s.chat_function.__module__.startswith("ellmer_py.providers.")
    ]


def test_every_models_function_is_registered() -> None:
    """A plugin module with a public ``models_*()`` registers it for each of its chats."""
    specs = _built_in_specs()
    assert len(specs) >= 15
    for spec in specs:
        module = sys.modules[spec.chat_function.__module__]
        listers = [getattr(module, n) for n in module.__all__ if n.startswith("models_")]
        if listers:
            assert spec.models_function in listers, spec.name
        else:
            assert spec.models_function is None, spec.name


# -- the shared helpers -------------------------------------------------------------------


def test_model_rows_keeps_objects_and_names_what_base_url_should_be() -> None:
    assert model_rows({"data": [{"id": "a"}, "junk", 3, {"id": "b"}]}, "X") == [
        {"id": "a"},
        {"id": "b"},
    ]
    assert model_rows({"object": "list"}, "X") == []
    with pytest.raises(MalformedResponseError) as info:
        model_rows(["not", "a", "dict"], "X", key="models", expected="an X server")
    assert str(info.value) == "X: the model list has no 'models' array; is base_url an X server?"


def test_list_model_rows_follows_pages_until_told_to_stop(srv: FakeServer) -> None:
    srv.enqueue(
        Reply.json({"data": [{"id": "a"}], "next": "2"}),
        Reply.json({"data": [{"id": "b"}], "next": "3"}),
        Reply.json({"data": []}),  # an empty page ends the list, whatever it says
    )
    seen: list[list[Any]] = []

    def next_page(doc: Any, page: list[Any]) -> str | None:
        seen.append(page)
        return f"{srv.url}/p{doc['next']}" if "next" in doc else None

    rows = list_model_rows("X", srv.url + "/p1", {"X-Key": "k"}, next_page=next_page)
    assert rows == [{"id": "a"}, {"id": "b"}]
    assert seen == [[{"id": "a"}], [{"id": "b"}]]
    assert [r.path for r in srv.requests] == ["/p1", "/p2", "/p3"]
    assert all(r.headers["x-key"] == "k" for r in srv.requests)


def test_model_list_headers_for_a_public_list() -> None:
    def missing() -> str:
        raise MissingCredentialsError("no key (set X_KEY)")

    assert model_list_headers("models_x", missing, None, {"A": "1"}, public=True) == {"A": "1"}
    with pytest.raises(MissingCredentialsError, match="X_KEY"):
        model_list_headers("models_x", missing, None, {"A": "1"})
    given = model_list_headers(
        "models_x", missing, lambda: KEY, None, header="x-api-key", prefix=""
    )
    assert given == {"x-api-key": KEY}


def test_times_order_and_prices() -> None:
    assert unix_time(0) == datetime(1970, 1, 1, tzinfo=timezone.utc)
    assert [unix_time(v) for v in (True, 1.5, "1", -1, 2**40, None)] == [None] * 6
    from ellmer_py.providers.openai import OpenAIModel

    old = OpenAIModel("old", unix_time(1), "o")
    new = OpenAIModel("new", unix_time(2), "o")
    undated = OpenAIModel("undated", None, "o")
    assert newest_first([undated, old, new]) == [new, old, undated]
    assert price_columns(None) == dict.fromkeys(
        ("input_price", "output_price", "cached_input_price")
    )
