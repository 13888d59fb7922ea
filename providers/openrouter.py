"""The many models hosted on OpenRouter (R: ``chat_openrouter()``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from attrs import frozen

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
    list_model_rows,
    model_list_headers,
    newest_first,
    reject_api_key,
    unix_time,
    with_defaults,
)

__all__ = ["OpenRouterModel", "chat_openrouter", "models_openrouter"]

DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"
DEFAULT_MODEL = "gpt-5.6-terra"
ENV = ("OPENROUTER_API_KEY",)
_HINT = " Create a key at https://openrouter.ai/keys."


def _credentials() -> Callable[[], CredentialValue]:
    return env_credentials("OpenRouter", ENV, hint=_HINT)


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
        default_credentials=_credentials(),
        api_headers=with_defaults(APP_HEADERS, api_headers),
    )


# -- models ----------------------------------------------------------------------------


@frozen
class OpenRouterModel:
    """One model OpenRouter serves, with its price (``models_openrouter()``; none in R).

    Prices are US dollars per million tokens, as OpenRouter lists them
    (converted from its per-token prices); None where it gives none or a
    variable price.
    """

    id: str
    name: str | None
    created_at: datetime | None
    context_length: int | None = None
    input_price: float | None = None
    output_price: float | None = None
    cached_input_price: float | None = None


def _per_million(pricing: Mapping[str, Any], key: str) -> float | None:
    """OpenRouter's per-token price under ``key`` (a decimal string) per million tokens."""
    value = pricing.get(key)
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    try:
        price = Decimal(str(value)) * 1_000_000
    except InvalidOperation:
        return None
    return float(price) if price.is_finite() and price >= 0 else None


def models_openrouter(
    api_key: str | None = None,
    credentials: Callable[[], CredentialValue] | None = None,
    *,
    base_url: str = DEFAULT_BASE_URL,
    api_headers: Mapping[str, str] | None = None,
    max_tries: int | None = None,
    timeout_s: float | None = None,
) -> list[OpenRouterModel]:
    """The models OpenRouter serves, newest first, with their prices.

    R's ellmer has no ``models_openrouter()``; this follows its siblings
    (``models_groq()``): ``GET models``, the arguments of
    ``chat_openrouter()``, newest first. The list is public: the key (found
    as for ``chat_openrouter()``) is sent when there is one, with the app's
    ``HTTP-Referer`` and ``X-Title`` headers. Prices and context lengths are
    OpenRouter's own.
    """
    reject_api_key("models_openrouter", api_key, env=ENV)
    headers = model_list_headers(
        "models_openrouter",
        _credentials(),
        credentials,
        with_defaults(APP_HEADERS, api_headers),
        env=ENV,
        public=True,  # the model list needs no key
    )
    url = base_url.rstrip("/") + "/models"
    rows = list_model_rows(
        "OpenRouter",
        url,
        headers,
        expected=f"the API root ({DEFAULT_BASE_URL})",
        max_tries=max_tries,
        timeout_s=timeout_s,
    )
    models = []
    for row in rows:
        if not isinstance(row.get("id"), str):
            continue
        name = row.get("name")
        context = row.get("context_length")
        pricing = row.get("pricing")
        pricing = pricing if isinstance(pricing, Mapping) else {}
        models.append(
            OpenRouterModel(
                id=row["id"],
                name=name if isinstance(name, str) else None,
                created_at=unix_time(row.get("created")),
                context_length=context if type(context) is int else None,
                input_price=_per_million(pricing, "prompt"),
                output_price=_per_million(pricing, "completion"),
                cached_input_price=_per_million(pricing, "input_cache_read"),
            )
        )
    return newest_first(models)


SPEC = ProviderSpec(
    name="openrouter",
    chat_function=chat_openrouter,
    protocol="openai-chat",
    default_base_url=DEFAULT_BASE_URL,
    default_model=DEFAULT_MODEL,
    credential_sources=ENV,
    credential_env=ENV,
    description="OpenRouter (openrouter.ai), one key for many models, OpenAI-compatible.",
    models_function=models_openrouter,
)


@hookimpl
def ellmer_py_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    """Register chat_openrouter."""
    register(SPEC)
