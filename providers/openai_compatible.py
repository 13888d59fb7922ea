"""The generic OpenAI chat-completions provider (R: ``chat_openai_compatible()``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ellmer_py.plugin import (
    Chat,
    ChatArgs,
    ConfigurationError,
    CredentialValue,
    Echo,
    OpenAIChat,
    Params,
    ProviderSpec,
    SystemPromptFallback,
    build_chat,
    env_credentials,
    hookimpl,
    reject_api_key,
    require_model,
)

__all__ = ["chat_openai_compatible"]

ENV = ("OPENAI_API_KEY",)


def chat_openai_compatible(
    base_url: str,
    name: str = "OpenAI-compatible",
    system_prompt: str | None = None,
    api_key: str | None = None,
    credentials: Callable[[], CredentialValue] | None = None,
    model: str | None = None,
    params: Params | None = None,
    api_args: Mapping[str, Any] | None = None,
    api_headers: Mapping[str, str] | None = None,
    preserve_thinking: bool = False,
    echo: Echo | bool | None = None,
    *,
    system_prompt_fallback: SystemPromptFallback = "error",
    max_tries: int | None = None,
    timeout_s: float | None = None,
) -> Chat:
    """Chat with any server that speaks OpenAI chat completions (R: ``chat_openai_compatible()``).

    ``base_url`` and ``model`` are required. The key comes from
    ``credentials`` (a function returning a key or a dict of headers) or the
    ``OPENAI_API_KEY`` environment variable, read at request time.
    """
    # A key written into code is the most important thing to report.
    reject_api_key("chat_openai_compatible", api_key, env=ENV)
    if not isinstance(base_url, str) or not base_url.strip():
        raise ConfigurationError(
            "chat_openai_compatible() needs base_url=, the server's API root "
            "(for example 'http://localhost:8080/v1')."
        )
    return build_chat(
        "chat_openai_compatible",
        ChatArgs.of(locals()),
        name=name,
        model=require_model(
            "chat_openai_compatible",
            model,
            "the id of a model the server serves (for example model='llama3.1:8b')",
        ),
        base_url=base_url,
        protocol=OpenAIChat(preserve_thinking=preserve_thinking),
        default_credentials=env_credentials(name, ENV),
    )


SPEC = ProviderSpec(
    name="openai_compatible",
    chat_function=chat_openai_compatible,
    protocol="openai-chat",
    credential_sources=ENV,
    credential_env=ENV,
    conformance_kwargs=lambda base_url: {"base_url": base_url, "model": "test-model"},
    description="Any server that speaks OpenAI chat completions (base_url= and model= required).",
)


@hookimpl
def ellmer_py_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    """Register chat_openai_compatible."""
    register(SPEC)
