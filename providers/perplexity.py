"""Models hosted on perplexity.ai (R: ``chat_perplexity()``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ellmer_py.plugin import (
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

__all__ = ["chat_perplexity"]

DEFAULT_BASE_URL = "https://api.perplexity.ai"
DEFAULT_MODEL = "sonar"
ENV = ("PERPLEXITY_API_KEY",)

#: R's ``chat_params`` for Perplexity: no seed, stop sequences or log probs.
PERPLEXITY_PARAM_NAMES = {
    "max_tokens": "max_tokens",
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
}


def chat_perplexity(
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
    """Chat with a model hosted on perplexity.ai (R: ``chat_perplexity()``).

    Perplexity's models search the web while they answer. The key comes
    from ``credentials`` or ``PERPLEXITY_API_KEY``, read at request time.
    """
    reject_api_key("chat_perplexity", api_key, env=ENV)
    return build_chat(
        "chat_perplexity",
        ChatArgs.of(locals()),
        name="Perplexity",
        model=default_model(model, DEFAULT_MODEL),
        base_url=base_url,
        protocol=OpenAIChat(PERPLEXITY_PARAM_NAMES),
        default_credentials=env_credentials(
            "Perplexity",
            ENV,
            hint=" Create a key at https://www.perplexity.ai/account/api/keys.",
        ),
    )


SPEC = ProviderSpec(
    name="perplexity",
    chat_function=chat_perplexity,
    protocol="openai-chat",
    default_base_url=DEFAULT_BASE_URL,
    default_model=DEFAULT_MODEL,
    credential_sources=ENV,
    credential_env=ENV,
    description="Perplexity (api.perplexity.ai), OpenAI-compatible; answers search the web.",
)


@hookimpl
def ellmer_py_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    """Register chat_perplexity."""
    register(SPEC)
