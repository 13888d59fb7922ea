"""``models_groq()``, ``models_deepseek()``, ``models_mistral()``, ``models_portkey()``,
``models_openrouter()`` and ``models_ollama()`` against a loopback :class:`FakeServer`.

What each sends (path, auth header), the records R's ``models_list`` methods
make of the answer and their order, where the key comes from, and how a
refused key, a missing key and an HTTP error show.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from ellmer_py import (
    AuthenticationError,
    DeprecatedArgumentError,
    MalformedResponseError,
    MissingCredentialsError,
)
from ellmer_py.conformance.fake_server import FakeServer, RecordedRequest, Reply
from ellmer_py.providers.deepseek import DeepSeekModel, models_deepseek
from ellmer_py.providers.groq import GroqModel, models_groq
from ellmer_py.providers.mistral import MistralModel, models_mistral
from ellmer_py.providers.ollama import OllamaModel, models_ollama
from ellmer_py.providers.openrouter import OpenRouterModel, models_openrouter
from ellmer_py.providers.portkey import PortkeyModel, models_portkey

KEY = "sk-test-key-do-not-show-0123456789"
ENV_VARS = (
    "GROQ_API_KEY",
    "DEEPSEEK_API_KEY",
    "MISTRAL_API_KEY",
    "OPENROUTER_API_KEY",
    "PORTKEY_API_KEY",
    "OLLAMA_API_KEY",
    "OLLAMA_BASE_URL",
)


def utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


DAY = 1_700_006_400  # 2023-11-15T00:00:00Z, the start of a day


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ELLMER_MAX_TRIES", "1")
    monkeypatch.setenv("ELLMER_TIMEOUT_S", "5")


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server
    assert not server.errors, server.errors


# -- what every key-taking lister shares ---------------------------------------------

Lister = Callable[..., list[Any]]

#: (function, its env var, the header the key goes in, how the key is written there)
KEYED: list[tuple[Lister, str, str, str]] = [
    (models_groq, "GROQ_API_KEY", "authorization", "Bearer {}"),
    (models_deepseek, "DEEPSEEK_API_KEY", "authorization", "Bearer {}"),
    (models_mistral, "MISTRAL_API_KEY", "authorization", "Bearer {}"),
    (models_portkey, "PORTKEY_API_KEY", "x-portkey-api-key", "{}"),
]
keyed = pytest.mark.parametrize(
    ("lister", "env", "header", "form"), KEYED, ids=[f.__name__ for f, *_ in KEYED]
)


def call(lister: Lister, srv: FakeServer, **kwargs: Any) -> list[Any]:
    return lister(base_url=srv.base_url, **kwargs)


@keyed
def test_the_key_comes_from_the_env_var_at_call_time(
    srv: FakeServer,
    monkeypatch: pytest.MonkeyPatch,
    lister: Lister,
    env: str,
    header: str,
    form: str,
) -> None:
    srv.enqueue(Reply.json({"object": "list", "data": [{"id": "m", "owned_by": "o"}]}))
    monkeypatch.setenv(env, KEY)
    models = call(lister, srv, api_headers={"X-Team": "a"})
    assert [m.id for m in models] == ["m"]
    (request,) = srv.requests
    assert (request.method, request.path, request.body) == ("GET", "/v1/models", b"")
    assert request.headers[header] == form.format(KEY)
    assert request.headers["x-team"] == "a"


@keyed
def test_credentials_replace_the_env_var(
    srv: FakeServer,
    monkeypatch: pytest.MonkeyPatch,
    lister: Lister,
    env: str,
    header: str,
    form: str,
) -> None:
    srv.enqueue(Reply.json({"data": []}), Reply.json({"data": []}))
    monkeypatch.setenv(env, "from-the-environment")
    assert call(lister, srv, credentials=lambda: KEY) == []
    assert call(lister, srv, credentials=lambda: {"X-Gateway-Token": "tok"}) == []
    first, second = srv.requests
    assert first.headers[header] == form.format(KEY)
    assert second.headers["x-gateway-token"] == "tok"
    assert header not in second.headers


@keyed
def test_a_missing_key_names_the_env_var_and_sends_nothing(
    srv: FakeServer, lister: Lister, env: str, header: str, form: str
) -> None:
    with pytest.raises(MissingCredentialsError, match=env):
        call(lister, srv)
    assert srv.requests == []


@keyed
def test_api_key_is_refused_without_showing_it(
    lister: Lister, env: str, header: str, form: str
) -> None:
    with pytest.raises(DeprecatedArgumentError, match=env) as info:
        lister(api_key=KEY)
    assert KEY not in str(info.value)
    assert lister.__name__ in str(info.value)


@keyed
def test_a_401_is_an_authentication_error_without_the_key(
    srv: FakeServer, lister: Lister, env: str, header: str, form: str
) -> None:
    srv.enqueue(Reply.json({"error": {"message": "Invalid API Key"}}, status=401))
    with pytest.raises(AuthenticationError) as info:
        call(lister, srv, credentials=lambda: KEY)
    assert "Invalid API Key" in str(info.value)
    assert KEY not in str(info.value)


@keyed
def test_an_answer_without_data_is_malformed(
    srv: FakeServer, lister: Lister, env: str, header: str, form: str
) -> None:
    srv.enqueue(Reply.json({"object": "list"}))
    with pytest.raises(MalformedResponseError, match="no 'data' array"):
        call(lister, srv, credentials=lambda: KEY)


def test_mistral_takes_api_key_first_as_r_and_base_url_by_name() -> None:
    with pytest.raises(DeprecatedArgumentError):
        models_mistral(KEY)
    untyped: Any = models_mistral
    with pytest.raises(TypeError):
        untyped(None, None, "http://127.0.0.1:9/v1")


# -- models_groq ----------------------------------------------------------------------


def test_groq_rows_newest_day_first_priced_from_r_table(srv: FakeServer) -> None:
    srv.enqueue(
        Reply.json(
            {
                "object": "list",
                "data": [
                    {"id": "whisper-large-v3", "created": DAY - 86_400, "owned_by": "OpenAI"},
                    # the same day: R sorts by date, so these keep Groq's order
                    {"id": "llama-3.1-8b-instant", "created": DAY + 60, "owned_by": "Meta"},
                    {"id": "openai/gpt-oss-20b", "created": DAY + 7_200, "owned_by": "OpenAI"},
                    {"id": "no-date", "owned_by": "Somebody"},
                    {"id": "qwen/qwen3-32b", "created": DAY + 86_400, "owned_by": "Alibaba"},
                    {"object": "model"},  # no id: skipped
                    "junk",
                ],
            }
        )
    )
    models = models_groq(base_url=srv.base_url, credentials=lambda: KEY)
    assert [m.id for m in models] == [
        "qwen/qwen3-32b",
        "llama-3.1-8b-instant",
        "openai/gpt-oss-20b",
        "whisper-large-v3",
        "no-date",
    ]
    assert models[2] == GroqModel(
        id="openai/gpt-oss-20b",
        created_at=utc(DAY + 7_200),
        owned_by="OpenAI",
        input_price=0.075,
        output_price=0.3,
        cached_input_price=0.0375,
    )
    assert (models[1].input_price, models[1].output_price) == (0.05, 0.08)
    assert models[1].cached_input_price is None
    assert models[3].input_price is None  # not in R's table
    assert models[4].created_at is None
    (request,) = srv.requests
    assert request.path == "/v1/models"
    assert request.headers["authorization"] == f"Bearer {KEY}"


# -- models_deepseek ------------------------------------------------------------------


def test_deepseek_rows_in_deepseeks_order(srv: FakeServer) -> None:
    srv.enqueue(
        Reply.json(
            {
                "object": "list",
                "data": [
                    {"id": "deepseek-v4-flash", "object": "model", "owned_by": "deepseek"},
                    {"id": "deepseek-reasoner", "object": "model", "owned_by": "deepseek"},
                    {"id": "no-owner", "object": "model"},
                ],
            }
        )
    )
    models = models_deepseek(base_url=srv.base_url, credentials=lambda: KEY)
    assert models == [
        DeepSeekModel(id="deepseek-v4-flash", owned_by="deepseek"),
        DeepSeekModel(id="deepseek-reasoner", owned_by="deepseek"),
        DeepSeekModel(id="no-owner", owned_by=""),
    ]


# -- models_mistral -------------------------------------------------------------------


def test_mistral_rows_in_mistrals_order_with_names_times_and_prices(srv: FakeServer) -> None:
    srv.enqueue(
        Reply.json(
            {
                "object": "list",
                "data": [
                    {
                        "id": "mistral-small-latest",
                        "name": "mistral-small-2506",
                        "created": DAY,
                        "capabilities": {"completion_chat": True},
                    },
                    {"id": "mistral-embed", "name": "mistral-embed", "created": DAY + 5},
                    {"id": "ft:private", "name": None, "created": "soon"},
                ],
            }
        )
    )
    models = models_mistral(credentials=lambda: KEY, base_url=srv.base_url)
    assert models == [
        MistralModel(
            id="mistral-small-latest",
            name="mistral-small-2506",
            created_at=utc(DAY),
            input_price=0.06,
            output_price=0.18,
        ),
        MistralModel(
            id="mistral-embed",
            name="mistral-embed",
            created_at=utc(DAY + 5),
            input_price=0.1,
        ),
        MistralModel(id="ft:private", name=None, created_at=None),
    ]
    assert srv.requests[0].headers["authorization"] == f"Bearer {KEY}"


# -- models_portkey -------------------------------------------------------------------


def test_portkey_sends_its_own_header_and_reads_id_and_slug(srv: FakeServer) -> None:
    srv.enqueue(
        Reply.json(
            {
                "object": "list",
                "data": [
                    {"id": "@openai-prod/gpt-5", "slug": "gpt-5", "object": "model"},
                    {"id": "@anthropic/claude-x", "object": "model"},
                ],
            }
        )
    )
    models = models_portkey(srv.base_url, credentials=lambda: KEY)
    assert models == [
        PortkeyModel(id="@openai-prod/gpt-5", slug="gpt-5"),
        PortkeyModel(id="@anthropic/claude-x", slug=None),
    ]
    (request,) = srv.requests
    assert request.headers["x-portkey-api-key"] == KEY
    assert "authorization" not in request.headers


def test_portkey_reads_every_page(srv: FakeServer) -> None:
    def page(ids: list[str]) -> Reply:
        return Reply.json({"object": "list", "total": 5, "data": [{"id": i} for i in ids]})

    srv.enqueue(page(["a", "b"]), page(["c", "d"]), page(["e"]))
    models = models_portkey(srv.base_url, credentials=lambda: KEY)
    assert [m.id for m in models] == ["a", "b", "c", "d", "e"]
    assert [r.path for r in srv.requests] == [
        "/v1/models",
        "/v1/models?offset=2",
        "/v1/models?offset=4",
    ]
    assert all(r.headers["x-portkey-api-key"] == KEY for r in srv.requests)


def test_portkey_stops_when_the_server_ignores_the_offset(srv: FakeServer) -> None:
    same = Reply.json({"total": 9, "data": [{"id": "a"}, {"id": "b"}]})
    srv.enqueue(same, same)
    models = models_portkey(srv.base_url, credentials=lambda: KEY)
    assert [m.id for m in models] == ["a", "b"]
    assert len(srv.requests) == 2


# -- models_openrouter ----------------------------------------------------------------

OPENROUTER_LIST = {
    "data": [
        {
            "id": "anthropic/claude-sonnet-4.5",
            "canonical_slug": "anthropic/claude-4.5-sonnet-20250929",
            "name": "Anthropic: Claude Sonnet 4.5",
            "created": DAY,
            "context_length": 1_000_000,
            "pricing": {
                "prompt": "0.000003",
                "completion": "0.000015",
                "input_cache_read": "0.0000003",
                "request": "0",
            },
        },
        {
            "id": "openrouter/auto",
            "name": "Auto Router",
            "created": DAY + 100,
            "context_length": 2_000_000,
            "pricing": {"prompt": "-1", "completion": "-1"},
        },
        {
            "id": "meta-llama/llama-3.3-70b-instruct:free",
            "name": "Meta: Llama 3.3 70B Instruct (free)",
            "created": DAY - 100,
            "pricing": {"prompt": "0", "completion": "0"},
        },
        {"id": "odd/model", "pricing": {"prompt": "cheap", "completion": True}},
    ]
}


def test_openrouter_rows_newest_first_priced_per_million(srv: FakeServer) -> None:
    srv.enqueue(Reply.json(OPENROUTER_LIST))
    models = models_openrouter(credentials=lambda: KEY, base_url=srv.base_url)
    assert [m.id for m in models] == [
        "openrouter/auto",
        "anthropic/claude-sonnet-4.5",
        "meta-llama/llama-3.3-70b-instruct:free",
        "odd/model",
    ]
    assert models[1] == OpenRouterModel(
        id="anthropic/claude-sonnet-4.5",
        name="Anthropic: Claude Sonnet 4.5",
        created_at=utc(DAY),
        context_length=1_000_000,
        input_price=3.0,
        output_price=15.0,
        cached_input_price=0.3,
    )
    auto = models[0]
    assert (auto.input_price, auto.output_price) == (None, None)  # a variable price
    free = models[2]
    assert (free.input_price, free.output_price, free.context_length) == (0.0, 0.0, None)
    assert models[3] == OpenRouterModel(id="odd/model", name=None, created_at=None)
    (request,) = srv.requests
    assert (request.method, request.path) == ("GET", "/v1/models")
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["x-title"] == "ellmer-py"
    assert "http-referer" in request.headers


def test_openrouter_list_is_public(srv: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    srv.enqueue(Reply.json({"data": []}), Reply.json({"data": []}))
    assert models_openrouter(base_url=srv.base_url, api_headers={"X-Title": "my app"}) == []
    monkeypatch.setenv("OPENROUTER_API_KEY", KEY)
    assert models_openrouter(base_url=srv.base_url) == []
    first, second = srv.requests
    assert "authorization" not in first.headers
    assert first.headers["x-title"] == "my app"
    assert second.headers["authorization"] == f"Bearer {KEY}"


def test_openrouter_refuses_api_key_and_maps_errors(srv: FakeServer) -> None:
    with pytest.raises(DeprecatedArgumentError, match="OPENROUTER_API_KEY") as info:
        models_openrouter(KEY)
    assert KEY not in str(info.value)
    srv.enqueue(Reply.json({"error": {"message": "No auth credentials found"}}, status=401))
    with pytest.raises(AuthenticationError) as raised:
        models_openrouter(credentials=lambda: KEY, base_url=srv.base_url)
    assert KEY not in str(raised.value)


# -- models_ollama --------------------------------------------------------------------


def tags(*models: dict[str, Any]) -> Reply:
    return Reply.json({"models": list(models)})


def tag(name: str, modified_at: str, size: int = 2_019_393_189, digest: str = "") -> dict[str, Any]:
    return {
        "name": name,
        "model": name,
        "modified_at": modified_at,
        "size": size,
        "digest": digest or f"sha-{name}",
        "details": {"family": "llama"},
    }


def ollama_server(capabilities: dict[str, list[str] | None]) -> Callable[[RecordedRequest], Reply]:
    """Answer ``api/show`` from ``capabilities`` (None: a 404, as for an unknown model)."""

    def answer(request: RecordedRequest) -> Reply:
        assert request.path == "/api/show", request.path
        model = request.json["model"]
        found = capabilities.get(model)
        if found is None:
            return Reply.json({"error": f"model '{model}' not found"}, status=404)
        return Reply.json({"capabilities": found, "details": {}})

    return answer


def test_ollama_lists_native_tags_with_capabilities(srv: FakeServer) -> None:
    show = ollama_server(
        {
            "llama3.2": ["completion", "tools"],
            "qwen3:4b": ["completion", "tools", "thinking"],
            "broken": None,
        }
    )
    srv.enqueue(
        tags(
            tag("llama3.2:latest", "2024-05-27T15:53:43.118447387-07:00", size=2_019_393_189),
            tag("qwen3:4b", "2025-06-01T09:00:00.5Z", size=2_620_788_019),
            tag("broken:latest", "2023-01-01T00:00:00+00:00"),
            {"model": "no-name"},
        ),
        show,
        show,
        show,
    )
    models = models_ollama(srv.url)
    assert models == [
        OllamaModel(
            id="qwen3:4b",
            created_at=datetime(2025, 6, 1, 9, 0, 0, 500_000, tzinfo=timezone.utc),
            size=2_620_788_019,
            capabilities=("completion", "tools", "thinking"),
        ),
        OllamaModel(
            id="llama3.2",
            created_at=datetime(
                2024, 5, 27, 15, 53, 43, 118_447, tzinfo=timezone(timedelta(hours=-7))
            ),
            size=2_019_393_189,
            capabilities=("completion", "tools"),
        ),
        OllamaModel(
            id="broken",
            created_at=datetime(2023, 1, 1, tzinfo=timezone.utc),
            size=2_019_393_189,
            capabilities=(),  # api/show failed: no capabilities, as R
        ),
    ]
    listing, *shows = srv.requests
    assert (listing.method, listing.path) == ("GET", "/api/tags")
    assert [(r.method, r.path) for r in shows] == [("POST", "/api/show")] * 3
    assert [r.json for r in shows] == [
        {"model": "llama3.2", "verbose": False},
        {"model": "qwen3:4b", "verbose": False},
        {"model": "broken", "verbose": False},
    ]
    assert all("authorization" not in r.headers for r in srv.requests)  # no key needed


def test_ollama_capabilities_are_remembered_per_digest(srv: FakeServer) -> None:
    show = ollama_server({"gemma3": ["completion", "vision"]})
    when = "2025-01-02T03:04:05Z"
    srv.enqueue(tags(tag("gemma3", when, digest="d1")), show)
    srv.enqueue(tags(tag("gemma3", when, digest="d1")))  # asked already: no api/show
    srv.enqueue(tags(tag("gemma3", when, digest="d2")), show)  # pulled again: asked again
    for _ in range(3):
        (model,) = models_ollama(srv.url)
        assert model.capabilities == ("completion", "vision")
    assert [r.path for r in srv.requests] == [
        "/api/tags",
        "/api/show",
        "/api/tags",
        "/api/tags",
        "/api/show",
    ]


def test_chat_ollama_without_a_model_names_the_models_it_has(srv: FakeServer) -> None:
    from ellmer_py import ConfigurationError, chat_ollama

    show = ollama_server({"llama3.2": ["completion"], "qwen3:4b": ["completion"]})
    srv.enqueue(
        tags(tag("qwen3:4b", "2025-06-01T09:00:00Z"), tag("llama3.2", "2024-05-27T00:00:00Z"))
    )
    srv.enqueue(show, show)
    with pytest.raises(ConfigurationError) as info:
        chat_ollama(base_url=srv.url)
    message = str(info.value)
    assert "chat_ollama() needs model=" in message
    assert "Available models: 'qwen3:4b', 'llama3.2'; pass one, for example model='qwen3:4b'" in (
        message
    )
    srv.enqueue(tags())
    with pytest.raises(ConfigurationError, match=r"api/tags lists no models\. Pull one first"):
        chat_ollama(base_url=srv.base_url)  # the /v1 root: the list is the server's
    assert all(r.path.startswith("/api/") for r in srv.requests)  # no chat was sent


def test_chat_ollama_without_a_model_or_a_server_says_to_start_one() -> None:
    import socket

    from ellmer_py import ConfigurationError, chat_ollama

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(ConfigurationError) as info:
        chat_ollama(base_url=closed, credentials=lambda: "secret-ollama-key-123")
    message = str(info.value)
    assert f"(GET {closed}/api/tags) could not be read" in message
    assert "Is Ollama running?" in message and "OLLAMA_BASE_URL" in message
    assert "secret-ollama-key-123" not in message


def test_ollama_base_url_env_v1_suffix_and_key(
    srv: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    srv.enqueue(tags(), tags(), tags())
    monkeypatch.setenv("OLLAMA_BASE_URL", srv.url)
    assert models_ollama() == []
    assert models_ollama(srv.base_url + "/") == []  # the /v1 root chat_ollama() uses
    monkeypatch.setenv("OLLAMA_API_KEY", KEY)
    assert models_ollama(srv.url, api_headers={"X-Proxy": "p"}) == []
    assert [r.path for r in srv.requests] == ["/api/tags"] * 3
    assert "authorization" not in srv.requests[0].headers
    assert srv.requests[2].headers["authorization"] == f"Bearer {KEY}"
    assert srv.requests[2].headers["x-proxy"] == "p"


def test_ollama_credentials_and_errors(srv: FakeServer) -> None:
    srv.enqueue(Reply.json({"error": "unauthorized"}, status=401), Reply.json({"version": "1"}))
    with pytest.raises(AuthenticationError) as info:
        models_ollama(srv.url, credentials=lambda: KEY)
    assert KEY not in str(info.value)
    assert srv.requests[0].headers["authorization"] == f"Bearer {KEY}"
    with pytest.raises(MalformedResponseError, match="no 'models' array"):
        models_ollama(srv.url)
    untyped: Any = models_ollama
    with pytest.raises(TypeError):
        untyped(srv.url, api_key=KEY)  # R's models_ollama() has no api_key


def test_ollama_times_in_other_forms(srv: FakeServer) -> None:
    show = ollama_server({"a": [], "b": [], "c": []})
    srv.enqueue(
        tags(
            tag("c", "not a time"),
            tag("a", "2024-02-29T23:59:59.123+0530"),
            tag("b", "2024-02-29 18:29:00"),  # no zone: UTC; a (18:29:59Z) is newer
        ),
        show,
        show,
        show,
    )
    models = models_ollama(srv.url)
    assert [(m.id, m.created_at) for m in models] == [
        ("a", datetime(2024, 2, 29, 23, 59, 59, 123_000, tzinfo=timezone(timedelta(hours=5.5)))),
        ("b", datetime(2024, 2, 29, 18, 29, tzinfo=timezone.utc)),
        ("c", None),
    ]
