"""Models hosted on Groq (R: ``chat_groq()``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from attrs import frozen

from ellmer_py.plugin import (
    PARAM_NAMES,
    Chat,
    ChatArgs,
    CredentialValue,
    Echo,
    ModelPrices,
    OpenAIBatch,
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

__all__ = ["PRICES", "GroqModel", "chat_groq", "models_groq", "price_of"]

DEFAULT_BASE_URL = "https://api.groq.com/openai/v1"
DEFAULT_MODEL = "openai/gpt-oss-20b"
#: Groq's Batch API, OpenAI's with the chat completions endpoint (R: ProviderGroq).
BATCH = OpenAIBatch(endpoint="/v1/chat/completions")
ENV = ("GROQ_API_KEY",)
_HINT = " Create a key at https://console.groq.com/keys."


def _credentials() -> Callable[[], CredentialValue]:
    return env_credentials("Groq", ENV, hint=_HINT)


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
    ``openai/gpt-oss-20b``; parameters map as for OpenAI. Answers are
    priced from R's list prices (:data:`PRICES`) when the model is in them.
    """
    reject_api_key("chat_groq", api_key, env=ENV)
    return build_chat(
        "chat_groq",
        ChatArgs.of(locals()),
        name="Groq",
        model=default_model(model, DEFAULT_MODEL),
        base_url=base_url,
        protocol=OpenAIChat(PARAM_NAMES, strict_tools=False),  # R: no strict for Groq
        default_credentials=_credentials(),
        prices=ModelPrices(price_of),
        batch=BATCH,
    )


# -- prices ----------------------------------------------------------------------------

#: R's list prices for Groq, US dollars per million tokens: model id -> (input,
#: output, cached input). From the "Groq" rows of R ellmer's data-raw/prices.json
#: (updated_at 2026-08-03T09:30:30Z); matched exactly, as R's get_token_cost() does.
PRICES: Mapping[str, tuple[float | None, float | None, float | None]] = {
    "gemma-7b-it": (0.05, 0.08, None),
    "llama-3.1-8b-instant": (0.05, 0.08, None),
    "llama-3.3-70b-versatile": (0.59, 0.79, None),
    "meta-llama/llama-4-maverick-17b-128e-instruct": (0.2, 0.6, None),
    "meta-llama/llama-4-scout-17b-16e-instruct": (0.11, 0.34, None),
    "meta-llama/llama-guard-4-12b": (0.2, 0.2, None),
    "moonshotai/kimi-k2-instruct-0905": (1.0, 3.0, 0.5),
    "openai/gpt-oss-120b": (0.15, 0.6, 0.075),
    "openai/gpt-oss-20b": (0.075, 0.3, 0.0375),
    "openai/gpt-oss-safeguard-20b": (0.075, 0.3, 0.037),
    "qwen/qwen3-32b": (0.29, 0.59, None),
}


def price_of(model: str) -> Price | None:
    """R's list price of a Groq model (exactly as named), or None (R: ``get_token_cost()``)."""
    return table_price(PRICES, model)


# -- models ----------------------------------------------------------------------------


@frozen
class GroqModel:
    """One model Groq serves, with R's list price if known (R: a ``models_groq()`` row)."""

    id: str
    created_at: datetime | None
    owned_by: str
    input_price: float | None = None
    output_price: float | None = None
    cached_input_price: float | None = None


def models_groq(
    base_url: str = DEFAULT_BASE_URL,
    api_key: str | None = None,
    credentials: Callable[[], CredentialValue] | None = None,
    *,
    api_headers: Mapping[str, str] | None = None,
    max_tries: int | None = None,
    timeout_s: float | None = None,
) -> list[GroqModel]:
    """The models Groq serves, newest first (R: ``models_groq()``).

    From ``GET models``, with the key found as for ``chat_groq()``. As in R,
    models are sorted by the day they were created (newest first, a day's
    models in Groq's order) and priced from R's table (:data:`PRICES`).
    """
    reject_api_key("models_groq", api_key, env=ENV)
    headers = model_list_headers("models_groq", _credentials(), credentials, api_headers, env=ENV)
    url = base_url.rstrip("/") + "/models"
    rows = list_model_rows(
        "Groq",
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
        owner = row.get("owned_by")
        price = PRICES.get(row["id"], (None, None, None))
        models.append(
            GroqModel(
                id=row["id"],
                created_at=unix_time(row.get("created")),
                owned_by=owner if isinstance(owner, str) else "",
                input_price=price[0],
                output_price=price[1],
                cached_input_price=price[2],
            )
        )
    models.sort(key=lambda m: m.created_at.date() if m.created_at else date.min, reverse=True)
    return models


SPEC = ProviderSpec(
    name="groq",
    batch=BATCH,
    chat_function=chat_groq,
    protocol="openai-chat",
    default_base_url=DEFAULT_BASE_URL,
    default_model=DEFAULT_MODEL,
    credential_sources=ENV,
    credential_env=ENV,
    description="Groq (api.groq.com), OpenAI-compatible.",
    models_function=models_groq,
)


@hookimpl
def ellmer_py_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    """Register chat_groq."""
    register(SPEC)
