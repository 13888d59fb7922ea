"""``chat_google_vertex()`` and ``models_google_vertex()``: R's URL rules and Google's ADC.

Every request goes to a loopback :class:`FakeServer`: the chat answers, and
for application default credentials (google-auth, the ``[google]`` extra) a
second server plays Google's OAuth token endpoint, named by the
``token_uri`` of an ``authorized_user`` credentials file that
``GOOGLE_APPLICATION_CREDENTIALS`` points to.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from ellmer_py import (
    ConfigurationError,
    MissingCredentialsError,
    chat,
    chat_google_vertex,
    models_google_vertex,
    tool,
    type_string,
)
from ellmer_py.conformance.fake_server import FakeServer, Reply
from ellmer_py.providers.google import vertex_url

KEY_ID_SECRET = "key-id-secret-do-not-show-0123456789"


def answer(text: str = "ok") -> Reply:
    return Reply.json(
        {
            "candidates": [
                {"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}
            ],
            "usageMetadata": {
                "promptTokenCount": 4,
                "candidatesTokenCount": 1,
                "totalTokenCount": 5,
            },
        }
    )


def token(value: str, expires_in: int = 3600) -> Reply:
    return Reply.json({"access_token": value, "expires_in": expires_in, "token_type": "Bearer"})


@pytest.fixture
def place(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "us-east1")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "my-project")


def private_key_pem() -> str:
    """A fresh RSA key in PEM (cryptography comes with google-auth)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem.decode("ascii")


def adc_file(tmp_path: Path, token_server: FakeServer) -> Path:
    """A service-account key file whose token endpoint is the loopback ``token_server``."""
    info = {
        "type": "service_account",
        "project_id": "my-project",
        "private_key_id": KEY_ID_SECRET,
        "private_key": private_key_pem(),
        "client_email": "svc@my-project.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": f"{token_server.url}/token",
    }
    path = tmp_path / "adc.json"
    path.write_text(json.dumps(info), encoding="utf-8")
    return path


# -- R's URL rules --------------------------------------------------------------------


def test_vertex_url_follows_r() -> None:
    assert vertex_url("us-east1", "proj") == (
        "https://us-east1-aiplatform.googleapis.com/v1/projects/proj/locations/us-east1"
        "/publishers/google/"
    )
    # the global endpoint has no location prefix in the host (R: google_location())
    assert vertex_url("global", "proj") == (
        "https://aiplatform.googleapis.com/v1/projects/proj/locations/global/publishers/google/"
    )


def test_location_and_project_come_from_rs_environment_variables(
    place: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = chat_google_vertex(credentials=lambda: "tok")
    assert made.get_provider().base_url.startswith(
        "https://us-east1-aiplatform.googleapis.com/v1/projects/my-project/locations/us-east1/"
    )
    assert made.get_model() == "gemini-3.5-flash"
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT")
    with pytest.raises(ConfigurationError, match="GOOGLE_CLOUD_PROJECT"):
        chat_google_vertex(credentials=lambda: "tok")
    monkeypatch.delenv("GOOGLE_CLOUD_LOCATION")
    with pytest.raises(ConfigurationError, match="GOOGLE_CLOUD_LOCATION"):
        chat_google_vertex(project_id="p", credentials=lambda: "tok")


@pytest.mark.parametrize(
    ("location", "project"),
    [("evil.example/x", "p"), ("us-east1", "p/../../x"), ("US East", "p"), ("us-east1", "p?q")],
)
def test_a_location_or_project_that_would_change_the_url_is_refused(
    location: str, project: str
) -> None:
    with pytest.raises(ConfigurationError, match="is not a Google Cloud"):
        chat_google_vertex(location, project, credentials=lambda: "tok")


def test_chat_posts_generate_content_with_a_bearer_and_no_mixed_tool_flag() -> None:
    from ellmer_py.providers.google import google_tool_web_search

    with FakeServer() as srv:
        srv.enqueue(answer("hello"))
        made = chat_google_vertex(
            "global", "proj", base_url=srv.base_url + "/", credentials=lambda: "tok-1", echo="none"
        )
        made.register_tool(google_tool_web_search())
        made.register_tool(tool(lambda x: x, "Echo.", {"x": type_string()}, name="echo_back"))
        assert made.chat("hi") == "hello"
        (request,) = srv.requests
    assert request.path == "/v1/models/gemini-3.5-flash:generateContent"
    assert request.headers["authorization"] == "Bearer tok-1"
    assert "x-goog-api-key" not in request.headers
    # Vertex AI refuses includeServerSideToolInvocations (R: has_google_mixed_tool_support)
    assert "toolConfig" not in request.json
    assert {"google_search": {}} in request.json["tools"]


def test_chat_resolves_google_vertex_by_name(place: None) -> None:
    with FakeServer() as srv:
        srv.enqueue(answer("hi back"))
        made = chat(
            "google_vertex/gemini-2.5-pro",
            base_url=srv.base_url + "/",
            credentials=lambda: "tok",
            echo="none",
        )
        assert made.chat("hi") == "hi back"
        assert srv.requests[0].path == "/v1/models/gemini-2.5-pro:generateContent"


# -- application default credentials (google-auth) ---------------------------------------


def test_adc_token_is_fetched_once_and_sent_as_bearer(
    place: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("google.auth")
    with FakeServer() as tokens, FakeServer() as srv:
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc_file(tmp_path, tokens)))
        monkeypatch.setenv("GOOGLE_CLOUD_QUOTA_PROJECT", "qp")  # google-auth's quota project
        tokens.enqueue(token("ya29.first"))
        srv.enqueue(answer("one"), answer("two"))
        made = chat_google_vertex(base_url=srv.base_url + "/", echo="none")
        assert not tokens.requests  # construction reads nothing
        assert made.chat("a") == "one"
        assert made.chat("b") == "two"
        (refresh,) = tokens.requests
        form = parse_qs(refresh.text)
        assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
        assert form["assertion"]  # the service account's signed JWT
        assert [r.headers["authorization"] for r in srv.requests] == ["Bearer ya29.first"] * 2
        assert srv.requests[0].headers["x-goog-user-project"] == "qp"


def test_adc_token_about_to_expire_is_refreshed_before_it_is_sent(
    place: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("google.auth")
    with FakeServer() as tokens, FakeServer() as srv:
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc_file(tmp_path, tokens)))
        # 30 s left is inside google-auth's refresh margin: each request gets a fresh token
        tokens.enqueue(token("ya29.a", 30), token("ya29.b", 30))
        srv.enqueue(answer("one"), answer("two"))
        made = chat_google_vertex(base_url=srv.base_url + "/", echo="none")
        made.chat("a")
        made.chat("b")
        assert len(tokens.requests) == 2
        assert [r.headers["authorization"] for r in srv.requests] == [
            "Bearer ya29.a",
            "Bearer ya29.b",
        ]


def test_adc_refused_refresh_is_a_clear_error_without_the_secret(
    place: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("google.auth")
    with FakeServer() as tokens, FakeServer() as srv:
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc_file(tmp_path, tokens)))
        tokens.enqueue(
            Reply.json(
                {"error": "invalid_grant", "error_description": f"bad {KEY_ID_SECRET}"},
                status=400,
            )
        )
        made = chat_google_vertex(base_url=srv.base_url + "/", echo="none")
        with pytest.raises(MissingCredentialsError, match="application-default login") as info:
            made.chat("a")
        assert KEY_ID_SECRET not in str(info.value)
        assert "PRIVATE KEY" not in str(info.value)
        assert not srv.requests
        assert made.get_turns() == []  # nothing was half-recorded


def test_no_adc_found_names_what_to_do(
    place: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("google.auth")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    made = chat_google_vertex(base_url="http://127.0.0.1:9/", echo="none")
    with pytest.raises(MissingCredentialsError, match="gcloud auth application-default login"):
        made.chat("a")


def test_without_google_auth_the_error_names_the_pip_install(
    place: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "google.auth", None)  # import google.auth -> ImportError
    made = chat_google_vertex(base_url="http://127.0.0.1:9/", echo="none")  # offline: fine
    with pytest.raises(MissingCredentialsError, match=r"pip install 'ellmer-py\[google\]'"):
        made.chat("a")


# -- models_google_vertex -------------------------------------------------------------------


def test_models_google_vertex_lists_generating_models_as_r_does() -> None:
    page1 = {
        "publisherModels": [
            {
                "name": "publishers/google/models/gemini-2.5-pro",
                "supportedActions": {"openGenerationAiStudio": {}},
            },
            {"name": "publishers/google/models/imagen-3", "supportedActions": {"deploy": {}}},
        ],
        "nextPageToken": "p2",
    }
    page2 = {
        "publisherModels": [
            {
                "name": "publishers/google/models/gemini-2.5-flash",
                "supportedActions": {"openGenerationAiStudio": {}},
            }
        ]
    }
    with FakeServer() as srv:
        srv.enqueue(Reply.json(page1), Reply.json(page2))
        models = models_google_vertex(
            "us-east1",
            "proj",
            credentials=lambda: "tok",
            base_url=srv.base_url + "/v1beta1/publishers/google/",
        )
        first, second = srv.requests
    assert [m.id for m in models] == ["gemini-2.5-flash", "gemini-2.5-pro"]
    assert models[1].input_price == 1.25
    assert first.path == "/v1/v1beta1/publishers/google/models?pageSize=1000"
    assert second.path.endswith("&pageToken=p2")
    assert first.headers["authorization"] == "Bearer tok"
    assert first.headers["x-goog-user-project"] == "proj"
