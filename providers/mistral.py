"""Models hosted on Mistral's La Plateforme (R: ``chat_mistral()``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from attrs import frozen

from ellmer_py.plugin import (
    Chat,
    ChatArgs,
    CredentialValue,
    Echo,
    ModelPrices,
    OpenAIChat,
    Params,
    Price,
    ProviderSpec,
    SystemPromptFallback,
    build_chat,
    default_model,
    env_credentials,
    hookimpl,
    list_model_rows,
    model_list_headers,
    reject_api_key,
    table_price,
    unix_time,
)

__all__ = [
    "PRICES",
    "MistralModel",
    "chat_mistral",
    "models_mistral",
    "price_of",
]

DEFAULT_BASE_URL = "https://api.mistral.ai/v1"
DEFAULT_MODEL = "mistral-large-latest"
ENV = ("MISTRAL_API_KEY",)
_HINT = " Create a key at https://console.mistral.ai/api-keys."


def _credentials() -> Callable[[], CredentialValue]:
    return env_credentials("Mistral", ENV, hint=_HINT)


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
    Answers are priced from R's list prices (:data:`PRICES`) when the model
    is in them.

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
        default_credentials=_credentials(),
        prices=ModelPrices(price_of),
    )


# -- prices ----------------------------------------------------------------------------

#: R's list prices for Mistral, US dollars per million tokens: model id -> (input,
#: output, cached input). From the "Mistral" rows of R ellmer's data-raw/prices.json
#: (updated_at 2026-08-03T09:30:30Z); matched exactly, as R's get_token_cost() does.
#: The embedding models have no output price, so chats with them stay unpriced.
PRICES: Mapping[str, tuple[float | None, float | None, float | None]] = {
    "codestral-2405": (1.0, 3.0, None),
    "codestral-2508": (0.3, 0.9, None),
    "codestral-embed": (0.15, None, None),
    "codestral-embed-2505": (0.15, None, None),
    "codestral-latest": (1.0, 3.0, None),
    "codestral-mamba-latest": (0.25, 0.25, None),
    "devstral-2512": (0.4, 2.0, None),
    "devstral-latest": (0.4, 2.0, None),
    "devstral-medium-2507": (0.4, 2.0, None),
    "devstral-medium-latest": (0.4, 2.0, None),
    "devstral-small-2505": (0.1, 0.3, None),
    "devstral-small-2507": (0.1, 0.3, None),
    "devstral-small-latest": (0.1, 0.3, None),
    "labs-devstral-small-2512": (0.1, 0.3, None),
    "magistral-medium-1-2-2509": (2.0, 5.0, None),
    "magistral-medium-2506": (2.0, 5.0, None),
    "magistral-medium-2509": (2.0, 5.0, None),
    "magistral-medium-latest": (2.0, 5.0, None),
    "magistral-small-1-2-2509": (0.5, 1.5, None),
    "magistral-small-2506": (0.5, 1.5, None),
    "magistral-small-latest": (0.5, 1.5, None),
    "ministral-3-14b-2512": (0.2, 0.2, None),
    "ministral-3-3b-2512": (0.1, 0.1, None),
    "ministral-3-8b-2512": (0.15, 0.15, None),
    "ministral-8b-2512": (0.15, 0.15, None),
    "ministral-8b-latest": (0.15, 0.15, None),
    "mistral-embed": (0.1, None, None),
    "mistral-large-2402": (4.0, 12.0, None),
    "mistral-large-2407": (3.0, 9.0, None),
    "mistral-large-2411": (2.0, 6.0, None),
    "mistral-large-2512": (0.5, 1.5, None),
    "mistral-large-3": (0.5, 1.5, None),
    "mistral-large-latest": (0.5, 1.5, None),
    "mistral-medium": (2.7, 8.1, None),
    "mistral-medium-2312": (2.7, 8.1, None),
    "mistral-medium-2505": (0.4, 2.0, None),
    "mistral-medium-2508": (0.4, 2.0, None),
    "mistral-medium-2604": (1.5, 7.5, None),
    "mistral-medium-3-1-2508": (0.4, 2.0, None),
    "mistral-medium-3-5": (1.5, 7.5, None),
    "mistral-medium-latest": (1.5, 7.5, None),
    "mistral-small": (0.1, 0.3, None),
    "mistral-small-3-2-2506": (0.06, 0.18, None),
    "mistral-small-latest": (0.06, 0.18, None),
    "mistral-tiny": (0.25, 0.25, None),
    "open-codestral-mamba": (0.25, 0.25, None),
    "open-mistral-7b": (0.25, 0.25, None),
    "open-mistral-nemo": (0.3, 0.3, None),
    "open-mistral-nemo-2407": (0.3, 0.3, None),
    "open-mixtral-8x22b": (2.0, 6.0, None),
    "open-mixtral-8x7b": (0.7, 0.7, None),
    "pixtral-12b-2409": (0.15, 0.15, None),
    "pixtral-large-2411": (2.0, 6.0, None),
    "pixtral-large-latest": (2.0, 6.0, None),
}


def price_of(model: str) -> Price | None:
    """R's list price of a Mistral model (exactly as named), or None (R: ``get_token_cost()``)."""
    return table_price(PRICES, model)


# -- models ----------------------------------------------------------------------------


@frozen
class MistralModel:
    """One model Mistral serves, with R's list price if known (R: a ``models_mistral()`` row)."""

    id: str
    name: str | None
    created_at: datetime | None
    input_price: float | None = None
    output_price: float | None = None
    cached_input_price: float | None = None


def models_mistral(
    api_key: str | None = None,
    credentials: Callable[[], CredentialValue] | None = None,
    *,
    base_url: str = DEFAULT_BASE_URL,
    api_headers: Mapping[str, str] | None = None,
    max_tries: int | None = None,
    timeout_s: float | None = None,
) -> list[MistralModel]:
    """The models Mistral serves, in Mistral's order (R: ``models_mistral()``).

    From ``GET models``, with the key found as for ``chat_mistral()``: each
    model's id, display name and creation time, priced from R's table
    (:data:`PRICES`). R's only argument is ``api_key``; here it is refused,
    and ``credentials`` and ``base_url`` are taken as by ``chat_mistral()``.
    """
    reject_api_key("models_mistral", api_key, env=ENV)
    headers = model_list_headers(
        "models_mistral", _credentials(), credentials, api_headers, env=ENV
    )
    url = base_url.rstrip("/") + "/models"
    rows = list_model_rows(
        "Mistral",
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
        price = PRICES.get(row["id"], (None, None, None))
        models.append(
            MistralModel(
                id=row["id"],
                name=name if isinstance(name, str) else None,
                created_at=unix_time(row.get("created")),
                input_price=price[0],
                output_price=price[1],
                cached_input_price=price[2],
            )
        )
    return models


SPEC = ProviderSpec(
    name="mistral",
    chat_function=chat_mistral,
    protocol="openai-chat",
    default_base_url=DEFAULT_BASE_URL,
    default_model=DEFAULT_MODEL,
    credential_sources=ENV,
    credential_env=ENV,
    description="Mistral La Plateforme (api.mistral.ai), OpenAI-compatible.",
    models_function=models_mistral,
)


@hookimpl
def ellmer_py_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    """Register chat_mistral."""
    register(SPEC)
