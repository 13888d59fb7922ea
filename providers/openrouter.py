"""The many models hosted on OpenRouter (R: ``chat_openrouter()``)."""

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
    with_defaults,
)

__all__ = ["chat_openrouter"]

DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"
DEFAULT_MODEL = "gpt-5.6-terra"
ENV = ("OPENROUTER_API_KEY",)

#: How OpenRouter attributes requests to an app (https://openrouter.ai/docs/api-keys);
#: R sends its own; ``api_headers`` may replace them.
APP_HEADERS = {"HTTP-Referer": "https://pypi.org/project/ellmer-py/", "X-Title": "ellmer-py"}

#: R's ``chat_params`` for OpenRouter: ``max_tokens`` and ``top_k``.
OPENROUTER_PARAM_NAMES = {
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty",
    "seed": "seed",
    "max_tokens": "max_tokens",
    "logprobs": "log_probs",
    "stop": "stop_sequences",
}


def chat_openrouter(
    system_prompt: str | None = None,
    api_key: str | None = None,
    credentials: Callable[[], CredentialValue] | None = None,
    model: str | None = None,
    params: Params | None = None,
    api_args: Mapping[str, Any] | None = None,
    echo: Echo | bool | None = None,
    api_headers: Mapping[str, str] | None = None,
    *,
    base_url: str = DEFAULT_BASE_URL,
    system_prompt_fallback: SystemPromptFallback = "error",
    max_tries: int | None = None,
    timeout_s: float | None = None,
) -> Chat:
    """Chat with one of the many models hosted on OpenRouter (R: ``chat_openrouter()``).

    Sign up at https://openrouter.ai. The key comes from ``credentials`` or
    ``OPENROUTER_API_KEY``, read at request time. As in R, each request
    names the app in ``HTTP-Referer`` and ``X-Title`` headers, and the
    model's reasoning is sent back in later turns (``reasoning``).
    What a model supports depends on the model: see https://openrouter.ai/models.
    """
    reject_api_key("chat_openrouter", api_key, env=ENV)
    return build_chat(
        "chat_openrouter",
        ChatArgs.of(locals()),
        name="OpenRouter",
        model=default_model(model, DEFAULT_MODEL),
        base_url=base_url,
        protocol=OpenAIChat(OPENROUTER_PARAM_NAMES, preserve_thinking=True),
        default_credentials=env_credentials(
            "OpenRouter", ENV, hint=" Create a key at https://openrouter.ai/keys."
        ),
        api_headers=with_defaults(APP_HEADERS, api_headers),
    )


SPEC = ProviderSpec(
    name="openrouter",
    chat_function=chat_openrouter,
    protocol="openai-chat",
    default_base_url=DEFAULT_BASE_URL,
    default_model=DEFAULT_MODEL,
    credential_sources=ENV,
    credential_env=ENV,
    description="OpenRouter (openrouter.ai), one key for many models, OpenAI-compatible.",
)


@hookimpl
def ellmer_py_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    """Register chat_openrouter."""
    register(SPEC)
