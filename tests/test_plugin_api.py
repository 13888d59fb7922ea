"""ellmer_py.plugin: the public API for provider packages, and the builder behind it.

The module's ``__all__`` is pinned here (as test_exported_members pins the
package's); every name is the core's own object; the built-in providers and
the example third-party plugin import nothing else from ellmer-py; and
``build_chat()`` (ellmer_py._build) does what each ``chat_<name>()`` relies on.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import logging
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

import ellmer_py
from ellmer_py import plugin
from ellmer_py._registry import register_plugin, reload_plugins, unregister_plugin
from ellmer_py.conformance.fake_server import FakeServer, Reply

ROOT = Path(__file__).resolve().parents[1]
PROVIDER_FILES = sorted((ROOT / "providers").glob("*.py"))
EXAMPLE_FILE = ROOT / "tests" / "example_plugin" / "ellmer_py_example.py"
KEY = "sk-plugin-api-test-0123456789"

EXPECTED_ALL = [
    "PARAM_NAMES",
    "AnthropicBatch",
    "AnthropicMessages",
    "AssistantTurn",
    "Auth",
    "AwsCredentialChain",
    "AwsCredentialValue",
    "AwsCredentials",
    "BatchAnswer",
    "BatchApi",
    "BatchCall",
    "BatchStatus",
    "BedrockConverse",
    "Chat",
    "ChatArgs",
    "ClaudePrices",
    "ConfigurationError",
    "CredentialValue",
    "Credentials",
    "DeprecatedArgumentError",
    "DeviceFlowCredentials",
    "Echo",
    "GeminiBatch",
    "GeminiProtocol",
    "ItemResult",
    "MalformedResponseError",
    "MissingCredentialsError",
    "ModelLimitation",
    "ModelPrices",
    "OpenAIBatch",
    "OpenAIChat",
    "OpenAIResponses",
    "Params",
    "Price",
    "PriceSource",
    "PriceTable",
    "ProtocolSpec",
    "Provider",
    "ProviderSpec",
    "SigV4Auth",
    "StreamDecoder",
    "SystemPromptFallback",
    "ToolBuiltIn",
    "Transport",
    "WireProtocol",
    "WireRequest",
    "as_credentials",
    "auth_headers",
    "aws_credentials",
    "build_chat",
    "default_model",
    "env_credentials",
    "env_setting",
    "hookimpl",
    "list_model_rows",
    "model_list_headers",
    "model_rows",
    "newest_first",
    "price_columns",
    "reject_api_key",
    "require_model",
    "resolve_region",
    "server_root",
    "table_price",
    "token_cost",
    "unix_time",
    "with_defaults",
]

#: Where each name is defined in the core.
HOME = {
    "AnthropicBatch": "ellmer_py._protocols.batch_anthropic",
    "BatchAnswer": "ellmer_py._protocols.batch",
    "BatchApi": "ellmer_py._protocols.batch",
    "BatchCall": "ellmer_py._protocols.batch",
    "BatchStatus": "ellmer_py._protocols.batch",
    "GeminiBatch": "ellmer_py._protocols.batch_gemini",
    "ItemResult": "ellmer_py._protocols.batch",
    "OpenAIBatch": "ellmer_py._protocols.batch_openai",
    "PARAM_NAMES": "ellmer_py._protocols.openai_chat",
    "Chat": "ellmer_py._chat",
    "ConfigurationError": "ellmer_py._errors",
    "CredentialValue": "ellmer_py._credentials",
    "Credentials": "ellmer_py._credentials",
    "DeprecatedArgumentError": "ellmer_py._errors",
    "Echo": "ellmer_py._echo",
    "MalformedResponseError": "ellmer_py._errors",
    "MissingCredentialsError": "ellmer_py._errors",
    "ModelLimitation": "ellmer_py._provider",
    "OpenAIChat": "ellmer_py._protocols.openai_chat",
    "Params": "ellmer_py._params",
    "ClaudePrices": "ellmer_py._tokens",
    "DeviceFlowCredentials": "ellmer_py._oauth_device",
    "ModelPrices": "ellmer_py._tokens",
    "Price": "ellmer_py._tokens",
    "PriceSource": "ellmer_py._tokens",
    "PriceTable": "ellmer_py._tokens",
    "table_price": "ellmer_py._tokens",
    "Provider": "ellmer_py._provider",
    "ProviderSpec": "ellmer_py._registry",
    "SystemPromptFallback": "ellmer_py._chat",
    "Transport": "ellmer_py._transport",
    "as_credentials": "ellmer_py._credentials",
    "auth_headers": "ellmer_py._credentials",
    "build_chat": "ellmer_py._build",
    "default_model": "ellmer_py._build",
    "env_credentials": "ellmer_py._credentials",
    "env_setting": "ellmer_py._build",
    "hookimpl": "ellmer_py._hookspecs",
    "reject_api_key": "ellmer_py._credentials",
    "require_model": "ellmer_py._build",
    "server_root": "ellmer_py._build",
    "with_defaults": "ellmer_py._build",
    "AnthropicMessages": "ellmer_py._protocols.anthropic",
    "GeminiProtocol": "ellmer_py._protocols.gemini",
    "BedrockConverse": "ellmer_py._protocols.bedrock",
    "AwsCredentials": "ellmer_py._sigv4",
    "AwsCredentialChain": "ellmer_py._aws_credentials",
    "resolve_region": "ellmer_py._aws_credentials",
    "SigV4Auth": "ellmer_py._aws_auth",
    "AwsCredentialValue": "ellmer_py._aws_auth",
    "aws_credentials": "ellmer_py._aws_auth",
    "OpenAIResponses": "ellmer_py._protocols.openai_responses",
    "AssistantTurn": "ellmer_py._turn",
    "Auth": "ellmer_py._protocols",
    "ChatArgs": "ellmer_py._build",
    "ProtocolSpec": "ellmer_py._registry",
    "StreamDecoder": "ellmer_py._protocols",
    "ToolBuiltIn": "ellmer_py._tools",
    "WireProtocol": "ellmer_py._protocols",
    "WireRequest": "ellmer_py._protocols",
    "token_cost": "ellmer_py._tokens",
    "list_model_rows": "ellmer_py._models_list",
    "model_list_headers": "ellmer_py._models_list",
    "model_rows": "ellmer_py._models_list",
    "newest_first": "ellmer_py._models_list",
    "price_columns": "ellmer_py._models_list",
    "unix_time": "ellmer_py._models_list",
}


def answer(text: str = "ok", prompt_tokens: int = 3, completion_tokens: int = 2) -> Reply:
    """A minimal 200 chat-completions answer."""
    return Reply.json(
        {
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens},
        }
    )


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer(default=answer()) as server:
        yield server
    assert not server.errors, server.errors


def build(srv: FakeServer, **kwargs: Any) -> ellmer_py.Chat:
    """build_chat() pointed at the fake server, with what every test shares."""
    kwargs.setdefault("name", "Toy")
    kwargs.setdefault("model", "toy-model")
    kwargs.setdefault("echo", "none")
    kwargs.setdefault("max_tries", 1)
    kwargs.setdefault("timeout_s", 5)
    return plugin.build_chat("chat_toy", base_url=srv.base_url, **kwargs)


# -- the surface ---------------------------------------------------------------


def test_all_is_pinned() -> None:
    assert plugin.__all__ == EXPECTED_ALL
    assert sorted(plugin.__all__) == sorted(HOME)


def test_all_names_exist() -> None:
    missing = [name for name in plugin.__all__ if not hasattr(plugin, name)]
    assert missing == []


@pytest.mark.parametrize(("name", "module"), sorted(HOME.items()))
def test_names_are_the_core_objects(name: str, module: str) -> None:
    assert getattr(plugin, name) is getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("name", sorted(set(EXPECTED_ALL) & set(ellmer_py.__all__)))
def test_names_public_in_the_package_are_the_same_objects(name: str) -> None:
    assert getattr(plugin, name) is getattr(ellmer_py, name)


def test_every_public_function_has_a_docstring() -> None:
    for name in ("build_chat", "default_model", "env_setting", "require_model", "with_defaults"):
        doc = getattr(plugin, name).__doc__
        assert doc and doc.strip(), name


def test_import_ellmer_py_does_not_import_the_plugin_module() -> None:
    code = (
        "import sys, ellmer_py; "
        "print(sorted(m for m in ('ellmer_py.plugin', 'ellmer_py._build', 'pluggy') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


# -- providers use it, and only it --------------------------------------------


def _ellmer_imports(path: Path) -> list[str]:
    """The ellmer_py modules a file imports (relative imports as ``.name``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            if node.level or module.startswith("ellmer_py"):
                found.append(module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("ellmer_py")]
    return found


@pytest.mark.parametrize(
    "path", [*PROVIDER_FILES, EXAMPLE_FILE], ids=lambda p: p.relative_to(ROOT).as_posix()
)
def test_providers_import_only_the_plugin_api(path: Path) -> None:
    imports = _ellmer_imports(path)
    if path.name == "__init__.py":
        assert imports == []
    elif path == EXAMPLE_FILE:
        # the example also brings a wire protocol, whose conformance fake it builds
        assert imports == ["ellmer_py.plugin", "ellmer_py.conformance.openai_chat"]
    elif path.stem.endswith("_prices"):  # a provider's price table: data, imports nothing
        assert imports in ([], ["ellmer_py.plugin"])
    else:  # the plugin API, and the provider's own price table if it has one
        assert [i for i in imports if i != f".{path.stem}_prices"] == ["ellmer_py.plugin"]


def _calls(path: Path) -> set[str]:
    return {
        node.func.id
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }


@pytest.mark.parametrize(
    "path",
    [
        p
        for p in PROVIDER_FILES
        if p.name not in ("__init__.py", "github.py") and not p.stem.endswith(("_prices", "_oauth"))
    ]
    + [EXAMPLE_FILE],
    ids=lambda p: p.relative_to(ROOT).as_posix(),
)
def test_every_provider_builds_its_chat_with_build_chat(path: Path) -> None:
    calls = _calls(path)
    assert "build_chat" in calls
    if "api_key:" in path.read_text(encoding="utf-8"):  # R's chat_aws_bedrock() has none
        assert "reject_api_key" in calls
    assert not calls & {"Provider", "Chat"}  # no hand-built Provider or Chat


def test_the_retired_provider_builds_nothing() -> None:
    calls = _calls(ROOT / "providers" / "github.py")
    assert not calls & {"build_chat", "Provider", "Chat"}


# -- a provider written against the plugin API alone ---------------------------


@pytest.fixture
def example_module(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """tests/example_plugin's module, registered in-process like an installed plugin."""
    monkeypatch.delenv("ELLMER_PY_PLUGINS", raising=False)
    spec = importlib.util.spec_from_file_location("ellmer_py_example_inproc", EXAMPLE_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    reload_plugins()
    register_plugin(module, name="example-inproc")
    yield module
    unregister_plugin(module)
    reload_plugins()


def test_the_example_plugin_works_through_the_registry(
    example_module: Any, srv: FakeServer
) -> None:
    made = ellmer_py.chat(
        "example/some-model",
        base_url=srv.base_url,
        credentials=lambda: KEY,
        echo="none",
        max_tries=1,
    )
    assert made.chat("Hello") == "ok"
    (request,) = srv.requests
    assert request.path == "/v1/generate"  # the example's own protocol, example-chat
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.json["model"] == "some-model"
    assert request.json["messages"] == [{"role": "user", "content": "Hello"}]


def test_the_example_plugin_declares_its_limitation(example_module: Any, srv: FakeServer) -> None:
    made = example_module.chat_example(
        system_prompt="Be brief.",
        model="example-tiny-1",
        base_url=srv.base_url,
        credentials=lambda: KEY,
        echo="none",
    )
    with pytest.raises(ellmer_py.ModelLimitationError, match="example-tiny has no system role"):
        made.chat("Hello")
    assert srv.requests == []


def test_the_example_plugin_rejects_api_key(example_module: Any) -> None:
    with pytest.raises(ellmer_py.DeprecatedArgumentError) as info:
        example_module.chat_example(api_key="sk-in-the-code-123")
    assert "sk-in-the-code-123" not in str(info.value)
    assert "EXAMPLE_API_KEY" in str(info.value)


# -- build_chat ----------------------------------------------------------------


def test_build_chat_sends_a_plain_openai_request(srv: FakeServer) -> None:
    made = build(srv, credentials=lambda: KEY)
    assert isinstance(made, ellmer_py.Chat)
    assert made.chat("Hi") == "ok"
    (request,) = srv.requests
    assert request.method == "POST"
    assert request.path == "/v1/chat/completions"
    assert request.json == {
        "model": "toy-model",
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": False,
    }
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["user-agent"] == "ellmer-py"
    provider = made.get_provider()
    assert provider.name == "Toy"
    assert provider.transport.max_tries == 1
    assert provider.transport.timeout_s == 5


def test_build_chat_passes_the_common_arguments_through(srv: FakeServer) -> None:
    made = build(
        srv,
        credentials=lambda: KEY,
        system_prompt="Be brief.",
        params=ellmer_py.params(temperature=0.5),
        api_args={"extra": {"a": 1}},
        api_headers={"X-Extra": "yes"},
    )
    assert made.get_system_prompt() == "Be brief."
    made.chat("Hi")
    (request,) = srv.requests
    assert request.json["messages"][0] == {"role": "system", "content": "Be brief."}
    assert request.json["temperature"] == 0.5
    assert request.json["extra"] == {"a": 1}
    assert request.headers["x-extra"] == "yes"


def test_default_credentials_are_read_at_request_time(
    srv: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TOY_API_KEY", raising=False)
    made = build(srv, default_credentials=plugin.env_credentials("Toy", ("TOY_API_KEY",)))
    with pytest.raises(ellmer_py.MissingCredentialsError, match="TOY_API_KEY"):
        made.chat("Hi")
    assert srv.requests == []
    monkeypatch.setenv("TOY_API_KEY", KEY)
    made.chat("Hi")
    assert srv.requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_user_credentials_win_and_are_checked_at_construction(srv: FakeServer) -> None:
    calls: list[int] = []

    def credentials() -> str:
        calls.append(1)
        return KEY

    def never() -> str:
        raise AssertionError("the default must not be read when credentials= is given")

    made = build(srv, credentials=credentials, default_credentials=never)
    assert len(calls) == 1  # checked once when the chat is made
    made.chat("Hi")
    made.chat("Again")
    assert len(calls) == 3  # and again for every request
    assert [r.headers["authorization"] for r in srv.requests] == [f"Bearer {KEY}"] * 2


def test_bad_user_credentials_fail_at_construction(srv: FakeServer) -> None:
    with pytest.raises(ellmer_py.ConfigurationError, match=r"chat_toy\(credentials=...\)"):
        build(srv, credentials=lambda: 42)
    assert srv.requests == []


def test_no_credentials_at_all_sends_no_authentication(srv: FakeServer) -> None:
    build(srv).chat("Hi")
    assert "authorization" not in srv.requests[0].headers


def test_credentials_as_headers(srv: FakeServer) -> None:
    build(srv, credentials=lambda: {"X-Token": KEY}).chat("Hi")
    headers = srv.requests[0].headers
    assert headers["x-token"] == KEY
    assert "authorization" not in headers


def test_auth_header_url_params_and_user_agent(srv: FakeServer) -> None:
    build(
        srv,
        credentials=lambda: KEY,
        auth_header="api-key",
        auth_prefix="",
        url_params={"api-version": "2024-10-21"},
        user_agent="custom-agent ellmer-py",
    ).chat("Hi")
    (request,) = srv.requests
    assert request.path == "/v1/chat/completions?api-version=2024-10-21"
    assert request.headers["api-key"] == KEY
    assert "authorization" not in request.headers
    assert request.headers["user-agent"] == "custom-agent ellmer-py"


def test_protocol_decides_the_wire_names(srv: FakeServer) -> None:
    names = {"max_tokens": "max_tokens", "temperature": "temperature"}
    build(srv, protocol=plugin.OpenAIChat(names), params=ellmer_py.params(max_tokens=7)).chat("Hi")
    body = srv.requests[0].json
    assert body["max_tokens"] == 7
    assert "max_completion_tokens" not in body


def test_limitations_refuse_before_any_request(srv: FakeServer) -> None:
    limitation = plugin.ModelLimitation(r"toy-.*", "system_prompt", "use big-toy")
    made = build(srv, limitations=(limitation,), system_prompt="Be brief.")
    with pytest.raises(ellmer_py.ModelLimitationError, match="use big-toy"):
        made.chat("Hi")
    assert srv.requests == []


class FixedPrice:
    """A PriceSource with one price for everything."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Mapping[str, str]]] = []

    def price(self, provider: plugin.Provider, headers: Mapping[str, str]) -> plugin.Price:
        self.seen.append((provider.model, headers))
        return plugin.Price(input=2.0, output=10.0)


def test_prices_give_each_answer_its_cost(srv: FakeServer) -> None:
    srv.enqueue(answer(prompt_tokens=1_000, completion_tokens=500))
    source = FixedPrice()
    made = build(srv, prices=source)
    made.chat("Hi")
    assert made.get_cost() == pytest.approx((1_000 * 2.0 + 500 * 10.0) / 1e6)
    assert [model for model, _ in source.seen] == ["toy-model"]


def test_without_prices_the_cost_is_unknown(srv: FakeServer) -> None:
    made = build(srv)
    made.chat("Hi")
    assert made.get_cost() is None


# -- the small helpers ---------------------------------------------------------


def test_default_model_says_which_model_it_uses(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="ellmer_py"):
        assert plugin.default_model(None, "big-model") == "big-model"
        assert plugin.default_model("mine", "big-model") == "mine"
    assert caplog.messages == ["Using model = 'big-model'."]


@pytest.mark.parametrize("model", [None, "", "   "])
def test_require_model_refuses_a_missing_model(model: str | None) -> None:
    with pytest.raises(
        ellmer_py.ConfigurationError,
        match=r"^chat_toy\(\) needs model=, the model's id: it has no default\.$",
    ):
        plugin.require_model("chat_toy", model, "the model's id")


def test_require_model_refuses_a_model_that_is_not_a_string() -> None:
    with pytest.raises(ellmer_py.ConfigurationError, match=r"chat_toy\(model=\) must be a string"):
        plugin.require_model("chat_toy", 42, "the model's id")  # type: ignore[arg-type]
    assert plugin.require_model("chat_toy", "m", "the model's id") == "m"


def test_env_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOY_SETTING", "  from-env ")
    assert plugin.env_setting("given", "TOY_SETTING") == "given"
    assert plugin.env_setting(None, "TOY_SETTING") == "from-env"
    monkeypatch.setenv("TOY_SETTING", "  ")
    assert plugin.env_setting(None, "TOY_SETTING") is None
    monkeypatch.delenv("TOY_SETTING")
    assert plugin.env_setting(None, "TOY_SETTING") is None


def test_with_defaults_lets_the_user_replace_a_default_header() -> None:
    defaults = {"X-Title": "ellmer-py", "HTTP-Referer": "https://example.org"}
    assert plugin.with_defaults(defaults, None) == defaults
    assert plugin.with_defaults(defaults, {"x-title": "mine", "X-More": "1"}) == {
        "HTTP-Referer": "https://example.org",
        "x-title": "mine",
        "X-More": "1",
    }
    assert defaults == {"X-Title": "ellmer-py", "HTTP-Referer": "https://example.org"}
