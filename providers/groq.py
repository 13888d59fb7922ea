"""Models hosted on Groq (R: ``chat_groq()``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ellmer_py.plugin import (
    PARAM_NAMES,
    Chat,
    ChatArgs,
    CredentialValue,
    Echo,
    OpenAIChat,
    Params,
    ProviderSpec,
    SystemPromptFallback,
    build_chat,
    default_model,
    env_credentials,
    hookimpl,
    reject_api_key,
)

__all__ = ["chat_groq"]

DEFAULT_BASE_URL = "https://api.groq.com/openai/v1"
DEFAULT_MODEL = "openai/gpt-oss-20b"
ENV = ("GROQ_API_KEY",)


def chat_groq(
    system_prompt: str | None = None,
    base_url: str = DEFAULT_BASE_URL,
    api_key: str | None = None,
    credentials: Callable[[], CredentialValue] | None = None,
    model: str | None = None,
    params: Params | None = None,
    api_args: Mapping[str, Any] | None = None,
    echo: Echo | bool | None = None,
    api_headers: Mapping[str, str] | None = None,
    *,
    system_prompt_fallback: SystemPromptFallback = "error",
    max_tries: int | None = None,
    timeout_s: float | None = None,
) -> Chat:
    """Chat with a model hosted on Groq (R: ``chat_groq()``).

    Sign up at https://groq.com. The key comes from ``credentials`` or the
    ``GROQ_API_KEY`` environment variable, read at request time, and is sent
    as ``Authorization: Bearer``. The default model is
    ``openai/gpt-oss-20b``; parameters map as for OpenAI.
    """
    reject_api_key("chat_groq", api_key, env=ENV)
    return build_chat(
        "chat_groq",
        ChatArgs.of(locals()),
        name="Groq",
        model=default_model(model, DEFAULT_MODEL),
        base_url=base_url,
        protocol=OpenAIChat(PARAM_NAMES),
        default_credentials=env_credentials(
            "Groq", ENV, hint=" Create a key at https://console.groq.com/keys."
        ),
    )


SPEC = ProviderSpec(
    name="groq",
    chat_function=chat_groq,
    protocol="openai-chat",
    default_base_url=DEFAULT_BASE_URL,
    default_model=DEFAULT_MODEL,
    credential_sources=ENV,
    credential_env=ENV,
    description="Groq (api.groq.com), OpenAI-compatible.",
)


@hookimpl
def ellmer_py_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    """Register chat_groq."""
    register(SPEC)
