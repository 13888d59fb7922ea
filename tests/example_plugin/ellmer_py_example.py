"""An example ellmer-py provider plugin: ``chat_example()`` for a made-up OpenAI-style API.

Everything a provider package needs is here: a ``chat_<name>()`` constructor
built with ``build_chat()`` (exactly as the built-in providers are), which
takes the arguments every constructor shares (``system_prompt``, ``params``,
``credentials``, ``echo`` and the rest) as one ``ChatArgs.of(locals())``, a
``ProviderSpec`` describing it, and the ``ellmer_py_register_providers`` hook
that hands the spec to the registry. It imports only ``ellmer_py.plugin``,
the public API for provider packages. The package's pyproject declares this
module under the ``ellmer_py`` entry-point group; nothing in ellmer-py changes.

It also adds a wire protocol of its own, ``"example-chat"`` (chat completions
served at ``POST generate``), through the ``ellmer_py_register_protocols``
hook, naming the conformance fake that tests it: a third party adds a
protocol the same way, without touching the core.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ellmer_py.plugin import (
    Chat,
    ChatArgs,
    CredentialValue,
    Echo,
    ModelLimitation,
    OpenAIChat,
    Params,
    ProtocolSpec,
    ProviderSpec,
    SystemPromptFallback,
    build_chat,
    default_model,
    env_credentials,
    hookimpl,
    reject_api_key,
)

__all__ = ["FAKE", "ExampleChat", "chat_example"]

DEFAULT_BASE_URL = "https://api.example.invalid/v1"
DEFAULT_MODEL = "example-large"
ENV = ("EXAMPLE_API_KEY",)

LIMITATIONS = (
    ModelLimitation(
        pattern=r"example-tiny(-.*)?",
        feature="system_prompt",
        advice="example-tiny has no system role: use example-large",
        example="example-tiny-1",
    ),
)


class ExampleChat(OpenAIChat):
    """The Example API's wire protocol: chat completions, at ``POST generate``."""

    name = "example-chat"

    def chat_path(self) -> str:
        """The Example API's chat endpoint, below the base URL."""
        return "generate"


def _fake() -> Any:
    """The protocol's conformance fake: the chat-completions one, under this protocol's name."""
    from ellmer_py.conformance.openai_chat import OpenAIChatFake

    fake = OpenAIChatFake()
    fake.name = ExampleChat.name
    return fake


FAKE = _fake()


def chat_example(
    system_prompt: str | None = None,
    params: Params | None = None,
    api_key: str | None = None,
    credentials: Callable[[], CredentialValue] | None = None,
    model: str | None = None,
    api_args: Mapping[str, Any] | None = None,
    echo: Echo | bool | None = None,
    api_headers: Mapping[str, str] | None = None,
    *,
    base_url: str = DEFAULT_BASE_URL,
    system_prompt_fallback: SystemPromptFallback = "error",
    max_tries: int | None = None,
    timeout_s: float | None = None,
) -> Chat:
    """Chat with a model of the Example API.

    The key comes from ``credentials`` or ``EXAMPLE_API_KEY``, read when a
    request goes out; ``api_key=`` is refused, as by every ellmer-py provider.
    """
    reject_api_key("chat_example", api_key, env=ENV)
    return build_chat(
        "chat_example",
        ChatArgs.of(locals()),  # the shared arguments; a keyword given below wins over it
        name="Example",
        model=default_model(model, DEFAULT_MODEL),
        base_url=base_url,
        protocol=ExampleChat(),  # chat completions (PARAM_NAMES mapping) at POST generate
        default_credentials=env_credentials("Example", ENV),
        limitations=LIMITATIONS,
    )


SPEC = ProviderSpec(
    name="example",
    chat_function=chat_example,
    protocol=ExampleChat.name,
    default_base_url=DEFAULT_BASE_URL,
    default_model=DEFAULT_MODEL,
    credential_sources=ENV,
    credential_env=ENV,
    limitations=LIMITATIONS,
    description="The Example API (an example third-party plugin).",
    # How the conformance suite points chat_example() at its fake server.
    conformance_kwargs=lambda base_url: {"base_url": base_url},
)


@hookimpl
def ellmer_py_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    """Register chat_example with ellmer-py."""
    register(SPEC)


@hookimpl
def ellmer_py_register_protocols(register: Callable[[ProtocolSpec], None]) -> None:
    """Register the example-chat protocol and its conformance fake."""
    register(
        ProtocolSpec(
            name=ExampleChat.name,
            factory=ExampleChat,
            fake="ellmer_py_example:FAKE",
            description="chat completions at POST generate",
        )
    )
