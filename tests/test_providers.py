"""Tests of the OpenAI-compatible provider plugins ported from R's ellmer (``providers/``).

One table, ``CASES``, holds what R's source says about each provider (its
argument order, defaults, key variable, auth header, params mapping); the
parametrized tests check each plugin against it, with every request going to
a real loopback server (``FakeServer``) whose recorded requests are asserted
on. ``chat_github`` (retired by GitHub) has its own tests at the end.
"""

from __future__ import annotations

import inspect
import logging
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import ellmer_py
from ellmer_py import (
    Chat,
    ConfigurationError,
    ContentImageRemote,
    ContentPDF,
    ContentText,
    ContentThinking,
    DeprecatedArgumentError,
    MissingCredentialsError,
    ModelLimitationError,
    chat,
    get_provider_spec,
    list_providers,
    params,
)
from ellmer_py._registry import reload_plugins
from ellmer_py.conformance.fake_server import FakeServer, RecordedRequest, Reply, sse_data
from ellmer_py.providers import databricks as databricks_module

KEY = "test-key-0123456789"

OPENAI_PARAMS = {"max_tokens": "max_completion_tokens", "top_k": "top_logprobs"}


@dataclass(frozen=True)
class Case:
    """What R's ``R/provider-<name>.R`` says about one provider."""

    name: str
    #: R's arguments, in R's order (all positional in Python too).
    r_args: tuple[str, ...]
    default_base_url: str | None
    default_model: str | None
    env: tuple[str, ...]
    #: The path the fake server sees with the spec's conformance_kwargs.
    path: str
    auth_header: str = "authorization"
    bearer: bool = True
    #: Keyword-only arguments beyond the common three.
    keyword_only: tuple[str, ...] = ()
    #: params() name -> wire name, for max_tokens and top_k (None: unsupported).
    params: Mapping[str, str | None] = field(default_factory=lambda: OPENAI_PARAMS)
    stream_options: bool = True
    extra_headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def function(self) -> Callable[..., Chat]:
        return getattr(ellmer_py, f"chat_{self.name}")  # type: ignore[no-any-return]

    @property
    def requires_model(self) -> bool:
        return self.default_model is None

    def auth_value(self, key: str) -> str:
        return f"Bearer {key}" if self.bearer else key


COMMON_R_ARGS = ("system_prompt", "params", "api_key", "credentials", "model", "api_args")

CASES = [
    Case(
        "groq",
        (
            "system_prompt",
            "base_url",
            "api_key",
            "credentials",
            "model",
            "params",
            "api_args",
            "echo",
            "api_headers",
        ),
        "https://api.groq.com/openai/v1",
        "openai/gpt-oss-20b",
        ("GROQ_API_KEY",),
        "/v1/chat/completions",
    ),
    Case(
        "deepseek",
        (
            "system_prompt",
            "base_url",
            "api_key",
            "credentials",
            "model",
            "params",
            "api_args",
            "echo",
            "api_headers",
        ),
        "https://api.deepseek.com",
        "deepseek-v4-flash",
        ("DEEPSEEK_API_KEY",),
        "/v1/chat/completions",
        params={"max_tokens": "max_tokens", "top_k": "top_logprobs"},
    ),
    Case(
        "mistral",
        (*COMMON_R_ARGS[:5], "api_args", "echo", "api_headers"),
        "https://api.mistral.ai/v1",
        "mistral-large-latest",
        ("MISTRAL_API_KEY",),
        "/v1/chat/completions",
        keyword_only=("base_url",),
        params={"max_tokens": "max_tokens", "top_k": None},
        stream_options=False,
    ),
    Case(
        "openrouter",
        (
            "system_prompt",
            "api_key",
            "credentials",
            "model",
            "params",
            "api_args",
            "echo",
            "api_headers",
        ),
        "https://openrouter.ai/api/v1",
        "gpt-5.6-terra",
        ("OPENROUTER_API_KEY",),
        "/v1/chat/completions",
        keyword_only=("base_url",),
        params={"max_tokens": "max_tokens", "top_k": "top_k"},
        extra_headers={
            "http-referer": "https://pypi.org/project/ellmer-py/",
            "x-title": "ellmer-py",
        },
    ),
    Case(
        "perplexity",
        (
            "system_prompt",
            "base_url",
            "api_key",
            "credentials",
            "model",
            "params",
            "api_args",
            "echo",
            "api_headers",
        ),
        "https://api.perplexity.ai",
        "sonar",
        ("PERPLEXITY_API_KEY",),
        "/v1/chat/completions",
        params={"max_tokens": "max_tokens", "top_k": "top_k"},
    ),
    Case(
        "portkey",
        (
            "model",
            "system_prompt",
            "base_url",
            "api_key",
            "credentials",
            "virtual_key",
            "params",
            "api_args",
            "echo",
            "api_headers",
        ),
        "https://api.portkey.ai/v1",
        None,
        ("PORTKEY_API_KEY",),
        "/v1/chat/completions",
        auth_header="x-portkey-api-key",
        bearer=False,
    ),
    Case(
        "ollama",
        (
            "system_prompt",
            "base_url",
            "model",
            "params",
            "api_args",
            "echo",
            "api_key",
            "credentials",
            "api_headers",
        ),
        "http://localhost:11434/v1",
        None,
        (),
        "/v1/chat/completions",
        params={"max_tokens": "max_tokens", "top_k": "top_k"},
    ),
    Case(
        "cloudflare",
        (
            "account",
            "system_prompt",
            "params",
            "api_key",
            "credentials",
            "model",
            "api_args",
            "echo",
            "api_headers",
        ),
        "https://api.cloudflare.com/client/v4/accounts/{account}/ai/v1",
        "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
        ("CLOUDFLARE_API_KEY",),
        "/v1/accounts/test-account/ai/v1/chat/completions",
        keyword_only=("base_url",),
    ),
    Case(
        "databricks",
        (
            "workspace",
            "system_prompt",
            "model",
            "token",
            "params",
            "api_args",
            "echo",
            "api_headers",
        ),
        "{DATABRICKS_HOST}/serving-endpoints",
        "databricks-claude-sonnet-4-6",
        ("DATABRICKS_TOKEN",),
        "/v1/serving-endpoints/chat/completions",
        keyword_only=("api_key", "credentials", "base_url"),
        params={"max_tokens": "maxTokens", "top_k": "topK"},
        stream_options=False,
    ),
    Case(
        "azure_openai",
        (
            "endpoint",
            "model",
            "params",
            "api_version",
            "system_prompt",
            "api_key",
            "credentials",
            "api_args",
            "echo",
            "api_headers",
            "deployment_id",
        ),
        "{AZURE_OPENAI_ENDPOINT}/openai/deployments/{model}",
        None,
        ("AZURE_OPENAI_API_KEY",),
        "/v1/openai/deployments/test-deployment/chat/completions?api-version=2024-10-21",
        auth_header="api-key",
        bearer=False,
        keyword_only=("base_url",),
    ),
]

BY_NAME = {case.name: case for case in CASES}
IDS = [case.name for case in CASES]

#: Every environment variable a provider reads; each test starts without them.
ENV_VARS = [
    "GROQ_API_KEY",
    "DEEPSEEK_API_KEY",
    "MISTRAL_API_KEY",
    "OPENROUTER_API_KEY",
    "PERPLEXITY_API_KEY",
    "PORTKEY_API_KEY",
    "PORTKEY_VIRTUAL_KEY",
    "OLLAMA_API_KEY",
    "OLLAMA_BASE_URL",
    "CLOUDFLARE_API_KEY",
    "CLOUDFLARE_ACCOUNT_ID",
    "DATABRICKS_HOST",
    "DATABRICKS_TOKEN",
    "DATABRICKS_CONFIG_PROFILE",
    "SPARK_CONNECT_USER_AGENT",
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_ENDPOINT",
    "GITHUB_PAT",
    "ELLMER_PY_PLUGINS",
    "ELLMER_ECHO",
]


def completion(text: str = "ok", **message: Any) -> dict[str, Any]:
    """A minimal non-streamed chat-completions answer."""
    return {
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, **message},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
    }


def stream_reply(*pieces: str) -> Reply:
    """A streamed answer, one SSE event per piece, then usage and [DONE]."""
    chunks = [
        sse_data({"choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]})
        for p in pieces
    ]
    chunks.append(
        sse_data(
            {
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
            }
        )
    )
    chunks.append(sse_data("[DONE]"))
    return Reply.sse(chunks)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No provider setting leaks in from the machine; the registry is loaded afresh."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "no-databrickscfg"))
    monkeypatch.setenv("ELLMER_MAX_TRIES", "1")
    reload_plugins()
    yield
    reload_plugins()


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer(default=Reply.json(completion())) as server:
        yield server
    assert not server.errors, server.errors


def kwargs_for(case: Case, srv: FakeServer) -> dict[str, Any]:
    """The spec's own conformance keywords: what points the provider at the fake server."""
    return dict(get_provider_spec(case.name).conformance_kwargs(srv.base_url))


def make(case: Case, srv: FakeServer, **kwargs: Any) -> Chat:
    """The provider's Chat against the fake server, with test credentials unless given."""
    kwargs.setdefault("credentials", lambda: KEY)
    return case.function(**{**kwargs_for(case, srv), **kwargs}, echo="none", timeout_s=5)


def only_request(srv: FakeServer) -> RecordedRequest:
    assert len(srv.requests) == 1, srv.requests
    return srv.requests[0]


# --- registration, signature, defaults ----------------------------------------------------------


def test_every_built_in_provider_is_tested() -> None:
    built_in = {
        name
        for name in list_providers()
        if get_provider_spec(name).chat_function.__module__.startswith("ellmer_py.providers.")
    }
    # chat_anthropic (and its alias) has its own tests in tests/providers/.
    assert built_in == {
        *BY_NAME,
        *("github", "huggingface", "openai_compatible", "anthropic", "claude"),
        *("google_gemini", "gemini"),  # tests/providers/test_gemini_replay.py
        "google_vertex",  # tests/providers/test_google_vertex.py
        *("aws_bedrock", "bedrock"),  # tests/providers/test_aws_bedrock.py
        "openai",  # tests/providers/test_openai_replay.py
        *("vllm", "lmstudio"),  # tests/providers/test_vllm.py, test_lmstudio.py
        "posit",  # tests/providers/test_posit.py
    }


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_spec_has_rs_defaults(case: Case) -> None:
    spec = get_provider_spec(case.name)
    assert case.name in list_providers()
    assert spec.name == case.name
    assert spec.chat_function is case.function
    assert spec.chat_function.__name__ == f"chat_{case.name}"
    assert spec.chat_function.__module__ == f"ellmer_py.providers.{case.name}"
    assert spec.protocol == "openai-chat"
    assert spec.default_base_url == case.default_base_url
    assert spec.default_model == case.default_model
    assert tuple(spec.credential_env) == case.env
    assert spec.retired is None
    assert f"R: ``chat_{case.name}()``" in (spec.chat_function.__doc__ or "")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_signature_follows_r(case: Case) -> None:
    parameters = inspect.signature(case.function).parameters.values()
    positional = [p.name for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD]
    keyword_only = {p.name for p in parameters if p.kind is p.KEYWORD_ONLY}
    assert tuple(positional) == case.r_args
    assert keyword_only == {
        *case.keyword_only,
        "system_prompt_fallback",
        "max_tries",
        "timeout_s",
    }


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_default_model_is_used_and_said(
    case: Case, srv: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    kwargs = {k: v for k, v in kwargs_for(case, srv).items() if k != "model"}
    if case.requires_model:
        with pytest.raises(ConfigurationError, match=rf"chat_{case.name}\(\) needs model="):
            case.function(**kwargs, credentials=lambda: KEY, echo="none")
        # no chat is sent (Ollama, as R, looks at its model list to name them)
        assert [r.path for r in srv.requests if "/api/" not in r.path] == []
        return
    with caplog.at_level(logging.INFO, logger="ellmer_py"):
        c = case.function(**kwargs, credentials=lambda: KEY, echo="none")
    assert f"Using model = {case.default_model!r}." in caplog.messages
    assert c.get_model() == case.default_model
    c.chat("hi")
    assert only_request(srv).json["model"] == case.default_model


# --- requests: URL, authentication, credentials ---------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_request_goes_to_the_right_url_with_the_right_auth(case: Case, srv: FakeServer) -> None:
    c = make(case, srv)
    assert c.chat("hello") == "ok"
    request = only_request(srv)
    assert request.method == "POST"
    assert request.path == case.path
    assert request.headers[case.auth_header] == case.auth_value(KEY)
    if case.auth_header != "authorization":
        assert "authorization" not in request.headers
    for name, value in case.extra_headers.items():
        assert request.headers[name] == value
    body = request.json
    assert body["messages"] == [{"role": "user", "content": "hello"}]
    assert body["stream"] is False
    assert "stream_options" not in body


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_streaming_request(case: Case, srv: FakeServer) -> None:
    srv.enqueue(stream_reply("Hel", "lo"))
    c = make(case, srv)
    assert "".join(c.stream("hi")) == "Hello"
    request = only_request(srv)
    assert request.path == case.path
    assert request.json["stream"] is True
    if case.stream_options:
        assert request.json["stream_options"] == {"include_usage": True}
    else:
        assert "stream_options" not in request.json
    assert c.get_turns()[-1].text == "Hello"


@pytest.mark.parametrize("case", [c for c in CASES if c.env], ids=[c.name for c in CASES if c.env])
def test_key_env_var_is_read_at_request_time(
    case: Case, srv: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    (var,) = case.env
    c = case.function(**kwargs_for(case, srv), echo="none")  # no key yet: fine until a request
    monkeypatch.setenv(var, "from-env-1")
    c.chat("one")
    monkeypatch.setenv(var, "from-env-2")
    c.chat("two")
    assert [r.headers[case.auth_header] for r in srv.requests] == [
        case.auth_value("from-env-1"),
        case.auth_value("from-env-2"),
    ]
    monkeypatch.delenv(var)
    with pytest.raises(MissingCredentialsError) as info:
        c.chat("three")
    assert f"the {var} environment variable" in str(info.value)
    assert "credentials=" in str(info.value)
    assert "from-env" not in str(info.value)
    assert len(srv.requests) == 2  # nothing was sent without a key
    assert [t.text for t in c.get_turns()] == ["one", "ok", "two", "ok"]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_credentials_may_return_headers(case: Case, srv: FakeServer) -> None:
    c = make(case, srv, credentials=lambda: {"Authorization": "Bearer entra-token"})
    c.chat("hi")
    request = only_request(srv)
    assert request.headers["authorization"] == "Bearer entra-token"
    if case.auth_header != "authorization":
        assert case.auth_header not in request.headers


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_api_headers_are_sent_but_cannot_replace_auth(case: Case, srv: FakeServer) -> None:
    headers = {"X-Extra": "1", case.auth_header.upper(): "not-the-key"}
    make(case, srv, api_headers=headers).chat("hi")
    request = only_request(srv)
    assert request.headers["x-extra"] == "1"
    assert request.headers[case.auth_header] == case.auth_value(KEY)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_api_key_is_rejected_without_echoing_it(case: Case, srv: FakeServer) -> None:
    secret = "sk-do-not-print-4242"
    with pytest.raises(DeprecatedArgumentError) as info:
        case.function(**kwargs_for(case, srv), api_key=secret, echo="none")
    assert f"chat_{case.name}(api_key=...)" in str(info.value)
    assert "credentials=" in str(info.value)
    assert secret not in str(info.value) and secret not in repr(info.value)
    if "api_key" in case.r_args:  # positionally too, at R's position
        args: list[Any] = [None] * case.r_args.index("api_key") + [secret]
        with pytest.raises(DeprecatedArgumentError):
            case.function(*args)
    # before any other check: not even a model or a server is needed
    with pytest.raises(DeprecatedArgumentError):
        case.function(api_key=secret)
    assert srv.requests == []


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_reachable_by_name(case: Case, srv: FakeServer) -> None:
    kwargs = {k: v for k, v in kwargs_for(case, srv).items() if k != "model"}
    model = "@prov/some-model" if case.name == "portkey" else "some-model"
    c = chat(f"{case.name}/{model}", **kwargs, credentials=lambda: KEY, echo="none")
    assert c.get_model() == model
    c.chat("hi")
    assert only_request(srv).json["model"] == model


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_conformance_kwargs_give_a_working_chat(case: Case, srv: FakeServer) -> None:
    # the call the conformance suite makes, exactly
    spec = get_provider_spec(case.name)
    c = spec.chat_function(
        **spec.conformance_kwargs(srv.base_url), credentials=lambda: "k", echo="none"
    )
    assert isinstance(c, Chat)
    assert c.chat("hi") == "ok"
    assert only_request(srv).path == case.path


# --- params ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_params_follow_rs_mapping(case: Case, srv: FakeServer) -> None:
    wanted = {name: wire for name, wire in case.params.items() if wire is not None}
    unsupported = [name for name, wire in case.params.items() if wire is None]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        c = make(case, srv, params=params(temperature=0.5, max_tokens=7, top_k=3))
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    if unsupported:
        assert messages == [
            "Ignoring unsupported parameters: " + ", ".join(repr(n) for n in unsupported)
        ]
    else:
        assert messages == []
    c.chat("hi")
    body = only_request(srv).json
    values = {"max_tokens": 7, "top_k": 3}
    for name, wire in wanted.items():
        assert body[wire] == values[name]
    assert body["temperature"] == 0.5
    for other in {"max_tokens", "max_completion_tokens", "maxTokens", "top_k", "topK"} - set(
        wanted.values()
    ):
        assert other not in body


def test_mistral_sends_the_seed_as_random_seed(srv: FakeServer) -> None:
    make(BY_NAME["mistral"], srv, params=params(seed=1014, stop_sequences=["x"])).chat("hi")
    body = only_request(srv).json
    assert body["random_seed"] == 1014
    assert body["stop"] == ["x"]
    assert "seed" not in body


@pytest.mark.parametrize("name", ["deepseek", "perplexity"])
def test_providers_without_a_seed_warn(name: str, srv: FakeServer) -> None:
    with pytest.warns(UserWarning, match=r"Ignoring unsupported parameters: 'seed'"):
        make(BY_NAME[name], srv, params=params(seed=1))


def test_ollama_maps_reasoning_effort(srv: FakeServer) -> None:
    make(BY_NAME["ollama"], srv, params=params(reasoning_effort="none")).chat("hi")
    assert only_request(srv).json["reasoning_effort"] == "none"


def test_databricks_uses_camel_case_names(srv: FakeServer) -> None:
    p = params(top_p=0.9, stop_sequences=["END"])
    make(BY_NAME["databricks"], srv, params=p).chat("hi")
    body = only_request(srv).json
    assert body["topP"] == 0.9
    assert body["stopSequences"] == ["END"]


# --- provider specifics -----------------------------------------------------------------------


def test_azure_endpoint_deployment_and_api_version(
    srv: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ellmer_py import chat_azure_openai

    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", srv.url + "/")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    c = chat_azure_openai(model="gpt-4o-mini", api_version="2025-01-01-preview", echo="none")
    c.chat("hi")
    request = only_request(srv)
    assert request.path == (
        "/openai/deployments/gpt-4o-mini/chat/completions?api-version=2025-01-01-preview"
    )
    assert request.headers["api-key"] == KEY
    assert request.json["model"] == "gpt-4o-mini"


def test_azure_needs_an_endpoint() -> None:
    from ellmer_py import chat_azure_openai

    with pytest.raises(ConfigurationError, match="AZURE_OPENAI_ENDPOINT") as info:
        chat_azure_openai(model="gpt-4o-mini", credentials=lambda: KEY)
    assert "endpoint=" in str(info.value)


def test_azure_base_url_replaces_the_deployment_path(srv: FakeServer) -> None:
    from ellmer_py import chat_azure_openai

    c = chat_azure_openai(model="m", base_url=srv.base_url, credentials=lambda: KEY, echo="none")
    c.chat("hi")
    assert only_request(srv).path == "/v1/chat/completions?api-version=2024-10-21"


def test_azure_deployment_id_is_deprecated(srv: FakeServer) -> None:
    from ellmer_py import chat_azure_openai

    with pytest.warns(DeprecationWarning, match=r"deployment_id=\) is deprecated: use model="):
        c = chat_azure_openai(
            srv.base_url, deployment_id="dep-1", credentials=lambda: KEY, echo="none"
        )
    c.chat("hi")
    assert only_request(srv).path.startswith("/v1/openai/deployments/dep-1/chat/completions?")
    with pytest.warns(DeprecationWarning), pytest.raises(ConfigurationError, match="only"):
        chat_azure_openai(srv.base_url, "other", deployment_id="dep-1", credentials=lambda: KEY)


def test_cloudflare_account_from_the_environment(
    srv: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ellmer_py import chat_cloudflare

    template = srv.base_url + "/accounts/{account}/ai/v1"
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", "env-account")
    monkeypatch.setenv("CLOUDFLARE_API_KEY", KEY)
    chat_cloudflare(base_url=template, echo="none").chat("hi")
    chat_cloudflare("arg-account", base_url=template, echo="none").chat("hi")
    assert [r.path for r in srv.requests] == [
        "/v1/accounts/env-account/ai/v1/chat/completions",
        "/v1/accounts/arg-account/ai/v1/chat/completions",
    ]
    assert srv.requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_cloudflare_needs_an_account() -> None:
    from ellmer_py import chat_cloudflare

    with pytest.raises(ConfigurationError, match="CLOUDFLARE_ACCOUNT_ID") as info:
        chat_cloudflare(credentials=lambda: KEY)
    assert "account=" in str(info.value)


def test_cloudflare_default_url_has_the_account() -> None:
    from ellmer_py import chat_cloudflare

    c = chat_cloudflare("abc123", credentials=lambda: KEY)
    assert c.get_provider().chat_url() == (
        "https://api.cloudflare.com/client/v4/accounts/abc123/ai/v1/chat/completions"
    )


def test_databricks_workspace_and_token_from_the_environment(
    srv: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ellmer_py import chat_databricks

    monkeypatch.setenv("DATABRICKS_HOST", srv.url)
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-env")
    monkeypatch.setenv("SPARK_CONNECT_USER_AGENT", "spark/1.0")
    chat_databricks(echo="none").chat("hi")
    request = only_request(srv)
    assert request.path == "/serving-endpoints/chat/completions"
    assert request.headers["authorization"] == "Bearer dapi-env"
    assert request.headers["user-agent"] == "spark/1.0 ellmer-py"


def test_databricks_host_without_scheme_and_from_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABRICKS_HOST", "example.cloud.databricks.com/")
    assert databricks_module.databricks_workspace() == "https://example.cloud.databricks.com"
    monkeypatch.delenv("DATABRICKS_HOST")
    config = tmp_path / "databrickscfg"
    config.write_text(
        "[DEFAULT]\nhost = https://default.example.com\n\n[dev]\nhost = dev.example.com\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(config))
    assert databricks_module.databricks_workspace() == "https://default.example.com"
    monkeypatch.setenv("DATABRICKS_CONFIG_PROFILE", "dev")
    assert databricks_module.databricks_workspace() == "https://dev.example.com"
    monkeypatch.setenv("DATABRICKS_CONFIG_PROFILE", "missing")
    with pytest.raises(ConfigurationError, match=r"DATABRICKS_HOST.*\[missing\]"):
        databricks_module.databricks_workspace()


def test_databricks_needs_a_workspace() -> None:
    from ellmer_py import chat_databricks

    with pytest.raises(ConfigurationError, match="DATABRICKS_HOST") as info:
        chat_databricks(credentials=lambda: KEY)
    assert "workspace=" in str(info.value)


def test_databricks_token_argument(srv: FakeServer) -> None:
    from ellmer_py import chat_databricks

    chat_databricks(srv.url, token="dapi-arg", echo="none").chat("hi")
    assert only_request(srv).headers["authorization"] == "Bearer dapi-arg"
    with pytest.raises(ConfigurationError, match="token= or credentials="):
        chat_databricks(srv.url, token="t", credentials=lambda: KEY)
    with pytest.raises(ConfigurationError, match="token="):
        chat_databricks(srv.url, token="")


def test_ollama_needs_no_key(srv: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from ellmer_py import chat_ollama

    c = chat_ollama(base_url=srv.url, model="llama3.2", echo="none")  # the server root
    c.chat("hi")
    assert "authorization" not in srv.requests[0].headers
    assert srv.requests[0].path == "/v1/chat/completions"
    monkeypatch.setenv("OLLAMA_API_KEY", "proxy-key")
    c.chat("again")
    assert srv.requests[1].headers["authorization"] == "Bearer proxy-key"


def test_ollama_base_url_from_the_environment(
    srv: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ellmer_py import chat_ollama

    monkeypatch.setenv("OLLAMA_BASE_URL", srv.url + "/")
    chat_ollama(model="qwen3:4b", echo="none").chat("hi")
    assert only_request(srv).path == "/v1/chat/completions"
    monkeypatch.delenv("OLLAMA_BASE_URL")
    c = chat_ollama(model="qwen3:4b")
    assert c.get_provider().chat_url() == "http://localhost:11434/v1/chat/completions"


def test_ollama_model_error_says_how_to_find_one() -> None:
    from ellmer_py import chat_ollama

    with pytest.raises(ConfigurationError, match="ollama list"):
        chat_ollama()


def test_portkey_key_header_and_virtual_key(
    srv: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ellmer_py import chat_portkey

    monkeypatch.setenv("PORTKEY_API_KEY", KEY)
    monkeypatch.setenv("PORTKEY_VIRTUAL_KEY", "env-vk")
    chat_portkey("gpt-4.1-nano", base_url=srv.base_url, echo="none").chat("hi")
    chat_portkey("@my-provider/gpt-4.1-nano", base_url=srv.base_url, echo="none").chat("hi")
    with pytest.warns(DeprecationWarning, match=r"virtual_key=\) is deprecated"):
        c = chat_portkey("gpt-4.1-nano", base_url=srv.base_url, virtual_key="arg-vk")
    c.chat("hi", echo="none")
    assert [r.json["model"] for r in srv.requests] == [
        "@env-vk/gpt-4.1-nano",
        "@my-provider/gpt-4.1-nano",
        "@arg-vk/gpt-4.1-nano",
    ]
    assert all(r.headers["x-portkey-api-key"] == KEY for r in srv.requests)
    assert all("authorization" not in r.headers for r in srv.requests)


def test_openrouter_app_headers_can_be_replaced(srv: FakeServer) -> None:
    make(BY_NAME["openrouter"], srv, api_headers={"x-title": "my app"}).chat("hi")
    request = only_request(srv)
    assert request.headers["x-title"] == "my app"
    assert request.headers["http-referer"] == "https://pypi.org/project/ellmer-py/"


def test_openrouter_sends_reasoning_back(srv: FakeServer) -> None:
    srv.enqueue(Reply.json(completion("4", reasoning="2 plus 2")))
    c = make(BY_NAME["openrouter"], srv)
    c.chat("2+2?")
    c.chat("and 3+3?")
    assistant = srv.requests[1].json["messages"][1]
    assert assistant == {"role": "assistant", "content": "4", "reasoning": "2 plus 2"}


def test_deepseek_reasoning_content_is_kept_but_not_sent_back(srv: FakeServer) -> None:
    srv.enqueue(Reply.json(completion("4", reasoning_content="2 plus 2")))
    c = make(BY_NAME["deepseek"], srv)
    c.chat("2+2?")
    turn = c.get_turns()[-1]
    assert turn.contents == (ContentThinking("2 plus 2"), ContentText("4"))
    c.chat("and 3+3?")
    assert srv.requests[1].json["messages"][1] == {"role": "assistant", "content": "4"}


@pytest.mark.parametrize(
    ("name", "content", "feature"),
    [
        ("deepseek", ContentImageRemote("https://example.org/cat.png"), "images"),
        ("deepseek", ContentPDF(b"%PDF-1.4"), "pdf"),
        ("cloudflare", ContentImageRemote("https://example.org/cat.png"), "images"),
    ],
)
def test_declared_content_limitations_refuse_before_any_request(
    name: str, content: Any, feature: str, srv: FakeServer
) -> None:
    spec = get_provider_spec(name)
    (limitation,) = [x for x in spec.limitations if x.feature == feature]
    assert limitation.example is not None and limitation.matches(limitation.example)
    c = make(BY_NAME[name], srv)
    with pytest.raises(ModelLimitationError) as info:
        c.chat("what is this?", content)
    assert info.value.feature == feature
    assert info.value.provider == c.get_provider().name
    assert f"does not support {feature}" in str(info.value)
    with pytest.raises(ModelLimitationError):
        list(c.stream("what is this?", content))
    assert srv.requests == []
    assert c.get_turns() == []
    assert c.chat("just text") == "ok"  # text still works


# --- chat_github: retired ---------------------------------------------------------------------


def test_github_is_registered_as_retired() -> None:
    spec = get_provider_spec("github")
    assert "github" in list_providers()
    assert spec.retired is not None and "retired on 2026-07-30" in spec.retired
    assert spec.chat_function.__name__ == "chat_github"


@pytest.mark.parametrize(
    "call",
    [
        lambda: ellmer_py.chat_github(),
        lambda: ellmer_py.chat_github(model="gpt-5", credentials=lambda: KEY),
        lambda: chat("github/gpt-5"),
    ],
    ids=["bare", "with-arguments", "by-name"],
)
def test_github_raises_a_clear_retired_error(call: Callable[[], Chat]) -> None:
    with pytest.raises(ConfigurationError) as info:
        call()
    message = str(info.value)
    assert "GitHub Models was retired on 2026-07-30" in message
    assert "chat_huggingface()" in message and "chat_openai_compatible(" in message


def test_github_rejects_api_key_and_still_says_it_is_retired() -> None:
    with pytest.raises(DeprecatedArgumentError) as info:
        ellmer_py.chat_github(api_key="ghp_secret_value")
    assert "retired" in str(info.value)
    assert "ghp_secret_value" not in str(info.value)


@pytest.mark.parametrize("name", ["ACCEPT", "accept", "Accept"])
def test_an_accept_in_api_headers_replaces_the_protocols(srv: FakeServer, name: str) -> None:
    # found by the conformance check api_headers: {"ACCEPT": "0"} arrived as "0, application/json"
    from ellmer_py import chat_openai_compatible

    srv.enqueue(Reply.json(completion()))
    chat = chat_openai_compatible(
        base_url=srv.base_url,
        model="m",
        credentials=lambda: KEY,
        echo="none",
        api_headers={name: "application/x-mine"},
    )
    chat.chat("hi")
    assert only_request(srv).headers["accept"] == "application/x-mine"
