"""Models hosted on Mistral's La Plateforme (R: ``chat_mistral()``)."""

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

__all__ = ["chat_mistral"]

DEFAULT_BASE_URL = "https://api.mistral.ai/v1"
DEFAULT_MODEL = "mistral-large-latest"
ENV = ("MISTRAL_API_KEY",)

#: R's ``chat_params`` for Mistral: ``random_seed``, ``max_tokens``, no ``top_k``.
MISTRAL_PARAM_NAMES = {
    "temperature": "temperature",
    "top_p": "top_p",
    "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty",
    "random_seed": "seed",
    "max_tokens": "max_tokens",
    "logprobs": "log_probs",
    "stop": "stop_sequences",
}


def chat_mistral(
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
    """Chat with a model hosted on Mistral's La Plateforme (R: ``chat_mistral()``).

    Get a key at https://console.mistral.ai/api-keys; it comes from
    ``credentials`` or ``MISTRAL_API_KEY``, read at request time. As in R,
    streamed requests send no ``stream_options`` (Mistral rejects them).

    Known limitations (from R): tool calling is unstable; images need a
    model that supports images.
    """
    reject_api_key("chat_mistral", api_key, env=ENV)
    return build_chat(
        "chat_mistral",
        ChatArgs.of(locals()),
        name="Mistral",
        model=default_model(model, DEFAULT_MODEL),
        base_url=base_url,
        protocol=OpenAIChat(MISTRAL_PARAM_NAMES, stream_usage=False),
        default_credentials=env_credentials(
            "Mistral", ENV, hint=" Create a key at https://console.mistral.ai/api-keys."
        ),
    )


SPEC = ProviderSpec(
    name="mistral",
    chat_function=chat_mistral,
    protocol="openai-chat",
    default_base_url=DEFAULT_BASE_URL,
    default_model=DEFAULT_MODEL,
    credential_sources=ENV,
    credential_env=ENV,
    description="Mistral La Plateforme (api.mistral.ai), OpenAI-compatible.",
)


@hookimpl
def ellmer_py_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    """Register chat_mistral."""
    register(SPEC)
