"""Tests of the provider registry (``ellmer_py._registry``): entry points, pluggy, ``chat()``.

Each test starts from a freshly loaded registry and leaves one behind
(``reload_plugins``); third-party plugins are real distributions made in a
temporary directory on ``sys.path``, read by ``importlib.metadata``.
"""

from __future__ import annotations

import importlib
import logging
import sys
import warnings
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pluggy
import pytest

import ellmer_py
from ellmer_py import (
    Chat,
    ConfigurationError,
    ProviderSpec,
    chat,
    chat_huggingface,
    chat_openai_compatible,
    get_protocol_spec,
    get_provider_spec,
    hookimpl,
    list_protocols,
    list_providers,
)
from ellmer_py._registry import (
    ENTRY_POINT_GROUP,
    plugin_manager,
    register_plugin,
    reload_plugins,
    unregister_plugin,
)
from ellmer_py.conformance.fake_server import FakeServer, Reply

BUILT_INS = {
    "anthropic": "ellmer_py.providers.anthropic",
    "aws_bedrock": "ellmer_py.providers.aws_bedrock",
    "azure_openai": "ellmer_py.providers.azure_openai",
    "cloudflare": "ellmer_py.providers.cloudflare",
    "databricks": "ellmer_py.providers.databricks",
    "deepseek": "ellmer_py.providers.deepseek",
    "github": "ellmer_py.providers.github",
    "google_gemini": "ellmer_py.providers.google",
    "google_vertex": "ellmer_py.providers.google",
    "groq": "ellmer_py.providers.groq",
    "huggingface": "ellmer_py.providers.huggingface",
    "lmstudio": "ellmer_py.providers.lmstudio",
    "mistral": "ellmer_py.providers.mistral",
    "ollama": "ellmer_py.providers.ollama",
    "openai": "ellmer_py.providers.openai",
    "openai_compatible": "ellmer_py.providers.openai_compatible",
    "openrouter": "ellmer_py.providers.openrouter",
    "perplexity": "ellmer_py.providers.perplexity",
    "portkey": "ellmer_py.providers.portkey",
    "posit": "ellmer_py.providers.posit",
    "vllm": "ellmer_py.providers.vllm",
}
#: Every entry point of our own distribution: the providers and the built-in protocols.
ENTRY_POINTS = {
    **{k: v for k, v in BUILT_INS.items() if not k.startswith("google_")},
    # one module: providers google_gemini, gemini and google_vertex
    "google": "ellmer_py.providers.google",
    "protocols": "ellmer_py._protocols._builtin",
}


def answer(text: str = "ok") -> Reply:
    """A minimal 200 chat-completions answer."""
    return Reply.json(
        {
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ]
        }
    )


@pytest.fixture(autouse=True)
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test loads plugins from scratch and leaves a clean registry behind."""
    monkeypatch.delenv("ELLMER_PY_PLUGINS", raising=False)
    monkeypatch.setenv("ELLMER_MAX_TRIES", "1")
    reload_plugins()
    yield
    reload_plugins()


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer(default=answer()) as server:
        yield server
    assert not server.errors, server.errors


@pytest.fixture
def make_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Path]]:
    """Create an installed distribution declaring one ``ellmer_py`` entry point."""
    made: list[str] = []

    def make(dist: str, module: str, source: str, entry_name: str | None = None) -> Path:
        root = tmp_path / f"site-{dist}"
        root.mkdir()
        (root / f"{module}.py").write_text(source)
        info = root / f"{dist.replace('-', '_')}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
        (info / "entry_points.txt").write_text(
            f"[{ENTRY_POINT_GROUP}]\n{entry_name or module} = {module}\n"
        )
        monkeypatch.syspath_prepend(str(root))
        made.append(module)
        return root

    yield make
    for module in made:
        sys.modules.pop(module, None)
    importlib.invalidate_caches()


BROKEN_SOURCE = 'raise ImportError("this plugin needs a library that is not installed")\n'

TOY_SOURCE = '''
from ellmer_py import ProviderSpec, chat_openai_compatible, hookimpl


def chat_toy(model=None, **kwargs):
    """A third-party provider built on the OpenAI-compatible one."""
    return chat_openai_compatible(name="Toy", model=model or "toy-default", **kwargs)


@hookimpl
def ellmer_py_register_providers(register):
    register(ProviderSpec(name="toy", chat_function=chat_toy, default_model="toy-default"))
'''

TYPO_SOURCE = """
from ellmer_py import hookimpl


@hookimpl
def ellmer_py_register_provider(register):  # missing "s"
    raise AssertionError("never called")
"""


# --- the built-ins come from entry points ---------------------------------------------------


def test_built_ins_are_entry_points_of_our_own_distribution() -> None:
    ours = {
        ep.name: ep
        for ep in entry_points(group="ellmer_py")
        if ep.dist is not None and ep.dist.name == "ellmer-py"
    }
    assert {name: ep.value for name, ep in ours.items()} == ENTRY_POINTS


def test_built_ins_are_loaded_through_pluggy() -> None:
    pm = plugin_manager()
    assert isinstance(pm, pluggy.PluginManager)
    assert pm.project_name == "ellmer_py"
    for name, module in ENTRY_POINTS.items():
        assert pm.get_plugin(name) is sys.modules[module]
    assert set(BUILT_INS) | {"claude", "gemini", "bedrock"} == set(list_providers())
    assert list_providers() == sorted(list_providers())
    assert {"openai-chat", "anthropic-messages"} <= set(list_protocols())


def test_every_provider_speaks_a_registered_protocol() -> None:
    for name in list_providers():
        spec = get_provider_spec(name)
        assert get_protocol_spec(spec.protocol).name == spec.protocol


def test_an_unknown_protocol_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="No wire protocol called 'smoke-signals'"):
        get_protocol_spec("smoke-signals")


def test_provider_specs() -> None:
    hf = get_provider_spec("huggingface")
    assert hf.chat_function is chat_huggingface
    assert hf.protocol == "openai-chat"
    assert hf.default_base_url == "https://router.huggingface.co/v1"
    assert hf.default_model == "meta-llama/Llama-3.1-8B-Instruct"
    assert tuple(hf.credential_sources) == ("HUGGINGFACE_API_KEY", "HF_TOKEN", "$HF_HOME/token")
    compatible = get_provider_spec("openai_compatible")
    assert compatible.chat_function is chat_openai_compatible
    assert compatible.default_model is None
    assert "chat_huggingface" in repr(hf)


def test_constructors_are_reachable_from_the_package() -> None:
    assert ellmer_py.chat_huggingface is get_provider_spec("huggingface").chat_function
    assert ellmer_py.chat_openai_compatible is get_provider_spec("openai_compatible").chat_function
    with pytest.raises(AttributeError, match="chat_nope"):
        ellmer_py.chat_nope  # noqa: B018


# --- chat("provider/model") --------------------------------------------------------------------


def test_chat_with_provider_and_model(srv: FakeServer) -> None:
    c = chat(
        "huggingface/meta-llama/Llama-3.1-8B-Instruct",
        base_url=srv.base_url,
        credentials=lambda: "hf_k",
        echo="none",
    )
    assert isinstance(c, Chat)
    assert c.get_model() == "meta-llama/Llama-3.1-8B-Instruct"
    assert c.get_provider().name == "HuggingFace"
    assert c.chat("hi") == "ok"
    request = srv.requests[0]
    assert request.json["model"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer hf_k"


def test_chat_with_provider_only_uses_the_default_model(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ellmer_py")
    c = chat("huggingface", credentials=lambda: "hf_k", echo="none")
    assert c.get_model() == "meta-llama/Llama-3.1-8B-Instruct"
    assert any("meta-llama/Llama-3.1-8B-Instruct" in r.getMessage() for r in caplog.records)


def test_chat_passes_keywords_through(srv: FakeServer) -> None:
    c = chat(
        "openai_compatible/local-model",
        base_url=srv.base_url,
        credentials=lambda: "k",
        system_prompt="sys",
        echo="none",
    )
    c.chat("hi")
    assert srv.requests[0].json["model"] == "local-model"
    assert srv.requests[0].json["messages"][0] == {"role": "system", "content": "sys"}


def test_chat_model_twice_is_an_error() -> None:
    with pytest.raises(ConfigurationError, match="names a model already"):
        chat("huggingface/org/a", model="org/b", credentials=lambda: "k")


@pytest.mark.parametrize("name", ["", "   ", None, 42])
def test_chat_needs_a_name(name: Any) -> None:
    with pytest.raises(ConfigurationError, match='"provider/model"'):
        chat(name)


def test_unknown_provider_lists_the_registered_ones() -> None:
    with pytest.raises(ConfigurationError) as info:
        chat("nope/some-model")
    message = str(info.value)
    assert message.startswith("No provider called 'nope' is registered (registered: ")
    for name in BUILT_INS:
        assert name in message
    assert "ELLMER_PY_PLUGINS" in message
    with pytest.raises(ConfigurationError, match="'nope'"):
        get_provider_spec("nope")


# --- plugins registered directly ----------------------------------------------------------------


class ExamplePlugin:
    """A plugin object offering the provider ``example``."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def chat_example(self, **kwargs: Any) -> Chat:
        self.calls.append(kwargs)
        return chat_openai_compatible(
            "http://127.0.0.1:9/v1", name="Example", credentials=lambda: "k", echo="none", **kwargs
        )

    @hookimpl
    def ellmer_py_register_providers(self, register: Callable[[ProviderSpec], None]) -> None:
        register(ProviderSpec(name="example", chat_function=self.chat_example))


def test_register_and_unregister_a_plugin() -> None:
    plugin = ExamplePlugin()
    register_plugin(plugin, name="example-plugin")
    assert "example" in list_providers()
    c = chat("example/tiny-model")
    assert plugin.calls == [{"model": "tiny-model"}]
    assert c.get_model() == "tiny-model"
    assert c.get_provider().name == "Example"
    unregister_plugin(plugin)
    assert "example" not in list_providers()
    assert set(BUILT_INS) <= set(list_providers())
    unregister_plugin(name="never-registered")  # harmless


def test_a_later_plugin_replaces_a_provider_with_a_warning() -> None:
    plugin = ExamplePlugin()

    class Shadow:
        @hookimpl
        def ellmer_py_register_providers(self, register: Callable[[ProviderSpec], None]) -> None:
            register(ProviderSpec(name="huggingface", chat_function=plugin.chat_example))

    register_plugin(Shadow(), name="shadow")
    with pytest.warns(
        RuntimeWarning, match="Two plugins register the provider 'huggingface'.*'shadow'"
    ):
        spec = get_provider_spec("huggingface")
    assert spec.chat_function == plugin.chat_example


def test_a_misspelled_hook_fails_loudly() -> None:
    class Typo:
        @hookimpl
        def ellmer_py_register_provider(self, register: Any) -> None:  # missing "s"
            raise AssertionError("never called")

    with pytest.raises(pluggy.PluginValidationError, match="ellmer_py_register_provider"):
        register_plugin(Typo(), name="typo")
    # and it is not left half-registered
    assert plugin_manager().get_plugin("typo") is None
    assert set(BUILT_INS) <= set(list_providers())


def test_a_plugin_whose_hook_raises_is_skipped() -> None:
    class Crashes:
        @hookimpl
        def ellmer_py_register_providers(self, register: Any) -> None:
            raise RuntimeError("plugin bug")

    register_plugin(Crashes(), name="crashes")
    with pytest.warns(
        RuntimeWarning, match=r"'crashes'.*failed and was skipped: RuntimeError: plugin bug"
    ):
        names = list_providers()
    assert set(BUILT_INS) <= set(names)


def test_a_plugin_registering_something_else_is_skipped() -> None:
    class Wrong:
        @hookimpl
        def ellmer_py_register_providers(self, register: Any) -> None:
            register({"name": "dict-provider"})

    register_plugin(Wrong(), name="wrong")
    with pytest.warns(RuntimeWarning, match="register\\(\\) takes a ProviderSpec, not dict"):
        names = list_providers()
    assert "dict-provider" not in names
    assert set(BUILT_INS) <= set(names)


# --- plugins from installed distributions --------------------------------------------------------


# TOY_SOURCE does ``from ellmer_py import chat_openai_compatible`` while the
# registry is loading it: that look-up must work, and must not be cached as
# the final list of providers (which would leave "toy" out).
def test_a_third_party_distribution_is_found(
    make_dist: Callable[..., Path], srv: FakeServer
) -> None:
    make_dist("toy-plugin", "toy_plugin", TOY_SOURCE, entry_name="toy")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "toy" in list_providers()
    assert plugin_manager().get_plugin("toy") is sys.modules["toy_plugin"]
    c = chat("toy/small", base_url=srv.base_url, credentials=lambda: "k", echo="none")
    assert c.chat("hi") == "ok"
    assert srv.requests[0].json["model"] == "small"
    assert c.get_provider().name == "Toy"
    assert ellmer_py.chat_toy is get_provider_spec("toy").chat_function


def test_a_plugin_that_fails_to_import_is_skipped_with_a_warning(
    make_dist: Callable[..., Path],
) -> None:
    make_dist("broken-plugin", "broken_plugin", BROKEN_SOURCE, entry_name="broken")
    with pytest.warns(RuntimeWarning) as record:
        names = list_providers()
    messages = [str(w.message) for w in record if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1
    assert messages[0].startswith(
        "ellmer-py plugin 'broken' (from broken-plugin, broken_plugin) could not be loaded"
    )
    assert "ImportError: this plugin needs a library that is not installed" in messages[0]
    assert set(BUILT_INS) <= set(names)
    assert "broken" not in names
    assert plugin_manager().get_plugin("broken") is None


def test_a_broken_plugin_does_not_stop_a_good_one(make_dist: Callable[..., Path]) -> None:
    make_dist("broken-plugin", "broken_plugin", BROKEN_SOURCE, entry_name="broken")
    make_dist("toy-plugin", "toy_plugin", TOY_SOURCE, entry_name="toy")
    with pytest.warns(RuntimeWarning, match="'broken'"):
        names = list_providers()
    assert {"huggingface", "openai_compatible", "toy"} <= set(names)


def test_a_distribution_with_a_misspelled_hook_is_skipped_loudly(
    make_dist: Callable[..., Path],
) -> None:
    make_dist("typo-plugin", "typo_plugin", TYPO_SOURCE, entry_name="typo")
    with pytest.warns(RuntimeWarning) as record:
        names = list_providers()
    messages = [str(w.message) for w in record if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1
    assert "'typo'" in messages[0]
    assert "not a valid ellmer-py plugin" in messages[0]
    assert "ellmer_py_register_provider" in messages[0]
    assert plugin_manager().get_plugin("typo") is None
    assert set(BUILT_INS) <= set(names)


# --- ELLMER_PY_PLUGINS ----------------------------------------------------------------------------


def test_ellmer_py_plugins_limits_what_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELLMER_PY_PLUGINS", "huggingface")
    assert list_providers() == ["huggingface"]
    assert plugin_manager().get_plugin("openai_compatible") is None
    with pytest.raises(
        ConfigurationError, match=r"'openai_compatible' is registered \(registered: huggingface\)"
    ):
        chat("openai_compatible/m", base_url="http://127.0.0.1:9/v1")


def test_ellmer_py_plugins_is_a_comma_list(
    monkeypatch: pytest.MonkeyPatch, make_dist: Callable[..., Path]
) -> None:
    make_dist("toy-plugin", "toy_plugin", TOY_SOURCE, entry_name="toy")
    monkeypatch.setenv("ELLMER_PY_PLUGINS", " toy , openai_compatible ")
    assert list_providers() == ["openai_compatible", "toy"]


def test_ellmer_py_plugins_skips_a_broken_plugin_quietly(
    monkeypatch: pytest.MonkeyPatch, make_dist: Callable[..., Path]
) -> None:
    make_dist("broken-plugin", "broken_plugin", BROKEN_SOURCE, entry_name="broken")
    monkeypatch.setenv("ELLMER_PY_PLUGINS", "huggingface,openai_compatible")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert list_providers() == ["huggingface", "openai_compatible"]


@pytest.mark.parametrize("value", ["", "  "])
def test_empty_ellmer_py_plugins_means_all(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("ELLMER_PY_PLUGINS", value)
    assert set(BUILT_INS) <= set(list_providers())


def test_reload_plugins_reads_the_environment_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELLMER_PY_PLUGINS", "openai_compatible")
    assert list_providers() == ["openai_compatible"]
    monkeypatch.setenv("ELLMER_PY_PLUGINS", "huggingface")
    assert list_providers() == ["openai_compatible"]  # loaded once, until reloaded
    reload_plugins()
    assert list_providers() == ["huggingface"]


def test_build_chat_finds_a_protocol_by_its_registered_name() -> None:
    from ellmer_py.plugin import AnthropicMessages, build_chat

    made = build_chat(
        "chat_x", name="X", model="m", base_url="http://127.0.0.1:9", protocol="anthropic-messages"
    )
    assert isinstance(made.get_provider().protocol, AnthropicMessages)
    with pytest.raises(ConfigurationError, match="No wire protocol called 'nope'"):
        build_chat("chat_x", name="X", model="m", base_url="http://127.0.0.1:9", protocol="nope")
